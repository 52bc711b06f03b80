package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/fleet"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
)

func auditCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "prove that no plaintext secret is in an image or a Dockerfile",
		Description: "Exit status: 0 clean, 1 findings, 2 error or incomplete coverage (a layer\n" +
			"that cannot be read is never reported as clean). See docs/audit.md.",
		Subcommands: []*cli.Command{auditImageCommand(e), auditDockerfileCommand(e), auditMergeCommand(e)},
	}
}

func auditFlags() []cli.Flag {
	return []cli.Flag{
		identityFlag(),
		&cli.BoolFlag{Name: "no-identity", Usage: "search the sealed values by their fingerprints, even with an identity at hand (the default without one)"},
		policyFlag(),
		storeFlag(),
		&cli.StringSliceFlag{Name: "bundle", Usage: "sealed bundle `FILE` whose values are searched (repeatable; default: the bundles of the policy file)"},
		&cli.StringSliceFlag{Name: "rules", Usage: "extra rule `FILE` (repeatable), added to the built-in rules"},
		&cli.StringFlag{Name: "format", Value: "text", Usage: "`text`, json or sarif"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE` (default: standard output)"},
		&cli.StringFlag{Name: "severity", Value: "medium", Usage: "lowest rule severity reported: low, `medium` or high"},
		allowShortFlag(),
	}
}

// allowShortFlag accepts that sealed values too short to search are not
// searched (else they make the audit incomplete, exit 2).
func allowShortFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-short", Usage: fmt.Sprintf("accept that sealed values shorter than %d bytes are not searched (default: they make the audit incomplete, exit 2; see allow_short in the policy)", audit.MinValueLen)}
}

func auditImageCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "image",
		Usage:     "search every layer, the config, history, annotations and attestations of an image",
		ArgsUsage: "SOURCE...",
		Description: "SOURCE is docker-archive:FILE, oci-archive:FILE, oci:DIR[:TAG],\n" +
			"docker-daemon:REF, docker://REF, or a bare path recognised by content.\n" +
			"Many sources (and --from FILE) are audited in one run with one report;\n" +
			"a layer they share is searched once.",
		Flags: append(append(auditFlags(),
			&cli.StringFlag{Name: "dockerfile", Usage: "also lint Dockerfile `FILE`"},
			&cli.IntFlag{Name: "jobs", Usage: "layers searched at once, across every image of the run (default: the number of CPUs); memory grows with it, not with the image"},
			&cli.IntFlag{Name: "max-depth", Value: 8, Usage: "how deep archives and compressed files are opened in one another (a .tar.gz counts 2); deeper is incomplete (exit 2)"},
			&cli.StringFlag{Name: "max-sparse-size", Value: "1TiB", Usage: "largest logical `SIZE` of a sparse file; larger is incomplete (exit 2)"},
			&cli.StringFlag{Name: "max-file-check", Value: "64MiB", Usage: "largest YAML or JSON secrets file (`SIZE`) read whole for the plaintext-bundle check; larger is incomplete (exit 2)"},
			&cli.StringFlag{Name: "max-window", Value: "128MiB", Usage: "largest window or dictionary (`SIZE`) a compressed stream may make the decoder allocate (zstd --long, xz, lzma, brotli, 7z); larger is incomplete (exit 2)"},
			&cli.StringFlag{Name: "max-buffer", Value: "256MiB", Usage: "largest file held whole in memory to be opened (`SIZE`: a 7z archive, a git pack) and git object built from deltas; larger is incomplete (exit 2)"},
			&cli.BoolFlag{Name: "insecure", Usage: "allow a plain-HTTP registry"},
			&cli.StringFlag{Name: "from", Usage: "also audit the sources listed in `FILE`, one a line (blank lines and # comments skipped; - reads standard input)"},
		), append(auditCacheFlags(), attestFlags("attest", true)...)...),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 && !c.IsSet("from") {
				return errors.New("usage: sealenv audit image [flags] SOURCE... (or --from FILE)")
			}
			if c.NArg() != 1 || c.IsSet("from") {
				for _, f := range []string{"attest", "attest-key"} {
					if c.IsSet(f) {
						return fmt.Errorf("usage: --%s attests one image: give one SOURCE", f)
					}
				}
			}
			att, err := e.attestation(c, "attest", nil)
			if err != nil {
				return err
			}
			var lim audit.Options
			lim.Jobs = c.Int("jobs")
			lim.MaxDepth = c.Int("max-depth")
			if lim.MaxDepth < 1 {
				return fmt.Errorf("--max-depth: %d: want 1 or more", lim.MaxDepth)
			}
			if lim.MaxSparseSize, err = parseSize(c.String("max-sparse-size")); err != nil {
				return fmt.Errorf("--max-sparse-size: %w", err)
			}
			if lim.MaxFileCheck, err = parseSize(c.String("max-file-check")); err != nil {
				return fmt.Errorf("--max-file-check: %w", err)
			}
			if lim.MaxWindow, err = parseSize(c.String("max-window")); err != nil {
				return fmt.Errorf("--max-window: %w", err)
			}
			if lim.MaxBuffer, err = parseSize(c.String("max-buffer")); err != nil {
				return fmt.Errorf("--max-buffer: %w", err)
			}
			// The sources after the flags (a flag's mistake is named
			// first) and before the bundles are opened.
			srcs, err := auditSources(c, e.stdin)
			if err != nil {
				return err
			}
			sealed, err := e.auditOptions(c)
			if err != nil {
				return err
			}
			defer sealed.Zero()
			opts := sealed.Options
			opts.Jobs, opts.MaxDepth, opts.MaxSparseSize, opts.MaxFileCheck = lim.Jobs, lim.MaxDepth, lim.MaxSparseSize, lim.MaxFileCheck
			opts.MaxWindow, opts.MaxBuffer = lim.MaxWindow, lim.MaxBuffer
			opts.Insecure = c.Bool("insecure")
			if opts.Cache, err = e.auditCache(c); err != nil {
				return err
			}
			var r *audit.Report
			if len(srcs) == 1 && !c.IsSet("from") {
				ref := srcs[0]
				if ref, err = att.pin(c.Context, ref); err != nil {
					return err
				}
				r, err = audit.Ref(c.Context, ref, opts)
			} else {
				r, err = audit.Refs(c.Context, srcs, opts)
			}
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			if df := c.String("dockerfile"); df != "" {
				dr, err := audit.Dockerfile(df, opts)
				if err != nil {
					return fmt.Errorf("audit: %w", err)
				}
				r.Findings = append(r.Findings, dr.Findings...)
			}
			limitHints(e.stderr, r)
			return att.audited(c.Context, r, e.writeAudit(c, r, "audit"))
		},
	}
}

func auditDockerfileCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "dockerfile",
		Usage:     "lint a Dockerfile for secrets in ARG, ENV, literals and copied files",
		ArgsUsage: "FILE",
		Flags:     auditFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: sealenv audit dockerfile [flags] FILE")
			}
			sealed, err := e.auditOptions(c)
			if err != nil {
				return err
			}
			defer sealed.Zero()
			opts := sealed.Options
			r, err := audit.Dockerfile(c.Args().First(), opts)
			if err != nil {
				return fmt.Errorf("audit: %w", pathError(c.Args().First(), err))
			}
			if r.Coverage.KnownValues == 0 && len(r.Coverage.ShortValues) == 0 {
				// The Dockerfile was searched for every sealed value long
				// enough to search; say how many, and which were too short,
				// as an image audit does.
				for _, v := range opts.Values {
					if len(v.Value) >= audit.MinValueLen {
						r.Coverage.KnownValues++
					} else {
						r.Coverage.ShortValues = append(r.Coverage.ShortValues, v.Name)
					}
				}
			}
			return e.writeAudit(c, r, "audit")
		},
	}
}

// auditOptions gathers the sealed values and the rules. Bundles named with
// --bundle must open; without any, the policy's bundles are searched when an
// identity is found, and their key names are used either way.
func (e *env) auditOptions(c *cli.Context) (*fleet.Sealed, error) {
	paths := c.StringSlice("bundle")
	pb := fleet.PolicyBundlesNone
	if len(paths) == 0 {
		pb = fleet.PolicyBundlesStrict
	}
	return e.sealedAuditOptions(c, paths, pb, true)
}

// sealedAuditOptions reads the flags of the rules (--severity,
// --allow-short, --format, --rules), then gathers the sealed values: the
// bundles must, which must open and are returned opened (in order), and
// the policy's other bundles as pb says. Zero zeroes every opened bundle.
// With keyless, no identity (or --no-identity) searches every bundle's
// values by their fingerprints instead of opening them.
func (e *env) sealedAuditOptions(c *cli.Context, must []string, pb fleet.PolicyBundles, keyless bool) (*fleet.Sealed, error) {
	var o audit.Options
	if c.Bool("no-identity") && c.String("identity") != "" {
		return nil, errors.New("--no-identity and --identity: pick one")
	}
	sev, err := rules.ParseSeverity(c.String("severity"))
	if err != nil {
		return nil, fmt.Errorf("--severity: %w", err)
	}
	o.Severity = sev
	o.AllowShort = c.Bool("allow-short")
	switch c.String("format") {
	case "text", "json", "sarif":
	default:
		return nil, fmt.Errorf("--format: unknown format %q (want text, json or sarif)", c.String("format"))
	}
	o.Rules = rules.Default()
	for _, p := range c.StringSlice("rules") {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--rules: %s: %w", p, fsutil.Reason(err))
		}
		more, err := rules.Parse(p, data)
		if err != nil {
			return nil, err
		}
		o.Rules = o.Rules.Merge(more)
	}
	s, err := fleet.ForAudit(o, fleet.AuditSources{
		Policy: c.String("policy"), Bundles: must, PolicyBundles: pb, Store: c.String("store"),
		Identities: func() ([]age.Identity, error) {
			found, err := e.identities(c)
			if err != nil {
				return nil, err
			}
			return found.Identities, nil
		},
		Saw:     e.sawBundle,
		Note:    func(msg string) { fmt.Fprintf(e.stderr, "sealenv: note: %s\n", msg) },
		Keyless: keyless, NoIdentity: c.Bool("no-identity"),
	})
	var se *bundlefile.SettingError
	if errors.As(err, &se) {
		return nil, fmt.Errorf("--%s: %w", se.Setting, se.Err)
	}
	return s, err
}

// writeAudit prints the report of an audit or a scan (what) and maps it to
// the exit status.
func (e *env) writeAudit(c *cli.Context, r *audit.Report, what string) error {
	return e.writeReport(c, r, what, "output", c.String("output"))
}

// writeReport is writeAudit with the report's file (path, "" or "-" for
// standard output) named by flag.
func (e *env) writeReport(c *cli.Context, r *audit.Report, what, flag, path string) error {
	r.Version = version
	var w io.Writer = e.stdout
	var f *os.File
	if path != "" && path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return fmt.Errorf("--%s: %w", flag, err)
		}
		w = f
	}
	err := r.Write(w, c.String("format"))
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	switch {
	case !r.Coverage.Complete:
		err := fmt.Errorf("%s incomplete: %d parts could not be searched (see the coverage errors in the report): %s", what, len(r.Coverage.Errors), r.Coverage.Errors[0])
		if len(r.Coverage.ShortValues) > len(r.Coverage.ShortAccepted) {
			err = fmt.Errorf("%w; to accept that sealed values shorter than %d bytes are not searched, pass --allow-short or set allow_short in %s (docs/policy.md)", err, audit.MinValueLen, policies.FileName)
		}
		return err
	case len(r.Findings) > 0:
		return withCode(exitFindings, nil)
	}
	return nil
}

// limitFlags maps the limits the audit names in its coverage errors to
// the flags that raise them.
var limitFlags = []struct{ phrase, flag, limit string }{
	{"the depth limit", "--max-depth N", "the depth limit"},
	{"a sparse file of", "--max-sparse-size SIZE", "the sparse-file limit"},
	{"the limit of the plaintext-bundle check", "--max-file-check SIZE", "the plaintext-bundle check's limit"},
	{"the window limit", "--max-window SIZE", "the window limit"},
	{"the buffer limit", "--max-buffer SIZE", "the buffer limit"},
}

// limitHints prints, for each limit an incomplete report reached, the
// flag that raises it.
func limitHints(w io.Writer, r *audit.Report) {
	for _, l := range limitFlags {
		for _, e := range r.Coverage.Errors {
			if strings.Contains(e, l.phrase) {
				fmt.Fprintf(w, "sealenv: hint: %s raises %s, which left a part unsearched (see the coverage errors)\n", l.flag, l.limit)
				break
			}
		}
	}
}

// parseSize reads a byte count: a number, optionally with a unit (B, KiB,
// MiB, GiB, TiB, or KB, MB, GB, TB in powers of ten).
func parseSize(s string) (int64, error) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.TrimSpace(s[len(num):])
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive number of bytes, such as 64MiB", s)
	}
	mult := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q (want B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", s, unit)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("%q: too large", s)
	}
	return n * mult, nil
}
