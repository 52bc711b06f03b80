package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sealenv/sealenv/inject"
)

// TestInject runs `sealenv inject` as a real process that execs or
// supervises a real shell.
func TestInject(t *testing.T) {
	c := newParallelCLI(t)
	rec := c.keygen("key.txt")
	other := newCLI(t)
	other.keygen("other.txt")
	pw := secret(t, "pw")
	c.ok("DB_PASSWORD="+pw+"\n", "seal", "-r", rec, "-i", "-", "-o", "b.env")
	base := []string{"inject", "--bundle", "b.env", "--identity", "key.txt", "--no-access-log"}

	// Exec mode: the shell sees the value (compared by the shell itself, so
	// the value never travels back through argv) and no identity variable.
	r := c.run("", append(base, "--", "sh", "-c", `test -n "$DB_PASSWORD" && test -z "${SOPS_AGE_KEY_FILE+x}" && printf %s "$DB_PASSWORD"`)...)
	if r.code != 0 || r.stdout != pw {
		t.Errorf("exec mode: exit %d, child output matches the value: %v; stderr %q", r.code, r.stdout == pw, r.stderr)
	}

	// The exit status of the command is passed on, in both modes.
	for _, mode := range [][]string{nil, {"--supervise"}} {
		r = c.run("", append(append(base, mode...), "--", "sh", "-c", "exit 3")...)
		if r.code != 3 {
			t.Errorf("%v: exit %d, want 3 (stderr %q)", mode, r.code, r.stderr)
		}
	}

	// Redaction.
	r = c.run("", append(base, "--redact", "--", "sh", "-c", `echo "pw=$DB_PASSWORD"`)...)
	if r.code != 0 || r.stdout != "pw=[REDACTED:DB_PASSWORD]\n" {
		t.Errorf("redact: exit %d, stdout redacted: %v; stderr %q", r.code, r.stdout == "pw=[REDACTED:DB_PASSWORD]\n", r.stderr)
	}

	// Fail closed, with the injector's statuses.
	_, haveDefaultKey := os.Stat(inject.DefaultIdentityFile)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no identity", []string{"inject", "--bundle", "b.env", "--", "true"}, 125, "b.env: no identity"},
		{"wrong identity", []string{"inject", "--bundle", "b.env", "--identity", other.path("other.txt"), "--", "true"}, 125, "b.env: no identity matches"},
		{"not found", append(base, "--", "no-such-command-sealenv"), 127, "not found"},
		{"not executable", append(base, "--", "./b.env"), 126, "cannot execute"},
	} {
		if tc.name == "no identity" && haveDefaultKey == nil {
			continue // the machine has a default identity file
		}
		r := c.run("", tc.args...)
		if r.code != tc.code || !strings.HasPrefix(r.stderr, "sealenv: error: ") || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want %d and one line with %q", tc.name, r.code, r.stderr, tc.code, tc.want)
		}
		if strings.Contains(r.stderr, pw) {
			t.Errorf("%s: stderr shows the value", tc.name)
		}
	}
}

// TestInjectSharesTheInjectorsFlags: sealenv inject parses package inject's
// flag set, prints its usage text, and passes everything after "--" to the
// command untouched.
func TestInjectSharesTheInjectorsFlags(t *testing.T) {
	c := newParallelCLI(t)
	r := c.run("", "inject", "--help")
	if r.code != 0 || r.stdout != inject.Usage("sealenv inject") {
		t.Errorf("--help: exit %d, stdout %q", r.code, r.stdout)
	}
	r = c.run("", "inject", "--bogus", "--", "true")
	if r.code != inject.ExitFailure || !strings.Contains(r.stderr, "unknown flag --bogus") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("--bogus: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("", "inject", "--bundle", "b.env")
	if r.code != inject.ExitFailure || !strings.Contains(r.stderr, "no command") {
		t.Errorf("no command: exit %d, stderr %q", r.code, r.stderr)
	}

	rec := c.keygen("key.txt")
	c.ok("K="+secret(t, "v")+"\n", "seal", "-r", rec, "-i", "-", "-o", "b.env")
	r = c.run("", "inject", "--bundle", "b.env", "--identity", "key.txt", "--no-access-log", "--", "sh", "-c", `printf '%s ' "$@"`, "sh", "--bundle", "x", "--only")
	if r.code != 0 || r.stdout != "--bundle x --only " {
		t.Errorf("arguments after --: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestInjectLogsTheSSHRecipientThatOpened: with an SSH identity, the access
// line names the SSH public key that opened the bundle, derived from the
// key, not copied from the file.
func TestInjectLogsTheSSHRecipientThatOpened(t *testing.T) {
	c := newParallelCLI(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path("id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	recipient := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	other := newCLI(t).keygen("other.txt")
	c.ok("K="+secret(t, "v")+"\n", "seal", "-r", other, "-r", recipient, "-i", "-", "-o", "b.env")
	r := c.run("", "inject", "--bundle", "b.env", "--identity", "id_ed25519", "--", "true")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var line struct {
		Bundles []struct{ Recipient string } `json:"bundles"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stderr)), &line); err != nil || len(line.Bundles) != 1 {
		t.Fatalf("access line: %v: %q", err, r.stderr)
	}
	if line.Bundles[0].Recipient != recipient {
		t.Errorf("recipient = %q, want %q", line.Bundles[0].Recipient, recipient)
	}
}

// TestInjectRemovesSopsIdentityVariables: sealenv inject, like the slim
// injector, removes every variable through which sops v3.13.3 finds a
// private key or a command that prints one, and keeps its settings.
func TestInjectRemovesSopsIdentityVariables(t *testing.T) {
	c := newParallelCLI(t)
	rec := c.keygen("key.txt")
	c.ok("K="+secret(t, "v")+"\n", "seal", "-r", rec, "-i", "-", "-o", "b.env")
	identity := []string{"SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_SSH_PRIVATE_KEY_CMD", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY"}
	kept := []string{"SOPS_AGE_RECIPIENTS", "SOPS_PGP_FP", "GNUPGHOME"}
	for _, v := range identity {
		c.env = append(c.env, v+"=/nonexistent/"+strings.ToLower(v))
	}
	for _, v := range kept {
		c.env = append(c.env, v+"=kept")
	}
	for _, mode := range [][]string{nil, {"--supervise"}} {
		args := append([]string{"inject", "--bundle", "b.env", "--identity", "key.txt", "--no-access-log"}, mode...)
		r := c.run("", append(args, "--", "sh", "-c", "env | cut -d= -f1")...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", mode, r.code, r.stderr)
		}
		names := map[string]bool{}
		for _, n := range strings.Fields(r.stdout) {
			names[n] = true
		}
		for _, v := range identity {
			if names[v] {
				t.Errorf("%v: %s reached the command", mode, v)
			}
		}
		for _, v := range kept {
			if !names[v] {
				t.Errorf("%v: %s was removed; it is a setting, not a key", mode, v)
			}
		}
	}
}
