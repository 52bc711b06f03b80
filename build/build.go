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
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
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
	// Contexts are named build contexts, as buildx's --build-context
	// NAME=VALUE: a directory, or docker-image://REF.
	Contexts map[string]string
	// BuildArgs are the build arguments (build-arg:NAME=value).
	BuildArgs map[string]string
	// Labels are set on the image (label:NAME=value).
	Labels map[string]string
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
	// Network is the network of RUN steps: "" or "default" (BuildKit's
	// sandbox), "none" or "host" (which buildkitd must allow).
	Network string
	// Secrets are served to RUN --mount=type=secret by id = Name. Run
	// keeps its own copies and zeroes them when the build ends; the
	// caller zeroes its own. Every secret needs its Key.
	Secrets []Secret
	// SSH are the SSH agents served to RUN --mount=type=ssh, by id. A step
	// that mounts an agent not listed here is an error ([ErrSSHNotGiven]).
	SSH []SSH
	// CacheFrom are caches BuildKit may import; CacheTo are caches it
	// exports, each to a private directory first: every blob the export
	// would write is audited with the image, and copied to its
	// destination only when the audit is clean.
	CacheFrom, CacheTo []Cache
	// Audit configures the lint, the build-argument check and the image
	// audit: the sealed values to search for, rules, allowlist.
	// BuildContext is set to Context.
	Audit audit.Options
	// Dests are where a clean image is written: oci:DIR, oci-archive:FILE,
	// docker-archive:FILE[:NAME:TAG] (default name sealenv/build:latest),
	// docker-daemon:NAME[:TAG] (the last two: one platform, no
	// attestations) or docker://REF. None: built and audited only.
	Dests []imageref.Ref
	// Replace allows replacing an existing local destination.
	Replace bool
	// Insecure allows plain-HTTP registries for docker:// destinations and
	// registry caches.
	Insecure bool
	// DaemonHost is the engine API address of docker-daemon: destinations
	// (default: $DOCKER_HOST, else the usual sockets).
	DaemonHost string
	// Progress is the display mode: auto (default), plain, tty, rawjson or
	// quiet; ProgressOut receives it (nil: none), with every sealed value
	// of Audit.Values and Secrets redacted in every encoding the audit
	// searches for.
	Progress    string
	ProgressOut io.Writer
	// Names are the names the policy declares for the environment the
	// image runs in (policies.Policy.DeclaredNames). When not empty they
	// are written, sorted, one a line, to inject.DefaultNames in a last
	// layer of every image built, where the image's injector reads them
	// when its entrypoint gives no --names: it then refuses any other
	// name. Each must be an environment variable name.
	Names []string
	// IIDFile receives the image ID (the config digest of a one-platform
	// image, else the index digest), MetadataFile the build's metadata
	// as JSON (buildx's keys, and the audit's summary), when the image
	// was written.
	IIDFile, MetadataFile string
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
type Secret struct {
	Name  string
	Value []byte
	// Key keys the cache material of the steps that mount the secret: a
	// key only holders of the secret's bundle have (see
	// seal.Bundle.DeriveKey), at least 16 bytes. Each such step names the
	// secret as NAME#HMAC(Key, name and value) in its LLB, so BuildKit's
	// cache key of the step depends on the value (see [cacheID]).
	Key []byte
}

// SSH is an SSH agent served by id: the agent socket or the private key
// files in Paths (none: $SSH_AUTH_SOCK), as buildx's --ssh ID=PATH,PATH.
type SSH struct {
	ID    string
	Paths []string
}

// Cache is a cache import or export, as buildx's --cache-from and
// --cache-to: Type "registry" (Attrs ref=REF, and for exports mode,
// image-manifest, oci-mediatypes, compression...) or "local" (src=DIR to
// import, dest=DIR to export).
type Cache struct {
	Type  string
	Attrs map[string]string
}

// String names the cache as buildx's flags do, without credentials.
func (c Cache) String() string {
	switch c.Type {
	case "registry":
		return "type=registry,ref=" + c.Attrs["ref"]
	case "local":
		if d := c.Attrs["dest"]; d != "" {
			return "type=local,dest=" + d
		}
		return "type=local,src=" + c.Attrs["src"]
	}
	return "type=" + c.Type
}

// Result is what a build did.
type Result struct {
	// Report is the audit's: of the Dockerfile and the build arguments
	// when they have precise findings (Built is then false), else of the
	// image and the cache exports.
	Report *audit.Report
	// Warnings are the lint's heuristic findings: printed, not blocking;
	// the audit of the result decides.
	Warnings []audit.Finding
	// Notes are what the caller should tell the user (a # syntax= line
	// that was not followed, ...).
	Notes []string
	// Built says BuildKit built the image; Written that it reached every
	// destination, which happens only when Report is clean.
	Built, Written bool
	// Wrote lists the destinations and caches written, in order.
	Wrote []string
	// Digest is the digest of the image or index built; ConfigDigest the
	// config digest of a one-platform image; Descriptor its descriptor.
	Digest, ConfigDigest string
	Descriptor           *v1.Descriptor
	// Unserved lists the secret ids the build asked for that no Secret
	// named.
	Unserved []string
}

// Errors a caller may want to explain in its own terms.
var (
	// ErrPlaintextTCP: a tcp:// address without TLS would carry the
	// secrets in plaintext.
	ErrPlaintextTCP = errors.New("a tcp:// address without TLS would send the secrets in plaintext")
	// ErrDockerArchive: a docker archive or a Docker Engine holds one
	// image, without attestations.
	ErrDockerArchive = errors.New("a docker archive or a Docker Engine holds one platform and no attestations")
	// ErrTLSPair: a client certificate without its key, or a key without
	// its certificate.
	ErrTLSPair = errors.New("TLS: a client certificate needs its key, and a key its certificate")
	// ErrNoCacheKey: a secret without the key its cache material needs.
	ErrNoCacheKey = errors.New("no cache key (Secret.Key)")
	// ErrNoEngine: a docker-daemon: destination and no engine socket.
	ErrNoEngine = errors.New("no Docker or Podman engine socket found")
	// ErrCacheType: a cache that is neither a registry nor a local
	// directory: its export could not be audited before it is written.
	ErrCacheType = errors.New("a cache type sealenv cannot audit (want type=registry or type=local)")
)

// blocking reports whether a lint finding stops the build before BuildKit
// is contacted: a sealed value or a credential found in the Dockerfile
// (its ARG defaults included) or a build argument, and a secret written
// into a cache mount, which no audit of the result can see. Findings by
// name or by the shape of a RUN line are heuristics: they warn, and the
// audit of the result decides.
func blocking(f audit.Finding) bool {
	return f.Kind == "known-value" || f.Kind == "rule" || f.Rule == "secret-cache-mount"
}

// Run lints, builds, audits and, when the audit is clean, writes the
// image and the caches. A report with findings is a result, not an error:
// nothing is written then. An error means the build or the audit could
// not be done; Result.Wrote says what was written before it.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	ao := o.Audit
	ao.BuildContext = o.Context
	res := &Result{}

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
	stop := !lint.Coverage.Complete
	for _, f := range lint.Findings {
		if blocking(f) {
			stop = true
		} else {
			res.Warnings = append(res.Warnings, f)
		}
	}
	if stop {
		res.Report, res.Warnings = lint, nil
		return res, nil
	}
	syntax, err := o.syntax()
	if err != nil {
		return nil, err
	}
	if syntax != "" {
		res.Notes = append(res.Notes, fmt.Sprintf("the Dockerfile asks for frontend %s (# syntax=); it is not pulled: the build runs BuildKit %s's Dockerfile frontend itself, so that every step that mounts a secret gets its cache key", syntax, buildkitVersion))
	}

	red := newRedactor(o)
	defer red.zero()
	dir, err := os.MkdirTemp(o.TempDir, "sealenv-build-")
	if err != nil {
		return nil, fmt.Errorf("making a private directory: %w", err)
	}
	defer os.RemoveAll(dir)
	layout := filepath.Join(dir, "oci")
	caches := make([]string, len(o.CacheTo))
	for i := range caches {
		caches[i] = filepath.Join(dir, fmt.Sprintf("cache-%d", i))
	}

	unserved, err := o.solve(ctx, layout, caches, syntax != "", red)
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
	rep.Source = o.destNames()
	for i, c := range o.CacheTo {
		if err := auditCache(ctx, caches[i], c, ao, rep); err != nil {
			return res, err
		}
	}
	res.Report = rep
	if !rep.Clean() {
		return res, nil
	}
	if err := o.describe(src, res); err != nil {
		return res, err
	}
	for _, d := range o.Dests {
		if err := o.write(ctx, src, d); err != nil {
			return res, red.err(err)
		}
		res.Wrote = append(res.Wrote, d.String())
	}
	for i, c := range o.CacheTo {
		if err := o.writeCache(ctx, caches[i], c); err != nil {
			return res, red.err(err)
		}
		res.Wrote = append(res.Wrote, "cache "+c.String())
	}
	res.Written = true
	if err := o.writeMetadata(res); err != nil {
		return res, err
	}
	return res, nil
}

// destNames names the destinations in the report.
func (o *Options) destNames() string {
	var names []string
	for _, d := range o.Dests {
		names = append(names, d.String())
	}
	if len(names) == 0 {
		return "the image built"
	}
	return strings.Join(names, ", ")
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
	for _, n := range o.Names {
		if !seal.ValidName(n) {
			return fmt.Errorf("declared name %q is not an environment variable name", n)
		}
	}
	if o.Dockerfile == "" {
		o.Dockerfile = filepath.Join(o.Context, "Dockerfile")
	}
	if st, err := os.Stat(o.Dockerfile); err != nil {
		return fmt.Errorf("dockerfile %s: %w", o.Dockerfile, ifsutil.Reason(err))
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("dockerfile %s: not a regular file", o.Dockerfile)
	}
	for name, v := range o.Contexts {
		if name == "" || name == "context" || name == "dockerfile" {
			return fmt.Errorf("build context %q: not a name a named context can have", name)
		}
		if strings.HasPrefix(v, "docker-image://") || strings.HasPrefix(v, "target:") {
			continue
		}
		if strings.Contains(v, "://") {
			return fmt.Errorf("build context %s=%s: want a directory, docker-image://REF or target:STAGE", name, redactURL(v))
		}
		if st, err := os.Stat(v); err != nil {
			return fmt.Errorf("build context %s: %s: %w", name, v, ifsutil.Reason(err))
		} else if !st.IsDir() {
			return fmt.Errorf("build context %s: %s: not a directory", name, v)
		}
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
	switch o.Network {
	case "", "default", "none", "host":
	default:
		return fmt.Errorf("network %q: want default, none or host", o.Network)
	}
	for i, s := range o.Secrets {
		if s.Name == "" {
			return fmt.Errorf("secret %d has no name", i)
		}
		if len(s.Value) > secretsprovider.MaxSecretSize {
			return fmt.Errorf("secret %s: %d bytes, more than BuildKit's limit of %d", s.Name, len(s.Value), secretsprovider.MaxSecretSize)
		}
		if len(s.Key) < 16 {
			return fmt.Errorf("secret %s: %w", s.Name, ErrNoCacheKey)
		}
	}
	seenSSH := map[string]bool{}
	for _, s := range o.SSH {
		id := s.ID
		if id == "" {
			id = "default"
		}
		if seenSSH[id] {
			return fmt.Errorf("SSH agent %q given twice", id)
		}
		seenSSH[id] = true
	}
	for _, c := range o.CacheFrom {
		if err := c.check(false); err != nil {
			return err
		}
	}
	for _, c := range o.CacheTo {
		if err := c.check(true); err != nil {
			return err
		}
	}
	if o.Addr == "" {
		return ErrNoAddress
	}
	u, err := url.Parse(o.Addr)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("BuildKit address %q: want SCHEME://..., such as unix:///run/buildkit/buildkitd.sock", redactURL(o.Addr))
	}
	if u.Scheme == "tcp" && o.TLS.CACert == "" {
		return fmt.Errorf("%s: %w", redactURL(o.Addr), ErrPlaintextTCP)
	}
	for _, d := range o.Dests {
		switch d.Transport {
		case imageref.OCI, imageref.OCIArchive, imageref.Docker:
		case imageref.DockerArchive, imageref.DockerDaemon:
			if len(o.Platforms) > 1 || o.Provenance != "" {
				return fmt.Errorf("%s: %w; write to oci:DIR, oci-archive:FILE or docker://REF", d, ErrDockerArchive)
			}
		default:
			return fmt.Errorf("%s: not a destination (want oci:DIR, oci-archive:FILE, docker-archive:FILE, docker-daemon:NAME or docker://REF)", d)
		}
		if d.Transport == imageref.DockerDaemon {
			if _, err := name.NewTag(d.Name); err != nil {
				return fmt.Errorf("%s: want NAME[:TAG]: %v", d, err)
			}
			// Known before the build: an engine to load into.
			host := cmp.Or(o.DaemonHost, imageref.DaemonHost())
			if host == "" {
				return fmt.Errorf("%s: %w", d, ErrNoEngine)
			}
			if !strings.HasPrefix(host, "unix://") {
				return fmt.Errorf("%s: engine address %s: only unix:// sockets are supported", d, redactURL(host))
			}
		}
		if d.Path != "" && !o.Replace {
			// Known before the build, not after it.
			if _, err := os.Lstat(d.Path); err == nil {
				return fmt.Errorf("%w: %s", imageref.ErrDestinationUsed, d.Path)
			}
		}
	}
	return nil
}

// check validates a cache import (export false) or export.
func (c Cache) check(export bool) error {
	flag := "cache-from"
	if export {
		flag = "cache-to"
	}
	switch c.Type {
	case "registry":
		if c.Attrs["ref"] == "" {
			return fmt.Errorf("%s %s: no ref=REF", flag, c)
		}
		if _, err := name.ParseReference(c.Attrs["ref"]); err != nil {
			return fmt.Errorf("%s %s: %v", flag, c, err)
		}
	case "local":
		key := "src"
		if export {
			key = "dest"
		}
		if c.Attrs[key] == "" {
			return fmt.Errorf("%s %s: no %s=DIR", flag, c, key)
		}
		if !export {
			if st, err := os.Stat(filepath.Join(c.Attrs["src"], "index.json")); err != nil || !st.Mode().IsRegular() {
				return fmt.Errorf("%s %s: not a cache BuildKit exported (no index.json)", flag, c)
			}
		}
	default:
		return fmt.Errorf("%s type=%s: %w", flag, c.Type, ErrCacheType)
	}
	if export {
		switch c.Attrs["mode"] {
		case "", "min", "max":
		default:
			return fmt.Errorf("%s %s: mode %q: want min or max", flag, c, c.Attrs["mode"])
		}
	}
	return nil
}

// syntax reads the frontend a # syntax= line or BUILDKIT_SYNTAX asks for:
// "" for none. The Dockerfile frontend (docker/dockerfile, any version) is
// run by sealenv itself; another is an error: its steps could not be
// keyed.
func (o *Options) syntax() (string, error) {
	ref := o.BuildArgs["BUILDKIT_SYNTAX"]
	if ref == "" {
		data, err := os.ReadFile(o.Dockerfile)
		if err != nil {
			return "", fmt.Errorf("dockerfile %s: %w", o.Dockerfile, ifsutil.Reason(err))
		}
		r, _, _, ok := parser.DetectSyntax(data)
		if !ok {
			return "", nil
		}
		ref = r
	}
	ref, _, _ = strings.Cut(strings.TrimSpace(ref), " ")
	if !dockerfileFrontend(ref) {
		return "", fmt.Errorf("dockerfile %s: %w (%s), whose steps sealenv cannot give their cache keys; drop the # syntax= line, or build with sealenv inject -- docker buildx build and audit the result", o.Dockerfile, ErrOtherFrontend, ref)
	}
	return ref, nil
}

// buildkitVersion is the BuildKit whose Dockerfile frontend sealenv runs.
const buildkitVersion = "v0.26.3"

// solve runs the build and exports the image into the OCI layout dir, and
// the caches into the private directories caches.
func (o *Options) solve(ctx context.Context, dir string, caches []string, skipSyntax bool, red *redactor) ([]string, error) {
	c, err := o.client(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	mounts := map[string]fsutil.FS{}
	ctxFS, err := fsutil.NewFS(o.Context)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", o.Context, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(o.Dockerfile))
	if err != nil {
		return nil, fmt.Errorf("dockerfile %s: %w", o.Dockerfile, err)
	}
	mounts["context"], mounts["dockerfile"] = ctxFS, dfFS
	attrs := map[string]string{"filename": filepath.Base(o.Dockerfile)}
	for k, v := range o.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range o.Labels {
		attrs["label:"+k] = v
	}
	for name, v := range o.Contexts {
		if strings.HasPrefix(v, "docker-image://") || strings.HasPrefix(v, "target:") {
			attrs["context:"+name] = v
			continue
		}
		fs, err := fsutil.NewFS(v)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %s: %w", name, v, err)
		}
		local := "ctx-" + name
		mounts[local] = fs
		attrs["context:"+name] = "local:" + local
	}
	if skipSyntax {
		// The frontend runs here; what the line asks for is not pulled.
		attrs["cmdline"] = ""
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
	var entitlements []string
	switch o.Network {
	case "none", "host":
		attrs["force-network-mode"] = o.Network
		if o.Network == "host" {
			entitlements = append(entitlements, "network.host")
		}
	}

	store := newSecretStore(o.Secrets)
	defer store.zero()
	gw := &keyedGateway{ids: map[string]string{}, ssh: map[string]bool{}, asked: map[string]bool{}}
	for _, s := range o.Secrets {
		gw.ids[s.Name] = cacheID(s)
	}
	gw.names = inject.NamesFile(o.Names, "sealenv build")
	attach := []session.Attachable{secretsprovider.NewSecretProvider(store)}
	if len(o.SSH) > 0 {
		var confs []sshprovider.AgentConfig
		for _, s := range o.SSH {
			id := cmp.Or(s.ID, "default")
			gw.ssh[id] = true
			confs = append(confs, sshprovider.AgentConfig{ID: id, Paths: s.Paths})
		}
		sp, err := sshprovider.NewSSHAgentProvider(confs)
		if err != nil {
			return nil, fmt.Errorf("SSH agent: %w", err)
		}
		attach = append(attach, sp)
	}
	attach = append(attach, authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		ConfigFile: config.LoadDefaultConfigFile(io.Discard),
	}))
	opt := client.SolveOpt{
		FrontendAttrs: attrs,
		LocalMounts:   mounts,
		Exports: []client.ExportEntry{{
			Type:      client.ExporterOCI,
			Attrs:     map[string]string{"tar": "false"},
			OutputDir: dir,
		}},
		Session:             attach,
		AllowedEntitlements: entitlements,
	}
	for _, cf := range o.CacheFrom {
		opt.CacheImports = append(opt.CacheImports, client.CacheOptionsEntry{Type: cf.Type, Attrs: maps.Clone(cf.Attrs)})
	}
	for i, ct := range o.CacheTo {
		a := map[string]string{}
		for k, v := range ct.Attrs {
			switch k {
			case "ref", "dest", "tag", "name", "ignore-error":
				// Where it goes is decided after the audit.
			default:
				a[k] = v
			}
		}
		a["dest"] = caches[i]
		opt.CacheExports = append(opt.CacheExports, client.CacheOptionsEntry{Type: "local", Attrs: a})
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
	_, err = c.Build(ctx, opt, "sealenv", gw.frontend, ch) // closes ch
	derr := eg.Wait()
	red.flush()
	unserved := unservedOf(gw.mounted(), gw.ids)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return unserved, cause
		}
		if r := gw.refused(); r != nil {
			if errors.Is(r, ErrOtherFrontend) {
				return unserved, fmt.Errorf("%w, whose steps sealenv cannot give their cache keys", r)
			}
			return unserved, r
		}
		return unserved, fmt.Errorf("building with BuildKit at %s: %w", redactURL(o.Addr), err)
	}
	if derr != nil {
		return unserved, fmt.Errorf("progress: %w", derr)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return unserved, errors.New("BuildKit exported no image")
	}
	for i, cd := range caches {
		if _, err := os.Stat(filepath.Join(cd, "index.json")); err != nil {
			return unserved, fmt.Errorf("cache-to %s: BuildKit exported no cache", o.CacheTo[i])
		}
	}
	return unserved, nil
}

// unservedOf lists the secret names some step mounted that no Secret
// serves.
func unservedOf(mounted []string, served map[string]string) []string {
	var out []string
	for _, n := range mounted {
		if _, ok := served[n]; !ok {
			out = append(out, n)
		}
	}
	return out
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
		return nil, fmt.Errorf("BuildKit at %s: %w", redactURL(o.Addr), err)
	}
	return c, nil
}

// redactURL returns s without the userinfo of a URL-shaped s: an address
// an error names never carries a credential.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}

// describe fills in the digests of the image built.
func (o *Options) describe(src imageref.Ref, res *Result) error {
	s, err := imageref.Open(context.Background(), src, imageref.Options{})
	if err != nil {
		return fmt.Errorf("reading the built image: %w", err)
	}
	defer s.Close()
	var d v1.Descriptor
	if s.Index != nil {
		if d.Digest, err = s.Index.Digest(); err == nil {
			d.MediaType, _ = s.Index.MediaType()
			d.Size, err = s.Index.Size()
		}
		if img, ierr := platformImage(s.Index); ierr == nil {
			if c, cerr := img.ConfigName(); cerr == nil {
				res.ConfigDigest = c.String()
			}
		}
	} else {
		if d.Digest, err = s.Image.Digest(); err == nil {
			d.MediaType, _ = s.Image.MediaType()
			d.Size, err = s.Image.Size()
		}
		if err == nil {
			var c v1.Hash
			if c, err = s.Image.ConfigName(); err == nil {
				res.ConfigDigest = c.String()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("reading the built image: %w", err)
	}
	res.Digest, res.Descriptor = d.Digest.String(), &d
	return nil
}

// write copies the audited image from the layout to the destination.
func (o *Options) write(ctx context.Context, src imageref.Ref, dest imageref.Ref) error {
	s, err := imageref.Open(ctx, src, imageref.Options{})
	if err != nil {
		return fmt.Errorf("reading the built image: %w", err)
	}
	defer s.Close()
	img, idx := s.Image, s.Index
	if dest.Transport == imageref.DockerArchive || dest.Transport == imageref.DockerDaemon {
		if idx != nil {
			if img, err = onlyImage(idx); err != nil {
				return fmt.Errorf("%s: %w", dest, err)
			}
			idx = nil
		}
		if dest.Name == "" {
			dest.Name = "sealenv/build:latest"
		}
	}
	return imageref.Write(ctx, dest, img, idx, o.Replace, imageref.Options{Insecure: o.Insecure, DaemonHost: o.DaemonHost})
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

// platformImage returns the one platform image of an index, its
// attestations aside (buildx's containerimage.config.digest).
func platformImage(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var found *v1.Descriptor
	for i, d := range m.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if found != nil || !d.MediaType.IsImage() {
			return nil, ErrDockerArchive
		}
		found = &m.Manifests[i]
	}
	if found == nil {
		return nil, ErrDockerArchive
	}
	return idx.Image(found.Digest)
}

// secretStore serves the secrets from memory by their cache ids (see
// [cacheID]).
type secretStore struct {
	mu     sync.Mutex
	values map[string][]byte
}

func newSecretStore(s []Secret) *secretStore {
	st := &secretStore{values: map[string][]byte{}}
	for _, v := range s {
		id := cacheID(v)
		if old, ok := st.values[id]; ok {
			clear(old)
		}
		st.values[id] = bytes.Clone(v.Value)
	}
	return st
}

// GetSecret implements secrets.SecretStore.
func (s *secretStore) GetSecret(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[id]
	if !ok {
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

var _ secrets.SecretStore = (*secretStore)(nil)

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
