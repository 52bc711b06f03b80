package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal/signature"
)

// signedRepo is a repository with a policy whose prod environment may be
// signed by alice (an SSH key made at test time) and an age identity that
// opens prod.
type signedRepo struct {
	*runner
	age          string // the age recipient
	alice, other *signtest.Key
	allowed      string // an allowed signers file naming alice
}

func newSignedRepo(t *testing.T) *signedRepo {
	t.Helper()
	c := newParallelCLI(t)
	r := &signedRepo{runner: c, age: c.keygen("age.txt")}
	keys := t.TempDir()
	r.alice = signtest.NewKey(t, keys, "alice", "ed25519")
	r.other = signtest.NewKey(t, keys, "mallory", "ed25519")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("age.txt"), "GIT_CONFIG_NOSYSTEM=1")
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n"+
		"    recipients: [{key: "+r.age+"}]\n    signers:\n      - {principal: alice@example.com, key: "+r.alice.Public+"}\n"), 0o644)
	r.allowed = signtest.WriteAllowed(t, keys, "allowed_signers", r.alice.Line("alice@example.com", ""))
	return r
}

// verified checks the bundle's signature with ssh-keygen -Y verify: the
// signature sealenv writes is one OpenSSH accepts.
func (r *signedRepo) verified(bundle string) error {
	r.t.Helper()
	data, err := os.ReadFile(r.path(bundle))
	if err != nil {
		r.t.Fatal(err)
	}
	sig, err := os.ReadFile(r.path(bundle + ".sig"))
	if err != nil {
		return err
	}
	return signtest.KeygenVerify(r.t, r.allowed, "alice@example.com", signature.Namespace, sig, data)
}

// checkRules runs sealenv check --format json and returns the rules of
// its errors and warnings (notes, such as changed-outside-sealenv, aside).
func (r *signedRepo) checkRules() (string, int) {
	r.t.Helper()
	res := r.run("", "check", "--format", "json")
	var report struct {
		Violations []struct{ Rule, Severity, Message string } `json:"violations"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &report); err != nil {
		r.t.Fatalf("check output: %v: %s %s", err, res.stdout, res.stderr)
	}
	var rules []string
	for _, v := range report.Violations {
		if v.Severity != "note" {
			rules = append(rules, v.Rule)
		}
	}
	return strings.Join(rules, " "), res.code
}

// TestEveryWriteSigns: seal, set, unset, edit, rotate and rekey sign what
// they write when a key is configured (--sign-key, SEALENV_SIGN_KEY with
// a path or the key's text), so ssh-keygen -Y verify and check accept the
// result; a write without a key removes the signature that no longer
// matches, and says so.
func TestEveryWriteSigns(t *testing.T) {
	r := newSignedRepo(t)
	signtest.Keygen(t)
	b := "secrets/prod.env"
	r.ok("A="+secret(t, "a")+"\n", "seal", "--env", "prod", "-i", "-", "--sign-key", r.alice.Path)
	if err := r.verified(b); err != nil {
		t.Fatalf("seal: %v", err)
	}
	if rules, code := r.checkRules(); rules != "" || code != 0 {
		t.Fatalf("check after a signed seal: %q (exit %d)", rules, code)
	}
	text, _ := os.ReadFile(r.alice.Path)
	for _, step := range []struct {
		name string
		env  string
		args []string
	}{
		{"set", "", []string{"set", b, "B", "--sign-key", r.alice.Path}},
		{"unset", signtestEnv(r.alice.Path), []string{"unset", b, "B"}},
		{"rotate", signtestEnv(string(text)), []string{"rotate", b, "A"}},
		{"rekey", signtestEnv(r.alice.PubPath + ".missing"), []string{"rekey", b, "--sign-key", r.alice.Path}},
		{"edit", signtestEnv(r.alice.Path), []string{"edit", b}},
		{"rekey --env", signtestEnv(r.alice.Path), []string{"rekey", "--env", "prod"}},
	} {
		env := r.env
		if step.env != "" {
			r.env = append(r.env, step.env)
		}
		if step.name == "edit" {
			r.env = append(r.env, "EDITOR="+editorScript(t, r.runner, `printf 'E=e\n' >> "$1"`))
		}
		res := r.ok(secret(t, "v"), step.args...)
		r.env = env
		if err := r.verified(b); err != nil {
			t.Errorf("%s: ssh-keygen: %v", step.name, err)
		}
		if !strings.Contains(res.stderr, b+" with ssh-ed25519 "+r.alice.Fingerprint()) {
			t.Errorf("%s: stderr does not say it signed: %q", step.name, res.stderr)
		}
		if strings.Contains(res.stderr, "PRIVATE KEY") || strings.Contains(res.stdout, "PRIVATE KEY") {
			t.Fatalf("%s: the private key was printed", step.name)
		}
	}
	if rules, code := r.checkRules(); rules != "" || code != 0 {
		t.Fatalf("check after signed writes: %q (exit %d)", rules, code)
	}
	// Without a key: the write removes the stale signature and warns.
	res := r.ok(secret(t, "v"), "set", b, "C")
	if !strings.Contains(res.stderr, "warning: "+b+" changed and is now unsigned") {
		t.Errorf("no warning: %q", res.stderr)
	}
	if _, err := os.Stat(r.path(b + ".sig")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale signature kept: %v", err)
	}
	if rules, code := r.checkRules(); rules != "unsigned" || code != 1 {
		t.Errorf("check: %q (exit %d), want unsigned", rules, code)
	}
	// A key that cannot sign stops the write before anything changes.
	before := digest(t, r.path(b))
	r.fails("--sign-key: ", secret(t, "v"), "set", b, "D", "--sign-key", r.path("no-such-key"))
	if digest(t, r.path(b)) != before {
		t.Error("the bundle changed although the signing key was unusable")
	}
}

func signtestEnv(v string) string { return "SEALENV_SIGN_KEY=" + v }

// TestForgedBundleFailsCheck: a bundle re-encrypted by someone with only
// the public recipient is a valid SOPS file; next to alice's signature it
// is a bad signature, signed by the forger it is signer-not-allowed, and
// sealenv sign refuses a key the environment does not allow.
func TestForgedBundleFailsCheck(t *testing.T) {
	r := newSignedRepo(t)
	b := "secrets/prod.env"
	r.ok("DATABASE_URL=postgres://db.internal/app\n", "seal", "--env", "prod", "-i", "-", "--sign-key", r.alice.Path)
	// The forger: a fresh checkout with the public recipient only.
	forger := newCLI(t)
	forger.ok("DATABASE_URL=postgres://attacker.example/app\n", "seal", "-r", r.age, "-i", "-", "-o", "forged.env")
	forged, _ := os.ReadFile(forger.path("forged.env"))
	os.WriteFile(r.path(b), forged, 0o644)
	if rules, code := r.checkRules(); rules != "bad-signature" || code != 1 {
		t.Fatalf("forged bundle, genuine signature: %q (exit %d)", rules, code)
	}
	os.WriteFile(r.path(b+".sig"), r.other.Sign(t, signature.Namespace, forged), 0o644)
	if rules, code := r.checkRules(); rules != "signer-not-allowed" || code != 1 {
		t.Fatalf("forged and signed by mallory: %q (exit %d)", rules, code)
	}
	res := r.fails("is not an allowed signer", "", "sign", b, "--sign-key", r.other.Path)
	if !strings.Contains(res.stderr, `signers of environment "prod"`) {
		t.Errorf("refusal does not name the environment: %q", res.stderr)
	}
}

// TestSopsEditThenSign: a teammate's sops edit (the real sops CLI) breaks
// the signature, check says so, and sealenv sign after the review
// restores it without touching the bundle.
func TestSopsEditThenSign(t *testing.T) {
	r := newSignedRepo(t)
	sops := peer(t, "sops", filepath.Join(os.Getenv("HOME"), "go", "bin", "sops"))
	b := "secrets/prod.env"
	r.ok("API_TOKEN="+secret(t, "tok")+"\n", "seal", "--env", "prod", "-i", "-", "--sign-key", r.alice.Path)
	ed := editorScript(t, r.runner, `sed -i "s/^API_TOKEN=.*/API_TOKEN=$TEST_REPLACEMENT/" "$1"`)
	cmd := exec.Command(sops, "edit", r.path(b))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SOPS_AGE_KEY_FILE=" + r.path("age.txt"), "EDITOR=" + ed, "TEST_REPLACEMENT=" + secret(t, "new")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sops edit: %v: %s", err, out)
	}
	// The value changed: its fingerprint is stale until sealenv adopt.
	if rules, code := r.checkRules(); rules != "bad-signature fingerprint-stale" || code != 1 {
		t.Fatalf("after sops edit: %q (exit %d)", rules, code)
	}
	show := r.ok("", "show", b).stdout
	if !strings.Contains(show, "signature:    BAD: does not match the bundle") {
		t.Errorf("show after sops edit:\n%s", show)
	}
	before := digest(t, r.path(b))
	r.ok("", "sign", b, "--sign-key", r.alice.Path)
	if digest(t, r.path(b)) != before {
		t.Error("sign changed the bundle")
	}
	// sign does not touch the bundle: the fingerprint stays stale (a
	// warning) until sealenv adopt.
	if rules, code := r.checkRules(); rules != "fingerprint-stale" || code != 0 {
		t.Fatalf("after sealenv sign: %q (exit %d)", rules, code)
	}
	signtest.Keygen(t)
	if err := r.verified(b); err != nil {
		t.Errorf("ssh-keygen after sealenv sign: %v", err)
	}
	// A sops edit that adds an empty value, which nothing authenticates:
	// sealenv adopt after the review records it and signs.
	ed = editorScript(t, r.runner, `printf 'EMPTY_TWO=\n' >> "$1"`)
	cmd = exec.Command(sops, "edit", r.path(b))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SOPS_AGE_KEY_FILE=" + r.path("age.txt"), "EDITOR=" + ed}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sops edit: %v: %s", err, out)
	}
	if rules, code := r.checkRules(); !strings.Contains(rules, "bad-signature") || code != 1 {
		t.Fatalf("after the second sops edit: %q (exit %d)", rules, code)
	}
	r.ok("", "adopt", b, "--sign-key", r.alice.Path)
	if rules, code := r.checkRules(); rules != "" || code != 0 {
		t.Fatalf("after sealenv adopt: %q (exit %d)", rules, code)
	}
	if err := r.verified(b); err != nil {
		t.Errorf("ssh-keygen after sealenv adopt: %v", err)
	}
}

// TestShowNamesTheSigner: show prints who signed (the policy's principal,
// the key) and the time of the signed content, in text and JSON.
func TestShowNamesTheSigner(t *testing.T) {
	r := newSignedRepo(t)
	b := "secrets/prod.env"
	r.ok("K=v\n", "seal", "--env", "prod", "-i", "-")
	if out := r.ok("", "show", b).stdout; !strings.Contains(out, "signature:    none (no secrets/prod.env.sig)") {
		t.Errorf("unsigned:\n%s", out)
	}
	r.ok("", "sign", b, "--sign-key", r.alice.Path)
	out := r.ok("", "show", b).stdout
	for _, want := range []string{
		"signature:    good, by alice@example.com (ssh-ed25519 " + r.alice.Fingerprint() + ")",
		"over the content written ",
		"allowed by the signers of environment prod",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show does not say %q:\n%s", want, out)
		}
	}
	var js struct {
		Signature struct {
			Status, Type, Key, Environment string
			Principals                     []string
			Allowed                        *bool
		} `json:"signature"`
	}
	if err := json.Unmarshal([]byte(r.ok("", "show", b, "--format", "json").stdout), &js); err != nil {
		t.Fatal(err)
	}
	s := js.Signature
	if s.Status != "good" || s.Key != r.alice.Fingerprint() || s.Allowed == nil || !*s.Allowed || len(s.Principals) != 1 || s.Principals[0] != "alice@example.com" {
		t.Errorf("json signature: %+v", s)
	}
}

// TestSignersCommand: the environment's signers as an allowed signers file,
// which ssh-keygen accepts for a signature sealenv made.
func TestSignersCommand(t *testing.T) {
	r := newSignedRepo(t)
	signtest.Keygen(t)
	out := r.ok("", "signers", "--env", "prod").stdout
	if out != `alice@example.com namespaces="bundle@sealenv.github.io" `+r.alice.Public+"\n" {
		t.Fatalf("signers: %q", out)
	}
	r.ok("", "signers", "--env", "prod", "-o", "allowed_signers")
	r.ok("K=v\n", "seal", "--env", "prod", "-i", "-", "--sign-key", r.alice.Path)
	data, _ := os.ReadFile(r.path("secrets/prod.env"))
	sig, _ := os.ReadFile(r.path("secrets/prod.env.sig"))
	if err := signtest.KeygenVerify(t, r.path("allowed_signers"), "alice@example.com", signature.Namespace, sig, data); err != nil {
		t.Errorf("ssh-keygen with the printed file: %v", err)
	}
	r.fails("usage: sealenv signers --env NAME", "", "signers")
}

// TestGitSigningKeySigns: a developer whose git signs commits with an SSH
// key (gpg.format=ssh, user.signingkey) signs bundles with it, with no
// flag at all.
func TestGitSigningKeySigns(t *testing.T) {
	r := newSignedRepo(t)
	signtest.Keygen(t)
	for _, args := range [][]string{{"init", "-q", r.dir}, {"-C", r.dir, "config", "gpg.format", "ssh"}, {"-C", r.dir, "config", "user.signingkey", r.alice.Path}} {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+r.path("gitconfig"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	res := r.ok("K=v\n", "seal", "--env", "prod", "-i", "-")
	if !strings.Contains(res.stderr, "(git user.signingkey)") {
		t.Errorf("stderr: %q", res.stderr)
	}
	if err := r.verified("secrets/prod.env"); err != nil {
		t.Fatal(err)
	}
}

// TestFleetWritesSignCLI: rekey --all signs what it writes (a CI job with
// its deploy key's text in SEALENV_SIGN_KEY); fleet's tests cover rotate
// --due.
func TestFleetWritesSignCLI(t *testing.T) {
	r := newSignedRepo(t)
	b := "secrets/prod.env"
	r.ok("K=v\n", "seal", "--env", "prod", "-i", "-", "--sign-key", r.alice.Path)
	text, _ := os.ReadFile(r.alice.Path)
	r.env = append(r.env, signtestEnv(string(text)))
	before := digest(t, r.path(b+".sig"))
	r.ok("", "rekey", "--all")
	if digest(t, r.path(b+".sig")) == before {
		t.Error("the signature did not change with the bundle")
	}
	if rules, code := r.checkRules(); rules != "" || code != 0 {
		t.Errorf("check %q (exit %d)", rules, code)
	}
}

// TestWrapPlacesTheSigners: sealenv wrap of a bundle whose environment has
// signers puts the policy's allowed signers file into the image and makes
// the entrypoint name it; an unsigned bundle is refused before anything is
// written; --signers FILE names the file explicitly.
func TestWrapPlacesTheSigners(t *testing.T) {
	r := newSignedRepo(t)
	inj := r.path("sealenv-inject")
	build := exec.Command("go", "build", "-o", inj, "github.com/sealenv/sealenv/cmd/sealenv-inject")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the injector: %s", out)
	}
	if out, err := exec.Command("go", "run", "github.com/sealenv/sealenv/examples/imagetool", "build", inj, r.path("app.tar"), "/app").CombinedOutput(); err != nil {
		t.Fatalf("building the image: %s", out)
	}
	b := "secrets/prod.env"
	r.ok("K=v\n", "seal", "--env", "prod", "-i", "-")
	src := "docker-archive:" + r.path("app.tar")
	r.fails("unsigned: no signature secrets/prod.env.sig, and the image requires one", "", "wrap", src, "oci:"+r.path("out"), "--bundle", b, "--injector", inj)
	if _, err := os.Stat(r.path("out")); err == nil {
		t.Fatal("written although the bundle is unsigned")
	}
	r.ok("", "sign", b, "--sign-key", r.alice.Path)
	r.ok("", "wrap", src, "oci:"+r.path("out"), "--bundle", b, "--injector", inj)
	cfg := ociConfig(t, r.path("out"))
	if !strings.Contains(cfg, `"--signers","/etc/sealenv/allowed_signers"`) || !strings.Contains(cfg, "io.sealenv.wrap.signers") {
		t.Errorf("config does not name the signers: %s", cfg)
	}
	// An explicit file that does not list alice: refused at wrap time.
	os.WriteFile(r.path("other_signers"), []byte(r.other.Line("mallory", "")+"\n"), 0o644)
	r.fails("signer not allowed", "", "wrap", src, "oci:"+r.path("out2"), "--bundle", b, "--injector", inj, "--signers", "other_signers")
}

// ociConfig returns the config JSON of the single image of an OCI layout.
func ociConfig(t *testing.T, dir string) string {
	t.Helper()
	read := func(digest string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var index struct{ Manifests []struct{ Digest string } }
	data, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(data, &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v", err)
	}
	var m struct{ Config struct{ Digest string } }
	if err := json.Unmarshal(read(index.Manifests[0].Digest), &m); err != nil {
		t.Fatal(err)
	}
	return string(read(m.Config.Digest))
}
