package e2e

// `sealenv build` with what a `docker buildx build` user reaches for
// (issue 22): several tags, --push, --load into a Docker Engine,
// --build-context, --ssh, --iidfile, --metadata-file, --label, --network,
// buildx's --secret id=ID,env=KEY; progress redacted in every encoding the
// audit searches; build arguments with commas; heuristics that warn.

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/ssh"
)

// rawjsonLogs decodes what the rawjson progress display wrote: the steps'
// output, as its consumers read it.
func rawjsonLogs(progress string) string {
	var logs strings.Builder
	dec := json.NewDecoder(strings.NewReader(progress))
	for {
		var st struct{ Logs []struct{ Data []byte } }
		if err := dec.Decode(&st); err != nil {
			break
		}
		for _, l := range st.Logs {
			logs.Write(l.Data)
		}
	}
	return logs.String()
}

func TestSealBuildProgressEncodings(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	v := f.Values["API_TOKEN"]
	base := e.MakeRootfs(t, Rootfs{Shell: true})
	// What a debug step or curl -v prints: base64, a hex dump, an
	// Authorization: Basic header. printf only, no network.
	df := "FROM base\n" +
		"RUN --mount=type=secret,id=API_TOKEN,env=T printf '%s' \"$T\" | base64 && " +
		"printf '%s' \"$T\" | od -A n -v -t x1 | tr -d ' \\n' && echo && " +
		"printf '> Authorization: Basic %s\\r\\n' \"$(printf 'ci:%s' \"$T\" | base64)\"\n"
	forms := map[string]string{
		"base64":           base64.StdEncoding.EncodeToString([]byte(v)),
		"hex":              hex.EncodeToString([]byte(v)),
		"basic auth":       base64.StdEncoding.EncodeToString([]byte("ci:" + v)),
		"base64 (no tail)": strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(v)), "=")[:len(v)*4/3-2],
	}
	for _, mode := range []string{"plain", "rawjson"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := sealBuild(t, e, f, SealBuild{Dockerfile: df, Flags: []string{"--no-cache", "--progress", mode, "--build-context", "base=" + base}})
			r.want(t, 0)
			text := r.Stderr
			if mode == "rawjson" {
				text = rawjsonLogs(r.Stderr)
			}
			for what, s := range forms {
				if strings.Contains(r.Stderr, s) || strings.Contains(text, s) {
					t.Errorf("the %s progress shows the value's %s", mode, what)
				}
			}
			// Y2k6 is base64 of "ci:", which holds nothing of the value.
			if n := strings.Count(text, "[REDACTED:API_TOKEN]"); n < 3 || !strings.Contains(text, "Authorization: Basic Y2k6[REDACTED:API_TOKEN]") {
				// Shown with every form masked: a failure never prints one.
				masked := text
				for what, s := range forms {
					masked = strings.ReplaceAll(masked, s, "<"+what+">")
				}
				masked = strings.ReplaceAll(masked, v, "<value>")
				t.Errorf("%d redactions in the %s progress, want 3 and the header redacted:\n%s", n, mode, tail(masked, 12))
			}
		})
	}
}

func TestSealBuildArguments(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)

	t.Run("a comma in a build argument", func(t *testing.T) {
		t.Parallel()
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM scratch\nARG NO_PROXY\nARG X\nARG y\nLABEL np=$NO_PROXY x=$X y=${y:-unset}\nCOPY probe /probe\n",
			Flags:      []string{"--build-arg", "NO_PROXY=localhost,127.0.0.1", "--build-arg", "X=a,y=z"},
		})
		r.want(t, 0)
		labels := ReadArchive(t, r.DestPath).Config(t).Config.Labels
		if labels["np"] != "localhost,127.0.0.1" || labels["x"] != "a,y=z" || labels["y"] != "unset" {
			t.Errorf("labels %v: want np=localhost,127.0.0.1 x=a,y=z and no build argument y", labels)
		}
	})

	t.Run("a heuristic finding warns and the clean image is written", func(t *testing.T) {
		t.Parallel()
		base := e.MakeRootfs(t, Rootfs{Shell: true})
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM base\nRUN --mount=type=secret,id=API_TOKEN sha256sum < /run/secrets/API_TOKEN > /out\n",
			Flags:      []string{"--build-context", "base=" + base},
		})
		r.want(t, 0)
		if !strings.Contains(r.Stderr, "warning: ") || !strings.Contains(r.Stderr, "secret-mount-persisted") {
			t.Errorf("no warning:\n%s", tail(r.Stderr, 10))
		}
		a := ReadArchive(t, r.DestPath)
		cfg := a.Config(t)
		out := string(a.LayerFiles(t, cfg.Layers[len(cfg.Layers)-1])["out"])
		if !strings.HasPrefix(out, sha256Hex(f.Values["API_TOKEN"])) {
			t.Errorf("/out holds %q, want the hash", out)
		}
	})

	t.Run("buildx's --secret id=ID,env=KEY serves KEY under ID", func(t *testing.T) {
		t.Parallel()
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nRUN --mount=type=secret,id=NPM_AUTH,env=NPM_AUTH [\"/probe\", \"hash-env\", \"NPM_AUTH\", \"/npm.sha256\"]\n",
			Flags:      []string{"--secret", "id=NPM_AUTH,env=API_TOKEN"},
		})
		r.want(t, 0)
		if got := tokenHash(t, r, "npm.sha256"); got != sha256Hex(f.Values["API_TOKEN"]) {
			t.Errorf("the step got %q, want the hash of API_TOKEN", got)
		}
	})

	t.Run("--label and a named --build-context", func(t *testing.T) {
		t.Parallel()
		extra := t.TempDir()
		writeFile(t, filepath.Join(extra, "motd"), []byte("hello\n"), 0o644)
		r := sealBuild(t, e, f, SealBuild{
			Dockerfile: "FROM scratch\nCOPY --from=extra motd /etc/motd\n",
			Flags:      []string{"--label", "org.example.team=payments", "--label", "list=a,b", "--build-context", "extra=" + extra},
		})
		r.want(t, 0)
		a := ReadArchive(t, r.DestPath)
		cfg := a.Config(t)
		if l := cfg.Config.Labels; l["org.example.team"] != "payments" || l["list"] != "a,b" {
			t.Errorf("labels %v", l)
		}
		if got := string(a.LayerFiles(t, cfg.Layers[len(cfg.Layers)-1])["etc/motd"]); got != "hello\n" {
			t.Errorf("/etc/motd from the named context: %q", got)
		}
	})

	t.Run("--network none", func(t *testing.T) {
		t.Parallel()
		df := "FROM scratch\nCOPY probe /probe\nRUN [\"/probe\", \"cat\", \"/proc/net/dev\"]\n"
		ifaces := func(progress string) int {
			n := 0
			for _, l := range strings.Split(progress, "\n") {
				if strings.Contains(l, ":") && strings.Contains(l, "  ") && !strings.Contains(l, "|") && !strings.Contains(l, "Inter-") {
					if fs := strings.Fields(l); len(fs) > 2 && strings.HasSuffix(fs[2], ":") {
						n++
					}
				}
			}
			return n
		}
		none := sealBuild(t, e, f, SealBuild{Dockerfile: df, Flags: []string{"--no-cache", "--network", "none"}})
		none.want(t, 0)
		def := sealBuild(t, e, f, SealBuild{Dockerfile: df, Flags: []string{"--no-cache"}})
		def.want(t, 0)
		if n := ifaces(none.Stderr); n != 1 || !strings.Contains(none.Stderr, " lo:") {
			t.Errorf("--network none: %d interfaces, want lo only:\n%s", n, tail(none.Stderr, 12))
		}
		if n := ifaces(def.Stderr); n < 2 {
			t.Errorf("the harness's default (host) network shows %d interfaces; the comparison proves nothing", n)
		}
	})

	t.Run("--ssh forwards a key and RUN --mount=type=ssh without it is an error", func(t *testing.T) {
		t.Parallel()
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(t.TempDir(), "id_ed25519")
		writeFile(t, key, pem.EncodeToMemory(block), 0o600)
		sshPub, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		df := "FROM scratch\nCOPY probe /probe\nRUN --mount=type=ssh [\"/probe\", \"agent-keys\"]\n"
		r := sealBuild(t, e, f, SealBuild{Dockerfile: df, Flags: []string{"--no-cache", "--ssh", "default=" + key}})
		r.want(t, 0)
		if !strings.Contains(r.Stderr, ssh.FingerprintSHA256(sshPub)) {
			t.Errorf("the step's agent does not hold the key:\n%s", tail(r.Stderr, 12))
		}
		r = sealBuild(t, e, f, SealBuild{Dockerfile: df})
		r.want(t, 2)
		r.noDest(t)
		if !strings.Contains(r.Stderr, "RUN --mount=type=ssh") || !strings.Contains(r.Stderr, "--ssh default") {
			t.Errorf("stderr: %s", tail(r.Stderr, 3))
		}
	})

	t.Run("buildx's -o type=oci and dest=FILE", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "img.tar")
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, NoOutput: true, Flags: []string{"-o", "type=oci,dest=" + out}})
		r.want(t, 0)
		f.ExpectClean(t, "oci-archive:"+out)
	})
}

func TestSealBuildPushLoad(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	leakDF := "FROM scratch\nCOPY probe /probe\nRUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN [\"/probe\", \"save-env\", \"API_TOKEN\", \"/srv/token\"]\n"
	readMeta := func(t *testing.T, p string) map[string]any {
		t.Helper()
		var m map[string]any
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("metadata file: %v", err)
		}
		return m
	}

	t.Run("two tags pushed with --iidfile and --metadata-file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		iid, meta := filepath.Join(dir, "iid"), filepath.Join(dir, "meta.json")
		t1, t2 := host+"/team/app:1", host+"/team/app:latest"
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, NoOutput: true,
			Flags: []string{"-t", t1, "-t", t2, "--push", "--iidfile", iid, "--metadata-file", meta}})
		r.want(t, 0)
		m := readMeta(t, meta)
		digest, _ := m["containerimage.digest"].(string)
		config, _ := m["containerimage.config.digest"].(string)
		for _, tag := range []string{t1, t2} {
			ref, err := name.ParseReference(tag)
			if err != nil {
				t.Fatal(err)
			}
			d, err := remote.Head(ref)
			if err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
			if d.Digest.String() != digest {
				t.Errorf("%s has %s, the metadata says %s", tag, d.Digest, digest)
			}
			img, err := remote.Image(ref)
			if err != nil {
				t.Fatal(err)
			}
			if c, _ := img.ConfigName(); c.String() != config {
				t.Errorf("%s: config %s, the metadata says %s", tag, c, config)
			}
		}
		if got, _ := os.ReadFile(iid); string(got) != config {
			t.Errorf("iidfile %q, want the config digest %s", got, config)
		}
		if m["image.name"] != t1+","+t2 {
			t.Errorf("image.name %v", m["image.name"])
		}
		a, _ := m["sealenv.audit"].(map[string]any)
		if a["clean"] != true || a["complete"] != true || a["findings"] != float64(0) || a["known_values"] != float64(len(f.Names)) {
			t.Errorf("sealenv.audit %v", a)
		}
	})

	t.Run("a leaky image is not pushed", func(t *testing.T) {
		t.Parallel()
		meta := filepath.Join(t.TempDir(), "meta.json")
		tag := host + "/team/leaky:1"
		r := sealBuild(t, e, f, SealBuild{Dockerfile: leakDF, NoOutput: true, Flags: []string{"-t", tag, "--push", "--metadata-file", meta}})
		r.want(t, 1)
		ref, _ := name.ParseReference(tag)
		if _, err := remote.Head(ref); err == nil {
			t.Errorf("%s was pushed", tag)
		}
		if _, err := os.Stat(meta); err == nil {
			t.Errorf("the metadata file was written for an image that was not")
		}
	})

	t.Run("--load into a Docker Engine under two tags", func(t *testing.T) {
		t.Parallel()
		d := needDocker(t)
		iid := filepath.Join(t.TempDir(), "iid")
		env := []string{"DOCKER_HOST=" + d.Host}
		r := sealBuild(t, e, f, SealBuild{Dockerfile: hashTokenDockerfile, NoOutput: true, Env: env,
			Flags: []string{"-t", "sealenv-e2e/load:1", "-t", "sealenv-e2e/load:2", "--load", "--iidfile", iid}})
		r.want(t, 0)
		want, _ := os.ReadFile(iid)
		for _, tag := range []string{"sealenv-e2e/load:1", "sealenv-e2e/load:2"} {
			if got := d.ImageID(t, tag); got != string(want) {
				t.Errorf("docker image inspect %s: %s, want the image ID %s", tag, got, want)
			}
		}
		out := d.Run(t, "run", "--rm", "--network", "none", "sealenv-e2e/load:1", "/probe", "cat", "/token.sha256")
		if out != sha256Hex(f.Values["API_TOKEN"]) {
			t.Errorf("the loaded image runs and prints %q, want the hash", out)
		}

		// A leak is never loaded.
		r = sealBuild(t, e, f, SealBuild{Dockerfile: leakDF, NoOutput: true, Env: env, Flags: []string{"-t", "sealenv-e2e/leaky:1", "--load"}})
		r.want(t, 1)
		if _, _, code := d.Try("image", "inspect", "sealenv-e2e/leaky:1"); code == 0 {
			t.Errorf("the leaky image was loaded")
		}
	})

	t.Run("wrap into a Docker Engine", func(t *testing.T) {
		t.Parallel()
		d := needDocker(t)
		src := sealBuild(t, e, f, SealBuild{Dockerfile: "FROM scratch\nCOPY probe /probe\nCMD [\"/probe\", \"env\"]\n"})
		src.want(t, 0)
		inj := e.GoBuild(t, "../cmd/sealenv-inject")
		dir := t.TempDir()
		res := f.Run(t, dir, nil, []string{"DOCKER_HOST=" + d.Host}, "wrap", "oci-archive:"+src.DestPath, "docker-daemon:sealenv-e2e/wrapped:1",
			"--bundle", f.Bundle, "--injector", inj, "--audit", "--identity", f.Key)
		if res.Code != 0 {
			t.Fatalf("sealenv wrap: exit %d: %s", res.Code, res.Stderr)
		}
		if id := d.ImageID(t, "sealenv-e2e/wrapped:1"); !strings.HasPrefix(id, "sha256:") {
			t.Fatalf("image ID %q", id)
		}
		out, stderr, code := d.Try("run", "--rm", "--network", "none",
			"--mount", "type=bind,src="+f.Key+",dst=/run/secrets/sealenv_age_key,readonly", "sealenv-e2e/wrapped:1")
		if code != 0 {
			t.Fatalf("docker run: exit %d: %s", code, oneLine([]byte(stderr)))
		}
		// Compared, never shown.
		for _, n := range f.Names {
			if !strings.Contains(out, n+"="+f.Values[n]+"\n") {
				t.Errorf("the wrapped image's app did not get %s", n)
			}
		}
		// A name no engine takes is refused before anything is loaded.
		res = f.Run(t, dir, nil, []string{"DOCKER_HOST=" + d.Host}, "wrap", "oci-archive:"+src.DestPath, "docker-daemon:Not A Name",
			"--bundle", f.Bundle, "--injector", inj)
		if res.Code != 2 {
			t.Errorf("wrap to an invalid name: exit %d", res.Code)
		}
	})
}
