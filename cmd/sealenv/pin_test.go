package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGeneratorPinRefusesAnAttackersScript: the maintainers pin a
// generator script and commit it; an attacker's pull request changes the
// script only (scripts are often outside the files a CODEOWNERS rule
// guards). rotate --yes and rotate --due --yes refuse, show the diff since
// the pinned commit, name sealenv pin, run nothing and write nothing. After
// review, sealenv pin changes one line of the policy and rotate runs.
func TestGeneratorPinRefusesAnAttackersScript(t *testing.T) {
	c := newParallelCLI(t)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=Tester", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = c.dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path(".gitignore"), []byte("key.txt\n"), 0o644)
	os.MkdirAll(c.path("scripts"), 0o755)
	good := "#!/bin/sh\nhead -c 24 /dev/urandom | od -An -tx1 | tr -d ' \\n'\n"
	os.WriteFile(c.path("scripts/new-token.sh"), []byte(good), 0o755)
	policy := "version: 1\n# who may decrypt\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: " + r + "}]}\n" +
		"keys:\n  TOKEN:\n    max_age: 1ns\n    generator:\n      command: sh scripts/new-token.sh --length 40\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	c.ok("TOKEN=old\n", "seal", "-r", r, "-i", "-", "-o", "b.env")

	// Unpinned: refused, naming the one command.
	res := c.fails("sealenv pin TOKEN", "", "rotate", "b.env", "TOKEN", "--yes")
	if !strings.Contains(res.stderr, "not pinned") || !strings.Contains(res.stderr, "scripts/new-token.sh") {
		t.Errorf("unpinned refusal: %s", res.stderr)
	}
	out := c.ok("", "pin").stdout
	if !strings.Contains(out, "pinned keys.TOKEN") || !strings.Contains(out, "scripts/new-token.sh") {
		t.Errorf("pin output: %q", out)
	}
	pinned, _ := os.ReadFile(c.path("sealenv.yaml"))
	if added := strings.TrimPrefix(string(pinned), ""); !strings.Contains(added, "      sha256: ") || strings.Replace(string(pinned), lineWith(string(pinned), "sha256:"), "", 1) != policy {
		t.Fatalf("pin changed more than one line:\n%s", pinned)
	}
	if again := c.ok("", "pin").stdout; !strings.Contains(again, "unchanged keys.TOKEN") {
		t.Errorf("a second pin: %q", again)
	}
	git("add", "-A")
	git("commit", "-q", "-m", "token generator, reviewed and pinned")
	c.ok("", "rotate", "b.env", "TOKEN", "--yes")

	// The attacker's pull request: the script only.
	marker := c.path("ran")
	evil := "#!/bin/sh\ncat /proc/$PPID/environ > " + marker + "\nhead -c 24 /dev/urandom | od -An -tx1 | tr -d ' \\n'\n"
	os.WriteFile(c.path("scripts/new-token.sh"), []byte(evil), 0o755)
	git("commit", "-q", "-am", "tidy the token script")
	before := digest(t, c.path("b.env"))
	for _, args := range [][]string{{"rotate", "b.env", "TOKEN", "--yes"}, {"rotate", "--due", "--yes"}} {
		res := c.run("", args...)
		if res.code != 2 {
			t.Fatalf("%v: exit %d, want 2: %s", args, res.code, res.stderr)
		}
		lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "sealenv: error: ") || !strings.Contains(last, "changed since it was pinned") || !strings.Contains(last, "sealenv pin") {
			t.Errorf("%v: error line %q", args, last)
		}
		if !strings.Contains(res.stderr, "+cat /proc/$PPID/environ") || !strings.Contains(res.stderr, "scripts/new-token.sh") {
			t.Errorf("%v: the refusal does not show the script's diff:\n%s", args, res.stderr)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%v: the attacker's script ran", args)
		}
		if digest(t, c.path("b.env")) != before {
			t.Fatalf("%v: a refused generator changed the bundle", args)
		}
	}
	if dry := c.ok("", "rotate", "--due", "--dry-run").stdout; !strings.Contains(dry, "would be refused") || !strings.Contains(dry, "sealenv pin TOKEN") {
		t.Errorf("dry run of a changed script: %q", dry)
	}

	// A changed command in the policy, with the old pin: refused too.
	os.WriteFile(c.path("scripts/new-token.sh"), []byte(good), 0o755)
	changed := strings.Replace(string(pinned), "--length 40", "--length 40; id", 1)
	os.WriteFile(c.path("sealenv.yaml"), []byte(changed), 0o644)
	if res := c.run("", "rotate", "b.env", "TOKEN", "--yes"); res.code != 2 || !strings.Contains(res.stderr, "changed since it was pinned") {
		t.Errorf("a changed command: exit %d: %s", res.code, res.stderr)
	}
	// Reviewed: the old command back, and the script as pinned, run.
	os.WriteFile(c.path("sealenv.yaml"), pinned, 0o644)
	if dry := c.ok("", "rotate", "--due", "--dry-run").stdout; !strings.Contains(dry, "(pinned, sha256 matches)") {
		t.Errorf("dry run of the pinned command: %q", dry)
	}
	c.ok("", "rotate", "--due", "--yes")
	if digest(t, c.path("b.env")) == before {
		t.Fatal("the pinned generator did not rotate")
	}
}

// lineWith returns the whole line of s (with its newline) that holds sub.
func lineWith(s, sub string) string {
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
