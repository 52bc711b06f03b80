package author_test

// Byte compatibility of the slim reader (package seal) with the sops/v3
// library and the sops CLI, in both directions, on generated trees.

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sopsStore(f seal.Format) sops.Store {
	switch f {
	case seal.FormatYAML:
		return sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case seal.FormatJSON:
		return sopsjson.NewStore(&config.JSONStoreConfig{Indent: -1})
	}
	return dotenv.NewStore(&config.DotenvStoreConfig{})
}

// ext is the file name extension of a store.
var ext = map[seal.Format]string{seal.FormatDotenv: "env", seal.FormatYAML: "yaml", seal.FormatJSON: "json"}

// gen makes random plaintext trees and remembers the environment value that
// each flattened name must have.
type gen struct {
	r    *rand.Rand
	want map[string]string
	// names of values that stay unencrypted by the file's rules
	plain map[string]bool
	rules func(path []string) bool // true: encrypted
}

var alphabet = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

func (g *gen) key() string {
	n := 2 + g.r.IntN(6)
	var sb strings.Builder
	for range n {
		sb.WriteRune(alphabet[g.r.IntN(len(alphabet))])
	}
	return sb.String()
}

var pieces = []string{"a", "Z", "0", " ", "=", ":", "#", "\"", "'", "\t", "é", "日本", "🔑", "$HOME", "-----BEGIN", "{", "}", "[", "]", ",", "|", ">", "&", "*", "!", "%", "@", "\\"}

func (g *gen) str(newlines bool) string {
	switch g.r.IntN(8) {
	case 0:
		return ""
	case 1: // long
		return strings.Repeat("x", 1000+g.r.IntN(5000))
	}
	var sb strings.Builder
	for range g.r.IntN(20) {
		p := pieces[g.r.IntN(len(pieces))]
		if p == "\\" && !newlines { // the dotenv store cannot hold a literal \n
			continue
		}
		sb.WriteString(p)
		if newlines && g.r.IntN(10) == 0 {
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// scalar returns a random typed scalar and its environment form.
func (g *gen) scalar() (any, string) {
	switch g.r.IntN(6) {
	case 0:
		n := g.r.IntN(1<<40) - 1<<39
		return n, strconv.Itoa(n)
	case 1:
		f := float64(g.r.IntN(1<<20)) + 0.5 + float64(g.r.IntN(100))/1000
		return f, strconv.FormatFloat(f, 'f', -1, 64)
	case 2:
		b := g.r.IntN(2) == 0
		return b, strconv.FormatBool(b)
	default:
		s := g.str(true)
		return s, s
	}
}

func (g *gen) branch(path []string, name string, depth int) sops.TreeBranch {
	var br sops.TreeBranch
	used := map[string]bool{}
	for range 1 + g.r.IntN(5) {
		if g.r.IntN(6) == 0 {
			br = append(br, sops.TreeItem{Key: sops.Comment{Value: " " + g.str(false)}})
		}
		k := g.key()
		if used[k] {
			continue
		}
		used[k] = true
		if g.r.IntN(5) == 0 {
			k += seal.DefaultUnencryptedSuffix
		}
		p := append(append([]string{}, path...), k)
		n := k
		if name != "" {
			n = name + "_" + k
		}
		br = append(br, sops.TreeItem{Key: k, Value: g.value(p, n, depth)})
	}
	return br
}

func (g *gen) value(path []string, name string, depth int) any {
	switch c := g.r.IntN(10); {
	case c == 0 && depth < 3:
		return g.branch(path, name, depth+1)
	case c == 1 && depth < 3:
		var list []any
		for i := range 1 + g.r.IntN(4) {
			n := name + "_" + strconv.Itoa(i)
			if g.r.IntN(4) == 0 && depth < 2 {
				list = append(list, g.branch(path, n, depth+1))
				continue
			}
			v, env := g.scalar()
			if !g.rules(path) {
				v, env = plainSafe(v, env)
			}
			g.want[n] = env
			g.plain[n] = !g.rules(path)
			list = append(list, v)
		}
		return list
	case c == 2:
		g.want[name] = ""
		g.plain[name] = true
		return nil
	}
	v, env := g.scalar()
	if !g.rules(path) {
		v, env = plainSafe(v, env)
	}
	g.want[name] = env
	g.plain[name] = !g.rules(path)
	return v
}

// plainSafe keeps tabs and newlines out of values stored unencrypted: the
// YAML emitter sops uses does not round-trip a plain string such as
// "\tx\ny", so sops rejects its own file (MAC mismatch), and so do we.
func plainSafe(v any, env string) (any, string) {
	if s, ok := v.(string); ok {
		s = strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
		return s, s
	}
	return v, env
}

// sopsEncrypt encrypts a plaintext tree exactly as the sops CLI does
// (cmd/sops/common.EncryptTree), with the sops/v3 library only.
func sopsEncrypt(t testing.TB, f seal.Format, md sops.Metadata, br sops.TreeBranch, recipients ...string) []byte {
	t.Helper()
	var group sops.KeyGroup
	for _, r := range recipients {
		k, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, k)
	}
	md.KeyGroups = []sops.KeyGroup{group}
	md.Version = "3.13.3"
	tree := sops.Tree{Branches: sops.TreeBranches{br}, Metadata: md}
	key, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := aes.NewCipher()
	mac, err := tree.Encrypt(key, c)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = c.Encrypt(mac, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	out, err := sopsStore(f).EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sopsDecrypt decrypts and MAC-checks a file with the sops/v3 library only
// (cmd/sops/common.DecryptTree), giving age identities through
// ParsedIdentities.ApplyToMasterKey.
func sopsDecrypt(t testing.TB, f seal.Format, data []byte, id age.Identity) sops.TreeBranch {
	t.Helper()
	tree, err := sopsStore(f).LoadEncryptedFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var key []byte
	for _, k := range tree.Metadata.KeyGroups[0] {
		ak := k.(*sopsage.MasterKey)
		sopsage.ParsedIdentities{id}.ApplyToMasterKey(ak)
		if key, err = ak.Decrypt(); err == nil {
			break
		}
	}
	if key == nil {
		t.Fatal("sops could not unwrap the data key")
	}
	c := aes.NewCipher()
	mac, err := tree.Decrypt(key, c)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := c.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || stored != mac {
		t.Fatalf("sops: MAC mismatch (%v)", err)
	}
	return tree.Branches[0]
}

func secretsMap(b *seal.Bundle) map[string]string {
	m := map[string]string{}
	for _, s := range b.Secrets {
		m[s.Name] = string(s.Value)
	}
	return m
}

func diffMaps(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing key %s", k)
		} else if g != w {
			t.Errorf("key %s: value differs (len %d, want len %d)", k, len(g), len(w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s", k)
		}
	}
}

// TestSlimReadsSopsLibrary: trees of every value type, nesting, lists,
// comments, unicode, empty and long values, and unencrypted keys, written by
// the sops/v3 library, read by the slim reader.
func TestSlimReadsSopsLibrary(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	other := newIdentity(t)
	for _, tc := range []struct {
		name   string
		format seal.Format
		md     sops.Metadata
		rules  func(path []string) bool
	}{
		{"yaml-default-suffix", seal.FormatYAML, sops.Metadata{UnencryptedSuffix: "_unencrypted"}, func(p []string) bool {
			for _, k := range p {
				if strings.HasSuffix(k, "_unencrypted") {
					return false
				}
			}
			return true
		}},
		{"yaml-encrypted-regex", seal.FormatYAML, sops.Metadata{EncryptedRegex: "^[a-m]"}, func(p []string) bool {
			for _, k := range p {
				if k[0] >= 'a' && k[0] <= 'm' {
					return true
				}
			}
			return false
		}},
		{"yaml-encrypted-suffix", seal.FormatYAML, sops.Metadata{EncryptedSuffix: "x"}, func(p []string) bool {
			for _, k := range p {
				if strings.HasSuffix(k, "x") {
					return true
				}
			}
			return false
		}},
		{"yaml-unencrypted-regex", seal.FormatYAML, sops.Metadata{UnencryptedRegex: "^[a-m]"}, func(p []string) bool {
			for _, k := range p {
				if k[0] >= 'a' && k[0] <= 'm' {
					return false
				}
			}
			return true
		}},
		{"yaml-unencrypted-suffix-plain", seal.FormatYAML, sops.Metadata{UnencryptedSuffix: "_plain"}, func(p []string) bool {
			for _, k := range p {
				if strings.HasSuffix(k, "_plain") {
					return false
				}
			}
			return true
		}},
		{"json-default-suffix", seal.FormatJSON, sops.Metadata{UnencryptedSuffix: "_unencrypted"}, func(p []string) bool {
			for _, k := range p {
				if strings.HasSuffix(k, "_unencrypted") {
					return false
				}
			}
			return true
		}},
		{"json-encrypted-regex", seal.FormatJSON, sops.Metadata{EncryptedRegex: "^[a-m]"}, func(p []string) bool {
			for _, k := range p {
				if k[0] >= 'a' && k[0] <= 'm' {
					return true
				}
			}
			return false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(60) {
				g := &gen{r: rand.New(rand.NewPCG(seed, 7)), want: map[string]string{}, plain: map[string]bool{}, rules: tc.rules}
				br := g.branch(nil, "", 0)
				data := sopsEncrypt(t, tc.format, tc.md, br, other.Recipient().String(), id.Recipient().String())
				// A SOPS file sealenv never wrote: its values are read as sops
				// reads them, and exactly its empty and plain values are
				// unauthenticated (seal.Open refuses them).
				b, err := seal.OpenForReview(tc.format, data, id)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				diffMaps(t, secretsMap(b), g.want)
				for _, n := range b.Unauthenticated {
					if !g.plain[n] && g.want[n] != "" {
						t.Errorf("seed %d: %s is encrypted but reported unauthenticated", seed, n)
					}
				}
				if _, err := seal.Open(tc.format, data, id); (err == nil) != (len(b.Unauthenticated) == 0) {
					t.Errorf("seed %d: seal.Open: %v with %d unauthenticated names", seed, err, len(b.Unauthenticated))
				}
				if b.Matched != id.Recipient().String() {
					t.Errorf("matched %q", b.Matched)
				}
				info, err := seal.Inspect(tc.format, data)
				if err != nil {
					t.Fatal(err)
				}
				for i, k := range info.Keys {
					if info.Encrypted[i] == g.plain[k] && g.want[k] != "" {
						t.Errorf("seed %d: %s: encrypted=%v", seed, k, info.Encrypted[i])
					}
				}
				if t.Failed() {
					t.Fatalf("seed %d failed", seed)
				}
			}
		})
	}
	t.Run("dotenv", func(t *testing.T) {
		for seed := range uint64(60) {
			r := rand.New(rand.NewPCG(seed, 9))
			g := &gen{r: r}
			want := map[string]string{}
			var br sops.TreeBranch
			for range 1 + r.IntN(30) {
				if r.IntN(5) == 0 {
					br = append(br, sops.TreeItem{Key: sops.Comment{Value: " " + g.str(false)}})
				}
				k := strings.ToUpper(g.key())
				if _, dup := want[k]; dup {
					continue
				}
				v := g.str(false)
				if r.IntN(4) == 0 {
					v += "\nsecond line"
				}
				want[k] = v
				br = append(br, sops.TreeItem{Key: k, Value: v})
			}
			data := sopsEncrypt(t, seal.FormatDotenv, sops.Metadata{UnencryptedSuffix: "_unencrypted"}, br, id.Recipient().String())
			b, err := seal.OpenForReview(seal.FormatDotenv, data, id)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			diffMaps(t, secretsMap(b), want)
		}
	})
}

// TestSopsLibraryReadsAuthor: bundles written by sealenv (seal/author) are
// decrypted and MAC-checked by the sops/v3 library, with the same values.
func TestSopsLibraryReadsAuthor(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	for _, f := range seal.Formats() {
		for seed := range uint64(20) {
			r := rand.New(rand.NewPCG(seed, 3))
			g := &gen{r: r}
			b, err := author.New(f, []string{id.Recipient().String()})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for range 1 + r.IntN(20) {
				k := strings.ToUpper(g.key())
				v := g.str(f != seal.FormatDotenv)
				if err := b.Set(k, []byte(v)); err != nil {
					t.Fatal(err)
				}
				want[k] = v
			}
			data, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, it := range sopsDecrypt(t, f, data, id) {
				if k, ok := it.Key.(string); ok && k != seal.MetaKey {
					got[k] = it.Value.(string)
				}
			}
			diffMaps(t, got, want)
			// and the slim reader agrees
			sb, err := seal.Open(f, data, id)
			if err != nil {
				t.Fatal(err)
			}
			diffMaps(t, secretsMap(sb), want)
		}
	}
}

// sopsCLI returns the sops binary, or skips. CI sets SEALENV_REQUIRE_PEERS=1
// so that a missing sops fails instead.
func sopsCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sops")
	if err != nil {
		if home, herr := os.UserHomeDir(); herr == nil {
			if _, serr := os.Stat(home + "/go/bin/sops"); serr == nil {
				return home + "/go/bin/sops"
			}
		}
		if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
			t.Fatal("sops CLI not found on PATH (go install github.com/getsops/sops/v3/cmd/sops@v3.13.3)")
		}
		t.Skip("sops CLI not found on PATH; install it with go install github.com/getsops/sops/v3/cmd/sops@v3.13.3")
	}
	return p
}

// runSops runs the sops CLI with the identity in its environment (never in
// argv or a file) and plaintext, if any, on stdin.
func runSops(t *testing.T, id *age.X25519Identity, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(sopsCLI(t), args...)
	// In a folder of its own, with no SOPS_* setting of the caller's: no
	// .sops.yaml above the package, no SOPS_AGE_RECIPIENTS, changes what
	// sops does.
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOPS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SOPS_AGE_KEY="+id.String(), "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops %s: %v: %s", args[0], err, firstLines(stderr.String()))
	}
	return out
}

func firstLines(s string) string {
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// TestSopsCLI: `sops -d` reads sealenv bundles, and the slim reader reads
// what `sops encrypt` wrote.
func TestSopsCLI(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	dir := t.TempDir()
	values := map[string]string{"API_KEY": "k-" + id.Recipient().String()[10:30], "EMPTY": "", "UNI": "pässwörd 🔑", "MULTI": "line1\nline2"}
	order := []string{"API_KEY", "EMPTY", "UNI", "MULTI"}
	for _, f := range seal.Formats() {
		t.Run(f.String()+"/sops-decrypts-sealenv", func(t *testing.T) {
			b, err := author.New(f, []string{id.Recipient().String()})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range order {
				if err := b.Set(k, []byte(values[k])); err != nil {
					t.Fatal(err)
				}
			}
			data, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			path := dir + "/bundle." + ext[f]
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := runSops(t, id, nil, "decrypt", "--output-type", "json", path)
			for _, k := range order {
				want := fmt.Sprintf("%q", values[k])
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("sops -d output lacks %s", k)
				}
			}
		})
		t.Run(f.String()+"/sealenv-reads-sops", func(t *testing.T) {
			var plain bytes.Buffer
			if f == seal.FormatJSON {
				plain.WriteString("{")
			}
			for i, k := range order {
				switch f {
				case seal.FormatDotenv:
					fmt.Fprintf(&plain, "%s=%s\n", k, strings.ReplaceAll(values[k], "\n", `\n`))
				case seal.FormatJSON:
					if i > 0 {
						plain.WriteString(",")
					}
					fmt.Fprintf(&plain, "%q: %q", k, values[k])
				default:
					fmt.Fprintf(&plain, "%s: %q\n", k, values[k])
				}
			}
			if f == seal.FormatJSON {
				plain.WriteString("}\n")
			}
			enc := runSops(t, id, plain.Bytes(), "encrypt", "--input-type", f.String(), "--output-type", f.String(),
				"--filename-override", "x."+f.String(), "--age", id.Recipient().String())
			if _, err := seal.Open(f, enc, id); !errors.Is(err, seal.ErrUnauthenticated) || !strings.Contains(err.Error(), "EMPTY") {
				t.Fatalf("seal.Open of a sops file with an empty value: %v", err)
			}
			b, err := seal.OpenForReview(f, enc, id)
			if err != nil {
				t.Fatal(err)
			}
			diffMaps(t, secretsMap(b), values)
			if len(b.Unauthenticated) != 1 || b.Unauthenticated[0] != "EMPTY" || b.Recorded {
				t.Errorf("unauthenticated %v, recorded %v", b.Unauthenticated, b.Recorded)
			}
			// and sealenv can edit it, keeping ciphertext of untouched values
			// EMPTY's name is not authenticated in a sops file: editing it
			// needs an explicit adoption.
			if _, err := author.Load(f, enc, []age.Identity{id}); !errors.Is(err, author.ErrUnauthenticated) {
				t.Fatalf("load without adoption: %v", err)
			}
			ab, err := author.Load(f, enc, []age.Identity{id}, author.AdoptUnauthenticated())
			if err != nil {
				t.Fatal(err)
			}
			if err := ab.Set("NEW", []byte("v")); err != nil {
				t.Fatal(err)
			}
			again, err := ab.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			for _, line := range strings.Split(string(enc), "\n") {
				line = strings.TrimLeft(line, " \t\"")
				if strings.HasPrefix(line, "API_KEY") {
					ct := line[strings.Index(line, "ENC[") : strings.Index(line, "]")+1]
					if !bytes.Contains(again, []byte(ct)) {
						t.Errorf("ciphertext of API_KEY changed on an unrelated edit")
					}
					kept++
				}
			}
			if kept != 1 {
				t.Fatalf("found API_KEY %d times in the sops file", kept)
			}
			out := runSops(t, id, again, "decrypt", "--input-type", f.String(), "--output-type", "json", "--filename-override", "x."+f.String())
			if !bytes.Contains(out, []byte(`"NEW": "v"`)) {
				t.Errorf("sops cannot read the edited bundle")
			}
		})
	}
}

var _ keys.MasterKey = (*sopsage.MasterKey)(nil)

// TestPlainValuesCannotTradeText: the SOPS MAC concatenates values without
// separators, so text can move between two neighbouring unencrypted values
// without any key and the MAC still verifies. The metadata's digests see it:
// the reader refuses it until a review.
func TestPlainValuesCannotTradeText(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	br := sops.TreeBranch{
		{Key: "TOKEN", Value: "s3cret-" + id.Recipient().String()[10:20]},
		{Key: "A_unencrypted", Value: "https://good.example/"},
		{Key: "B_unencrypted", Value: "path"},
	}
	data := sopsEncrypt(t, seal.FormatYAML, sops.Metadata{UnencryptedSuffix: "_unencrypted"}, br, id.Recipient().String())
	ab, err := author.Load(seal.FormatYAML, data, []age.Identity{id}, author.AdoptUnauthenticated())
	if err != nil {
		t.Fatal(err)
	}
	adopted, err := ab.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Open(seal.FormatYAML, adopted, id); err != nil {
		t.Fatalf("adopted bundle: %v", err)
	}
	moved := strings.Replace(strings.Replace(string(adopted), "A_unencrypted: https://good.example/", "A_unencrypted: https://good.example/pa", 1), "B_unencrypted: path", "B_unencrypted: th", 1)
	if moved == string(adopted) {
		t.Fatal("the attack did not change the file")
	}
	b, err := seal.OpenForReview(seal.FormatYAML, []byte(moved), id)
	if err != nil {
		t.Fatalf("the MAC should still verify: %v", err)
	}
	if !slices.Equal(b.Unauthenticated, []string{"A_unencrypted", "B_unencrypted"}) {
		t.Errorf("unauthenticated %v", b.Unauthenticated)
	}
	if _, err := seal.Open(seal.FormatYAML, []byte(moved), id); !errors.Is(err, seal.ErrUnauthenticated) {
		t.Errorf("seal.Open: %v", err)
	}
	// The same file without sealenv's metadata: sops accepts it.
	if _, err := seal.OpenForReview(seal.FormatYAML, []byte(strings.Replace(strings.Replace(string(data), "A_unencrypted: https://good.example/", "A_unencrypted: https://good.example/pa", 1), "B_unencrypted: path", "B_unencrypted: th", 1)), id); err != nil {
		t.Errorf("plain sops file: %v", err)
	}
}
