package audit

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/sealenv/sealenv/audit/internal/creds"
)

// GitObject names the git object a finding is in: one of a repository's
// object store (.git/objects), loose or in a pack. Path and Commit are set
// when the trees and commits of the same store, in the same layer, reach
// the object: Path is where the blob (or tree) is in a commit's tree,
// Commit the commit that put it there (its parents do not have it; the
// earliest by committer time when several did).
type GitObject struct {
	Object string `json:"object"`
	Type   string `json:"type"`
	Path   string `json:"path,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// describe says where in git a finding is, for its message.
func (g *GitObject) describe() string {
	s := fmt.Sprintf("(in git %s %s", g.Type, g.Object)
	if g.Path != "" {
		s += fmt.Sprintf(", %s in commit %s", g.Path, g.Commit)
	}
	return s + ")"
}

// gitInfo is what one layer's walk learned of the git object stores in
// it, to name the path and commit of findings afterwards.
type gitInfo struct {
	objects map[string]gitObj // by the place findings name: a loose object's path, "pack!/id"
	stores  map[string]*gitStore
	held    int64 // bytes of trees, commits and small blobs kept
}

type gitObj struct {
	store, id, typ string
}

// gitStore holds the trees and commits of one object store, and the
// small blobs whose path is not yet known, to check those a tree names
// like a secrets file (.env) as such.
type gitStore struct {
	trees   map[string][]byte
	commits map[string]gitCommit
	blobs   map[string]gitBlob // loose blobs, by id
	paths   map[string]gitPlace
	parsed  map[string][]treeEntry // trees looked into by lookup
}

type gitCommit struct {
	tree    string
	parents []string
	time    int64
}

type gitBlob struct {
	place string // where findings name it
	data  []byte
}

type gitPlace struct {
	path, commit string
}

// maxGitHeld bounds what a layer keeps of git trees, commits and small
// loose blobs; past it, findings name object ids only.
const maxGitHeld = 64 << 20

// maxKeptBlob is the largest loose blob kept to be checked as a secrets
// file once a tree names it.
const maxKeptBlob = 1 << 20

func (w *walker) gitStore(store string) *gitStore {
	g := &w.res.git
	if g.stores == nil {
		g.stores = map[string]*gitStore{}
		g.objects = map[string]gitObj{}
	}
	st := g.stores[store]
	if st == nil {
		st = &gitStore{trees: map[string][]byte{}, commits: map[string]gitCommit{}, blobs: map[string]gitBlob{}}
		g.stores[store] = st
	}
	return st
}

// keep records an object found at place, and keeps what attribution
// needs of it.
func (w *walker) keep(store, place, id, typ string, data []byte) {
	st := w.gitStore(store)
	w.res.git.objects[place] = gitObj{store: store, id: id, typ: typ}
	if w.res.git.held+int64(len(data)) > maxGitHeld {
		return
	}
	switch typ {
	case "tree":
		st.trees[id] = data
	case "commit":
		st.commits[id] = parseCommit(data)
		data = nil
	case "blob":
		if len(data) > maxKeptBlob {
			return
		}
		st.blobs[id] = gitBlob{place: place, data: data}
	default:
		return
	}
	w.res.git.held += int64(len(data))
}

// storeOf returns the object store a loose object or a pack is in (the
// objects directory), or the file's directory.
func storeOf(name string) string {
	dir := path.Dir(name)
	if path.Base(dir) == "pack" || looseObjectPath(name) {
		return path.Dir(dir)
	}
	return dir
}

// hashReader hashes what is read through it.
type hashReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// looseObject decodes a git loose object (zlib of "type size\x00" and the
// content) as a stream of its own. Its id is the hash of what it decodes
// to; a tree or commit is kept to name paths, a small blob to be checked
// as the file a tree names it.
func (w *walker) looseObject(br *bufio.Reader, name string) error {
	zr, err := zlib.NewReader(ctxReader{w.ctx, br})
	if err != nil {
		return &decodeError{name: name, kind: "git object", err: err}
	}
	h := sha1.New()
	if len(path.Base(name)) == 62 {
		h = sha256.New()
	}
	hr := &hashReader{r: zr, h: h}
	var typ string
	var kept []byte
	err = w.decoded(hr, name, func(ds *stream) error {
		var hdr []byte
		var c [1]byte
		for len(hdr) < 32 {
			if _, err := io.ReadFull(ds, c[:]); err != nil {
				return err
			}
			hdr = append(hdr, c[0])
			if c[0] == 0 {
				break
			}
		}
		t, hlen, ok := gitObjectHeader(hdr)
		if !ok {
			return errors.New("not a git object header")
		}
		typ = t
		size, _ := strconv.ParseInt(string(hdr[len(t)+1:hlen-1]), 10, 64)
		ds.att.close(span{start: 0, end: int64(hlen), path: name, part: partHeader})
		if typ == "blob" && size > maxKeptBlob || typ == "tag" {
			w.contentOf = name
			err := w.file(ds, ds, int64(hlen), name)
			ds.att.close(span{start: int64(hlen), end: ds.n, path: name, part: partData})
			return err
		}
		limit := int64(maxKeptBlob)
		if typ != "blob" {
			limit = 16 << 20
		}
		kept, err = io.ReadAll(io.LimitReader(ds, limit))
		ds.att.close(span{start: int64(hlen), end: ds.n, path: name, part: partData})
		if err != nil {
			return err
		}
		if typ == "blob" && len(kept) > 0 {
			// Open what the blob holds (a committed archive).
			w.contentOf = name
			return w.file(bytes.NewReader(kept), ds, int64(hlen), name)
		}
		return nil
	})
	zr.Close()
	if err != nil {
		if w.ctx.Err() != nil {
			return w.ctx.Err()
		}
		return &decodeError{name: name, kind: "git object", err: err}
	}
	if typ != "" {
		w.keep(storeOf(name), name, hex.EncodeToString(h.Sum(nil)), typ, kept)
	}
	return nil
}

// Pack object types.
const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objTag      = 4
	objOfsDelta = 6
	objRefDelta = 7
)

var objTypes = [...]string{objCommit: "commit", objTree: "tree", objBlob: "blob", objTag: "tag"}

// packEntry is one object of a pack.
type packEntry struct {
	off, data int64 // where its header and its zlib data start
	typ       int
	size      int64 // inflated size (of the delta, for a delta)
	baseOff   int64 // OFS_DELTA
	baseID    string
	id        string // once resolved
	realType  int    // once resolved
}

// packReader resolves the objects of a pack held in memory.
type packReader struct {
	w       *walker
	name    string
	buf     []byte
	hashLen int
	entries []packEntry
	byOff   map[int64]int
	byID    map[string]int
	cache   map[int64][]byte
	order   []int64
	cached  int64
}

// packCache bounds the objects kept to resolve deltas against.
const packCache = 64 << 20

// gitPack reads a git pack whole (at most the buffer limit), resolves
// every object (deltas against their base in the pack: OFS_DELTA by
// offset, REF_DELTA by id) and searches each object's content as a
// stream of its own, named "pack!/id". Objects are built within the
// buffer limit each.
func (w *walker) gitPack(cr *countReader, name string) error {
	buf, err := io.ReadAll(io.LimitReader(cr, w.lim.buffer+1))
	if err != nil {
		return err
	}
	if int64(len(buf)) > w.lim.buffer {
		return fmt.Errorf("%s: git pack %w", name, &limitError{what: "to be held whole in memory to resolve its deltas", limit: limitBuffer, value: w.lim.buffer})
	}
	fail := func(err error) error { return &decodeError{name: name, kind: "git pack", err: err} }
	if len(buf) < 12+20 {
		return fail(errors.New("truncated"))
	}
	p := &packReader{w: w, name: name, buf: buf, hashLen: 20, byOff: map[int64]int{}, byID: map[string]int{}, cache: map[int64][]byte{}}
	sum := sha1.Sum(buf[:len(buf)-20])
	if !bytes.Equal(sum[:], buf[len(buf)-20:]) {
		if len(buf) >= 12+32 {
			if s2 := sha256.Sum256(buf[:len(buf)-32]); bytes.Equal(s2[:], buf[len(buf)-32:]) {
				p.hashLen = 32
			}
		}
		if p.hashLen == 20 {
			return fail(errors.New("its checksum does not match: damaged"))
		}
	}
	count := int64(binary.BigEndian.Uint32(buf[8:]))
	end := int64(len(buf) - p.hashLen)
	off := int64(12)
	for i := int64(0); i < count; i++ {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		e, err := p.header(off, end)
		if err != nil {
			return fail(fmt.Errorf("object %d at offset %d: %w", i, off, err))
		}
		n, err := p.zlibEnd(e.data, end)
		if err != nil {
			return fail(fmt.Errorf("object %d at offset %d: %w", i, off, err))
		}
		p.byOff[off] = len(p.entries)
		p.entries = append(p.entries, e)
		off = n
	}
	if off != end {
		return fail(fmt.Errorf("%d bytes after its %d objects", end-off, count))
	}
	// Resolve in pack order; a REF_DELTA whose base comes later waits.
	pending := make([]int, 0)
	for i := range p.entries {
		if err := p.resolveSearch(i); err != nil {
			if errors.Is(err, errBaseLater) {
				pending = append(pending, i)
				continue
			}
			return err
		}
	}
	for len(pending) > 0 {
		var left []int
		for _, i := range pending {
			if err := p.resolveSearch(i); err != nil {
				if errors.Is(err, errBaseLater) {
					left = append(left, i)
					continue
				}
				return err
			}
		}
		if len(left) == len(pending) {
			e := p.entries[left[0]]
			return fail(fmt.Errorf("the base %s of object at offset %d is not in the pack (a thin pack)", e.baseID, e.off))
		}
		pending = left
	}
	return nil
}

var errBaseLater = errors.New("base not resolved yet")

// header parses an object header at off.
func (p *packReader) header(off, end int64) (packEntry, error) {
	e := packEntry{off: off}
	b := p.buf[:end]
	if off >= end {
		return e, errors.New("truncated")
	}
	c := b[off]
	off++
	e.typ = int(c>>4) & 7
	e.size = int64(c & 15)
	shift := uint(4)
	for c&0x80 != 0 {
		if off >= end || shift > 56 {
			return e, errors.New("malformed size")
		}
		c = b[off]
		off++
		e.size |= int64(c&0x7f) << shift
		shift += 7
	}
	switch e.typ {
	case objCommit, objTree, objBlob, objTag:
	case objOfsDelta:
		if off >= end {
			return e, errors.New("truncated")
		}
		c = b[off]
		off++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if off >= end || rel > 1<<50 {
				return e, errors.New("malformed base offset")
			}
			c = b[off]
			off++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		e.baseOff = e.off - rel
		if rel <= 0 || e.baseOff < 12 {
			return e, errors.New("a base offset outside the pack")
		}
	case objRefDelta:
		if off+int64(p.hashLen) > end {
			return e, errors.New("truncated")
		}
		e.baseID = hex.EncodeToString(b[off : off+int64(p.hashLen)])
		off += int64(p.hashLen)
	default:
		return e, fmt.Errorf("unknown object type %d", e.typ)
	}
	e.data = off
	return e, nil
}

// zlibEnd returns where the zlib stream at off ends.
func (p *packReader) zlibEnd(off, end int64) (int64, error) {
	r := bytes.NewReader(p.buf[off:end])
	zr, err := zlib.NewReader(r)
	if err != nil {
		return 0, err
	}
	if _, err := io.CopyBuffer(io.Discard, zr, p.w.discard); err != nil {
		return 0, err
	}
	return end - int64(r.Len()), nil
}

// inflate returns the inflated data of entry i, which the header says
// is size bytes.
func (p *packReader) inflate(e *packEntry) ([]byte, error) {
	if e.size > p.w.lim.buffer {
		return nil, &limitError{what: fmt.Sprintf("an object of %s built in memory", sizeString(e.size)), limit: limitBuffer, value: p.w.lim.buffer}
	}
	zr, err := zlib.NewReader(bytes.NewReader(p.buf[e.data:]))
	if err != nil {
		return nil, err
	}
	out := make([]byte, e.size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, fmt.Errorf("inflating: %w", err)
	}
	return out, nil
}

// content returns the resolved content and type of entry i.
func (p *packReader) content(i int) ([]byte, int, error) {
	e := &p.entries[i]
	if b, ok := p.cache[e.off]; ok {
		return b, e.realType, nil
	}
	if err := p.w.ctx.Err(); err != nil {
		return nil, 0, err
	}
	if e.typ != objOfsDelta && e.typ != objRefDelta {
		b, err := p.inflate(e)
		return b, e.typ, err
	}
	var bi int
	if e.typ == objOfsDelta {
		j, ok := p.byOff[e.baseOff]
		if !ok {
			return nil, 0, fmt.Errorf("no object at the base offset %d", e.baseOff)
		}
		bi = j
	} else {
		j, ok := p.byID[e.baseID]
		if !ok {
			return nil, 0, errBaseLater
		}
		bi = j
	}
	base, typ, err := p.content(bi)
	if err != nil {
		return nil, 0, err
	}
	delta, err := p.inflate(e)
	if err != nil {
		return nil, 0, err
	}
	out, err := applyDelta(base, delta, p.w.lim.buffer)
	if err != nil {
		return nil, 0, err
	}
	p.remember(e.off, out)
	return out, typ, nil
}

func (p *packReader) remember(off int64, b []byte) {
	if int64(len(b)) > packCache/4 {
		return
	}
	for p.cached+int64(len(b)) > packCache && len(p.order) > 0 {
		old := p.order[0]
		p.order = p.order[1:]
		p.cached -= int64(len(p.cache[old]))
		delete(p.cache, old)
	}
	p.cache[off] = b
	p.order = append(p.order, off)
	p.cached += int64(len(b))
}

// resolveSearch builds object i, names it by its id and searches it.
func (p *packReader) resolveSearch(i int) error {
	b, typ, err := p.content(i)
	if err != nil {
		if errors.Is(err, errBaseLater) || p.w.ctx.Err() != nil {
			return err
		}
		var le *limitError
		if errors.As(err, &le) {
			return fmt.Errorf("%s: object at offset %d: %w", p.name, p.entries[i].off, err)
		}
		return &decodeError{name: p.name, kind: "git pack", err: fmt.Errorf("object at offset %d: %w", p.entries[i].off, err)}
	}
	e := &p.entries[i]
	if typ < objCommit || typ > objTag {
		return &decodeError{name: p.name, kind: "git pack", err: fmt.Errorf("object at offset %d: a delta against a delta of unknown type", e.off)}
	}
	h := sha1.New()
	if p.hashLen == 32 {
		h = sha256.New()
	}
	fmt.Fprintf(h, "%s %d\x00", objTypes[typ], len(b))
	h.Write(b)
	e.id = hex.EncodeToString(h.Sum(nil))
	e.realType = typ
	p.byID[e.id] = i
	p.remember(e.off, b)
	place := p.name + "!/" + e.id
	w := p.w
	err = w.decoded(bytes.NewReader(b), place, func(ds *stream) error {
		return w.file(ds, ds, 0, place)
	})
	if err != nil {
		return err
	}
	kept := b
	if typ == objBlob && len(b) > maxKeptBlob {
		kept = nil
	}
	w.keep(storeOf(p.name), place, e.id, objTypes[typ], kept)
	return nil
}

// applyDelta builds an object from its base and a git delta: the base's
// size and the result's size, then copy and insert instructions. A
// result larger than limit is refused before it is allocated.
func applyDelta(base, delta []byte, limit int64) ([]byte, error) {
	varint := func() (int64, error) {
		var x int64
		for shift := uint(0); ; shift += 7 {
			if len(delta) == 0 || shift > 56 {
				return 0, errors.New("malformed delta header")
			}
			c := delta[0]
			delta = delta[1:]
			x |= int64(c&0x7f) << shift
			if c&0x80 == 0 {
				return x, nil
			}
		}
	}
	srcSize, err := varint()
	if err != nil {
		return nil, err
	}
	dstSize, err := varint()
	if err != nil {
		return nil, err
	}
	if srcSize != int64(len(base)) {
		return nil, fmt.Errorf("a delta for a base of %d bytes against one of %d", srcSize, len(base))
	}
	if dstSize > limit {
		return nil, &limitError{what: fmt.Sprintf("an object of %s built from a delta", sizeString(dstSize)), limit: limitBuffer, value: limit}
	}
	out := make([]byte, 0, dstSize)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var off, n int64
			for k := uint(0); k < 4; k++ {
				if op&(1<<k) != 0 {
					if len(delta) == 0 {
						return nil, errors.New("truncated copy instruction")
					}
					off |= int64(delta[0]) << (8 * k)
					delta = delta[1:]
				}
			}
			for k := uint(0); k < 3; k++ {
				if op&(0x10<<k) != 0 {
					if len(delta) == 0 {
						return nil, errors.New("truncated copy instruction")
					}
					n |= int64(delta[0]) << (8 * k)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > int64(len(base)) || int64(len(out))+n > dstSize {
				return nil, errors.New("a copy outside the base or past the result")
			}
			out = append(out, base[off:off+n]...)
		case op != 0:
			n := int(op)
			if n > len(delta) || int64(len(out)+n) > dstSize {
				return nil, errors.New("an insert past the delta or the result")
			}
			out = append(out, delta[:n]...)
			delta = delta[n:]
		default:
			return nil, errors.New("reserved delta instruction 0")
		}
	}
	if int64(len(out)) != dstSize {
		return nil, fmt.Errorf("a delta that builds %d bytes, not the %d it says", len(out), dstSize)
	}
	return out, nil
}

// parseCommit reads a commit's tree and committer time.
func parseCommit(b []byte) gitCommit {
	var c gitCommit
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			break
		}
		switch {
		case strings.HasPrefix(line, "tree "):
			c.tree = strings.TrimPrefix(line, "tree ")
		case strings.HasPrefix(line, "parent "):
			c.parents = append(c.parents, strings.TrimPrefix(line, "parent "))
		case strings.HasPrefix(line, "committer "):
			f := strings.Fields(line)
			if len(f) >= 2 {
				c.time, _ = strconv.ParseInt(f[len(f)-2], 10, 64)
			}
		}
	}
	return c
}

type treeEntry struct {
	mode, name, id string
}

// parseTree reads a tree object's entries; hashLen is 20 or 32.
func parseTree(b []byte, hashLen int) []treeEntry {
	var out []treeEntry
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return out
		}
		nul := bytes.IndexByte(b[sp:], 0)
		if nul < 0 || sp+nul+1+hashLen > len(b) {
			return out
		}
		nul += sp
		out = append(out, treeEntry{mode: string(b[:sp]), name: string(b[sp+1 : nul]), id: hex.EncodeToString(b[nul+1 : nul+1+hashLen])})
		b = b[nul+1+hashLen:]
	}
	return out
}

// places maps every blob and tree the store's commits reach to its path
// and the earliest commit that holds it there.
func (st *gitStore) places() map[string]gitPlace {
	if st.paths != nil {
		return st.paths
	}
	st.paths = map[string]gitPlace{}
	ids := make([]string, 0, len(st.commits))
	for id := range st.commits {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := st.commits[ids[i]], st.commits[ids[j]]
		if a.time != b.time {
			return a.time < b.time
		}
		return ids[i] < ids[j]
	})
	seen := map[string]bool{}
	var walk func(tree, dir, commit string)
	walk = func(tree, dir, commit string) {
		if seen[tree] {
			return
		}
		seen[tree] = true
		raw, ok := st.trees[tree]
		if !ok {
			return
		}
		hashLen := 20
		if len(tree) == 64 {
			hashLen = 32
		}
		for _, e := range parseTree(raw, hashLen) {
			p := path.Join(dir, e.name)
			if _, ok := st.paths[e.id]; !ok {
				st.paths[e.id] = gitPlace{path: p, commit: commit}
			}
			if e.mode == "40000" {
				walk(e.id, p, commit)
			}
		}
	}
	for _, id := range ids {
		walk(st.commits[id].tree, "", id)
	}
	return st.paths
}

// lookup returns the id of what is at path in the tree, or "".
func (st *gitStore) lookup(tree, p string) string {
	id := tree
	for _, name := range strings.Split(p, "/") {
		entries, ok := st.parsed[id]
		if !ok {
			raw, ok := st.trees[id]
			if !ok {
				return ""
			}
			hashLen := 20
			if len(id) == 64 {
				hashLen = 32
			}
			entries = parseTree(raw, hashLen)
			if st.parsed == nil {
				st.parsed = map[string][]treeEntry{}
			}
			st.parsed[id] = entries
		}
		id = ""
		for _, e := range entries {
			if e.name == name {
				id = e.id
				break
			}
		}
		if id == "" {
			return ""
		}
	}
	return id
}

// introduced returns the commit that put object id at path: one whose
// tree holds it there and whose parents' trees do not (the earliest by
// committer time when several did), or the commit places found.
func (st *gitStore) introduced(id string, pl gitPlace) string {
	best := ""
	var bestTime int64
	n := 0
	for c, cm := range st.commits {
		if n++; n > 100000 {
			break
		}
		if st.lookup(cm.tree, pl.path) != id {
			continue
		}
		inParent := false
		for _, par := range cm.parents {
			if pc, ok := st.commits[par]; ok && st.lookup(pc.tree, pl.path) == id {
				inParent = true
				break
			}
		}
		if inParent {
			continue
		}
		if best == "" || cm.time < bestTime || cm.time == bestTime && c < best {
			best, bestTime = c, cm.time
		}
	}
	if best == "" {
		return pl.commit
	}
	return best
}

// gitFindings names the git object of every hit in one, with its path
// and commit where known, and checks the kept blobs that a tree names
// like a secrets file.
func (w *walker) gitFindings() {
	g := &w.res.git
	if len(g.objects) == 0 {
		return
	}
	commits := map[string]string{} // store and object: the commit that introduced it
	for i := range w.res.hits {
		h := &w.res.hits[i]
		o, ok := g.objects[h.path]
		for p := h.path; !ok; {
			// A hit inside an archive a blob holds: its object is the
			// longest place before a "!/".
			j := strings.LastIndex(p, "!/")
			if j < 0 {
				break
			}
			p = p[:j]
			o, ok = g.objects[p]
		}
		if !ok {
			continue
		}
		h.git = &GitObject{Object: o.id, Type: o.typ}
		st := g.stores[o.store]
		if pl, ok := st.places()[o.id]; ok {
			key := o.store + "\x00" + o.id
			c, ok := commits[key]
			if !ok {
				c = st.introduced(o.id, pl)
				commits[key] = c
			}
			h.git.Path, h.git.Commit = pl.path, c
		}
	}
	stores := make([]string, 0, len(g.stores))
	for s := range g.stores {
		stores = append(stores, s)
	}
	sort.Strings(stores)
	for _, s := range stores {
		st := g.stores[s]
		places := st.places()
		ids := make([]string, 0, len(st.blobs))
		for id := range st.blobs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			pl, ok := places[id]
			if !ok || creds.KindOfName(pl.path) == creds.None {
				continue
			}
			b := st.blobs[id]
			f, err := checkPlain(pl.path, bytes.NewReader(b.data), w.d.sealed, w.lim.check)
			if err != nil || f == nil {
				continue
			}
			f.Path, f.Part = b.place, partData
			f.Git = &GitObject{Object: id, Type: "blob", Path: pl.path, Commit: st.introduced(id, pl)}
			w.res.plain = append(w.res.plain, *f)
		}
	}
}

// merge adds what another walker learned of the same layer.
func (g *gitInfo) merge(o *gitInfo) {
	if len(o.objects) == 0 {
		return
	}
	if g.stores == nil {
		g.stores = map[string]*gitStore{}
		g.objects = map[string]gitObj{}
	}
	for k, v := range o.objects {
		g.objects[k] = v
	}
	for name, os := range o.stores {
		st := g.stores[name]
		if st == nil {
			g.stores[name] = os
			continue
		}
		for k, v := range os.trees {
			st.trees[k] = v
		}
		for k, v := range os.commits {
			st.commits[k] = v
		}
		for k, v := range os.blobs {
			st.blobs[k] = v
		}
		st.paths = nil
	}
	g.held += o.held
}
