package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/wrap"
)

func wrapCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "wrap",
		Usage:     "seal an existing image: add the injector and bundles, point the entrypoint at the injector",
		ArgsUsage: "SOURCE DEST",
		Description: "SOURCE: docker-archive:FILE[:NAME:TAG], oci-archive:FILE[:TAG], oci:DIR[:TAG],\n" +
			"docker-daemon:REF, docker://REF or a path.\n" +
			"DEST: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker-daemon:NAME[:TAG] or docker://REF.\n" +
			"Appends one reproducible layer (injector at " + wrap.InjectorPath + ", bundles under\n" +
			wrap.BundleDir + ") and sets Entrypoint = [injector, --, original entrypoint...]; Cmd stays.\n" +
			"A multi-platform index is wrapped per platform; every platform needs an injector\n" +
			"(--injector linux/arm64=PATH, or --injector-image REF: the injector image, e.g.\n" +
			"docker://ghcr.io/sealenv/sealenv-inject:VERSION, gives every platform it has).\n" +
			"The default injector is the sealenv-inject next to this sealenv, when its\n" +
			"architecture matches. An injector must be a static sealenv-inject with this\n" +
			"sealenv's wrap contract (read from the binary) unless --allow-any-injector.\n" +
			"Each bundle's signature (BUNDLE.sig) goes next to it. When the policy names signers for the\n" +
			"bundles' environment (--env, or the environment whose bundle a --bundle is), or with\n" +
			"--signers FILE, the allowed signers go to " + wrap.SignersPath + " and the injector\n" +
			"starts only with bundles they signed; an unsigned or badly signed bundle is an error now.\n" +
			"The allow_names of those environments go to the entrypoint as --allow-name: a name the\n" +
			"injector refuses (NODE_OPTIONS, HTTPS_PROXY, LD_*, ...) that they do not allow is an error now.\n" +
			"With --audit the result is audited\n" +
			"first and nothing is written unless it is clean. Exit 0 written, 1 audit findings,\n" +
			"2 error (nothing written).",
		Flags: append(append(auditFlags(),
			&cli.StringSliceFlag{Name: "injector", Usage: "injector binary `[PLATFORM=]PATH` (repeatable)"},
			&cli.StringFlag{Name: "injector-image", Usage: "take the injector of every platform from the injector image `REF` (any SOURCE transport)"},
			&cli.BoolFlag{Name: "allow-any-injector", Usage: "accept an injector that is not a sealenv-inject of this release's wrap contract (one you built yourself)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing destination"},
			&cli.BoolFlag{Name: "audit", Usage: "audit the wrapped image and write it only if it is clean"},
			&cli.StringFlag{Name: "service", Usage: "pass only the keys that service `NAME` may receive (services: in sealenv.yaml; needs --env)"},
			&cli.StringFlag{Name: "env", Usage: "environment `NAME` of the bundles: for --service, and whose signers the injector requires"},
			&cli.StringFlag{Name: "signers", Usage: "allowed signers `FILE` for the image (default: the signers: in sealenv.yaml of the bundles' environments)"},
		), attestFlags("attest", false)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return errors.New("usage: sealenv wrap SOURCE DEST --bundle FILE [--bundle FILE...] [--injector [PLATFORM=]PATH...]")
			}
			src, err := imageref.Parse(c.Args().Get(0))
			if err != nil {
				return err
			}
			dest, err := imageref.Parse(c.Args().Get(1))
			if err != nil {
				return err
			}
			if dest.Transport == "" {
				return fmt.Errorf("%s: not a destination (want oci:DIR, oci-archive:FILE, docker-archive:FILE, docker-daemon:NAME or docker://REF)", dest)
			}
			att, err := e.attestation(c, "attest", &dest)
			if err != nil {
				return err
			}
			o := &wrap.Options{Version: version, AnyInjector: c.Bool("allow-any-injector")}
			for _, p := range c.StringSlice("bundle") {
				data, err := os.ReadFile(p)
				if err != nil {
					return fmt.Errorf("--bundle: %s: %w", p, fsutil.Reason(err))
				}
				sig, err := readSignature(p)
				if err != nil {
					return fmt.Errorf("--bundle: %w", err)
				}
				o.Bundles = append(o.Bundles, wrap.Bundle{Name: p, Data: data, Sig: sig})
			}
			if o.Signers, err = e.wrapSigners(c); err != nil {
				return err
			}
			var allowFrom []string
			if o.AllowNames, allowFrom, err = e.wrapAllowNames(c); err != nil {
				return err
			}
			if o.Names, err = wrapDeclaredNames(c); err != nil {
				return err
			}
			if svc := c.String("service"); svc != "" {
				p, err := loadPolicy(c)
				if err != nil {
					return err
				}
				if c.String("env") == "" {
					return errors.New("usage: --service needs --env NAME")
				}
				keys, known := p.ServiceKeys(svc, c.String("env"))
				if !known {
					return fmt.Errorf("%s: no service %q", p.Path, svc)
				}
				if len(keys) == 0 {
					return fmt.Errorf("%s: service %q may receive no key in environment %q", p.Path, svc, c.String("env"))
				}
				o.Only = keys
			}
			ctx := c.Context
			injs, err := injectors(ctx, c.StringSlice("injector"), c.String("injector-image"), o.AnyInjector)
			if err != nil {
				return err
			}
			o.Injectors = injs
			s, err := imageref.Open(ctx, src, imageref.Options{})
			if err != nil {
				return err
			}
			defer s.Close()
			var what string
			if s.Index != nil {
				idx, dropped, err := wrap.Index(s.Index, o)
				if err != nil {
					return wrapNameHint(fmt.Errorf("%s: %w", src, err), allowFrom)
				}
				if dropped > 0 {
					fmt.Fprintf(e.stderr, "sealenv: note: dropped %s; they describe the image before wrapping\n", plural(dropped, "attestation manifest"))
				}
				if err := e.auditBeforeWrite(c, ctx, nil, idx, att); err != nil {
					return err
				}
				if err := writeImage(ctx, dest, nil, idx, c.Bool("force")); err != nil {
					return err
				}
				d, _ := idx.Digest()
				if err := att.written(ctx, dest, d.String(), nil); err != nil {
					return err
				}
				what = "index " + d.String()
			} else {
				img, err := wrap.Image(s.Image, o)
				if err != nil {
					return wrapNameHint(fmt.Errorf("%s: %w", src, err), allowFrom)
				}
				if err := e.auditBeforeWrite(c, ctx, img, nil, att); err != nil {
					return err
				}
				if err := writeImage(ctx, dest, img, nil, c.Bool("force")); err != nil {
					return err
				}
				d, _ := img.Digest()
				if err := att.written(ctx, dest, d.String(), nil); err != nil {
					return err
				}
				what = "image " + d.String()
			}
			fmt.Fprintf(e.stderr, "wrapped %s into %s (%s)\n", src, dest, what)
			return nil
		},
	}
}

// injectors reads the injectors from --injector files or the
// --injector-image; without either, it looks for sealenv-inject next to this
// executable. Unless anyInjector, each must pass wrap.CheckInjector.
func injectors(ctx context.Context, files []string, image string, anyInjector bool) ([]wrap.Injector, error) {
	if image != "" {
		if len(files) > 0 {
			return nil, errors.New("usage: --injector and --injector-image exclude each other")
		}
		ref, err := imageref.Parse(image)
		if err != nil {
			return nil, fmt.Errorf("--injector-image: %w", err)
		}
		s, err := imageref.Open(ctx, ref, imageref.Options{})
		if err != nil {
			return nil, fmt.Errorf("--injector-image: %w", err)
		}
		defer s.Close()
		injs, err := wrap.InjectorsFromImage(s.Image, s.Index)
		if err != nil {
			return nil, fmt.Errorf("--injector-image: %s: %w", image, err)
		}
		for _, inj := range injs {
			if err := checkInjector(inj.Data, anyInjector); err != nil {
				return nil, fmt.Errorf("--injector-image: %s: %s: %w", image, inj.Platform, err)
			}
		}
		return injs, nil
	}
	return injectorsFromFlags(files, anyInjector)
}

// checkInjector applies wrap.CheckInjector unless anyInjector; the hint
// names the flag.
func checkInjector(data []byte, anyInjector bool) error {
	if anyInjector {
		return nil
	}
	if _, err := wrap.CheckInjector(data); err != nil {
		return fmt.Errorf("%w (--allow-any-injector accepts an injector you built yourself)", err)
	}
	return nil
}

// injectorsFromFlags reads --injector values; without any, it looks for
// sealenv-inject next to this executable.
func injectorsFromFlags(flags []string, anyInjector bool) ([]wrap.Injector, error) {
	var out []wrap.Injector
	for _, f := range flags {
		platform, path, ok := strings.Cut(f, "=")
		if !ok {
			platform, path = "", f
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--injector: %s: %w", path, fsutil.Reason(err))
		}
		got, err := wrap.ELFPlatform(data)
		if err != nil {
			return nil, fmt.Errorf("--injector: %s: %w", path, err)
		}
		if err := checkInjector(data, anyInjector); err != nil {
			return nil, fmt.Errorf("--injector: %s: %w", path, err)
		}
		if platform == "" {
			platform = got
		}
		out = append(out, wrap.Injector{Platform: platform, Data: data})
	}
	if len(out) > 0 {
		return out, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, errors.New("no injector: pass --injector PATH")
	}
	path := filepath.Join(filepath.Dir(self), "sealenv-inject")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no injector: pass --injector PATH (none at %s)", path)
	}
	got, err := wrap.ELFPlatform(data)
	if err != nil || got != "linux/"+runtime.GOARCH {
		return nil, fmt.Errorf("no injector: %s is not a linux/%s binary; pass --injector PLATFORM=PATH", path, runtime.GOARCH)
	}
	if err := checkInjector(data, anyInjector); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return []wrap.Injector{{Platform: got, Data: data}}, nil
}

// writeImage writes an image or index to dest; the command names the
// flag that replaces an existing destination.
func writeImage(ctx context.Context, dest imageref.Ref, img v1.Image, idx v1.ImageIndex, force bool) error {
	err := imageref.Write(ctx, dest, img, idx, force, imageref.Options{})
	if errors.Is(err, imageref.ErrDestinationUsed) {
		return fmt.Errorf("%w (pass --force to replace it)", err)
	}
	return err
}

// auditBeforeWrite audits the wrapped result, as it is in memory, when
// --audit is set; findings stop the write (exit 1). A clean report is kept
// for the attestation, if one was asked for.
func (e *env) auditBeforeWrite(c *cli.Context, ctx context.Context, img v1.Image, idx v1.ImageIndex, att *attestation) error {
	if !c.Bool("audit") {
		return nil
	}
	sealed, err := e.auditOptions(c)
	if err != nil {
		return err
	}
	defer sealed.Zero()
	opts := sealed.Options
	var r *audit.Report
	if idx != nil {
		r, err = audit.Index(ctx, idx, opts)
	} else {
		r, err = audit.Image(ctx, img, opts)
	}
	if err != nil {
		return fmt.Errorf("auditing the wrapped image: %w", err)
	}
	if r.Clean() {
		att.remember(r)
		fmt.Fprintf(e.stderr, "audit: clean (%s, %s)\n", plural(r.Coverage.Layers, "layer"), plural(r.Coverage.Files, "file"))
		return nil
	}
	r.Source = c.Args().Get(1) + " (not written)"
	err = e.writeAudit(c, r, "audit")
	var ee *exitErr
	if err == nil || errors.As(err, &ee) && ee.code == exitFindings {
		return withCode(exitFindings, errors.New("the wrapped image has findings; nothing was written"))
	}
	return fmt.Errorf("%w; nothing was written", err)
}

// wrapAllowNames gathers the allow_names of the bundles' environments in
// the policy (--env, or the environment of each --bundle), as wrapSigners
// gathers their signers, and the names of those environments.
func (e *env) wrapAllowNames(c *cli.Context) (names, envs []string, err error) {
	add := func(env *policies.Environment) {
		envs = append(envs, env.Name)
		for _, n := range env.AllowNames {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if name := c.String("env"); name != "" {
		_, env, err := loadEnv(c, name)
		if err != nil {
			return nil, nil, err
		}
		add(env)
		return names, envs, nil
	}
	for _, b := range c.StringSlice("bundle") {
		env, _, err := bundlefile.EnvOf(c.String("policy"), b)
		if err != nil {
			return nil, nil, err
		}
		if env != nil && !slices.Contains(envs, env.Name) {
			add(env)
		}
	}
	return names, envs, nil
}

// wrapDeclaredNames gathers the names the policy declares for the bundles'
// environments (--env, or the environment of each --bundle): the list the
// image's injector runs, nothing else. None when no environment declares
// any, or no bundle is an environment's.
func wrapDeclaredNames(c *cli.Context) ([]string, error) {
	var names []string
	add := func(p *policies.Policy, env *policies.Environment) {
		for _, n := range p.DeclaredNames(env) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if name := c.String("env"); name != "" {
		p, env, err := loadEnv(c, name)
		if err != nil {
			return nil, err
		}
		add(p, env)
		return names, nil
	}
	for _, b := range c.StringSlice("bundle") {
		env, p, err := bundlefile.EnvOf(c.String("policy"), b)
		if err != nil {
			return nil, err
		}
		if env != nil {
			add(p, env)
		}
	}
	return names, nil
}

// wrapNameHint adds to a name the injector would refuse where the policy
// allows it.
func wrapNameHint(err error, envs []string) error {
	var ne *inject.NameError
	if !errors.As(err, &ne) || ne.Reserved {
		return err
	}
	where := "the bundle's environment in " + policies.FileName
	if len(envs) == 1 {
		where = "environment " + envs[0] + " in " + policies.FileName
	}
	return fmt.Errorf("%w, so the wrapped injector would refuse to start; if this is intended, add %s to allow_names: of %s (wrap passes it on as --allow-name), else remove it from the bundle", err, ne.Name, where)
}
