package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/internal/match"
	"github.com/sealenv/sealenv/internal/version"
)

// DetectorVersion numbers what the walker and the detectors find in a
// layer. It is part of every verdict's key in the cache: change it with any
// change that can make a layer's verdict differ (a new decoder, a new
// place a finding is attributed to, a new encoding searched).
//
// 2: every xz block's dictionary is checked against the window limit (a
// layer found complete before may now be incomplete), and zip entries
// compressed with xz are decoded (they were incomplete).
const DetectorVersion = 2

// cacheKeyFile holds a cache's random key, beside its entries.
const cacheKeyFile = "key"

// maxCacheEntry bounds an entry read back (and one written): a layer
// with more findings than fit is searched again.
const maxCacheEntry = 16 << 20

// Cache keeps the verdict of every layer and blob an audit searched,
// keyed by the blob's digest and by everything that can change the verdict
// (see [Options].Cache and docs/audit.md). An entry holds no value and no
// string that is not masked: where each finding is, which rule or which
// sealed key (by name) it is, and its preview (which never shows more than
// an eighth of a match, and at most four bytes). Each entry is
// authenticated with the cache's own random key: an entry that was
// damaged, written by another cache or moved to another name is not
// trusted, and the layer is searched again. A Cache is safe for use by
// several audits at once, in one process or many.
type Cache struct {
	dir string
	key []byte
}

// OpenCache opens the verdict cache in dir, creating it (mode 0700) and
// its key (a random 32-byte key in dir/key, mode 0600) if needed.
func OpenCache(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("verdict cache: no directory")
	}
	if err := os.MkdirAll(filepath.Join(dir, "v1"), 0o700); err != nil {
		return nil, fmt.Errorf("verdict cache %s: %w", dir, fsutil.Reason(err))
	}
	key, err := cacheKey(dir)
	if err != nil {
		return nil, fmt.Errorf("verdict cache %s: %w", dir, err)
	}
	return &Cache{dir: dir, key: key}, nil
}

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// cacheKey reads dir's key, or makes one: written whole to a file of its
// own and linked into place, so that a cache opened at the same time by
// another audit sees either no key or the whole key, and both use the one
// that was linked first.
func cacheKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, cacheKeyFile)
	for range 2 {
		b, err := readKey(path)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return b, err
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp(dir, ".key.tmp-*")
		if err != nil {
			return nil, fsutil.Reason(err)
		}
		_, werr := tmp.Write(key)
		if err := tmp.Close(); werr == nil {
			werr = err
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), 0o600)
		}
		if werr == nil {
			if werr = os.Link(tmp.Name(), path); errors.Is(werr, fs.ErrExist) {
				werr = nil // another audit made it first: use theirs
			}
		}
		os.Remove(tmp.Name())
		if werr != nil {
			return nil, fsutil.Reason(werr)
		}
	}
	return readKey(path)
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("its key %s is not a regular file of mode 0600 (it is %v): remove the directory to start the cache afresh", path, st.Mode())
	}
	if !ownedByMe(st) {
		return nil, fmt.Errorf("its key %s belongs to another user: remove the directory to start the cache afresh, or use a cache of your own (--cache DIR)", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 33))
	if err != nil {
		return nil, err
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("its key %s is damaged (%d bytes, want 32): remove the directory to start the cache afresh", path, len(b))
	}
	return b, nil
}

// verdictContext is what one audit's verdicts depend on beyond the
// blob: the detector version, the rules, the searched set, the options
// that change what is searched. It is a hash of the values (through
// match's digest) and is never written: entries are named and sealed with
// an HMAC of it under the cache's key.
func (o *Options) verdictContext(d *detectors) []byte {
	return o.verdictContextAt(d, DetectorVersion)
}

func (o *Options) verdictContextAt(d *detectors, detector int) []byte {
	h := sha256.New()
	str := func(s string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(v int64) { str(strconv.FormatInt(v, 10)) }
	str("sealenv audit verdict")
	num(int64(detector))
	v := version.Get()
	str(v.Version)
	str(v.Commit)
	// The searched set: known values in every form, the rules' keywords.
	md := d.m.Digest()
	h.Write(md[:])
	// The rules that confirm a keyword's match, in full: a rule file
	// edited without a new version still changes the key.
	str(o.Rules.Version)
	num(int64(len(d.rules)))
	for _, r := range d.rules {
		str(r.ID)
		str(r.Severity.String())
		str(r.Pattern)
		num(int64(r.SecretGroup))
		num(int64(r.Before))
		num(int64(r.MaxLen))
		num(int64(math.Float64bits(r.Entropy)))
		str(r.Validate)
		for _, l := range [][]string{r.Keywords, r.Stopwords, r.Requires} {
			num(int64(len(l)))
			for _, s := range l {
				str(s)
			}
		}
	}
	// The published fingerprints, then the sealed names (a file of that
	// name is checked as a plaintext bundle).
	for _, keys := range [][]string{slices.Sorted(maps.Keys(d.public)), slices.Sorted(maps.Keys(d.sealed))} {
		num(int64(len(keys)))
		for _, k := range keys {
			str(k)
		}
	}
	// The walker's limits.
	for _, l := range []int64{int64(o.MaxDepth), o.MaxSparseSize, o.MaxFileCheck, o.MaxWindow, o.MaxBuffer} {
		num(l)
	}
	return h.Sum(nil)
}

// verdictCache is one audit's view of a cache: the context of its
// verdicts and the masker of its detectors.
type verdictCache struct {
	c   *Cache
	ctx []byte
	d   *detectors
}

func (o *Options) verdictCache(d *detectors) *verdictCache {
	if o.Cache == nil {
		return nil
	}
	return &verdictCache{c: o.Cache, ctx: o.verdictContext(d), d: d}
}

// cacheable reports whether a layer job's verdict can be kept by digest:
// a blob its store names by digest, or a docker save layer (named by its
// path in the archive) stored uncompressed, whose diff ID is then the
// digest of its bytes. A compressed docker save layer is not: its diff ID
// says nothing of the compressed bytes, which are searched too.
func (l *layerJob) cacheable() bool {
	if l.digest == "" {
		return false
	}
	if l.key == "" && l.diffID.Hex == "" {
		return true
	}
	return l.plain && l.digest == l.diffID.String()
}

// name returns the entry's name for layer l: an HMAC under the cache's
// key of the context, the blob's digest and how it is read.
func (v *verdictCache) name(l *layerJob) string {
	m := hmac.New(sha256.New, v.c.key)
	m.Write([]byte("name\x00"))
	m.Write(v.ctx)
	for _, s := range []string{l.digest, l.blob, l.where} {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (v *verdictCache) path(name string) string {
	return filepath.Join(v.c.dir, "v1", name[:2], name)
}

// seal returns the MAC of an entry's payload under its name.
func (v *verdictCache) seal(name string, payload []byte) []byte {
	m := hmac.New(sha256.New, v.c.key)
	m.Write([]byte("entry\x00"))
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

// cachedScan is a layer's verdict as an entry keeps it.
type cachedScan struct {
	Hits      []cachedHit `json:"hits,omitempty"`
	Plain     []Finding   `json:"plain,omitempty"`
	Whiteouts []string    `json:"whiteouts,omitempty"`
	Opaques   []string    `json:"opaques,omitempty"`
	Files     int64       `json:"files"`
	Bytes     int64       `json:"bytes"`
	Notes     []string    `json:"notes,omitempty"`
}

// cachedHit is a detector hit with its place: the rule by its ID, a known
// value by its key name, never the match.
type cachedHit struct {
	Rule     string     `json:"rule,omitempty"`
	Name     string     `json:"name,omitempty"`
	Encoding string     `json:"encoding,omitempty"`
	Offset   int64      `json:"offset"`
	Length   int        `json:"length"`
	Preview  string     `json:"preview"`
	Path     string     `json:"path"`
	Part     string     `json:"part"`
	From     int64      `json:"from"`
	Depth    int        `json:"depth"`
	Git      *GitObject `json:"git,omitempty"`
}

// get returns the verdict cached for l, or nil: an entry that is
// missing, damaged, foreign or of rules this audit does not have is a
// miss.
func (v *verdictCache) get(l *layerJob) *layerScan {
	name := v.name(l)
	p := v.path(name)
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCacheEntry+1))
	f.Close()
	if err != nil || len(b) > maxCacheEntry {
		return nil
	}
	mac, payload, ok := bytes.Cut(b, []byte("\n"))
	want := v.seal(name, payload)
	got := make([]byte, hex.DecodedLen(len(mac)))
	if !ok || len(got) != len(want) {
		return nil
	}
	if _, err := hex.Decode(got, mac); err != nil || !hmac.Equal(got, want) {
		return nil
	}
	var cs cachedScan
	if err := json.Unmarshal(payload, &cs); err != nil {
		return nil
	}
	rule := map[string]int{}
	for i, r := range v.d.rules {
		rule[r.ID] = i
	}
	s := &layerScan{plain: cs.Plain, whiteouts: cs.Whiteouts, opaques: cs.Opaques, files: cs.Files, bytes: cs.Bytes, notes: cs.Notes}
	for _, h := range cs.Hits {
		ri := -1
		if h.Rule != "" {
			i, ok := rule[h.Rule]
			if !ok {
				return nil
			}
			ri = i
		}
		s.hits = append(s.hits, fileHit{
			Hit:  match.Hit{Rule: ri, Name: h.Name, Encoding: h.Encoding, Offset: h.Offset, Length: h.Length, Preview: h.Preview},
			path: h.Path, part: h.Part, from: h.From, depth: h.Depth, git: h.Git,
		})
	}
	// An entry in use is young: pruning by modification time (see
	// docs/audit.md) keeps it.
	now := time.Now()
	_ = os.Chtimes(p, now, now)
	return s
}

// put keeps the verdict s of l. A scan that did not search everything
// (an incomplete reason) is not kept: the next audit tries again. Every
// string goes through the audit's masker first; a failure to write only
// costs the next audit a search.
func (v *verdictCache) put(l *layerJob, s *layerScan) {
	if s == nil || len(s.incomplete) > 0 {
		return
	}
	m := newMasker(v.d)
	cs := cachedScan{Files: s.files, Bytes: s.bytes}
	for _, h := range s.hits {
		ch := cachedHit{Name: h.Name, Encoding: h.Encoding, Offset: h.Offset, Length: h.Length, Preview: h.Preview, Path: h.path, Part: h.part, From: h.from, Depth: h.depth}
		if r := v.d.rule(h.Hit); r != nil {
			ch.Rule = r.ID
		}
		if h.git != nil {
			g := *h.git
			ch.Git = &g
		}
		cs.Hits = append(cs.Hits, ch)
	}
	// A deep copy of the plaintext-bundle findings: masking must not
	// touch the scan's own.
	if len(s.plain) > 0 {
		b, err := json.Marshal(s.plain)
		if err != nil || json.Unmarshal(b, &cs.Plain) != nil {
			return
		}
	}
	cs.Whiteouts = slices.Clone(s.whiteouts)
	cs.Opaques = slices.Clone(s.opaques)
	cs.Notes = slices.Clone(s.notes)
	maskStrings(reflect.ValueOf(&cs).Elem(), m.str)
	payload, err := json.Marshal(&cs)
	if err != nil || len(payload) > maxCacheEntry-100 {
		return
	}
	name := v.name(l)
	entry := append([]byte(hex.EncodeToString(v.seal(name, payload))+"\n"), payload...)
	p := v.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	_ = fsutil.WriteFileAtomic(p, entry, 0o600)
}
