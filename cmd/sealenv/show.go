package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sealenv/sealenv/seal"
)

func showCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "list keys, recipients and metadata (needs no key, shows no value)",
		ArgsUsage: "BUNDLE",
		Description: "Without an identity the MAC cannot be checked, so what show prints is not\n" +
			"authenticated; sealenv check and the injector verify it. The signature (BUNDLE.sig)\n" +
			"is verified against the bundle's bytes, and its signer named by the policy's signers.",
		Flags: []cli.Flag{
			storeFlag(), policyFlag(), envFlag(),
			&cli.StringFlag{Name: "format", Value: "text", Usage: "`text` or json"},
		},
		Action: func(c *cli.Context) error {
			path, err := bundleArg(c)
			if err != nil {
				return err
			}
			f, data, err := readBundle(c, path)
			if err != nil {
				return err
			}
			info, err := seal.Inspect(f, data)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			changeOf := map[string]seal.Change{}
			var removed []seal.Change
			for _, ch := range info.Changes {
				if ch.Kind == seal.ChangeRemoved {
					removed = append(removed, ch)
				} else {
					changeOf[ch.Name] = ch
				}
			}
			effective := seal.EffectiveMeta(info.Meta, info.Changes, info.LastModified)
			sig := e.inspectSignature(c, path, data, info.LastModified)
			switch c.String("format") {
			case "json":
				type key struct {
					Name string `json:"name"`
					// Path is the dotted name of a nested key ("db.password").
					Path      string `json:"path"`
					Encrypted bool   `json:"encrypted"`
					Empty     bool   `json:"empty"`
					// Set is when the value was last set, by sealenv or (Changed)
					// by another tool, as far as the file says.
					Set           *time.Time `json:"set,omitempty"`
					GraceOf       string     `json:"grace_of,omitempty"`
					Expires       *time.Time `json:"expires,omitempty"`
					Change        string     `json:"change,omitempty"`
					Authenticated *bool      `json:"authenticated,omitempty"`
				}
				type change struct {
					Name          string `json:"name"`
					Kind          string `json:"kind"`
					Authenticated bool   `json:"authenticated"`
				}
				type masterKey struct {
					Type    string            `json:"type"`
					ID      string            `json:"id"`
					Role    string            `json:"role,omitempty"`
					Context map[string]string `json:"context,omitempty"`
					Group   int               `json:"group"`
				}
				out := struct {
					Bundle          string      `json:"bundle"`
					Store           string      `json:"store"`
					Recipients      []string    `json:"recipients"`
					MasterKeys      []masterKey `json:"master_keys"`
					KeyGroups       int         `json:"key_groups,omitempty"`
					ShamirThreshold int         `json:"shamir_threshold,omitempty"`
					LastModified    time.Time   `json:"lastmodified"`
					Keys            []key       `json:"keys"`
					Verified        bool        `json:"verified"`
					// Recorded: the bundle has sealenv metadata (sealenv wrote or
					// adopted it); Changes: what changed outside sealenv since.
					Recorded        bool             `json:"recorded"`
					MetaEncrypted   bool             `json:"metadata_encrypted,omitempty"`
					Changes         []change         `json:"changes"`
					Unauthenticated []string         `json:"unauthenticated"`
					Signature       *bundleSignature `json:"signature"`
				}{Signature: sig, Bundle: path, Store: f.String(), Recipients: info.Recipients, MasterKeys: []masterKey{}, KeyGroups: info.KeyGroups,
					ShamirThreshold: info.ShamirThreshold, LastModified: info.LastModified, Keys: []key{},
					Recorded: info.Recorded, MetaEncrypted: info.MetaEncrypted, Changes: []change{}, Unauthenticated: []string{}}
				for _, k := range info.MasterKeys {
					out.MasterKeys = append(out.MasterKeys, masterKey{k.Type, k.ID, k.Role, k.Context, k.Group})
				}
				for i, k := range info.Keys {
					m, ok := metaFor(effective, k)
					item := key{Name: k, Path: info.Paths[i], Encrypted: info.Encrypted[i], Empty: info.Empty[i]}
					if ok && !m.Set.IsZero() {
						item.Set, item.GraceOf, item.Expires = &m.Set, m.GraceOf, m.Expires
					}
					if ch, ok := changeOf[k]; ok {
						item.Change, item.Authenticated = string(ch.Kind), &ch.Authenticated
					}
					out.Keys = append(out.Keys, item)
				}
				for _, ch := range info.Changes {
					out.Changes = append(out.Changes, change{ch.Name, string(ch.Kind), ch.Authenticated})
				}
				out.Unauthenticated = append(out.Unauthenticated, info.Unauthenticated...)
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			case "text":
				fmt.Fprintf(e.stdout, "bundle:       %s (%s store)\n", path, f)
				fmt.Fprintf(e.stdout, "lastmodified: %s\n", info.LastModified.UTC().Format(time.RFC3339))
				e.showSignature(e.stdout, sig)
				fmt.Fprintf(e.stdout, "recipients:   %d (who can unwrap the data key, every key type)\n", len(info.MasterKeys))
				if info.KeyGroups > 0 {
					fmt.Fprintf(e.stdout, "key groups:   %d, threshold %d (Shamir)\n", info.KeyGroups, info.ShamirThreshold)
				}
				for _, k := range info.MasterKeys {
					switch {
					case k.Group == seal.OutsideGroups:
						fmt.Fprintf(e.stdout, "  %s  (outside the key groups; sops ignores it, but it unwraps the data key)\n", k)
					case info.KeyGroups > 0:
						fmt.Fprintf(e.stdout, "  [group %d] %s\n", k.Group, k)
					default:
						fmt.Fprintf(e.stdout, "  %s\n", k)
					}
				}
				switch {
				case info.MetaEncrypted:
					fmt.Fprintf(e.stdout, "sealenv:      metadata encrypted by the file's rules: set times and changes need an identity (sealenv reveal)\n")
				case !info.Recorded:
					fmt.Fprintf(e.stdout, "sealenv:      not adopted: a SOPS file sealenv has not written")
					if len(info.Unauthenticated) > 0 {
						fmt.Fprintf(e.stdout, "; nothing authenticates the names of its %s: review, then sealenv adopt %s", plural(len(info.Unauthenticated), "empty or unencrypted value"), path)
					}
					fmt.Fprintln(e.stdout)
				case len(info.Changes) > 0:
					fmt.Fprintf(e.stdout, "changes:      %d outside sealenv since it last wrote the bundle", len(info.Changes))
					if n := len(seal.Unauthenticated(info.Changes)); n > 0 {
						fmt.Fprintf(e.stdout, "; %d NOT AUTHENTICATED: the injector refuses the bundle until a review and sealenv adopt %s", n, path)
					}
					fmt.Fprintln(e.stdout)
				}
				fmt.Fprintf(e.stdout, "keys:         %d (metadata not verified without an identity)\n", len(info.Keys))
				tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
				now := e.now()
				lm := info.LastModified.UTC().Format(time.RFC3339)
				for i, k := range info.Keys {
					var notes []string
					switch {
					case info.Empty[i]:
						notes = append(notes, "empty")
					case !info.Encrypted[i]:
						notes = append(notes, "PLAINTEXT (unencrypted by the file's rules)")
					}
					m, ok := metaFor(info.Meta, k)
					when := ""
					switch ch, changed := changeOf[k]; {
					case changed && ch.Kind == seal.ChangeReencrypted:
						when = fmt.Sprintf("set %s (%s ago), re-encrypted at %s", day(m.Set), ago(now.Sub(m.Set)), lm)
					case changed:
						verb := map[seal.ChangeKind]string{seal.ChangeAdded: "added", seal.ChangeFilled: "filled", seal.ChangeEmptied: "emptied"}[ch.Kind]
						if verb == "" {
							verb = "changed"
						}
						when = fmt.Sprintf("%s by another tool at %s", verb, lm)
						if !ch.Authenticated {
							notes = append(notes, "NOT AUTHENTICATED: review, then sealenv adopt "+path)
						}
					case info.Recorded && !ok:
						when = "set unknown"
					case !ok:
						when = "-"
						if slices.Contains(info.Unauthenticated, k) {
							notes = append(notes, "name not authenticated")
						}
					case m.GraceOf != "" && m.Expires != nil:
						state := "expires"
						if info.Meta.Expired(k, now) {
							state = "EXPIRED"
						}
						when = fmt.Sprintf("set %s", day(m.Set))
						notes = append([]string{fmt.Sprintf("grace value of %s, %s %s", m.GraceOf, state, m.Expires.UTC().Format(time.RFC3339))}, notes...)
					case m.Set.IsZero():
						when = "set unknown (added outside sealenv)"
					case m.Set.After(now):
						when = fmt.Sprintf("set %s (IN THE FUTURE: %s ahead; a wrong clock or an edited line)", day(m.Set), ago(m.Set.Sub(now)))
					default:
						when = fmt.Sprintf("set %s (%s ago)", day(m.Set), ago(now.Sub(m.Set)))
					}
					shown := k
					if p := info.Paths[i]; p != k {
						shown = p // a nested key, by the dotted name set, reveal and rotate take
						notes = append(notes, "variable "+k)
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\n", shown, when, strings.Join(notes, "; "))
				}
				for _, ch := range removed {
					note := ""
					if !ch.Authenticated {
						note = "NOT AUTHENTICATED: review, then sealenv adopt " + path
					}
					fmt.Fprintf(tw, "  %s\tremoved by another tool at %s\t%s\n", ch.Name, lm, note)
				}
				return tw.Flush()
			}
			return fmt.Errorf("--format: unknown format %q (want text or json)", c.String("format"))
		},
	}
}

// metaFor finds the metadata of an environment name; nested YAML keys share
// the metadata of their top-level key.
func metaFor(m seal.Meta, name string) (seal.KeyMeta, bool) {
	if km, ok := m[name]; ok {
		return km, true
	}
	best := ""
	for k := range m {
		if strings.HasPrefix(name, k+"_") && len(k) > len(best) {
			best = k // the longest prefix, whatever the map order
		}
	}
	if best != "" {
		return m[best], true
	}
	return seal.KeyMeta{}, false
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// ago formats a duration in hours or days; a negative one is "0h" (the
// callers say "in the future" themselves).
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0h"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

func revealCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "reveal",
		Usage:     "print decrypted values (needs an identity)",
		ArgsUsage: "BUNDLE [KEY]",
		Description: "With KEY, prints that value exactly (a newline is added only on a terminal).\n" +
			"Without KEY, prints every value as dotenv in sops's dialect (what sops decrypt\n" +
			"prints for a dotenv bundle, and what sealenv seal -i --dialect sops reads back),\n" +
			"as assignments bash reads back (--format shell: set -a; . FILE, or sealenv seal -i\n" +
			"--dialect shell), or as a JSON object. What changed outside sealenv goes to stderr.",
		Flags: []cli.Flag{
			identityFlag(), storeFlag(), envFlag(), policyFlag(),
			&cli.StringFlag{Name: "format", Value: "dotenv", Usage: "`dotenv` (sops's dialect), shell or json"},
		},
		Action: func(c *cli.Context) error {
			path, args, err := bundleAndArgs(c, 0, 1)
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "dotenv" && format != "shell" && format != "json" {
				return fmt.Errorf("--format: unknown format %q (want dotenv, shell or json)", format)
			}
			b, err := e.openBundle(c, path)
			if err != nil {
				return err
			}
			defer b.Zero()
			if len(args) == 1 {
				key := args[0]
				// A dotted name ("db.password", as show lists a nested
				// key) is the environment name with "_".
				if strings.Contains(key, ".") && b.Format == seal.FormatDotenv {
					return fmt.Errorf("%s: a dotenv bundle has no nested keys (dotted names are for YAML and JSON bundles)", path)
				}
				v := b.Lookup(strings.ReplaceAll(key, ".", "_"))
				if v == nil {
					for _, s := range b.Secrets {
						if strings.HasPrefix(s.Name, strings.ReplaceAll(key, ".", "_")+"_") {
							return fmt.Errorf("%s: %s holds nested keys, not one value; name one by its dotted path, as sealenv show %s lists them", path, key, path)
						}
					}
					return fmt.Errorf("%s: no key %q", path, key)
				}
				if _, err := e.stdout.Write(v); err != nil {
					return err
				}
				if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					fmt.Fprintln(e.stdout)
				}
				return nil
			}
			if format == "json" {
				var sb strings.Builder
				sb.WriteString("{")
				for i, s := range b.Secrets {
					if i > 0 {
						sb.WriteString(",")
					}
					k, _ := json.Marshal(s.Name)
					v, _ := json.Marshal(string(s.Value))
					fmt.Fprintf(&sb, "\n  %s: %s", k, v)
				}
				sb.WriteString("\n}\n")
				_, err := fmt.Fprint(e.stdout, sb.String())
				return err
			}
			var sb strings.Builder
			for _, s := range b.Secrets {
				v := string(s.Value)
				if format == "shell" {
					v = shellQuote(v)
				} else if strings.Contains(v, `\n`) {
					return fmt.Errorf("%s: the value of %s holds a literal \\n, which sops's dotenv dialect cannot carry; use --format shell or json", path, s.Name)
				} else {
					v = strings.ReplaceAll(v, "\n", `\n`)
				}
				fmt.Fprintf(&sb, "%s=%s\n", s.Name, v)
			}
			_, err = fmt.Fprint(e.stdout, sb.String())
			return err
		},
	}
}

// shellQuote quotes a value for bash (set -a; . FILE) when it is not a
// plain word: in single quotes, where nothing is special; a single quote
// inside closes them, is escaped with a backslash, and opens them again.
// sealenv seal -i --dialect shell reads it back.
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/+=@%^") == "" && !strings.ContainsAny(v[:1], "=~") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
