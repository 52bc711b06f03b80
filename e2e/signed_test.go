package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal/signature"
)

// Scenario 8 (issue 16): signed bundles. A repository whose policy says
// alice signs prod: sealenv wrap puts the allowed signers into the image,
// which podman starts with the genuine, signed bundle (the access line
// names alice) and refuses, exit 125 before the app runs, with a forged
// bundle, written by someone who knows only the public recipient: next to
// alice's signature, or signed by the forger. wrap itself refuses to seal
// the forgery.
func TestScenarioSignedWrap(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	inj := e.GoBuild(t, "../cmd/sealenv-inject")
	app := e.GoBuild(t, "../examples/app")
	img := e.Build(t, Build{Dockerfile: "FROM scratch\nCOPY app /app\nUSER 65532:65532\nENTRYPOINT [\"/app\"]\nCMD [\"--serve\", \"DATABASE_URL\", \"API_TOKEN\"]\n",
		Copy: map[string]string{"app": app}, Output: "docker"})

	repo, alice, mallory := signedRepo(t, f)

	dest := filepath.Join(t.TempDir(), "signed.tar")
	res := f.Run(t, repo, nil, nil, "wrap", img.Ref, "docker-archive:"+dest+":sealenv-e2e-signed", "--bundle", "secrets/prod.env", "--injector", inj)
	if res.Code != 0 {
		t.Fatalf("sealenv wrap: exit %d: %s", res.Code, res.Stderr)
	}
	cfg := dockerArchiveConfig(t, dest)
	if got := strings.Join(cfg.Config.Entrypoint, " "); !strings.Contains(got, " --signers /etc/sealenv/allowed_signers ") {
		t.Errorf("Entrypoint %q does not name the allowed signers", got)
	}
	name := e.Load(t, Image{Archive: dest, Ref: "docker-archive:" + dest})

	t.Run("genuine bundle starts", func(t *testing.T) {
		c := e.Start(t, Run{Image: name, Secrets: map[string][]byte{identityName: f.KeyText}})
		c.WaitForLog(t, serving)
		stdout, stderr := c.Logs(t)
		f.SeesAll(t, stdout)
		f.NoValues(t, "the container's stderr", stderr)
		b := accessLine(t, stderr)["bundles"].([]any)[0].(map[string]any)
		signer, _ := b["signer"].(map[string]any)
		if signer == nil || signer["key"] != "ssh-ed25519 "+alice.Fingerprint() || signer["principals"].([]any)[0] != "alice@example.com" {
			t.Errorf("access line signer %v, want alice", b["signer"])
		}
	})

	forged, attacker := forge(t, f)
	for _, tc := range []struct {
		name   string
		files  map[string][]byte
		reason string
	}{
		{"forged bundle, alice's signature", map[string][]byte{"/etc/sealenv/bundle.env": forged},
			"/etc/sealenv/bundle.env: bad signature: does not match the bundle"},
		{"forged bundle, signed by the forger", map[string][]byte{"/etc/sealenv/bundle.env": forged, "/etc/sealenv/bundle.env.sig": mallory.Sign(t, signature.Namespace, forged)},
			"/etc/sealenv/bundle.env: signer not allowed: ssh-ed25519 " + mallory.Fingerprint() + " is not an allowed signer"},
		{"forged bundle, alice's key signing for git", map[string][]byte{"/etc/sealenv/bundle.env": forged, "/etc/sealenv/bundle.env.sig": alice.Sign(t, "git", forged)},
			`/etc/sealenv/bundle.env: bad signature: made for namespace "git"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.Run(t, Run{Image: name, Secrets: map[string][]byte{identityName: f.KeyText}, Files: tc.files})
			if res.ExitCode != 125 || res.Stdout != "" {
				t.Errorf("exit %d, stdout %q; want 125 and the app never started", res.ExitCode, res.Stdout)
			}
			if strings.Contains(res.Stderr, attacker) || strings.Contains(res.Stdout, attacker) {
				t.Error("the forged value reached the container's output")
			}
			lines := strings.Split(strings.TrimRight(res.Stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "sealenv-inject: error: "+tc.reason) {
				t.Errorf("stderr %q, want one line: sealenv-inject: error: %s...", res.Stderr, tc.reason)
			}
		})
	}

	t.Run("wrap refuses the forgery", func(t *testing.T) {
		writeFile(t, filepath.Join(repo, "secrets/prod.env"), forged, 0o644)
		out := filepath.Join(t.TempDir(), "forged.tar")
		res := f.Run(t, repo, nil, nil, "wrap", img.Ref, "docker-archive:"+out, "--bundle", "secrets/prod.env", "--injector", inj)
		if res.Code != 2 || !strings.Contains(res.Stderr, "bad signature") {
			t.Errorf("sealenv wrap of the forged bundle: exit %d, stderr %q; want 2, bad signature", res.Code, res.Stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Error("written despite the refusal")
		}
		check := f.Run(t, repo, nil, nil, "check", "--no-identity")
		if check.Code != 1 || !strings.Contains(check.Stdout, "bad-signature") {
			t.Errorf("sealenv check: exit %d, stdout %q", check.Code, check.Stdout)
		}
	})
}

// signedRepo is a repository whose policy says alice signs prod, with the
// fixture's bundle signed by her (sealenv sign); mallory is anyone else.
func signedRepo(t *testing.T, f *Fixture) (repo string, alice, mallory *signtest.Key) {
	t.Helper()
	keys := t.TempDir()
	alice = signtest.NewKey(t, keys, "alice", "ed25519")
	mallory = signtest.NewKey(t, keys, "mallory", "ed25519")
	repo = t.TempDir()
	writeFile(t, filepath.Join(repo, "sealenv.yaml"), []byte("version: 1\nenvironments:\n  - name: prod\n    bundle: secrets/prod.env\n"+
		"    recipients: [{key: "+f.Recipient+"}]\n    signers:\n      - {principal: alice@example.com, key: "+alice.Public+"}\n"), 0o644)
	genuine, err := os.ReadFile(f.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "secrets/prod.env"), genuine, 0o644)
	if res := f.Run(t, repo, nil, nil, "sign", "secrets/prod.env", "--sign-key", alice.Path); res.Code != 0 {
		t.Fatalf("sealenv sign: exit %d: %s", res.Code, res.Stderr)
	}
	return repo, alice, mallory
}

// forge writes what someone who knows only the public recipient can: a
// valid bundle with a DATABASE_URL of their choosing.
func forge(t *testing.T, f *Fixture) (forged []byte, attacker string) {
	t.Helper()
	dir := t.TempDir()
	attacker = "postgres://app:" + randomValue(t, 12) + "@attacker.example/app"
	res := f.Run(t, dir, []byte("DATABASE_URL="+attacker+"\nAPI_TOKEN="+randomValue(t, 16)+"\n"), nil,
		"seal", "-r", f.Recipient, "-i", "-", "-o", filepath.Join(dir, "prod.env"))
	if res.Code != 0 {
		t.Fatalf("the forger's seal: exit %d: %s", res.Code, res.Stderr)
	}
	forged, err := os.ReadFile(filepath.Join(dir, "prod.env"))
	if err != nil {
		t.Fatal(err)
	}
	return forged, attacker
}

// Scenario 9: Dockerfile.example with its two lines for signed bundles
// uncommented, as its comment says, builds with the policy's allowed
// signers (sealenv signers) and the bundle's signature; the image starts
// with the genuine bundle and refuses a forged one, exit 125.
func TestScenarioSignedDockerfile(t *testing.T) {
	e := need(t)
	f := fixture(t, e)
	repo, alice, _ := signedRepo(t, f)
	if res := f.Run(t, repo, nil, nil, "signers", "--env", "prod", "-o", "allowed_signers"); res.Code != 0 {
		t.Fatalf("sealenv signers: exit %d: %s", res.Code, res.Stderr)
	}
	b := exampleBuild(t, e, f)
	dockerfile := b.Dockerfile
	for _, line := range []string{"COPY secrets/prod.env.sig /etc/sealenv/bundle.env.sig", "COPY allowed_signers /etc/sealenv/allowed_signers"} {
		if !strings.Contains(dockerfile, "\n#"+line+"\n") {
			t.Fatalf("Dockerfile.example has no commented line %q", line)
		}
		dockerfile = strings.Replace(dockerfile, "\n#"+line+"\n", "\n"+line+"\n", 1)
	}
	b.Dockerfile = dockerfile
	b.Copy["secrets/prod.env"] = filepath.Join(repo, "secrets/prod.env")
	b.Copy["secrets/prod.env.sig"] = filepath.Join(repo, "secrets/prod.env.sig")
	b.Copy["allowed_signers"] = filepath.Join(repo, "allowed_signers")
	name := e.Load(t, e.Build(t, b))

	res := e.Run(t, Run{Image: name, Cmd: []string{"/app", "DATABASE_URL", "API_TOKEN"}, Secrets: map[string][]byte{identityName: f.KeyText}})
	if res.ExitCode != 0 {
		t.Fatalf("genuine bundle: exit %d: %s", res.ExitCode, res.Stderr)
	}
	f.SeesAll(t, res.Stdout)
	if !strings.Contains(res.Stderr, `"signer":{"principals":["alice@example.com"],"key":"ssh-ed25519 `+alice.Fingerprint()+`"}`) {
		t.Errorf("the access line does not name alice: %s", res.Stderr)
	}
	forged, attacker := forge(t, f)
	res = e.Run(t, Run{Image: name, Cmd: []string{"/app", "DATABASE_URL"}, Secrets: map[string][]byte{identityName: f.KeyText},
		Files: map[string][]byte{"/etc/sealenv/bundle.env": forged}})
	if res.ExitCode != 125 || res.Stdout != "" || strings.Contains(res.Stderr, attacker) {
		t.Errorf("forged bundle: exit %d, stdout %q; want 125 and the app never started", res.ExitCode, res.Stdout)
	}
	if !strings.HasPrefix(res.Stderr, "sealenv-inject: error: /etc/sealenv/bundle.env: bad signature: does not match the bundle") {
		t.Errorf("stderr %q", res.Stderr)
	}
}
