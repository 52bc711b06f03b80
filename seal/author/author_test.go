package author_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"

	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
	"github.com/sealenv/sealenv/seal/recipients"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newBundle(t *testing.T, f seal.Format, c *clock, recipients ...string) *author.Bundle {
	t.Helper()
	b, err := author.New(f, recipients)
	if err != nil {
		t.Fatal(err)
	}
	b.Now = c.now
	return b
}

func marshal(t *testing.T, b *author.Bundle) []byte {
	t.Helper()
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func load(t *testing.T, f seal.Format, data []byte, id age.Identity, c *clock) *author.Bundle {
	t.Helper()
	b, err := author.Load(f, data, []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	b.Now = c.now
	return b
}

// valueLines returns the lines (dotenv) that hold a key's ciphertext.
func valueLine(data []byte, key string) string {
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, key+"=") || strings.HasPrefix(l, key+": ") {
			return l
		}
	}
	return ""
}

func TestEditKeepsUnchangedCiphertext(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, f := range []seal.Format{seal.FormatDotenv, seal.FormatYAML} {
		b := newBundle(t, f, c, id.Recipient().String())
		for _, k := range []string{"A", "B", "C"} {
			if err := b.Set(k, []byte("value-of-"+k)); err != nil {
				t.Fatal(err)
			}
		}
		v1 := marshal(t, b)
		c.t = c.t.Add(time.Hour)
		b2 := load(t, f, v1, id, c)
		if err := b2.Set("B", []byte("changed")); err != nil {
			t.Fatal(err)
		}
		v2 := marshal(t, b2)
		for _, k := range []string{"A", "C"} {
			if valueLine(v1, k) == "" || valueLine(v1, k) != valueLine(v2, k) {
				t.Errorf("%s: ciphertext of unchanged %s changed", f, k)
			}
		}
		if valueLine(v1, "B") == valueLine(v2, "B") {
			t.Errorf("%s: ciphertext of changed B did not change", f)
		}
		// The same value set again also keeps its ciphertext.
		b3 := load(t, f, v2, id, c)
		if err := b3.Set("A", []byte("value-of-A")); err != nil {
			t.Fatal(err)
		}
		if v3 := marshal(t, b3); valueLine(v3, "A") != valueLine(v2, "A") {
			t.Errorf("%s: re-setting an identical value changed its ciphertext", f)
		}
		o, err := seal.Open(f, v2, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.Meta["B"].Set; !got.Equal(c.t) {
			t.Errorf("%s: B set time %v, want %v", f, got, c.t)
		}
		if got := o.Meta["A"].Set; !got.Equal(c.t.Add(-time.Hour)) {
			t.Errorf("%s: A set time changed to %v", f, got)
		}
	}
}

func TestRotateGraceAndExpiry(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	b := newBundle(t, seal.FormatDotenv, c, id.Recipient().String())
	old := []byte(rand.Text())
	if err := b.Set("API_KEY", old); err != nil {
		t.Fatal(err)
	}
	fresh := []byte(rand.Text())
	if err := b.Rotate("API_KEY", fresh, 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	data := marshal(t, b)
	o, err := seal.Open(seal.FormatDotenv, data, id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(o.Lookup("API_KEY"), fresh) || !bytes.Equal(o.Lookup("API_KEY_PREVIOUS"), old) {
		t.Fatal("rotate did not keep the old value as API_KEY_PREVIOUS")
	}
	m := o.Meta["API_KEY_PREVIOUS"]
	if m.GraceOf != "API_KEY" || m.Expires == nil || !m.Expires.Equal(c.t.Add(48*time.Hour)) {
		t.Fatalf("grace metadata = %+v", m)
	}
	if o.Meta.Expired("API_KEY_PREVIOUS", c.t.Add(47*time.Hour)) || !o.Meta.Expired("API_KEY_PREVIOUS", c.t.Add(48*time.Hour)) {
		t.Fatal("Expired disagrees with the grace period")
	}
	// Before expiry a write keeps the grace value; after, it drops it.
	c.t = c.t.Add(24 * time.Hour)
	b2 := load(t, seal.FormatDotenv, data, id, c)
	if err := b2.Set("OTHER", []byte("x")); err != nil {
		t.Fatal(err)
	}
	data2 := marshal(t, b2)
	if _, ok := b2.Get("API_KEY_PREVIOUS"); !ok {
		t.Fatal("grace value dropped before expiry")
	}
	c.t = c.t.Add(25 * time.Hour)
	b3 := load(t, seal.FormatDotenv, data2, id, c)
	data3 := marshal(t, b3)
	o3, err := seal.Open(seal.FormatDotenv, data3, id)
	if err != nil {
		t.Fatal(err)
	}
	if o3.Lookup("API_KEY_PREVIOUS") != nil {
		t.Fatal("expired grace value kept after a write")
	}
	if _, ok := o3.Meta["API_KEY_PREVIOUS"]; ok {
		t.Fatal("metadata of the expired grace value kept")
	}
	if err := b3.Rotate("MISSING", fresh, 0); !errors.Is(err, author.ErrNoKey) {
		t.Fatalf("rotate of a missing key: %v", err)
	}
}

func TestRekeyNewDataKeyAndRemovedRecipient(t *testing.T) {
	t.Parallel()
	alice, bob := newIdentity(t), newIdentity(t)
	c := &clock{time.Now()}
	b := newBundle(t, seal.FormatYAML, c, alice.Recipient().String(), bob.Recipient().String())
	if err := b.Set("TOKEN", []byte("t0ken-value")); err != nil {
		t.Fatal(err)
	}
	v1 := marshal(t, b)
	b2 := load(t, seal.FormatYAML, v1, alice, c)
	onlyAlice, err := recipients.Age(alice.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.SetMasterKeys([][]seal.MasterKey{{onlyAlice}}, 0); err != nil {
		t.Fatal(err)
	}
	v2 := marshal(t, b2)
	if valueLine(v1, "TOKEN") == valueLine(v2, "TOKEN") {
		t.Error("rekey kept the old ciphertext: the data key did not change")
	}
	if _, err := seal.Open(seal.FormatYAML, v2, bob); !errors.Is(err, seal.ErrIncorrectIdentity) {
		t.Fatalf("removed recipient still opens the bundle: %v", err)
	}
	o, err := seal.Open(seal.FormatYAML, v2, alice)
	if err != nil || string(o.Lookup("TOKEN")) != "t0ken-value" {
		t.Fatalf("remaining recipient cannot open: %v", err)
	}
	// Rekey without changing recipients still changes the data key.
	b3 := load(t, seal.FormatYAML, v2, alice, c)
	if err := b3.Rekey(); err != nil {
		t.Fatal(err)
	}
	if v3 := marshal(t, b3); valueLine(v3, "TOKEN") == valueLine(v2, "TOKEN") {
		t.Error("rekey without -r kept the data key")
	}
}

// TestEverySingleByteChange flips each byte of a bundle in turn (three
// ways; one with -short): the reader must either fail or return exactly the
// original values, and must fail for every byte of the data lines, the MAC
// and lastmodified.
func TestEverySingleByteChange(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	c := &clock{time.Now()}
	for _, f := range seal.Formats() {
		b := newBundle(t, f, c, id.Recipient().String())
		for _, k := range []string{"DB_PASSWORD", "API_TOKEN", "EMPTY"} {
			v := []byte("value-for-" + k)
			if k == "EMPTY" {
				v = nil
			}
			if err := b.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		data := marshal(t, b)
		orig, err := seal.Open(f, data, id)
		if err != nil {
			t.Fatal(err)
		}
		want := secretsMap(orig)
		mustFail := map[int]bool{}
		pos := 0
		for _, l := range strings.SplitAfter(string(data), "\n") {
			trim := strings.TrimLeft(strings.TrimSpace(l), `"`)
			critical := strings.HasPrefix(trim, "DB_PASSWORD") || strings.HasPrefix(trim, "API_TOKEN") || strings.HasPrefix(trim, "EMPTY") ||
				strings.HasPrefix(trim, "sealenv_unencrypted") || strings.Contains(trim, "mac") || strings.Contains(trim, "lastmodified")
			if critical {
				for i := pos; i < pos+len(strings.TrimRight(l, "\n")); i++ {
					// YAML indentation may legally change, and `""` may turn
					// into a null, which is the same empty value.
					if data[i] != ' ' && !(f == seal.FormatYAML && data[i] == '"' && strings.HasPrefix(trim, "EMPTY")) {
						mustFail[i] = true
					}
				}
			}
			pos += len(l)
		}
		accepted, required := 0, 0
		mut := make([]byte, len(data))
		flips := []byte{0x01, 0x20, 0x80}
		if testing.Short() {
			flips = flips[:1]
		}
		for i := range data {
			for _, x := range flips {
				copy(mut, data)
				mut[i] ^= x
				got, err := seal.Open(f, mut, id)
				if err == nil {
					accepted++
					if len(got.Unauthenticated) > 0 {
						t.Fatalf("%s: byte %d ^%#x: accepted with unauthenticated keys %v", f, i, x, got.Unauthenticated)
					}
					if m := secretsMap(got); len(m) != len(want) {
						t.Fatalf("%s: byte %d ^%#x: accepted with different keys: %q -> %q", f, i, x, data[max(0, i-20):i+5], mut[max(0, i-20):i+5])
					} else {
						for k, v := range want {
							if m[k] != v {
								t.Fatalf("%s: byte %d ^%#x: accepted with a changed value of %s", f, i, x, k)
							}
						}
					}
					if mustFail[i] {
						t.Errorf("%s: byte %d ^%#x in an authenticated line was accepted: %q -> %q", f, i, x, data[max(0, i-20):i+5], mut[max(0, i-20):i+5])
					}
				}
				if mustFail[i] {
					required++
				}
			}
		}
		if required < 300 {
			t.Fatalf("%s: only %d mutations in authenticated lines; the test lost its teeth", f, required)
		}
		t.Logf("%s: %d bytes x%d flips, %d in authenticated lines all rejected, %d elsewhere accepted with identical values", f, len(data), len(flips), required, accepted)
	}
}

// TestBadInput: every failure is a sentinel, names the reason, and never
// contains a value.
func TestBadInput(t *testing.T) {
	t.Parallel()
	id, wrong := newIdentity(t), newIdentity(t)
	c := &clock{time.Now()}
	secret := "s3cr3t-" + id.Recipient().String()[20:40]
	b := newBundle(t, seal.FormatDotenv, c, id.Recipient().String())
	if err := b.Set("SECRET", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	good := marshal(t, b)
	lines := strings.Split(string(good), "\n")
	replaceLine := func(prefix, with string) []byte {
		out := make([]string, len(lines))
		copy(out, lines)
		for i, l := range out {
			if strings.HasPrefix(l, prefix) {
				out[i] = with
			}
		}
		return []byte(strings.Join(out, "\n"))
	}
	otherValue := func() string { // a valid ciphertext of another value under another key
		b2 := newBundle(t, seal.FormatDotenv, c, id.Recipient().String())
		_ = b2.Set("SECRET", []byte("other"))
		return valueLine(marshal(t, b2), "SECRET")
	}
	cases := []struct {
		name string
		data []byte
		ids  []age.Identity
		want error
	}{
		{"wrong identity", good, []age.Identity{wrong}, seal.ErrIncorrectIdentity},
		{"no identity", good, nil, seal.ErrIncorrectIdentity},
		{"swapped value", replaceLine("SECRET=", otherValue()), []age.Identity{id}, seal.ErrTampered},
		{"truncated", good[:len(good)/2], []age.Identity{id}, nil},
		{"value removed", replaceLine("SECRET=", ""), []age.Identity{id}, seal.ErrTampered},
		{"plaintext value", replaceLine("SECRET=", "SECRET="+secret), []age.Identity{id}, seal.ErrTampered},
		{"mac removed", replaceLine("sops_mac=", ""), []age.Identity{id}, seal.ErrTampered},
		{"lastmodified changed", replaceLine("sops_lastmodified=", "sops_lastmodified=2020-01-01T00:00:00Z"), []age.Identity{id}, seal.ErrTampered},
		{"duplicate key", []byte(valueLine(good, "SECRET") + "\n" + string(good)), []age.Identity{id}, seal.ErrMalformed},
		{"invalid name", []byte("BAD-NAME=x\n" + string(good)), []age.Identity{id}, seal.ErrInvalidName},
		{"non-utf8", append([]byte("X=\xff\xfe\n"), good...), []age.Identity{id}, seal.ErrMalformed},
		{"not sealed", []byte("SECRET=" + secret + "\n"), []age.Identity{id}, seal.ErrNotSealed},
		{"not KEY=VALUE", append([]byte("just words\n"), good...), []age.Identity{id}, seal.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := seal.Open(seal.FormatDotenv, tc.data, tc.ids...)
			if err == nil {
				t.Fatalf("accepted (%d values)", len(got.Secrets))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q is not %v", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Fatal("error message contains secret material")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			// the authoring path fails as well, with the same discipline
			if _, aerr := author.Load(seal.FormatDotenv, tc.data, tc.ids); aerr == nil {
				t.Errorf("author.Load accepted it")
			} else if strings.Contains(aerr.Error(), secret) {
				t.Fatal("author error contains the secret")
			}
		})
	}
	if _, err := seal.DetectFormat("bundle.txt", []byte("X=1\n")); !errors.Is(err, seal.ErrMalformed) {
		t.Errorf("unknown store: %v", err)
	}
	// Values a store cannot carry are refused, without echoing them.
	for name, v := range map[string]string{"NUL": "a\x00b", "BACKSLASH_N": `a\nb`, "NOT_UTF8": "\xff"} {
		err := b.Set(name, []byte(v))
		if err == nil {
			t.Errorf("%s accepted", name)
		} else if strings.Contains(err.Error(), v) {
			t.Errorf("%s: error echoes the value", name)
		}
	}
	for _, name := range []string{"lower-dash", "1DIGIT", "sops_x", "X_unencrypted", seal.MetaKey, ""} {
		if err := b.Set(name, []byte("v")); !errors.Is(err, seal.ErrInvalidName) {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

func TestImportDotenvConventions(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	c := &clock{time.Now()}
	b := newBundle(t, seal.FormatDotenv, c, id.Recipient().String())
	plain := "# a comment\nexport A=plain value # trailing\nB=\"quoted \\\"x\\\" \\n line\"\nC='single $X #'\nD=\"multi\nline\"\nE=\n"
	if _, err := b.Import([]byte(plain), author.DialectCompose); err != nil {
		t.Fatal(err)
	}
	o, err := seal.Open(seal.FormatDotenv, marshal(t, b), id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "plain value", "B": "quoted \"x\" \n line", "C": "single $X #", "D": "multi\nline", "E": ""}
	diffMaps(t, secretsMap(o), want)
	for _, bad := range []string{"NOPE\n", "A=\"unterminated\n", "1A=x\n", "sops_version=3\n"} {
		b := newBundle(t, seal.FormatDotenv, c, id.Recipient().String())
		if _, err := b.Import([]byte(bad), author.DialectCompose); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestWeakNamesAreAuthenticated: an empty list item inserted into nested
// YAML (shifting the names after it), an empty key added to a nested map, an
// empty key removed, and an injected empty key in a sealenv bundle are all
// changes nothing authenticates: seal.Open refuses them naming the change,
// OpenForReview shows them, the authoring side refuses to edit the bundle
// until a reviewer adopts it, and after adoption the bundle is authenticated
// as it now is.
func TestWeakNamesAreAuthenticated(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	c := &clock{time.Now()}
	b := newBundle(t, seal.FormatYAML, c, id.Recipient().String())
	if _, err := b.Import([]byte("hosts:\n  - a.example\n  - b.example\ndb:\n  password: pw-value\n  empty: \"\"\n"), author.DialectSops); err != nil {
		t.Fatal(err)
	}
	good := marshal(t, b)
	o, err := seal.Open(seal.FormatYAML, good, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Lookup("db_empty")) != "" || o.Lookup("hosts_1") == nil || len(o.Changes) != 0 || !o.Recorded {
		t.Fatalf("unexpected values or changes %v", o.Changes)
	}
	attacks := map[string]struct {
		data  string
		names []string
	}{
		"list item inserted": {strings.Replace(string(good), "hosts:\n", "hosts:\n    - \"\"\n", 1), []string{"hosts_0", "hosts_1", "hosts_2"}},
		"nested key added":   {strings.Replace(string(good), "db:\n", "db:\n    x: \"\"\n", 1), []string{"db_x"}},
		"empty key removed":  {strings.Replace(string(good), "    empty: \"\"\n", "", 1), []string{"db_empty"}},
	}
	for name, a := range attacks {
		if a.data == string(good) {
			t.Fatalf("%s: the attack did not change the file", name)
		}
		_, err := seal.Open(seal.FormatYAML, []byte(a.data), id)
		var ue *seal.UnauthenticatedError
		if !errors.As(err, &ue) || !slices.Equal(ue.Names, a.names) {
			t.Errorf("%s: reader: %v", name, err)
		}
		r, err := seal.OpenForReview(seal.FormatYAML, []byte(a.data), id)
		if err != nil || !slices.Equal(r.Unauthenticated, a.names) {
			t.Errorf("%s: review: %v, %v", name, r, err)
		}
		if _, err := author.Load(seal.FormatYAML, []byte(a.data), []age.Identity{id}); !errors.Is(err, author.ErrUnauthenticated) {
			t.Errorf("%s: authoring side without adoption: %v", name, err)
		}
		ab, err := author.Load(seal.FormatYAML, []byte(a.data), []age.Identity{id}, author.AdoptUnauthenticated())
		if err != nil {
			t.Fatalf("%s: adoption: %v", name, err)
		}
		adopted := marshal(t, ab)
		if o, err := seal.Open(seal.FormatYAML, adopted, id); err != nil || len(o.Changes) != 0 {
			t.Errorf("%s: the adopted bundle: %v, changes %v", name, err, o)
		}
	}
	d := newBundle(t, seal.FormatDotenv, c, id.Recipient().String())
	d.Set("A", []byte("value"))
	denv := marshal(t, d)
	injected := append([]byte("INJECTED=\n"), denv...)
	if _, err := author.Load(seal.FormatDotenv, injected, []age.Identity{id}); !errors.Is(err, author.ErrUnauthenticated) || !strings.Contains(err.Error(), "INJECTED added with an empty value") {
		t.Fatalf("injected key in a sealenv bundle: %v", err)
	}
}

// TestSopsDialectIsSops: dotenv input read in the sops dialect gives
// exactly the values sops's own dotenv store reads from it.
func TestSopsDialectIsSops(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	c := &clock{time.Now()}
	pieces := []string{"a", "Z", "0", " ", "=", "#", `"`, "'", `\n`, `\t`, "\r", "$X", "é", "\\", "export "}
	compared := 0
	defer func() {
		if compared < 150 {
			t.Errorf("only %d of 200 inputs compared; the test lost its teeth", compared)
		}
	}()
	for seed := range uint64(200) {
		r := mrand.New(mrand.NewPCG(seed, 11))
		var in strings.Builder
		for i := range 1 + r.IntN(8) {
			if r.IntN(6) == 0 {
				in.WriteString("# comment " + pieces[r.IntN(len(pieces))] + "\n")
			}
			fmt.Fprintf(&in, "K%d=", i)
			for range r.IntN(6) {
				in.WriteString(pieces[r.IntN(len(pieces))])
			}
			in.WriteString("\n")
		}
		b := newBundle(t, seal.FormatDotenv, c, id.Recipient().String())
		_, err := b.Import([]byte(in.String()), author.DialectSops)
		if err != nil {
			continue // a value the dotenv store cannot carry (a literal \n after decoding) is refused
		}
		o, err := seal.Open(seal.FormatDotenv, marshal(t, b), id)
		if err != nil {
			t.Fatal(err)
		}
		branches, err := dotenv.NewStore(&config.DotenvStoreConfig{}).LoadPlainFile([]byte(in.String()))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for _, it := range branches[0] {
			if k, ok := it.Key.(string); ok {
				want[k] = it.Value.(string)
			}
		}
		diffMaps(t, secretsMap(o), want)
		compared++
	}
}
