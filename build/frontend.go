package build

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/sealenv/sealenv/inject"
)

// ErrSSHNotGiven: the Dockerfile mounts an SSH agent that the build was
// not given. BuildKit would skip the mount silently.
var ErrSSHNotGiven = errors.New("the Dockerfile mounts an SSH agent the build was not given")

// ErrOtherFrontend: the build asked BuildKit for a frontend other than the
// Dockerfile frontend sealenv runs itself, whose steps it cannot key.
var ErrOtherFrontend = errors.New("the build asks for another frontend")

// cacheID returns the id under which secret s is served: its name, a "#"
// and 128 bits of HMAC-SHA256, keyed with s.Key (which only holders of the
// secret's bundle have), of the name and the value. The id is part of the
// LLB of every step that mounts the secret, so BuildKit's cache key of
// that step depends on the value, and a build that serves another value
// (another bundle, another identity, a rotated value) never reuses it;
// without the key, the id says nothing of the value and no guess can be
// tested against it.
func cacheID(s Secret) string {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("sealenv build cache id v1\x00"))
	m.Write([]byte(s.Name))
	m.Write([]byte{0})
	m.Write(s.Value)
	return s.Name + "#" + hex.EncodeToString(m.Sum(nil)[:16])
}

// keyedGateway is the gateway client the Dockerfile frontend (BuildKit's
// own, run in this process) solves through: every definition it sends is
// rewritten so that each step that mounts a served secret names it by its
// cache id, and a step that mounts an SSH agent the build was not given
// is an error.
type keyedGateway struct {
	gwclient.Client
	ids   map[string]string // secret name -> cache id
	ssh   map[string]bool   // SSH ids given
	names []byte            // the declared names file to add to the image (nil: none)

	mu     sync.Mutex
	asked  map[string]bool // secret names mounted by some step
	failed error           // why Solve refused a request (BuildKit returns it as text)
}

func (g *keyedGateway) fail(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed == nil {
		g.failed = err
	}
	return err
}

// refused returns why Solve refused a request, if it did.
func (g *keyedGateway) refused() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failed
}

// Solve rewrites the definition and passes the request on. A request for
// a frontend (a # syntax= line or BUILDKIT_SYNTAX that was not caught
// before, a frontend forwarding to another) is refused: its steps would
// not be keyed.
func (g *keyedGateway) Solve(ctx context.Context, req gwclient.SolveRequest) (*gwclient.Result, error) {
	if req.Frontend != "" {
		return nil, g.fail(fmt.Errorf("%w (%s %s)", ErrOtherFrontend, req.Frontend, req.FrontendOpt["source"]))
	}
	if req.Definition != nil && len(req.Definition.Def) > 0 {
		def, err := g.rewrite(req.Definition)
		if err != nil {
			return nil, g.fail(err)
		}
		req.Definition = def
	}
	return g.Client.Solve(ctx, req)
}

// rewrite returns def with the secret ids of its exec ops replaced by
// their cache ids, and the digests that changed with them replaced
// wherever they are referenced.
func (g *keyedGateway) rewrite(def *pb.Definition) (*pb.Definition, error) {
	ops := make([]*pb.Op, len(def.Def))
	index := map[digest.Digest]int{}
	for i, dt := range def.Def {
		op := &pb.Op{}
		if err := op.Unmarshal(dt); err != nil {
			return nil, fmt.Errorf("reading the build definition: %w", err)
		}
		ops[i] = op
		index[digest.FromBytes(dt)] = i
	}
	newDigest := make([]digest.Digest, len(ops))
	newBytes := make([][]byte, len(ops))
	state := make([]int, len(ops)) // 0 new, 1 in progress, 2 done
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return errors.New("reading the build definition: a cycle")
		case 2:
			return nil
		}
		state[i] = 1
		op := ops[i]
		changed := false
		for _, in := range op.Inputs {
			j, ok := index[digest.Digest(in.Digest)]
			if !ok {
				return fmt.Errorf("reading the build definition: input %s is not in it", in.Digest)
			}
			if err := visit(j); err != nil {
				return err
			}
			if newDigest[j] != digest.Digest(in.Digest) {
				in.Digest = string(newDigest[j])
				changed = true
			}
		}
		if e := op.GetExec(); e != nil {
			c, err := g.exec(e)
			if err != nil {
				return err
			}
			changed = changed || c
		}
		dt := def.Def[i]
		if changed {
			var err error
			if dt, err = op.Marshal(); err != nil {
				return err
			}
		}
		newBytes[i], newDigest[i], state[i] = dt, digest.FromBytes(dt), 2
		return nil
	}
	for i := range ops {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	out := &pb.Definition{Def: newBytes, Source: def.Source}
	old := make(map[string]string, len(ops))
	for d, i := range index {
		old[string(d)] = string(newDigest[i])
	}
	if def.Metadata != nil {
		out.Metadata = make(map[string]*pb.OpMetadata, len(def.Metadata))
		for k, v := range def.Metadata {
			if n, ok := old[k]; ok {
				k = n
			}
			out.Metadata[k] = v
		}
	}
	if def.Source != nil && def.Source.Locations != nil {
		src := &pb.Source{Infos: def.Source.Infos, Locations: make(map[string]*pb.Locations, len(def.Source.Locations))}
		for k, v := range def.Source.Locations {
			if n, ok := old[k]; ok {
				k = n
			}
			src.Locations[k] = v
		}
		out.Source = src
	}
	return out, nil
}

// exec renames the served secrets of one exec op and checks its SSH
// mounts; it reports whether it changed anything.
func (g *keyedGateway) exec(e *pb.ExecOp) (bool, error) {
	changed := false
	rename := func(id *string) {
		g.mu.Lock()
		g.asked[*id] = true
		g.mu.Unlock()
		if n, ok := g.ids[*id]; ok {
			*id = n
			changed = true
		}
	}
	for _, m := range e.Mounts {
		switch m.MountType {
		case pb.MountType_SECRET:
			if m.SecretOpt != nil {
				rename(&m.SecretOpt.ID)
			}
		case pb.MountType_SSH:
			id := "default"
			if m.SSHOpt != nil && m.SSHOpt.ID != "" {
				id = m.SSHOpt.ID
			}
			if !g.ssh[id] {
				return false, &SSHError{ID: id}
			}
		}
	}
	for _, s := range e.Secretenv {
		rename(&s.ID)
	}
	return changed, nil
}

// SSHError names the SSH agent id a RUN --mount=type=ssh needs.
type SSHError struct{ ID string }

func (e *SSHError) Error() string {
	return fmt.Sprintf("%v: RUN --mount=type=ssh asks for %q", ErrSSHNotGiven, e.ID)
}

func (e *SSHError) Unwrap() error { return ErrSSHNotGiven }

// mounted lists the secret names some step mounted (before renaming).
func (g *keyedGateway) mounted() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for n := range g.asked {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// frontend runs BuildKit's Dockerfile frontend in this process, through g,
// and adds the declared names file to every image it returns.
func (g *keyedGateway) frontend(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
	g.Client = c
	res, err := builder.Build(ctx, g)
	if err != nil || g.names == nil {
		return res, err
	}
	return addFile(ctx, c, res, inject.DefaultNames, g.names)
}

// addFile writes data to path (mode 0444, its directories made as
// needed) in a last layer of every image of res, before BuildKit exports
// it: whatever the Dockerfile left at path is replaced. The images'
// configs (entrypoint, environment) are unchanged.
func addFile(ctx context.Context, c gwclient.Client, res *gwclient.Result, path string, data []byte) (*gwclient.Result, error) {
	add := func(ref gwclient.Reference) (gwclient.Reference, error) {
		st := llb.Scratch()
		if ref != nil {
			var err error
			if st, err = ref.ToState(); err != nil {
				return nil, err
			}
		}
		st = st.File(llb.Mkdir(filepath.Dir(path), 0o755, llb.WithParents(true)).Mkfile(path, 0o444, data),
			llb.WithCustomName("[sealenv] "+path+": the names sealenv.yaml declares"))
		def, err := st.Marshal(ctx)
		if err != nil {
			return nil, err
		}
		r, err := c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, err
		}
		return r.SingleRef()
	}
	if len(res.Refs) > 0 {
		for k, ref := range res.Refs {
			nr, err := add(ref)
			if err != nil {
				return nil, fmt.Errorf("adding %s to the %s image: %w", path, k, err)
			}
			res.Refs[k] = nr
		}
		return res, nil
	}
	nr, err := add(res.Ref)
	if err != nil {
		return nil, fmt.Errorf("adding %s to the image: %w", path, err)
	}
	res.SetRef(nr)
	return res, nil
}

// dockerfileFrontend reports whether a # syntax= image is the Dockerfile
// frontend (docker/dockerfile, any tag or digest), which sealenv runs
// itself in BuildKit's version.
func dockerfileFrontend(ref string) bool {
	r := strings.TrimPrefix(ref, "docker.io/")
	r, _, _ = strings.Cut(r, "@")
	r, _, _ = strings.Cut(r, ":")
	return r == "docker/dockerfile" || r == "docker/dockerfile-upstream"
}
