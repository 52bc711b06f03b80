package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/match"
)

// strongSecret is a random 40-character value (about 238 bits), made at
// test time: strong enough to have fingerprints.
func strongSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestAuditKeyless: values planted in an image in several encodings and
// places are found by the keyless audit (no identity, or --no-identity)
// exactly as by the keyed one; neither the bundle nor the report holds a
// form of any value; a value sops changed, or one too guessable, makes the
// keyless audit incomplete, naming the key.
func TestAuditKeyless(t *testing.T) {
	c := newParallelCLI(t)
	me := c.keygen("me.txt")
	keyed := append(append([]string{}, c.env...), "SEALENV_AGE_KEY_FILE="+c.path("me.txt"))
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients: [{key: "+me+"}]\n"), 0o644)
	db, token, cert := strongSecret(t)+"/+%=", strongSecret(t), strongSecret(t)+strongSecret(t)
	c.env = keyed
	c.ok("DB_PASSWORD="+db+"\nAPI_TOKEN="+token+"\nCERT="+cert+"\n", "seal", "--env", "prod", "-i", "-")
	wrapped := base64.StdEncoding.EncodeToString([]byte("-----BEGIN-----\n" + cert + "\n-----END-----\n"))
	var pem strings.Builder
	for i := 0; i < len(wrapped); i += 64 {
		pem.WriteString(wrapped[i:min(i+64, len(wrapped))] + "\n")
	}
	writeTestImage(t, c.path("leak.tar"), []string{"TOKEN_B64=" + base64.StdEncoding.EncodeToString([]byte(token))}, map[string]string{
		"app/config.json": `{"db":"` + db + `"}`,
		"app/url.txt":     "https://x/?p=" + url.QueryEscape(db) + "&h=" + hex.EncodeToString([]byte(token)),
		"etc/ssl/c.pem":   pem.String(),
	})
	writeTestImage(t, c.path("clean.tar"), []string{"PATH=/bin"}, map[string]string{"etc/motd": "hello"})

	findings := func(r result) string {
		t.Helper()
		var rep struct {
			Findings json.RawMessage `json:"findings"`
			Coverage struct {
				Complete          bool `json:"complete"`
				FingerprintValues int  `json:"fingerprint_values"`
			} `json:"coverage"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("exit %d: %v: %s", r.code, err, r.stderr)
		}
		return string(rep.Findings)
	}
	withKey := c.run("", "audit", "image", "--format", "json", "leak.tar")
	forced := c.run("", "audit", "image", "--format", "json", "--no-identity", "leak.tar")
	c.env = keyed[:len(keyed)-1]
	none := c.run("", "audit", "image", "--format", "json", "leak.tar")
	for name, r := range map[string]result{"keyed": withKey, "--no-identity": forced, "no identity": none} {
		if r.code != 1 {
			t.Fatalf("%s: exit %d: %s %s", name, r.code, r.stdout, r.stderr)
		}
	}
	if findings(forced) != findings(withKey) || findings(none) != findings(withKey) {
		t.Fatalf("keyless and keyed findings differ:\nkeyed   %s\nkeyless %s", findings(withKey), findings(none))
	}
	for _, enc := range []string{`"raw"`, `"base64"`, `"base64-wrapped"`, `"hex"`, `"url"`} {
		if !strings.Contains(findings(none), enc) {
			t.Errorf("no %s finding: %s", enc, findings(none))
		}
	}
	if !strings.Contains(none.stderr, "searched by their fingerprints") {
		t.Errorf("no note of the keyless search: %s", none.stderr)
	}
	if !strings.Contains(forced.stdout, `"fingerprint_values": 3`) {
		t.Errorf("coverage does not count the values searched by fingerprint: %s", forced.stdout)
	}
	bundle, _ := os.ReadFile(c.path("secrets/prod.env"))
	text := c.run("", "audit", "image", "leak.tar")
	hays := map[string]string{"bundle": string(bundle), "report": none.stdout + none.stderr, "text report": text.stdout + text.stderr}
	for _, v := range []string{db, token, cert} {
		for _, f := range match.Forms([]byte(v)) {
			for what, hay := range hays {
				if strings.Contains(hay, string(f.Text)) {
					t.Fatalf("the %s holds a %s form of a value", what, f.Encoding)
				}
			}
		}
	}
	c.ok("", "audit", "image", "clean.tar")

	// A value sops set changed has a stale fingerprint; a weak value has
	// none: both are named, exit 2.
	c.env = keyed
	c.ok("pin-1234\n", "set", "secrets/prod.env", "PIN")
	sops, err := exec.LookPath("sops")
	if err != nil {
		if home, _ := os.UserHomeDir(); home != "" {
			sops = home + "/go/bin/sops"
		}
	}
	cmd := exec.Command(sops, "set", "--value-stdin", c.path("secrets/prod.env"), `["API_TOKEN"]`)
	key, _ := os.ReadFile(c.path("me.txt"))
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY="+string(key))
	cmd.Stdin = strings.NewReader(`"` + strongSecret(t) + `"`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("sops set: %v: %.200s", err, out)
	}
	r := c.run("", "audit", "image", "--no-identity", "clean.tar")
	if r.code != 2 || !strings.Contains(r.stdout, "(stale fingerprint): API_TOKEN") || !strings.Contains(r.stdout, "(too guessable to fingerprint): PIN") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	c.fails("--no-identity and --identity", "", "audit", "image", "--no-identity", "--identity", "me.txt", "clean.tar")
}
