package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/signature"
)

func diffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "a bundle as reviewers read it: key names, ciphertext digests, recipients, signer (git textconv); with two files, what changed",
		ArgsUsage: "FILE [NEW]",
		Description: "With one file (git's textconv driver): a bundle as one line per key with a digest of\n" +
			"its ciphertext (a changed value changes its digest), its recipients, and, for a\n" +
			"signature file (BUNDLE.sig), its signer; no key is needed and no value is shown.\n" +
			"With two: which keys changed, were added or removed, and which recipients came or\n" +
			"went. In a repository (docs/bundles.md):\n" +
			"  .gitattributes:  secrets/*.env diff=sealenv  and  secrets/*.sig diff=sealenv\n" +
			"  git config diff.sealenv.textconv \"sealenv diff\"",
		Flags: []cli.Flag{storeFlag(), policyFlag()},
		Action: func(c *cli.Context) error {
			switch c.NArg() {
			case 1:
				text, err := e.describeFile(c, c.Args().First())
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(text)
				return err
			case 2:
				return e.diffBundles(c, c.Args().Get(0), c.Args().Get(1))
			}
			return errors.New("usage: sealenv diff FILE, or sealenv diff OLD NEW")
		},
	}
}

// describeFile renders a bundle or a signature file as text for a diff:
// one line per fact, none longer than it needs to be, no alignment that
// one change would shift, and never a value.
func (e *env) describeFile(c *cli.Context, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	var b bytes.Buffer
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN SSH SIGNATURE-----")) {
		sig, err := signature.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		b.WriteString("# sealenv: an SSH signature of a bundle (sealenv show verifies it against the bundle)\n")
		fmt.Fprintf(&b, "signer: %s\n", e.signerName(c, sig.Key))
		fmt.Fprintf(&b, "namespace: %s\n", sig.Namespace)
		return b.Bytes(), nil
	}
	f, err := bundleFormat(c, path, data)
	if err != nil {
		return nil, err
	}
	info, err := seal.Inspect(f, data)
	if errors.Is(err, seal.ErrNotSealed) {
		fmt.Fprintf(&b, "# sealenv: not a sealed bundle (no sops metadata): its %d bytes are not shown; sealenv scan reports plaintext secrets\n", len(data))
		return b.Bytes(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(&b, "# sealenv bundle (%s store): names and ciphertext digests, never a value\n", f)
	fmt.Fprintf(&b, "lastmodified: %s\n", info.LastModified.UTC().Format(time.RFC3339))
	b.WriteString("recipients:\n")
	for _, k := range info.MasterKeys {
		if info.KeyGroups > 0 {
			fmt.Fprintf(&b, "  [group %d] %s\n", k.Group, k)
		} else {
			fmt.Fprintf(&b, "  %s\n", k)
		}
	}
	if info.KeyGroups > 0 {
		fmt.Fprintf(&b, "key groups: %d, threshold %d\n", info.KeyGroups, info.ShamirThreshold)
	}
	b.WriteString("keys:\n")
	for i, k := range info.Keys {
		fmt.Fprintf(&b, "  %s  %s\n", info.Paths[i], keyState(info, i, k))
	}
	return b.Bytes(), nil
}

// keyState is what a diff shows of one value: a digest of its ciphertext,
// or that it is empty or stored in plaintext.
func keyState(info *seal.Info, i int, name string) string {
	sum := info.Current.Sums[name]
	switch {
	case info.Empty[i]:
		return "empty"
	case !info.Encrypted[i]:
		return "PLAINTEXT by the file's rules, digest " + sum
	}
	return "ciphertext " + sum
}

// signerName names a key by the principals the policy's signers give it,
// as far as a policy is found; never a verdict.
func (e *env) signerName(c *cli.Context, key *signature.PublicKey) string {
	name := key.Type + " " + key.Fingerprint()
	p, err := loadPolicy(c)
	if err != nil {
		return name
	}
	var principals []string
	for i := range p.Environments {
		env := &p.Environments[i]
		if !env.Signed() {
			continue
		}
		for _, s := range env.AllowedSigners().Keys() {
			if s.Key.Equal(key) {
				for _, pr := range s.Principals {
					if !slices.Contains(principals, pr) {
						principals = append(principals, pr)
					}
				}
			}
		}
	}
	if len(principals) == 0 {
		return name + " (no signer of the policy)"
	}
	return strings.Join(principals, ",") + " (" + name + ")"
}

// diffBundles prints what changed from the bundle old to new: keys changed,
// added and removed (by ciphertext digest), and recipients added and
// removed.
func (e *env) diffBundles(c *cli.Context, oldPath, newPath string) error {
	read := func(path string) (*seal.Info, error) {
		f, data, err := readBundle(c, path)
		if err != nil {
			return nil, err
		}
		info, err := seal.Inspect(f, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return info, nil
	}
	a, err := read(oldPath)
	if err != nil {
		return err
	}
	b, err := read(newPath)
	if err != nil {
		return err
	}
	state := func(info *seal.Info) map[string]string {
		m := map[string]string{}
		for i, k := range info.Keys {
			m[info.Paths[i]] = keyState(info, i, k)
		}
		return m
	}
	sa, sb := state(a), state(b)
	var lines []string
	unchanged := 0
	for _, p := range b.Paths {
		old, ok := sa[p]
		switch {
		case !ok:
			lines = append(lines, "added    "+p)
		case old != sb[p]:
			lines = append(lines, "changed  "+p)
		default:
			unchanged++
		}
	}
	for _, p := range a.Paths {
		if _, ok := sb[p]; !ok {
			lines = append(lines, "removed  "+p)
		}
	}
	keys := func(info *seal.Info) []string {
		var out []string
		for _, k := range info.MasterKeys {
			out = append(out, k.String())
		}
		return out
	}
	ka, kb := keys(a), keys(b)
	for _, k := range kb {
		if !slices.Contains(ka, k) {
			lines = append(lines, "recipient added    "+k)
		}
	}
	for _, k := range ka {
		if !slices.Contains(kb, k) {
			lines = append(lines, "recipient removed  "+k)
		}
	}
	for _, l := range lines {
		fmt.Fprintln(e.stdout, l)
	}
	fmt.Fprintf(e.stdout, "%s unchanged\n", plural(unchanged, "key"))
	return nil
}
