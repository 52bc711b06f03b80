package signing_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal/signature"
	"github.com/sealenv/sealenv/seal/signing"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

// verify checks that k signs data so that the injector's verifier accepts it.
func verify(t *testing.T, k *signing.Key, want string) {
	t.Helper()
	data := []byte("K=ENC[AES256_GCM,data:abc]\n")
	sig, err := k.Sign(data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.Parse(sig)
	if err != nil || s.Verify(data) != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if s.Key.String() != want {
		t.Errorf("signed by %s, want %s", s.Key, want)
	}
}

// noKey is an environment with no configuration at all.
var noKey = env(nil)

func TestKeySources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := signtest.NewKey(t, dir, "a", "ed25519")
	b := signtest.NewKey(t, dir, "b", "rsa")
	text, err := os.ReadFile(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	// The explicit key wins over the variable; the variable may hold the
	// private key's text (a CI secret) or a path.
	k, err := signing.Find(signing.Lookup{Explicit: a.Path, Getenv: env(map[string]string{signing.EnvSignKey: string(text)}), NoGit: true})
	if err != nil || k.Source != "the signing key" {
		t.Fatalf("%v %v", k, err)
	}
	verify(t, k, a.Public)
	for _, v := range []string{string(text), b.Path} {
		k, err = signing.Find(signing.Lookup{Getenv: env(map[string]string{signing.EnvSignKey: v}), NoGit: true})
		if err != nil || k.Source != signing.EnvSignKey {
			t.Fatalf("%v %v", k, err)
		}
		verify(t, k, b.Public)
	}
	if _, err := signing.Find(signing.Lookup{Getenv: noKey, NoGit: true}); !errors.Is(err, signing.ErrNoKey) {
		t.Errorf("nothing configured: %v", err)
	}
	// Private key text is never taken from a command line.
	_, err = signing.Find(signing.Lookup{Explicit: string(text), Describe: "--sign-key", Getenv: noKey})
	if err == nil || !strings.HasPrefix(err.Error(), "--sign-key: ") || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("key text as the explicit key: %v", err)
	}
	// An ECDSA key cannot sign: the injector would not verify it.
	ec := signtest.NewKey(t, dir, "ec", "ecdsa")
	if _, err := signing.Find(signing.Lookup{Explicit: ec.Path, Getenv: noKey}); err == nil || !strings.Contains(err.Error(), "ecdsa-sha2-nistp256 keys cannot sign bundles") {
		t.Errorf("ecdsa: %v", err)
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), a.Path + ".nothing"} {
		if _, err := signing.Find(signing.Lookup{Explicit: bad, Getenv: noKey}); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)
	if _, err := signing.Find(signing.Lookup{Explicit: garbage, Getenv: noKey}); err == nil || !strings.Contains(err.Error(), "not a usable SSH private key") {
		t.Errorf("garbage: %v", err)
	}
}

// TestGitSigningKey: with gpg.format=ssh, git's user.signingkey is used,
// as git uses it for commits: a private key file, or a public key whose
// private half ssh-agent holds.
func TestGitSigningKey(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	dir := t.TempDir()
	isolateGit(t, dir)
	repo := filepath.Join(dir, "repo")
	git(t, "", "init", "-q", repo)
	k := signtest.NewKey(t, dir, "id_ed25519", "ed25519")
	if _, err := signing.Find(signing.Lookup{GitDir: repo, Getenv: noKey}); !errors.Is(err, signing.ErrNoKey) {
		t.Fatalf("no git config: %v", err)
	}
	git(t, repo, "config", "user.signingkey", k.Path)
	if _, err := signing.Find(signing.Lookup{GitDir: repo, Getenv: noKey}); !errors.Is(err, signing.ErrNoKey) {
		t.Fatalf("gpg.format unset (openpgp): %v", err)
	}
	git(t, repo, "config", "gpg.format", "ssh")
	got, err := signing.Find(signing.Lookup{GitDir: repo, Getenv: noKey})
	if err != nil || got.Source != "git user.signingkey" {
		t.Fatalf("%v %v", got, err)
	}
	verify(t, got, k.Public)
	// key::PUBLIC KEY needs ssh-agent.
	git(t, repo, "config", "user.signingkey", "key::"+k.Public)
	if _, err := signing.Find(signing.Lookup{GitDir: repo, Getenv: noKey}); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK is not set") {
		t.Errorf("no agent: %v", err)
	}
	sock := startAgent(t, dir)
	agentEnv := env(map[string]string{"SSH_AUTH_SOCK": sock})
	if _, err := signing.Find(signing.Lookup{GitDir: repo, Getenv: agentEnv}); err == nil || !strings.Contains(err.Error(), "ssh-agent does not hold the key") {
		t.Errorf("key not in the agent: %v", err)
	}
	sshAdd(t, sock, k.Path)
	got, err = signing.Find(signing.Lookup{GitDir: repo, Getenv: agentEnv})
	if err != nil || !got.Agent {
		t.Fatalf("agent: %v %v", got, err)
	}
	defer got.Close()
	verify(t, got, k.Public)
	// A .pub file also means the agent.
	git(t, repo, "config", "user.signingkey", k.PubPath)
	got, err = signing.Find(signing.Lookup{GitDir: repo, Getenv: agentEnv})
	if err != nil || !got.Agent {
		t.Fatalf(".pub: %v %v", got, err)
	}
	got.Close()
	// SEALENV_SIGN_KEY comes before git.
	other := signtest.NewKey(t, dir, "other", "ed25519")
	got, err = signing.Find(signing.Lookup{GitDir: repo, Getenv: env(map[string]string{signing.EnvSignKey: other.Path})})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, got, other.Public)
}

// TestPassphraseProtectedKey: used through ssh-agent when the agent holds
// it, else with the passphrase, else refused with the way out. The key and
// its passphrase are made in memory; only the encrypted key is a file.
func TestPassphraseProtectedKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pass := make([]byte, 16)
	rand.Read(pass)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", pass)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(priv.Public())
	public := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	_, err = signing.Find(signing.Lookup{Explicit: path, Describe: "--sign-key", Getenv: noKey})
	if err == nil || !strings.Contains(err.Error(), "protected by a passphrase: add it to ssh-agent (ssh-add "+path+")") {
		t.Fatalf("no agent, no prompt: %v", err)
	}
	asked := 0
	k, err := signing.Find(signing.Lookup{Explicit: path, Getenv: noKey, Passphrase: func(string) ([]byte, error) { asked++; return bytes.Clone(pass), nil }})
	if err != nil || asked != 1 {
		t.Fatalf("passphrase: %v (asked %d)", err, asked)
	}
	verify(t, k, public)
	_, err = signing.Find(signing.Lookup{Explicit: path, Getenv: noKey, Passphrase: func(string) ([]byte, error) { return []byte("wrong"), nil }})
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
	sock := startAgent(t, dir)
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.NewClient(conn).Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	k, err = signing.Find(signing.Lookup{Explicit: path, Getenv: env(map[string]string{"SSH_AUTH_SOCK": sock}), Passphrase: func(string) ([]byte, error) {
		t.Error("asked although the agent holds the key")
		return nil, errors.New("no")
	}})
	if err != nil || !k.Agent {
		t.Fatalf("agent: %v %v", k, err)
	}
	defer k.Close()
	verify(t, k, public)
}

// isolateGit keeps the developer's and the machine's git configuration
// out of the test.
func isolateGit(t *testing.T, dir string) {
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(dir, "gitconfig"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", dir)
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
}

// startAgent runs a real ssh-agent for the test and returns its socket.
func startAgent(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
			t.Fatal("ssh-agent not found (run scripts/setup-openssh.sh)")
		}
		t.Skip("ssh-agent not found")
	}
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The socket file exists once ssh-agent binds it, a moment before it
	// listens: wait for a connection, not for the file.
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("ssh-agent did not start")
	return ""
}

func sshAdd(t *testing.T, sock, key string) {
	t.Helper()
	cmd := exec.Command("ssh-add", "-q", key)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
}
