package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// peer returns the path of a tool the test needs, or skips (fails when
// SEALENV_REQUIRE_PEERS is set, as in CI).
func peer(t *testing.T, name string, alt ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, a := range alt {
		if _, err := os.Stat(a); err == nil {
			return a
		}
	}
	if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
		t.Fatalf("%s not found (scripts/setup-gnupg.sh installs gpg, scripts/setup-shells.sh zsh and fish; scripts/test.sh builds sops v3.13.3 from this module)", name)
	}
	t.Skipf("%s not found", name)
	return ""
}

// gpgKey makes a PGP key without a passphrase in a new GnuPG home and
// returns the home and the key's fingerprint.
func gpgKey(t *testing.T, name string) (home, fp string) {
	t.Helper()
	gpg := peer(t, "gpg")
	home, err := os.MkdirTemp("", "gpg") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	cmd := exec.Command(gpg, "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key", name+" <"+name+"@example.com>", "default", "default", "never")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --quick-gen-key: %v: %s", err, out)
	}
	out, err := exec.Command(gpg, "--homedir", home, "--with-colons", "--list-secret-keys").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			return home, strings.Split(l, ":")[9]
		}
	}
	t.Fatal("no fingerprint")
	return "", ""
}

// sopsDecrypt runs the real sops CLI as someone with only the PGP key in
// home (no age identity anywhere).
func sopsDecrypt(t *testing.T, home, path string) (string, error) {
	t.Helper()
	sops := peer(t, "sops", filepath.Join(os.Getenv("HOME"), "go", "bin", "sops"))
	cmd := exec.Command(sops, "decrypt", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GNUPGHOME=" + home, "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, firstLineOf(stderr.String()))
	}
	return string(out), nil
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// TestOffboardingPGP: the policy is the whole list of who may decrypt. A
// PGP key (real gpg, real sops v3.13.3) listed by the policy is added; one
// added behind the policy's back with sops rotate --add-pgp is reported by
// check and shown by show; and when the policy drops it, rekey --all (or
// rekey -r) removes it, so that its owner's sops decrypt fails.
func TestOffboardingPGP(t *testing.T) {
	c := newParallelCLI(t)
	alice := c.keygen("alice.txt")
	home, fp := gpgKey(t, "bob")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"), "GNUPGHOME="+home)
	value := secret(t, "db")
	withBob := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n" +
		"      - {key: " + alice + ", owner: alice}\n      - {pgp: " + fp + ", owner: bob}\n"
	withoutBob := "version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n    recipients:\n" +
		"      - {key: " + alice + ", owner: alice}\n"
	os.MkdirAll(c.path("secrets"), 0o755)
	os.WriteFile(c.path("sealenv.yaml"), []byte(withBob), 0o644)
	c.ok("DB_PASSWORD="+value+"\n", "seal", "--env", "prod", "-i", "-")
	c.ok("", "check", "--no-identity")
	if show := c.ok("", "show", "secrets/prod.env").stdout; !strings.Contains(show, "pgp "+fp) || !strings.Contains(show, "recipients:   2") {
		t.Fatalf("show does not list the PGP key:\n%s", show)
	}
	if out, err := sopsDecrypt(t, home, c.path("secrets/prod.env")); err != nil || !strings.Contains(out, value) {
		t.Fatalf("bob cannot decrypt while the policy lists him: %v", err)
	}

	// bob leaves: check sees it, the plan says it, rekey --all does it.
	os.WriteFile(c.path("sealenv.yaml"), []byte(withoutBob), 0o644)
	r := c.run("", "check", "--no-identity")
	if r.code != 1 || !strings.Contains(r.stdout, "recipient-removed") || !strings.Contains(r.stdout, "pgp "+fp[:8]) {
		t.Fatalf("check after bob left: exit %d\n%s", r.code, r.stdout)
	}
	plan := c.ok("", "rekey", "--all", "--dry-run").stdout
	if !strings.Contains(plan, "- pgp "+fp) || !strings.Contains(plan, "rotate next") || strings.Contains(plan, "unchanged") {
		t.Fatalf("plan:\n%s", plan)
	}
	c.ok("", "rekey", "--all")
	c.ok("", "check", "--no-identity")
	if _, err := sopsDecrypt(t, home, c.path("secrets/prod.env")); err == nil {
		t.Fatal("bob still decrypts with sops after rekey --all")
	}
	if got := c.ok("", "reveal", "secrets/prod.env", "DB_PASSWORD").stdout; got != value {
		t.Fatal("alice lost the value")
	}

	// Behind the policy's back: plain sops adds bob again.
	sops := peer(t, "sops", filepath.Join(os.Getenv("HOME"), "go", "bin", "sops"))
	cmd := exec.Command(sops, "rotate", "--add-pgp", fp, "--in-place", c.path("secrets/prod.env"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GNUPGHOME=" + home, "SOPS_AGE_KEY_FILE=" + c.path("alice.txt"), "HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sops rotate --add-pgp: %v: %s", err, out)
	}
	if _, err := sopsDecrypt(t, home, c.path("secrets/prod.env")); err != nil {
		t.Fatalf("sops rotate --add-pgp did not add bob: %v", err)
	}
	if r := c.run("", "check", "--no-identity"); r.code != 1 || !strings.Contains(r.stdout, "recipient-removed") {
		t.Fatalf("check misses a PGP key added with sops: exit %d\n%s", r.code, r.stdout)
	}
	if show := c.ok("", "show", "secrets/prod.env").stdout; !strings.Contains(show, "pgp "+fp) || !strings.Contains(show, "recipients:   2") {
		t.Fatalf("show misses the PGP key:\n%s", show)
	}
	// rekey -r sets exactly the keys given: the PGP key goes.
	res := c.ok("", "rekey", "secrets/prod.env", "-r", alice)
	if !strings.Contains(res.stderr, "- pgp "+fp) || !strings.Contains(res.stderr, "rotate next") {
		t.Fatalf("rekey -r output: %s", res.stderr)
	}
	if _, err := sopsDecrypt(t, home, c.path("secrets/prod.env")); err == nil {
		t.Fatal("bob still decrypts with sops after rekey -r")
	}
	c.ok("", "check", "--no-identity")
}

// TestConcurrentSetsLoseNothing: eight sealenv set on one bundle at once;
// every key survives (the bundle is locked for each read-modify-write).
func TestConcurrentSetsLoseNothing(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("", "seal", "-r", r, "-o", "b.env")
	var wg sync.WaitGroup
	results := make([]result, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.run(fmt.Sprintf("value-%d", i), "set", "b.env", fmt.Sprintf("KEY_%d", i))
		}()
	}
	wg.Wait()
	for i, res := range results {
		if res.code != 0 {
			t.Fatalf("set %d: exit %d: %s", i, res.code, res.stderr)
		}
	}
	out := c.ok("", "reveal", "b.env").stdout
	for i := range 8 {
		if !strings.Contains(out, fmt.Sprintf("KEY_%d=value-%d\n", i, i)) {
			t.Errorf("KEY_%d was lost", i)
		}
	}
}

// TestLockTimeout: a second writer waits a bounded time, then fails with
// exit 2 and a clear message, and changes nothing.
func TestLockTimeout(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SEALENV_LOCK_TIMEOUT=300ms")
	c.ok("", "seal", "-r", r, "-o", "b.env")
	// Another writer holds the bundle's lock (the lock every writer takes).
	unlock, err := fsutil.Lock(c.path("b.env"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	before := digest(t, c.path("b.env"))
	start := time.Now()
	c.fails("another sealenv command is writing it", "v", "set", "b.env", "K")
	if time.Since(start) > 10*time.Second {
		t.Error("the wait was not bounded by SEALENV_LOCK_TIMEOUT")
	}
	if digest(t, c.path("b.env")) != before {
		t.Fatal("a writer that did not get the lock changed the bundle")
	}
	unlock()
	c.ok("v", "set", "b.env", "K")
}

// TestSymlinkedBundles: rekey --all never writes through a symlink out of
// the repository (a symlinked directory or file), and writes through one
// inside it, leaving the link a link.
func TestSymlinkedBundles(t *testing.T) {
	c := newParallelCLI(t)
	alice := c.keygen("alice.txt")
	bob := c.keygen("bob.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("alice.txt"))
	os.Mkdir(c.path(".git"), 0o755)
	policy := func(rs ...string) {
		text := "version: 1\nenvironments:\n"
		for _, env := range []string{"prod", "staging"} {
			text += "  - name: " + env + "\n    bundle: secrets/" + env + ".env\n    recipients:\n"
			for _, r := range rs {
				text += "      - {key: " + r + "}\n"
			}
		}
		os.WriteFile(c.path("sealenv.yaml"), []byte(text), 0o644)
	}
	policy(alice)
	os.MkdirAll(c.path("shared"), 0o755)
	os.MkdirAll(c.path("secrets"), 0o755)
	c.ok("K=v\n", "seal", "-r", alice, "-i", "-", "-o", "shared/prod.env")
	os.Symlink("../shared/prod.env", c.path("secrets/prod.env"))
	outside := t.TempDir()
	c.ok("K=w\n", "seal", "-r", alice, "-i", "-", "-o", filepath.Join(outside, "staging.env"))
	os.Symlink(filepath.Join(outside, "staging.env"), c.path("secrets/staging.env"))
	policy(alice, bob)

	// A file symlinked out of the repository: refused, nothing changed.
	inside, out := digest(t, c.path("shared/prod.env")), digest(t, filepath.Join(outside, "staging.env"))
	c.fails("outside the repository", "", "rekey", "--all")
	c.fails("outside the repository", "", "rekey", "--all", "--dry-run")
	if digest(t, c.path("shared/prod.env")) != inside || digest(t, filepath.Join(outside, "staging.env")) != out {
		t.Fatal("a refused rekey --all changed a bundle")
	}
	if r := c.run("", "check", "--no-identity"); r.code != 1 || !strings.Contains(r.stdout, "bundle-outside-repository") {
		t.Fatalf("check does not report the bundle outside: %d %s", r.code, r.stdout)
	}
	c.fails("outside the repository", "x", "set", "secrets/staging.env", "K2")

	// A directory symlinked out of the repository: refused too.
	os.Remove(c.path("secrets/staging.env"))
	os.MkdirAll(filepath.Join(outside, "dir"), 0o755)
	c.ok("K=w\n", "seal", "-r", alice, "-i", "-", "-o", filepath.Join(outside, "dir", "staging.env"))
	os.Symlink(filepath.Join(outside, "dir"), c.path("linked"))
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: secrets/prod.env, recipients: [{key: "+alice+"}, {key: "+bob+"}]}\n  - {name: staging, bundle: linked/staging.env, recipients: [{key: "+alice+"}, {key: "+bob+"}]}\n"), 0o644)
	out = digest(t, filepath.Join(outside, "dir", "staging.env"))
	c.fails("outside the repository", "", "rekey", "--all")
	if digest(t, filepath.Join(outside, "dir", "staging.env")) != out || digest(t, c.path("shared/prod.env")) != inside {
		t.Fatal("rekey --all wrote through a symlinked directory")
	}

	// A symlink inside the repository is written through.
	policy(alice, bob)
	os.WriteFile(c.path("secrets/staging.env"), mustRead(t, c.path("shared/prod.env")), 0o644)
	c.ok("", "rekey", "--all")
	if st, err := os.Lstat(c.path("secrets/prod.env")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("rekey --all replaced the symlink with a file")
	}
	if got := c.ok("", "reveal", "shared/prod.env", "K", "--identity", c.path("bob.txt")).stdout; got != "v" {
		t.Fatal("the symlink's target was not rekeyed")
	}
	c.ok("x", "set", "secrets/prod.env", "K2")
	if st, _ := os.Lstat(c.path("secrets/prod.env")); st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("set replaced the symlink with a file")
	}
	c.ok("", "check", "--no-identity")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSetTimeInTheFuture: show never says "in the future ago", and check
// fails with the reason.
func TestSetTimeInTheFuture(t *testing.T) {
	c := newParallelCLI(t)
	id, _ := age.GenerateX25519Identity()
	b, err := author.New(seal.FormatDotenv, []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	b.Now = func() time.Time { return time.Now().Add(90 * 24 * time.Hour) }
	b.Set("K", []byte(secret(t, "k")))
	data, _ := b.Marshal()
	os.WriteFile(c.path("b.env"), data, 0o644)
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+id.Recipient().String()+"}]}\ndefaults: {max_age: 30d}\n"), 0o644)
	show := c.ok("", "show", "b.env").stdout
	if strings.Contains(show, "future ago") || !strings.Contains(show, "IN THE FUTURE") {
		t.Fatalf("show:\n%s", show)
	}
	r := c.run("", "check", "--no-identity")
	if r.code != 1 || !strings.Contains(r.stdout, "set-in-future") {
		t.Fatalf("check: exit %d\n%s", r.code, r.stdout)
	}
}

// TestPlaintextLineInBundle: a line typed into a sealed bundle fails check
// without any key.
func TestPlaintextLineInBundle(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.ok("K=v\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	f, _ := os.OpenFile(c.path("b.env"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("API_TOKEN=" + secret(t, "ghp") + "\n")
	f.Close()
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+r+"}]}\n"), 0o644)
	res := c.run("", "check", "--no-identity")
	if res.code != 1 || !strings.Contains(res.stdout, "error [prod] plaintext-value: API_TOKEN") {
		t.Fatalf("check: exit %d\n%s", res.code, res.stdout)
	}
}

// TestGeneratorCommandTrust: a generator command from the policy runs only
// when confirmed (--yes without a terminal), and never sees an identity
// variable.
func TestGeneratorCommandTrust(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_KEY_FILE="+c.path("key.txt"), "SOPS_AGE_SSH_PRIVATE_KEY_FILE="+c.path("key.txt"))
	c.ok("TOKEN=old\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte(`version: 1
environments:
  - {name: prod, bundle: b.env, recipients: [{key: `+r+`}]}
keys:
  TOKEN:
    generator: {command: 'printf "%s.%s.%s.%s" "${SEALENV_AGE_KEY_FILE:-none}" "${SOPS_AGE_KEY_FILE:-none}" "${SOPS_AGE_SSH_PRIVATE_KEY_FILE:-none}" "$HOME" > /dev/null; printf "gen-%s-%s-%s-%s" "${SEALENV_AGE_KEY_FILE:-none}" "${SOPS_AGE_KEY_FILE:-none}" "${SOPS_AGE_SSH_PRIVATE_KEY_FILE:-none}" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d " \\n")"'}
    max_age: 1ns
`), 0o644)
	c.ok("", "pin")
	before := digest(t, c.path("b.env"))
	res := c.fails("--yes", "", "rotate", "b.env", "TOKEN")
	if !strings.Contains(res.stderr, "not confirmed") || !strings.Contains(res.stderr, "printf") {
		t.Errorf("refusal does not show the command: %s", res.stderr)
	}
	if digest(t, c.path("b.env")) != before {
		t.Fatal("a refused generator changed the bundle")
	}
	c.fails("--yes", "", "rotate", "--due")
	if digest(t, c.path("b.env")) != before {
		t.Fatal("a refused generator changed the bundle")
	}
	c.ok("", "rotate", "b.env", "TOKEN", "--yes")
	// (random hex after the probe: rotate refuses a low-entropy value for a
	// key with a generator, as check would)
	if got := c.ok("", "reveal", "b.env", "TOKEN").stdout; !strings.HasPrefix(got, "gen-none-none-none-") || len(got) != len("gen-none-none-none-")+48 {
		t.Fatalf("the generator saw identity variables: %q", got)
	}
	if out := c.ok("", "rotate", "--due", "--yes").stdout; !strings.Contains(out, "rotated TOKEN in prod") {
		t.Fatalf("rotate --due --yes did not rotate: %q", out)
	}
}

// TestShamirKeyGroups: key groups from the policy are written as sops
// writes them (real sops reads them), compared by check, and set by rekey.
func TestShamirKeyGroups(t *testing.T) {
	c := newParallelCLI(t)
	alice := c.keygen("alice.txt")
	bob := c.keygen("bob.txt")
	carol := c.keygen("carol.txt")
	both := append(mustRead(t, c.path("alice.txt")), mustRead(t, c.path("bob.txt"))...)
	os.WriteFile(c.path("both.txt"), both, 0o600)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("both.txt"))
	groups := "version: 1\nenvironments:\n  - name: prod\n    bundle: prod.env\n    key_groups:\n" +
		"      - recipients: [{key: " + alice + "}]\n      - recipients: [{key: " + bob + "}, {key: " + carol + "}]\n    shamir_threshold: 2\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(groups), 0o644)
	value := secret(t, "v")
	c.ok("K="+value+"\n", "seal", "--env", "prod", "-i", "-")
	if r := c.run("", "check"); r.code != 0 {
		t.Fatalf("check: %s", r.stdout)
	}
	show := c.ok("", "show", "prod.env").stdout
	if !strings.Contains(show, "key groups:   2, threshold 2") || !strings.Contains(show, "[group 1] "+carol) {
		t.Fatalf("show:\n%s", show)
	}
	if got := c.ok("", "reveal", "prod.env", "K").stdout; got != value {
		t.Fatal("reveal with both groups' keys failed")
	}
	sops := peer(t, "sops", filepath.Join(os.Getenv("HOME"), "go", "bin", "sops"))
	decrypt := func(keyFile string) error {
		cmd := exec.Command(sops, "decrypt", c.path("prod.env"))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SOPS_AGE_KEY_FILE=" + keyFile, "HOME=" + t.TempDir()}
		return cmd.Run()
	}
	if err := decrypt(c.path("both.txt")); err != nil {
		t.Fatalf("sops cannot decrypt the Shamir bundle: %v", err)
	}
	if err := decrypt(c.path("alice.txt")); err == nil {
		t.Fatal("one group's key opened a threshold-2 bundle")
	}
	// carol leaves group 1: check sees it, rekey --all removes her.
	os.WriteFile(c.path("sealenv.yaml"), []byte(strings.Replace(groups, ", {key: "+carol+"}", "", 1)), 0o644)
	if r := c.run("", "check", "--no-identity"); r.code != 1 || !strings.Contains(r.stdout, "in key group 1") {
		t.Fatalf("check: %d %s", r.code, r.stdout)
	}
	c.ok("", "rekey", "--all")
	c.ok("", "check")
	if strings.Contains(c.ok("", "show", "prod.env").stdout, carol) {
		t.Fatal("rekey --all kept carol")
	}
}
