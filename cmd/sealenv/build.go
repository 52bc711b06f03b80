package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/build"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/seal"
)

func buildCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build a Dockerfile with BuildKit, secrets served from sealed bundles in memory; write the image only if the audit is clean",
		ArgsUsage: "-o DEST CONTEXT",
		Description: "Lints the Dockerfile and checks every --build-arg first (findings: exit 1, BuildKit is\n" +
			"not contacted). Then builds with BuildKit, serving each key of the bundles (--env, --bundle;\n" +
			"--secret narrows) to RUN --mount=type=secret,id=KEY from memory, audits the exported image\n" +
			"(every platform, history, attestations) and writes it to DEST only when clean.\n" +
			"DEST: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://REF.\n" +
			"Exit 0 built, clean and written; 1 findings (nothing written or pushed); 2 error. See docs/build.md.",
		Flags: append([]cli.Flag{
			identityFlag(),
			policyFlag(),
			storeFlag(),
			&cli.StringSliceFlag{Name: "env", Usage: "serve the secrets of the policy's environment `NAME` (repeatable)"},
			&cli.StringSliceFlag{Name: "bundle", Usage: "serve the secrets of sealed bundle `FILE` (repeatable; a later bundle overrides an earlier one)"},
			&cli.StringSliceFlag{Name: "secret", Usage: "serve only key `KEY` of the bundles (repeatable; default: every key)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the Dockerfile `FILE` (default: CONTEXT/Dockerfile)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "build argument `NAME=VALUE`, or NAME for its value in the environment (repeatable); checked before the build"},
			&cli.StringFlag{Name: "target", Usage: "the stage `NAME` to build"},
			&cli.StringSliceFlag{Name: "platform", Usage: "target platforms `P[,P]` (several make a multi-platform index)"},
			&cli.StringFlag{Name: "addr", Usage: "BuildKit `ADDRESS`: unix://, tcp:// (with --tls-*), docker-container://, podman-container://, kube-pod://, ssh:// (default: $BUILDKIT_HOST, else the rootless and rootful default sockets)"},
			&cli.StringFlag{Name: "tls-ca-cert", Usage: "CA certificate `FILE` that signed BuildKit's (needed for tcp://)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "client certificate `FILE`"},
			&cli.StringFlag{Name: "tls-key", Usage: "client key `FILE`"},
			&cli.StringFlag{Name: "tls-server-name", Usage: "`NAME` BuildKit's certificate must carry (default: the address's host)"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress display: `auto`, plain, tty, rawjson or quiet (on standard error; sealed values redacted)"},
			&cli.StringFlag{Name: "attest", Usage: "attach a SLSA provenance attestation: `provenance=min` or provenance=max"},
			&cli.BoolFlag{Name: "no-cache", Usage: "build every step anew"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where the clean image goes: `DEST`"},
			&cli.StringFlag{Name: "report", Usage: "write the audit report to `FILE` (default: standard output)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "report format: `text`, json or sarif"},
			&cli.StringFlag{Name: "severity", Value: "medium", Usage: "lowest rule severity reported: low, `medium` or high"},
			&cli.StringSliceFlag{Name: "rules", Usage: "extra rule `FILE` (repeatable), added to the built-in rules"},
			allowShortFlag(),
			&cli.BoolFlag{Name: "force", Usage: "replace an existing local DEST"},
			&cli.BoolFlag{Name: "insecure", Usage: "allow a plain-HTTP registry for docker://DEST"},
		}, attestFlags("attest-verdict", false)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 || c.String("output") == "" {
				return errors.New("usage: sealenv build [flags] -o DEST CONTEXT")
			}
			o, done, err := e.buildOptions(c)
			if err != nil {
				return err
			}
			defer done()
			att, err := e.attestation(c, "attest-verdict", &o.Dest)
			if err != nil {
				return err
			}
			res, err := build.Run(c.Context, o)
			if res != nil {
				for _, id := range res.Unserved {
					fmt.Fprintf(e.stderr, "sealenv: note: the build asked for secret %s, which no bundle given holds\n", id)
				}
			}
			if err != nil {
				return buildError(err)
			}
			dest := c.String("output")
			r := res.Report
			switch {
			case !res.Built:
				return notWritten(e.writeReport(c, r, "audit", "report", c.String("report")),
					"the Dockerfile or the build arguments have findings; nothing was built")
			case !res.Written:
				return notWritten(e.writeReport(c, r, "audit", "report", c.String("report")),
					"the image has findings; nothing was written to "+dest)
			}
			if err := e.writeReport(c, r, "audit", "report", c.String("report")); err != nil {
				return err
			}
			if err := att.written(c.Context, o.Dest, res.Digest, r); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "sealenv: built %s (%s), audited clean: %d layers, %d files\n", dest, res.Digest, r.Coverage.Layers, r.Coverage.Files)
			return nil
		},
	}
}

// buildError adds the flags to the build package's errors.
func buildError(err error) error {
	switch {
	case errors.Is(err, build.ErrPlaintextTCP):
		return fmt.Errorf("%w: pass --tls-ca-cert (and --tls-cert, --tls-key)", err)
	case errors.Is(err, build.ErrTLSPair):
		return fmt.Errorf("%w: pass --tls-cert and --tls-key together", err)
	case errors.Is(err, build.ErrDockerArchive):
		return fmt.Errorf("--output %w", err)
	case errors.Is(err, imageref.ErrDestinationUsed):
		return fmt.Errorf("%w (pass --force to replace it)", err)
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
	o := build.Options{
		Context:     c.Args().First(),
		Dockerfile:  c.String("file"),
		Target:      c.String("target"),
		NoCache:     c.Bool("no-cache"),
		Progress:    c.String("progress"),
		ProgressOut: e.stderr,
		Replace:     c.Bool("force"),
		Insecure:    c.Bool("insecure"),
		TLS: build.TLS{
			CACert:     c.String("tls-ca-cert"),
			Cert:       c.String("tls-cert"),
			Key:        c.String("tls-key"),
			ServerName: c.String("tls-server-name"),
		},
	}
	var err error
	if o.Dest, err = imageref.Parse(c.String("output")); err != nil {
		return o, nil, fmt.Errorf("--output: %w", err)
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
	o.Addr = c.String("addr")
	if o.Addr == "" {
		o.Addr, err = build.DefaultAddress(func(k string) string { v, _ := e.getenv(k); return v })
		if err != nil {
			return o, nil, fmt.Errorf("%w; pass --addr", err)
		}
	}

	if err := o.Check(); err != nil {
		return o, nil, buildError(err)
	}

	// The bundles served: --bundle, then each --env's bundle.
	paths := c.StringSlice("bundle")
	for _, name := range c.StringSlice("env") {
		t, err := policyEnv(c, name)
		if err != nil {
			return o, nil, fmt.Errorf("--env %s: %w", name, err)
		}
		paths = append(paths, t.path)
	}
	ao, opened, done, err := e.sealedAuditOptions(c, paths, policyLenient)
	if err != nil {
		return o, nil, err
	}
	// Served secrets are held to the injector's rule: no name that nothing
	// authenticates (an empty value a sops edit added, say).
	for _, b := range opened {
		if len(b.Unauthenticated) > 0 {
			err := seal.Strict(b.Bundle)
			done()
			return o, nil, fmt.Errorf("%s: %w; review the bundle, then run sealenv adopt %s", b.path, err, b.path)
		}
	}
	o.Audit = ao
	values := map[string][]byte{}
	var order []string
	for _, b := range opened {
		for _, s := range b.Secrets {
			if _, ok := values[s.Name]; !ok {
				order = append(order, s.Name)
			}
			values[s.Name] = s.Value // a later bundle overrides an earlier one
		}
	}
	if only := c.StringSlice("secret"); len(only) > 0 {
		order = nil
		for _, k := range only {
			if _, ok := values[k]; !ok {
				done()
				return o, nil, fmt.Errorf("--secret %s: no bundle given holds it (pass --env NAME or --bundle FILE)", k)
			}
			order = append(order, k)
		}
	}
	if err := refuseServedNames(c, opened, order); err != nil {
		done()
		return o, nil, err
	}
	for _, k := range order {
		o.Secrets = append(o.Secrets, build.Secret{Name: k, Value: values[k]})
	}
	return o, done, nil
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
