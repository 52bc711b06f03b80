package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSymlinkedBundleSignature: a bundle reached through a symbolic link
// (current.env -> secrets/prod.env) has its signature next to the target,
// and the injector, show and check find the same one: alice's, which the
// injector accepts; a signature by another key planted next to the link
// is read by none of them.
func TestSymlinkedBundleSignature(t *testing.T) {
	r := newSignedRepo(t)
	b := "secrets/prod.env"
	r.ok("A="+strongSecret(t)+"\n", "seal", "--env", "prod", "-i", "-", "--sign-key", r.alice.Path)
	if err := os.Symlink(b, r.path("current.env")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(r.path(b))
	os.WriteFile(r.path("current.env.sig"), r.other.Sign(t, "bundle@sealenv.github.io", data), 0o644)

	inject := func() result {
		cmd := exec.Command(injectorBinary(t), "--bundle", "current.env", "--signers", r.allowed, "--", "/usr/bin/env")
		cmd.Dir = r.dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
		return r.result(cmd)
	}
	if res := inject(); res.code != 0 {
		t.Fatalf("injector through the link: exit %d: %s", res.code, res.stderr)
	}
	var sj struct {
		Signature struct {
			Status     string
			Principals []string
		}
	}
	out := r.ok("", "show", "--format", "json", "current.env").stdout
	if err := json.Unmarshal([]byte(out), &sj); err != nil {
		t.Fatal(err)
	}
	if sj.Signature.Status != "good" || strings.Join(sj.Signature.Principals, ",") != "alice@example.com" {
		t.Errorf("show through the link: %+v", sj.Signature)
	}
	// The target's signature gone: both say unsigned, neither takes the
	// one next to the link.
	os.Remove(r.path(b + ".sig"))
	if res := inject(); res.code != 125 || !strings.Contains(res.stderr, "prod.env.sig") {
		t.Errorf("injector without the target's signature: exit %d: %s", res.code, res.stderr)
	}
	if err := json.Unmarshal([]byte(r.ok("", "show", "--format", "json", "current.env").stdout), &sj); err != nil || sj.Signature.Status != "none" {
		t.Errorf("show without the target's signature: %+v %v", sj.Signature, err)
	}
}
