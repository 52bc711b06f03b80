package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGeneratorCannotReadTheKeys: rotate --yes, as the scheduled CI job
// runs it, with the identity and the signing key in sealenv's environment.
// The policy's generator is a script that looks for them everywhere a
// command of the same user can: its own environment, /proc/$PPID/environ,
// and /proc/PID/environ of every ancestor. It finds neither.
func TestGeneratorCannotReadTheKeys(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	ageKey := ""
	raw, err := os.ReadFile(c.path("key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "AGE-SECRET-KEY-") {
			ageKey = l
		}
	}
	if ageKey == "" {
		t.Fatal("keygen wrote no AGE-SECRET-KEY line")
	}
	if err := os.Remove(c.path("key.txt")); err != nil { // the key is only in the environment now
		t.Fatal(err)
	}
	signPath := c.path("sign")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", signPath).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v: %s", err, out)
	}
	signKey, err := os.ReadFile(signPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(signPath)
	// A line of the private key's body, which nothing but the key holds.
	signLines := strings.Split(strings.TrimSpace(string(signKey)), "\n")
	signMark := signLines[len(signLines)/2]
	c.env = append(c.env, "SEALENV_AGE_KEY="+ageKey, "SEALENV_SIGN_KEY="+string(signKey))

	probe := c.path("probe.out")
	script := `#!/bin/sh
out="` + probe + `"
{
  echo "== own env"; env
  echo "== parent"; cat /proc/$PPID/environ
  pid=$PPID
  while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
    echo "== ancestor $pid"; cat /proc/$pid/environ
    pid=$(sed 's/.*) //' /proc/$pid/stat | cut -d' ' -f2)
  done
  echo "== done"
} > "$out" 2>&1
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
`
	if err := os.WriteFile(c.path("gen.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.ok("TOKEN=old\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: b.env, recipients: [{key: "+r+"}]}\n"+
		"keys:\n  TOKEN:\n    generator: {command: ./gen.sh}\n    max_age: 1ns\n"), 0o644)
	c.ok("", "pin")
	before := digest(t, c.path("b.env"))
	for _, args := range [][]string{{"rotate", "b.env", "TOKEN", "--yes"}, {"rotate", "--due", "--yes"}} {
		os.Remove(probe)
		c.ok("", args...)
		got, err := os.ReadFile(probe)
		if err != nil {
			t.Fatalf("%v: the generator wrote no probe: %v", args, err)
		}
		report := string(got)
		if !strings.Contains(report, "== done") || strings.Count(report, "== ancestor") < 2 {
			t.Fatalf("%v: the probe did not walk sealenv and its parent:\n%s", args, strings.ReplaceAll(report, ageKey, "[AGE KEY]"))
		}
		for what, v := range map[string]string{"the age identity": ageKey, "the signing key": signMark} {
			if strings.Contains(report, v) {
				t.Errorf("%v: the generator read %s", args, what)
			}
		}
		for _, name := range []string{"SEALENV_AGE_KEY=", "SEALENV_SIGN_KEY="} {
			if strings.Contains(report, name) {
				t.Errorf("%v: the generator saw %s", args, name)
			}
		}
	}
	if digest(t, c.path("b.env")) == before {
		t.Fatal("rotate did not write the bundle")
	}
	os.Remove(probe)
}
