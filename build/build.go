// Package build is the BuildKit build gate behind `sealenv build`: a
// Dockerfile build whose secrets come from sealed bundles in memory and
// whose image is written only when the audit finds it clean.
//
// # Before the build
//
// The Dockerfile is linted ([audit.Dockerfile]) and every build argument is
// checked ([audit.BuildArgs]) against the sealed values and the credential
// rules. Any finding ends [Run] there: BuildKit is never contacted.
//
// # During the build
//
// BuildKit's Go client solves the Dockerfile with the dockerfile.v0
// frontend at any address its connection helpers reach (unix://, tcp://
// with TLS, docker-container://, podman-container://, kube-pod://, ssh://).
// A session secrets provider serves each [Secret] by id = its name to
// RUN --mount=type=secret; the values never leave this process other than
// through the session, and are zeroed when the build ends. Progress is
// BuildKit's own display (progressui), with every sealed value redacted.
//
// # After the build
//
// The OCI exporter streams the image (every platform, and the attestations)
// into a private directory (mode 0700, removed on every return), where
// [audit.Ref] reads it in place: layers, configs, history, annotations and
// provenance. Only when the audit is clean and complete is the image
// written to the destination (imageref.Write); otherwise nothing is.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	// BuildKit's connection helpers, registered by import: the schemes
	// docker-container://, podman-container://, kube-pod:// and ssh://.
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
	_ "github.com/moby/buildkit/client/connhelper/kubepod"
	_ "github.com/moby/buildkit/client/connhelper/podmancontainer"
	_ "github.com/moby/buildkit/client/connhelper/ssh"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/inject"
	ifsutil "github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
)

// Options configure a build.
type Options struct {
	// Addr is the BuildKit address (see [DefaultAddress]).
	Addr string
	// TLS configures the connection; a tcp:// address needs TLS.CACert.
	TLS TLS
	// Context is the build context directory. Dockerfile is the
	// Dockerfile (default: Context/Dockerfile).
	Context    string
	Dockerfile string
	// BuildArgs are the build arguments (build-arg:NAME=value).
	BuildArgs map[string]string
	// Target is the stage to build (default: the last).
	Target string
	// Platforms to build for (default: BuildKit's own). Several make a
	// multi-platform index.
	Platforms []string
	// Provenance is "" (none), "min" or "max": a SLSA provenance
	// attestation of that mode.
	Provenance string
	// NoCache builds every step anew.
	NoCache bool
	// Secrets are served to RUN --mount=type=secret by id = Name. Run
	// keeps its own copies and zeroes them when the build ends; the
	// caller zeroes its own.
	Secrets []Secret
	// Audit configures the lint, the build-argument check and the image
	// audit: the sealed values to search for, rules, allowlist.
	// BuildContext is set to Context.
	Audit audit.Options
	// Dest is where a clean image is written: oci:DIR, oci-archive:FILE,
	// docker-archive:FILE[:NAME:TAG] (default name sealenv/build:latest;
	// one platform, no attestations) or docker://REF.
	Dest imageref.Ref
	// Replace allows replacing an existing local destination.
	Replace bool
	// Insecure allows a plain-HTTP registry for a docker:// destination.
	Insecure bool
	// Progress is the display mode: auto (default), plain, tty, rawjson or
	// quiet; ProgressOut receives it (nil: none), with every sealed value
	// of Audit.Values and Secrets redacted.
	Progress    string
	ProgressOut io.Writer
	// TempDir holds the private directory the image is exported to
	// (default: the system's).
	TempDir string
}

// TLS holds the files of a TLS connection to BuildKit.
type TLS struct {
	CACert, Cert, Key string
	// ServerName is checked against the server's certificate (default:
	// the address's host).
	ServerName string
}

// Secret is a value served to the build by id = Name.
type Secret = seal.Secret

// Result is what a build did.
type Result struct {
	// Report is the audit's: of the Dockerfile and the build arguments
	// when they have findings (Built is then false), else of the image.
	Report *audit.Report
	// Built says BuildKit built the image; Written that it reached the
	// destination, which happens only when Report is clean.
	Built, Written bool
	// Digest is the digest of the image or index written.
	Digest string
	// Unserved lists the secret ids the build asked for that no Secret
	// named.
	Unserved []string
}

// Errors a caller may want to explain in its own terms.
var (
	// ErrPlaintextTCP: a tcp:// address without TLS would carry the
	// secrets in plaintext.
	ErrPlaintextTCP = errors.New("a tcp:// address without TLS would send the secrets in plaintext")
	// ErrDockerArchive: a docker archive holds one image, without
	// attestations.
	ErrDockerArchive = errors.New("a docker archive holds one platform and no attestations")
	// ErrTLSPair: a client certificate without its key, or a key without
	// its certificate.
	ErrTLSPair = errors.New("TLS: a client certificate needs its key, and a key its certificate")
)

// Run lints, builds, audits and, when the audit is clean, writes the
// image. A report with findings is a result, not an error: nothing is
// written then. An error means the build or the audit could not be done.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	ao := o.Audit
	ao.BuildContext = o.Context

	// Before the build: the Dockerfile and the build arguments.
	lint, err := audit.Dockerfile(o.Dockerfile, ao)
	if err != nil {
		return nil, fmt.Errorf("linting the Dockerfile: %w", err)
	}
	args := audit.BuildArgs(o.BuildArgs, ao)
	lint.Findings = append(lint.Findings, args.Findings...)
	lint.Suppressed = append(lint.Suppressed, args.Suppressed...)
	lint.Coverage.KnownValues = args.Coverage.KnownValues
	lint.Coverage.ShortValues = args.Coverage.ShortValues
	if !lint.Clean() {
		return &Result{Report: lint}, nil
	}

	red := newRedactor(o)
	defer red.mt.Zero()
	dir, err := os.MkdirTemp(o.TempDir, "sealenv-build-")
	if err != nil {
		return nil, fmt.Errorf("making a private directory: %w", err)
	}
	defer os.RemoveAll(dir)
	layout := filepath.Join(dir, "oci")

	res := &Result{}
	unserved, err := o.solve(ctx, layout, red)
	res.Unserved = unserved
	if err != nil {
		return res, red.err(err)
	}
	res.Built = true

	src := imageref.Ref{Transport: imageref.OCI, Path: layout}
	rep, err := audit.Ref(ctx, src, ao)
	if err != nil {
		return res, fmt.Errorf("auditing the image: %w", err)
	}
	rep.Source = o.Dest.String()
	res.Report = rep
	if !rep.Clean() {
		return res, nil
	}
	if res.Digest, err = o.write(ctx, src); err != nil {
		return res, red.err(err)
	}
	res.Written = true
	return res, nil
}

// Check validates the options, and fills in the default Dockerfile, without
// reading or building anything; [Run] calls it first. A caller may call it
// before it opens the bundles, to fail early.
func (o *Options) Check() error {
	if o.Context == "" {
		return errors.New("no build context")
	}
	st, err := os.Stat(o.Context)
	if err != nil {
		return fmt.Errorf("build context %s: %w", o.Context, ifsutil.Reason(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("build context %s: not a directory", o.Context)
	}
	if o.Dockerfile == "" {
		o.Dockerfile = filepath.Join(o.Context, "Dockerfile")
	}
	if st, err := os.Stat(o.Dockerfile); err != nil {
		return fmt.Errorf("dockerfile %s: %w", o.Dockerfile, ifsutil.Reason(err))
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("dockerfile %s: not a regular file", o.Dockerfile)
	}
	if (o.TLS.Cert == "") != (o.TLS.Key == "") {
		return ErrTLSPair
	}
	switch o.Provenance {
	case "", "min", "max":
	default:
		return fmt.Errorf("provenance mode %q: want min or max", o.Provenance)
	}
	switch o.Progress {
	case "", "auto", "plain", "tty", "rawjson", "quiet":
	default:
		return fmt.Errorf("progress %q: want auto, plain, tty, rawjson or quiet", o.Progress)
	}
	for i, s := range o.Secrets {
		if s.Name == "" {
			return fmt.Errorf("secret %d has no name", i)
		}
		if len(s.Value) > secretsprovider.MaxSecretSize {
			return fmt.Errorf("secret %s: %d bytes, more than BuildKit's limit of %d", s.Name, len(s.Value), secretsprovider.MaxSecretSize)
		}
	}
	if o.Addr == "" {
		return ErrNoAddress
	}
	u, err := url.Parse(o.Addr)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("BuildKit address %q: want SCHEME://..., such as unix:///run/buildkit/buildkitd.sock", o.Addr)
	}
	if u.Scheme == "tcp" && o.TLS.CACert == "" {
		return fmt.Errorf("%s: %w", o.Addr, ErrPlaintextTCP)
	}
	d := o.Dest
	switch d.Transport {
	case imageref.OCI, imageref.OCIArchive, imageref.Docker:
	case imageref.DockerArchive:
		if len(o.Platforms) > 1 || o.Provenance != "" {
			return fmt.Errorf("%s: %w; write to oci:DIR, oci-archive:FILE or docker://REF", d, ErrDockerArchive)
		}
	default:
		return fmt.Errorf("%s: not a destination (want oci:DIR, oci-archive:FILE, docker-archive:FILE or docker://REF)", d)
	}
	if d.Transport != imageref.Docker && !o.Replace {
		// Known before the build, not after it.
		if _, err := os.Lstat(d.Path); err == nil {
			return fmt.Errorf("%w: %s", imageref.ErrDestinationUsed, d.Path)
		}
	}
	return nil
}

// solve runs the build and exports the image into the OCI layout dir.
func (o *Options) solve(ctx context.Context, dir string, red *redactor) ([]string, error) {
	c, err := o.client(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	ctxFS, err := fsutil.NewFS(o.Context)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", o.Context, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(o.Dockerfile))
	if err != nil {
		return nil, fmt.Errorf("dockerfile %s: %w", o.Dockerfile, err)
	}
	attrs := map[string]string{"filename": filepath.Base(o.Dockerfile)}
	for k, v := range o.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	if o.Target != "" {
		attrs["target"] = o.Target
	}
	if len(o.Platforms) > 0 {
		attrs["platform"] = strings.Join(o.Platforms, ",")
	}
	if o.Provenance != "" {
		attrs["attest:provenance"] = "mode=" + o.Provenance
	}
	if o.NoCache {
		attrs["no-cache"] = ""
	}

	store := newSecretStore(o.Secrets)
	defer store.zero()
	auth := authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		ConfigFile: config.LoadDefaultConfigFile(io.Discard),
	})
	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports: []client.ExportEntry{{
			Type:      client.ExporterOCI,
			Attrs:     map[string]string{"tar": "false"},
			OutputDir: dir,
		}},
		Session: []session.Attachable{secretsprovider.NewSecretProvider(store), auth},
	}

	mode := progressui.DisplayMode(o.Progress)
	if o.ProgressOut == nil {
		mode = progressui.QuietMode
	}
	disp, err := progressui.NewDisplay(red.writer(o.ProgressOut), mode)
	if err != nil {
		return nil, fmt.Errorf("progress: %w", err)
	}
	ch := make(chan *client.SolveStatus)
	shown := make(chan *client.SolveStatus)
	var eg errgroup.Group
	eg.Go(func() error {
		red.statuses(ch, shown)
		return nil
	})
	eg.Go(func() error {
		// The display drains the channel to its end whatever happens:
		// BuildKit's client blocks on it otherwise.
		_, err := disp.UpdateFrom(context.WithoutCancel(ctx), shown)
		return err
	})
	_, err = c.Solve(ctx, nil, opt, ch) // closes ch
	derr := eg.Wait()
	red.flush()
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return store.unserved(), cause
		}
		return store.unserved(), fmt.Errorf("building with BuildKit at %s: %w", o.Addr, err)
	}
	if derr != nil {
		return store.unserved(), fmt.Errorf("progress: %w", derr)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return store.unserved(), errors.New("BuildKit exported no image")
	}
	return store.unserved(), nil
}

func (o *Options) client(ctx context.Context) (*client.Client, error) {
	var opts []client.ClientOpt
	if t := o.TLS; t.CACert != "" || t.Cert != "" || t.Key != "" {
		name := t.ServerName
		if name == "" {
			if u, err := url.Parse(o.Addr); err == nil {
				name = u.Hostname()
			}
		}
		if t.CACert != "" {
			opts = append(opts, client.WithServerConfig(name, t.CACert))
		}
		if t.Cert != "" {
			opts = append(opts, client.WithCredentials(t.Cert, t.Key))
		}
	}
	c, err := client.New(ctx, o.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("BuildKit at %s: %w", o.Addr, err)
	}
	return c, nil
}

// write copies the audited image from the layout to the destination.
func (o *Options) write(ctx context.Context, src imageref.Ref) (string, error) {
	s, err := imageref.Open(ctx, src, imageref.Options{})
	if err != nil {
		return "", fmt.Errorf("reading the built image: %w", err)
	}
	defer s.Close()
	img, idx := s.Image, s.Index
	dest := o.Dest
	if dest.Transport == imageref.DockerArchive {
		if idx != nil {
			if img, err = onlyImage(idx); err != nil {
				return "", fmt.Errorf("%s: %w", dest, err)
			}
			idx = nil
		}
		if dest.Name == "" {
			dest.Name = "sealenv/build:latest"
		}
	}
	err = imageref.Write(ctx, dest, img, idx, o.Replace, imageref.Options{Insecure: o.Insecure})
	if err != nil {
		return "", err
	}
	var d v1.Hash
	if idx != nil {
		d, err = idx.Digest()
	} else {
		d, err = img.Digest()
	}
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// onlyImage returns the one image of an index that holds nothing else.
func onlyImage(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsImage() {
		return nil, ErrDockerArchive
	}
	return idx.Image(m.Manifests[0].Digest)
}

// secretStore serves the secrets from memory and remembers the ids asked
// for that it does not hold.
type secretStore struct {
	mu     sync.Mutex
	values map[string][]byte
	missed map[string]bool
}

func newSecretStore(s []Secret) *secretStore {
	st := &secretStore{values: map[string][]byte{}, missed: map[string]bool{}}
	for _, v := range s {
		if old, ok := st.values[v.Name]; ok {
			clear(old)
		}
		st.values[v.Name] = bytes.Clone(v.Value)
	}
	return st
}

// GetSecret implements secrets.SecretStore.
func (s *secretStore) GetSecret(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[id]
	if !ok {
		s.missed[id] = true
		return nil, secrets.ErrNotFound
	}
	return v, nil
}

func (s *secretStore) zero() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.values {
		clear(v)
		delete(s.values, k)
	}
}

func (s *secretStore) unserved() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.missed {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

var _ secrets.SecretStore = (*secretStore)(nil)

// redactor replaces sealed values in the progress display and in errors.
type redactor struct {
	mt *inject.Matcher
	mu sync.Mutex
	r  *inject.Redactor
}

func newRedactor(o Options) *redactor {
	s := append(append([]inject.Secret{}, o.Audit.Values...), o.Secrets...)
	return &redactor{mt: inject.NewMatcher(s)}
}

// writer wraps w; a terminal stays a terminal, so that auto picks the
// interactive display.
func (r *redactor) writer(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	r.r = r.mt.Writer(w)
	lw := &lockedWriter{r: r}
	if f, ok := w.(*os.File); ok {
		return &redactedFile{File: f, w: lw}
	}
	return lw
}

func (r *redactor) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.r != nil {
		_ = r.r.Flush()
	}
}

// err returns err with every sealed value replaced; BuildKit's errors can
// quote a step's output.
func (r *redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := string(r.bytes([]byte(err.Error())))
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// statuses copies BuildKit's status updates from in to out with every
// sealed value in the steps' output, the vertex names and errors, and the
// warnings replaced: the display then shows no value in any mode (rawjson
// writes the output base64-encoded, where no byte stream redactor would
// see it). Each step's stream is redacted as one stream, so a value split
// across two updates is still found; the last bytes held back are sent
// when in closes. out is closed at the end.
func (r *redactor) statuses(in <-chan *client.SolveStatus, out chan<- *client.SolveStatus) {
	defer close(out)
	type stream struct {
		buf bytes.Buffer
		w   *inject.Redactor
		log client.VertexLog
	}
	streams := map[string]*stream{}
	str := func(s string) string {
		if s == "" {
			return s
		}
		return string(r.bytes([]byte(s)))
	}
	for s := range in {
		for _, v := range s.Vertexes {
			v.Name, v.Error = str(v.Name), str(v.Error)
		}
		for _, v := range s.Statuses {
			v.Name = str(v.Name)
		}
		logs := s.Logs[:0]
		for _, l := range s.Logs {
			key := fmt.Sprintf("%s/%d", l.Vertex, l.Stream)
			st := streams[key]
			if st == nil {
				st = &stream{log: client.VertexLog{Vertex: l.Vertex, Stream: l.Stream}}
				st.w = r.mt.Writer(&st.buf)
				streams[key] = st
			}
			_, _ = st.w.Write(l.Data)
			clear(l.Data)
			st.log.Timestamp = l.Timestamp
			if st.buf.Len() == 0 {
				continue
			}
			l.Data = bytes.Clone(st.buf.Bytes())
			st.buf.Reset()
			logs = append(logs, l)
		}
		s.Logs = logs
		for _, w := range s.Warnings {
			w.Short = r.bytes(w.Short)
			for i := range w.Detail {
				w.Detail[i] = r.bytes(w.Detail[i])
			}
		}
		out <- s
	}
	last := &client.SolveStatus{}
	for _, st := range streams {
		_ = st.w.Flush()
		if st.buf.Len() > 0 {
			l := st.log
			l.Data = bytes.Clone(st.buf.Bytes())
			last.Logs = append(last.Logs, &l)
		}
	}
	if len(last.Logs) > 0 {
		out <- last
	}
}

// bytes returns b with every sealed value replaced.
func (r *redactor) bytes(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	var buf bytes.Buffer
	w := r.mt.Writer(&buf)
	_, _ = w.Write(b)
	_ = w.Flush()
	return buf.Bytes()
}

type lockedWriter struct{ r *redactor }

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.r.Write(p)
}

// redactedFile is a console.File whose writes are redacted.
type redactedFile struct {
	*os.File
	w io.Writer
}

func (f *redactedFile) Write(p []byte) (int, error) { return f.w.Write(p) }

// ErrNoAddress: no BuildKit address was given and none of the default
// sockets exists.
var ErrNoAddress = errors.New("no BuildKit address")

// DefaultAddress returns the BuildKit address to use when none is given:
// $BUILDKIT_HOST, else the first default socket that exists (the rootless
// one, $XDG_RUNTIME_DIR/buildkit/buildkitd.sock, for a user other than
// root; then the rootful /run/buildkit/buildkitd.sock).
func DefaultAddress(getenv func(string) string) (string, error) {
	if h := getenv("BUILDKIT_HOST"); h != "" {
		return h, nil
	}
	var tried []string
	if os.Geteuid() != 0 {
		if x := getenv("XDG_RUNTIME_DIR"); x != "" {
			tried = append(tried, filepath.Join(strings.Split(x, ":")[0], "buildkit", "buildkitd.sock"))
		}
	}
	tried = append(tried, "/run/buildkit/buildkitd.sock")
	for _, p := range tried {
		if st, err := os.Stat(p); err == nil && st.Mode()&os.ModeSocket != 0 {
			return "unix://" + p, nil
		}
	}
	return "", fmt.Errorf("%w: BUILDKIT_HOST is not set and there is no socket at %s", ErrNoAddress, strings.Join(tried, " or "))
}
