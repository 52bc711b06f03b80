package main

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/build"
	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/seal"
)

func buildCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build a Dockerfile with BuildKit, secrets served from sealed bundles in memory; write the image only if the audit is clean",
		ArgsUsage: "[-o DEST | -t NAME --push | -t NAME --load] CONTEXT",
		Description: "Lints the Dockerfile and checks every --build-arg first (a sealed value or a credential: exit 1,\n" +
			"BuildKit is not contacted; heuristic findings are warnings). Then builds with BuildKit, serving each\n" +
			"key of the bundles (--env, --bundle; --secret narrows) to RUN --mount=type=secret,id=KEY from memory,\n" +
			"audits the exported image (every platform, history, attestations) and every cache export, and writes\n" +
			"them only when clean. A step that mounts a secret gets a cache key that depends on its value.\n" +
			"DEST: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker-daemon:NAME[:TAG]\n" +
			"or docker://REF. Exit 0 built, clean and written; 1 findings (nothing written or pushed); 2 error.\n" +
			"See docs/build.md.",
		Flags: append([]cli.Flag{
			identityFlag(),
			policyFlag(),
			storeFlag(),
			&cli.StringSliceFlag{Name: "env", Usage: "serve the secrets of the policy's environment `NAME` (repeatable)"},
			&cli.StringSliceFlag{Name: "bundle", Usage: "serve the secrets of sealed bundle `FILE` (repeatable; a later bundle overrides an earlier one)"},
			&cli.StringSliceFlag{Name: "names-env", Usage: "write the names the policy declares for environment `NAME` (the one the image runs in) to /etc/sealenv/names in the image; its injector then runs no other name (repeatable)"},
			&cli.StringSliceFlag{Name: "secret", Usage: "serve only key `KEY` of the bundles (repeatable; default: every key); buildx's id=ID,env=KEY serves KEY as ID"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the Dockerfile `FILE` (default: CONTEXT/Dockerfile)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "build argument `NAME=VALUE`, or NAME for its value in the environment (repeatable); checked before the build"},
			&cli.StringSliceFlag{Name: "build-context", Usage: "named build context `NAME=DIR` (or NAME=docker-image://REF, NAME=target:STAGE) (repeatable)"},
			&cli.StringSliceFlag{Name: "label", Usage: "set label `NAME=VALUE` on the image (repeatable)"},
			&cli.StringFlag{Name: "target", Usage: "the stage `NAME` to build"},
			&cli.StringSliceFlag{Name: "platform", Usage: "target platforms `P[,P]` (several make a multi-platform index)"},
			&cli.StringFlag{Name: "network", Usage: "network of RUN steps: `default`, none or host"},
			&cli.StringSliceFlag{Name: "ssh", Usage: "SSH agent for RUN --mount=type=ssh: `default` ($SSH_AUTH_SOCK) or ID=SOCKET|KEY[,KEY] (repeatable)"},
			&cli.StringFlag{Name: "addr", Usage: "BuildKit `ADDRESS`: unix://, tcp:// (with --tls-*), docker-container://, podman-container://, kube-pod://, ssh:// (default: $BUILDKIT_HOST, else the rootless and rootful default sockets)"},
			&cli.StringFlag{Name: "tls-ca-cert", Usage: "CA certificate `FILE` that signed BuildKit's (needed for tcp://)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "client certificate `FILE`"},
			&cli.StringFlag{Name: "tls-key", Usage: "client key `FILE`"},
			&cli.StringFlag{Name: "tls-server-name", Usage: "`NAME` BuildKit's certificate must carry (default: the address's host)"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress display: `auto`, plain, tty, rawjson or quiet (on standard error; sealed values redacted in every encoding)"},
			&cli.StringFlag{Name: "attest", Usage: "attach a SLSA provenance attestation: `provenance=min` or provenance=max"},
			&cli.BoolFlag{Name: "no-cache", Usage: "build every step anew"},
			&cli.StringSliceFlag{Name: "cache-from", Usage: "import a cache: `type=registry,ref=REF`, type=local,src=DIR, or REF (repeatable)"},
			&cli.StringSliceFlag{Name: "cache-to", Usage: "export a cache, audited first: `type=registry,ref=REF[,mode=max]` or type=local,dest=DIR[,mode=max] (repeatable)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where the clean image goes: `DEST`"},
			&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "name the image `NAME[:TAG]` for --push and --load (repeatable)"},
			&cli.BoolFlag{Name: "push", Usage: "push the clean image to the registry of every --tag"},
			&cli.BoolFlag{Name: "load", Usage: "load the clean image into the Docker Engine ($DOCKER_HOST) under every --tag"},
			&cli.StringFlag{Name: "iidfile", Usage: "write the image ID to `FILE`"},
			&cli.StringFlag{Name: "metadata-file", Usage: "write the digests and the audit's summary to `FILE`, as JSON"},
			&cli.StringFlag{Name: "report", Usage: "write the audit report to `FILE` (default: standard output)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "report format: `text`, json or sarif"},
			&cli.StringFlag{Name: "severity", Value: "medium", Usage: "lowest rule severity reported: low, `medium` or high"},
			&cli.StringSliceFlag{Name: "rules", Usage: "extra rule `FILE` (repeatable), added to the built-in rules"},
			allowShortFlag(),
			&cli.BoolFlag{Name: "force", Usage: "replace an existing local DEST"},
			&cli.BoolFlag{Name: "insecure", Usage: "allow plain-HTTP registries (docker://DEST, --push, registry caches)"},
		}, attestFlags("attest-verdict", false)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: sealenv build [flags] [-o DEST | -t NAME --push | -t NAME --load] CONTEXT")
			}
			o, done, err := e.buildOptions(c)
			if err != nil {
				return err
			}
			defer done()
			att, err := e.buildAttestation(c, o.Dests)
			if err != nil {
				return err
			}
			res, err := build.Run(c.Context, o)
			if res != nil {
				for _, n := range res.Notes {
					fmt.Fprintf(e.stderr, "sealenv: note: %s\n", n)
				}
				for _, w := range res.Warnings {
					fmt.Fprintf(e.stderr, "sealenv: warning: %s\n", findingLine(w))
				}
				for _, id := range res.Unserved {
					fmt.Fprintf(e.stderr, "sealenv: note: the build asked for secret %s, which no bundle given holds\n", id)
				}
			}
			if err != nil {
				if res != nil && len(res.Wrote) > 0 {
					err = fmt.Errorf("%w (already written: %s)", err, strings.Join(res.Wrote, ", "))
				}
				return buildError(err)
			}
			dest := strings.Join(destNames(o), ", ")
			r := res.Report
			switch {
			case !res.Built:
				return notWritten(e.writeReport(c, r, "audit", "report", c.String("report")),
					"the Dockerfile or the build arguments have findings; nothing was built")
			case !res.Written:
				what := "nothing was written"
				if dest != "" {
					what = "nothing was written to " + dest
				}
				return notWritten(e.writeReport(c, r, "audit", "report", c.String("report")), "the image or a cache export has findings; "+what)
			}
			if err := e.writeReport(c, r, "audit", "report", c.String("report")); err != nil {
				return err
			}
			if len(res.Wrote) == 0 {
				fmt.Fprintf(e.stderr, "sealenv: built %s, audited clean: %d layers, %d files; nothing written (pass -o DEST, --push or --load)\n", res.Digest, r.Coverage.Layers, r.Coverage.Files)
				return nil
			}
			for _, d := range o.Dests {
				if err := att.written(c.Context, d, res.Digest, r); err != nil {
					return err
				}
			}
			fmt.Fprintf(e.stderr, "sealenv: built %s (%s), audited clean: %d layers, %d files\n", strings.Join(res.Wrote, ", "), res.Digest, r.Coverage.Layers, r.Coverage.Files)
			return nil
		},
	}
}

// buildAttestation reads the attest flags for the destinations of a
// build: the verdict is attested at each of them, so each must keep a
// digest (oci:, oci-archive:, docker://, --push).
func (e *env) buildAttestation(c *cli.Context, dests []imageref.Ref) (*attestation, error) {
	if len(dests) == 0 {
		att, err := e.attestation(c, "attest-verdict", nil)
		if err == nil && att != nil {
			return nil, errors.New("usage: --attest-verdict and --attest-key need a destination that keeps a digest: -o oci:DIR, -o docker://REF or -t REF --push")
		}
		return att, err
	}
	att, err := e.attestation(c, "attest-verdict", &dests[0])
	if err != nil || att == nil {
		return att, err
	}
	for _, d := range dests[1:] {
		if err := attestable(d); err != nil {
			return nil, err
		}
	}
	return att, nil
}

// findingLine is one line for a lint finding shown as a warning; like
// every finding, it holds no value.
func findingLine(f audit.Finding) string {
	where := f.Path
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", f.Path, f.Line)
	}
	if where == "" {
		where = f.Where
		if f.Field != "" {
			where += " " + f.Field
		}
	}
	return fmt.Sprintf("%s: %s: %s (a heuristic: the audit of the image decides)", where, f.Rule, f.Message)
}

func destNames(o build.Options) []string {
	var out []string
	for _, d := range o.Dests {
		out = append(out, d.String())
	}
	return out
}

// buildError adds the flags to the build package's errors.
func buildError(err error) error {
	switch {
	case errors.Is(err, build.ErrPlaintextTCP):
		return fmt.Errorf("%w: pass --tls-ca-cert (and --tls-cert, --tls-key)", err)
	case errors.Is(err, build.ErrTLSPair):
		return fmt.Errorf("%w: pass --tls-cert and --tls-key together", err)
	case errors.Is(err, build.ErrDockerArchive):
		return fmt.Errorf("%w: give --load, docker-daemon: and docker-archive: one --platform and no --attest", err)
	case errors.Is(err, imageref.ErrDestinationUsed):
		return fmt.Errorf("%w (pass --force to replace it)", err)
	case errors.Is(err, build.ErrSSHNotGiven):
		return fmt.Errorf("%w; pass --ssh default (the agent of $SSH_AUTH_SOCK) or --ssh ID=PATH", err)
	case errors.Is(err, build.ErrNoEngine):
		return fmt.Errorf("%w: set DOCKER_HOST=unix:///path/to/docker.sock for --load", err)
	case errors.Is(err, build.ErrCacheType):
		return fmt.Errorf("--%w", err)
	}
	return err
}

// notWritten turns what writeReport returned for a report that is not
// clean into the build's error: findings are exit 1 with msg, anything
// else (an incomplete audit) exit 2.
func notWritten(err error, msg string) error {
	var ee *exitErr
	if err == nil || errors.As(err, &ee) && ee.code == exitFindings {
		return withCode(exitFindings, errors.New(msg))
	}
	return fmt.Errorf("%w; nothing was written", err)
}

// buildOptions turns the flags into build.Options; done zeroes the opened
// bundles.
func (e *env) buildOptions(c *cli.Context) (build.Options, func(), error) {
	getenv := func(k string) string { v, _ := e.getenv(k); return v }
	o := build.Options{
		Context:      c.Args().First(),
		Dockerfile:   c.String("file"),
		Target:       c.String("target"),
		NoCache:      c.Bool("no-cache"),
		Network:      c.String("network"),
		Progress:     c.String("progress"),
		ProgressOut:  e.stderr,
		Replace:      c.Bool("force"),
		Insecure:     c.Bool("insecure"),
		DaemonHost:   getenv("DOCKER_HOST"),
		IIDFile:      c.String("iidfile"),
		MetadataFile: c.String("metadata-file"),
		TLS: build.TLS{
			CACert:     c.String("tls-ca-cert"),
			Cert:       c.String("tls-cert"),
			Key:        c.String("tls-key"),
			ServerName: c.String("tls-server-name"),
		},
	}
	var err error
	if o.Dests, err = buildDests(c); err != nil {
		return o, nil, err
	}
	if o.Provenance, err = parseAttest(c.String("attest")); err != nil {
		return o, nil, err
	}
	for _, p := range c.StringSlice("platform") {
		for _, q := range strings.Split(p, ",") {
			if q = strings.TrimSpace(q); q != "" {
				o.Platforms = append(o.Platforms, q)
			}
		}
	}
	if o.BuildArgs, err = e.buildArgs(c.StringSlice("build-arg")); err != nil {
		return o, nil, err
	}
	if o.Labels, err = pairs("label", c.StringSlice("label")); err != nil {
		return o, nil, err
	}
	if o.Contexts, err = pairs("build-context", c.StringSlice("build-context")); err != nil {
		return o, nil, err
	}
	for _, s := range c.StringSlice("ssh") {
		ssh, err := parseSSH(s, getenv)
		if err != nil {
			return o, nil, err
		}
		o.SSH = append(o.SSH, ssh)
	}
	for _, s := range c.StringSlice("cache-from") {
		o.CacheFrom = append(o.CacheFrom, parseCache(s, false))
	}
	for _, s := range c.StringSlice("cache-to") {
		o.CacheTo = append(o.CacheTo, parseCache(s, true))
	}
	only, err := parseSecrets(c.StringSlice("secret"))
	if err != nil {
		return o, nil, err
	}
	o.Addr = c.String("addr")
	if o.Addr == "" {
		o.Addr, err = build.DefaultAddress(getenv)
		if err != nil {
			return o, nil, fmt.Errorf("%w; pass --addr", err)
		}
	}

	if o.Names, err = buildDeclaredNames(c); err != nil {
		return o, nil, err
	}
	if err := o.Check(); err != nil {
		return o, nil, buildError(err)
	}

	// The bundles served: --bundle, then each --env's bundle.
	paths := c.StringSlice("bundle")
	for _, name := range c.StringSlice("env") {
		path, _, _, err := policyEnv(c, name)
		if err != nil {
			return o, nil, fmt.Errorf("--env %s: %w", name, err)
		}
		paths = append(paths, path)
	}
	sealed, err := e.sealedAuditOptions(c, paths, fleet.PolicyBundlesLenient, false)
	if err != nil {
		return o, nil, err
	}
	opened, done := sealed.Opened, sealed.Zero
	// Served secrets are held to the injector's rule: no name that nothing
	// authenticates (an empty value a sops edit added, say).
	for _, b := range opened {
		if len(b.Unauthenticated) > 0 {
			err := seal.Strict(b.Bundle)
			done()
			return o, nil, fmt.Errorf("%s: %w; review the bundle, then run sealenv adopt %s", b.Path, err, b.Path)
		}
	}
	o.Audit = sealed.Options
	type served struct {
		value, key []byte
	}
	values := map[string]served{}
	var order []string
	for _, b := range opened {
		// The cache material of a secret's steps is keyed from its
		// bundle's data key: the same for every holder, nobody else's.
		key := b.DeriveKey("sealenv build cache")
		for _, s := range b.Secrets {
			if _, ok := values[s.Name]; !ok {
				order = append(order, s.Name)
			}
			values[s.Name] = served{s.Value, key} // a later bundle overrides an earlier one
		}
	}
	ids := order
	if len(only) > 0 {
		ids = nil
		for _, sp := range only {
			if _, ok := values[sp.key]; !ok {
				done()
				return o, nil, fmt.Errorf("--secret %s: no bundle given holds it (pass --env NAME or --bundle FILE)", sp.flag)
			}
			ids = append(ids, sp.id)
		}
	}
	if err := refuseServedNames(c, opened, ids); err != nil {
		done()
		return o, nil, err
	}
	keyOf := map[string]string{}
	for _, sp := range only {
		keyOf[sp.id] = sp.key
	}
	for _, id := range ids {
		k := cmp.Or(keyOf[id], id)
		o.Secrets = append(o.Secrets, build.Secret{Name: id, Value: values[k].value, Key: values[k].key})
	}
	return o, done, nil
}

// buildDests reads -o, --push, --load and --tag.
func buildDests(c *cli.Context) ([]imageref.Ref, error) {
	var dests []imageref.Ref
	tags := c.StringSlice("tag")
	for _, t := range tags {
		if _, err := name.NewTag(t); err != nil {
			return nil, fmt.Errorf("--tag %s: want NAME[:TAG]: %v", t, err)
		}
	}
	if out := c.String("output"); out != "" {
		d, err := parseOutput(out)
		if err != nil {
			return nil, fmt.Errorf("--output: %w", err)
		}
		if d.Transport == imageref.DockerArchive && d.Name == "" && len(tags) > 0 {
			d.Name = tags[0]
		}
		dests = append(dests, d)
	}
	for _, f := range []struct {
		flag, transport string
	}{{"push", imageref.Docker}, {"load", imageref.DockerDaemon}} {
		if !c.Bool(f.flag) {
			continue
		}
		if len(tags) == 0 {
			return nil, fmt.Errorf("--%s needs -t NAME[:TAG]", f.flag)
		}
		for _, t := range tags {
			dests = append(dests, imageref.Ref{Transport: f.transport, Name: t})
		}
	}
	return dests, nil
}

// parseOutput reads -o: a reference (oci:DIR, docker://REF, ...), or
// buildx's type=oci|docker,dest=FILE and type=registry|image,name=REF.
func parseOutput(s string) (imageref.Ref, error) {
	if !strings.HasPrefix(s, "type=") {
		return imageref.Parse(s)
	}
	f := csvFields(s)
	switch f["type"] {
	case "oci", "docker":
		t := imageref.OCIArchive
		if f["type"] == "docker" {
			t = imageref.DockerArchive
		}
		if f["dest"] == "" {
			return imageref.Ref{}, fmt.Errorf("%s: no dest=FILE", s)
		}
		if f["tar"] == "false" && t == imageref.OCIArchive {
			t = imageref.OCI
		}
		return imageref.Ref{Transport: t, Path: f["dest"], Name: f["name"]}, nil
	case "registry", "image":
		if f["type"] == "image" && f["push"] != "true" {
			return imageref.Ref{}, fmt.Errorf("%s: an image only in BuildKit's store is never audited; pass push=true, or --load", s)
		}
		return imageref.Parse("docker://" + f["name"])
	}
	return imageref.Ref{}, fmt.Errorf("%s: want type=oci, docker, registry or image (or a reference such as oci:DIR)", s)
}

// csvFields reads NAME=VALUE,NAME=VALUE as buildx does: CSV, so that a
// value with a comma is quoted ("dest=/a,b"); a field without = is NAME="".
func csvFields(s string) map[string]string {
	m := map[string]string{}
	r := csv.NewReader(strings.NewReader(s))
	r.LazyQuotes = true
	fields, err := r.Read()
	if err != nil {
		fields = strings.Split(s, ",")
	}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

// pairs reads repeated NAME=VALUE flags.
func pairs(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for i, a := range vals {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			// Never echo the flag: it may be a value typed in the wrong place.
			return nil, fmt.Errorf("--%s #%d: want NAME=VALUE", flag, i+1)
		}
		m[k] = v
	}
	return m, nil
}

// parseSSH reads --ssh: default, ID, or ID=PATH[,PATH] (an agent socket
// or private key files), as buildx does. Without a path, $SSH_AUTH_SOCK.
func parseSSH(s string, getenv func(string) string) (build.SSH, error) {
	id, paths, _ := strings.Cut(s, "=")
	if id == "" {
		return build.SSH{}, fmt.Errorf("--ssh %s: want default or ID[=PATH,...]", s)
	}
	ssh := build.SSH{ID: id}
	if paths == "" {
		sock := getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return ssh, fmt.Errorf("--ssh %s: $SSH_AUTH_SOCK is not set; start an agent (ssh-agent), or pass --ssh %s=PATH to a socket or private key", id, id)
		}
		ssh.Paths = []string{sock}
		return ssh, nil
	}
	ssh.Paths = strings.Split(paths, ",")
	return ssh, nil
}

// parseCache reads --cache-from and --cache-to: type=registry,ref=REF,...,
// type=local,src=DIR or dest=DIR, or a bare REF (a registry).
func parseCache(s string, export bool) build.Cache {
	if !strings.Contains(s, "=") {
		return build.Cache{Type: "registry", Attrs: map[string]string{"ref": s}}
	}
	f := csvFields(s)
	c := build.Cache{Type: f["type"], Attrs: map[string]string{}}
	if c.Type == "" {
		c.Type = "registry"
	}
	for k, v := range f {
		if k != "type" {
			c.Attrs[k] = v
		}
	}
	return c
}

// secretFlag is one --secret: the id the build asks for and the bundle
// key served under it.
type secretFlag struct {
	id, key, flag string
}

// parseSecrets reads --secret: KEY, or buildx's id=ID[,env=KEY]. A file
// (src=FILE, type=file) is refused: sealenv serves sealed values only.
func parseSecrets(vals []string) ([]secretFlag, error) {
	var out []secretFlag
	for _, s := range vals {
		if !strings.Contains(s, "=") {
			out = append(out, secretFlag{id: s, key: s, flag: s})
			continue
		}
		f := csvFields(s)
		id := f["id"]
		if id == "" {
			return nil, errors.New("--secret: buildx's form needs id=ID (or give the key: --secret KEY)")
		}
		if src := cmp.Or(f["src"], f["source"]); src != "" || f["type"] == "file" {
			return nil, fmt.Errorf("--secret id=%s,src=%s: sealenv build serves sealed values, never a file on disk: seal it (sealenv set BUNDLE %s < %s, then remove the file) and pass --bundle BUNDLE --secret %s", id, src, id, cmp.Or(src, "FILE"), id)
		}
		for k := range f {
			switch k {
			case "id", "env", "type", "required":
			default:
				return nil, fmt.Errorf("--secret id=%s: unknown option %s (want id=ID[,env=KEY], or --secret KEY)", id, k)
			}
		}
		out = append(out, secretFlag{id: id, key: cmp.Or(f["env"], id), flag: s})
	}
	return out, nil
}

// buildArgs reads --build-arg values: NAME=VALUE, or NAME alone for the
// value of that environment variable (skipped when it is not set), as
// docker buildx does. A later NAME replaces an earlier one.
func (e *env) buildArgs(flags []string) (map[string]string, error) {
	args := map[string]string{}
	for i, a := range flags {
		k, v, ok := strings.Cut(a, "=")
		if k == "" || strings.ContainsAny(k, " \t\n") {
			// Never echo the flag: it may be a value typed in the wrong place.
			return nil, fmt.Errorf("--build-arg #%d: want NAME=VALUE", i+1)
		}
		if !ok {
			if v, ok = e.getenv(k); !ok {
				continue
			}
		}
		args[k] = v
	}
	return args, nil
}

// parseAttest reads --attest: provenance=min|max, or buildx's
// type=provenance,mode=min|max.
func parseAttest(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	mode, ok := fields["provenance"]
	if !ok && fields["type"] == "provenance" {
		mode, ok = fields["mode"], true
		if mode == "" {
			mode = "min"
		}
	}
	if !ok || mode != "min" && mode != "max" {
		return "", fmt.Errorf("--attest %q: want provenance=min or provenance=max", s)
	}
	return mode, nil
}

// buildDeclaredNames gathers the names the policy declares for each
// --names-env environment: the list the image's injector runs, nothing
// else. An environment that declares none is an error: the flag asks for
// a list.
func buildDeclaredNames(c *cli.Context) ([]string, error) {
	var names []string
	for _, name := range c.StringSlice("names-env") {
		p, env, err := loadEnv(c, name)
		if err != nil {
			return nil, fmt.Errorf("--names-env %s: %w", name, err)
		}
		declared := p.DeclaredNames(env)
		if len(declared) == 0 {
			return nil, fmt.Errorf("--names-env %s: %s declares no key for it (keys:, the environment's required:, a service's keys), so there is no list to carry; declare them, or drop --names-env", name, p.Path)
		}
		for _, n := range declared {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names, nil
}
