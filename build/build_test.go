package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
)

var key16 = []byte("0123456789abcdef")

func value(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "v-" + hex.EncodeToString(b)
}

// buildDir makes a context with a Dockerfile and returns valid options
// around it, with an address nothing listens on.
func buildDir(t *testing.T, dockerfile string) Options {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return Options{
		Context: dir,
		Addr:    "unix://" + filepath.Join(t.TempDir(), "none.sock"),
		Dests:   []imageref.Ref{{Transport: imageref.OCI, Path: filepath.Join(t.TempDir(), "out")}},
	}
}

func TestCheck(t *testing.T) {
	exists := t.TempDir()
	for _, tc := range []struct {
		name string
		edit func(o *Options)
		want string
		is   error
	}{
		{"no context", func(o *Options) { o.Context = "" }, "no build context", nil},
		{"missing context", func(o *Options) { o.Context += "/nope" }, "no such file", nil},
		{"missing Dockerfile", func(o *Options) { o.Dockerfile = filepath.Join(o.Context, "Other") }, "Dockerfile", nil},
		{"provenance", func(o *Options) { o.Provenance = "full" }, "provenance mode", nil},
		{"progress", func(o *Options) { o.Progress = "fancy" }, "progress", nil},
		{"no address", func(o *Options) { o.Addr = "" }, "", ErrNoAddress},
		{"address without scheme", func(o *Options) { o.Addr = "/run/buildkit/buildkitd.sock" }, "want SCHEME://", nil},
		{"plaintext tcp", func(o *Options) { o.Addr = "tcp://10.0.0.1:1234" }, "", ErrPlaintextTCP},
		{"certificate without key", func(o *Options) { o.TLS.CACert, o.TLS.Cert = "ca.pem", "cert.pem" }, "", ErrTLSPair},
		{"key without certificate", func(o *Options) { o.TLS.Key = "key.pem" }, "", ErrTLSPair},
		{"docker-archive, two platforms", func(o *Options) {
			o.Dests = []imageref.Ref{{Transport: imageref.DockerArchive, Path: "x.tar"}}
			o.Platforms = []string{"linux/amd64", "linux/arm64"}
		}, "", ErrDockerArchive},
		{"docker-archive, provenance", func(o *Options) {
			o.Dests = []imageref.Ref{{Transport: imageref.DockerArchive, Path: "x.tar"}}
			o.Provenance = "min"
		}, "", ErrDockerArchive},
		{"docker-daemon, two platforms", func(o *Options) {
			o.Dests = append(o.Dests, imageref.Ref{Transport: imageref.DockerDaemon, Name: "app:1"})
			o.Platforms = []string{"linux/amd64", "linux/arm64"}
		}, "", ErrDockerArchive},
		{"docker-daemon, a digest", func(o *Options) {
			o.Dests = []imageref.Ref{{Transport: imageref.DockerDaemon, Name: "app@sha256:" + strings.Repeat("a", 64)}}
		}, "want NAME[:TAG]", nil},
		{"bare path destination", func(o *Options) { o.Dests = []imageref.Ref{{Path: "x"}} }, "not a destination", nil},
		{"docker-daemon, an engine over tcp", func(o *Options) {
			o.Dests = []imageref.Ref{{Transport: imageref.DockerDaemon, Name: "app:1"}}
			o.DaemonHost = "tcp://u:pw@docker.example.com:2376"
		}, "engine address tcp://docker.example.com:2376: only unix://", nil},
		{"destination exists", func(o *Options) { o.Dests[0].Path = exists }, "", imageref.ErrDestinationUsed},
		{"secret without a name", func(o *Options) { o.Secrets = []Secret{{Value: []byte("x"), Key: key16}} }, "no name", nil},
		{"secret too large", func(o *Options) { o.Secrets = []Secret{{Name: "BIG", Value: make([]byte, 600<<10), Key: key16}} }, "BIG", nil},
		{"secret without a cache key", func(o *Options) { o.Secrets = []Secret{{Name: "K", Value: []byte("x")}} }, "", ErrNoCacheKey},
		{"network", func(o *Options) { o.Network = "bridge" }, "network", nil},
		{"cache type", func(o *Options) { o.CacheTo = []Cache{{Type: "gha", Attrs: map[string]string{}}} }, "", ErrCacheType},
		{"cache without ref", func(o *Options) { o.CacheTo = []Cache{{Type: "registry", Attrs: map[string]string{}}} }, "no ref=REF", nil},
		{"cache mode", func(o *Options) {
			o.CacheTo = []Cache{{Type: "local", Attrs: map[string]string{"dest": "d", "mode": "all"}}}
		}, "mode", nil},
		{"cache import that is no cache", func(o *Options) {
			o.CacheFrom = []Cache{{Type: "local", Attrs: map[string]string{"src": exists}}}
		}, "no index.json", nil},
		{"named context missing", func(o *Options) { o.Contexts = map[string]string{"lib": o.Context + "/nope"} }, "build context lib", nil},
		{"named context URL", func(o *Options) { o.Contexts = map[string]string{"lib": "https://u:pw@example.com/x.git"} }, "https://example.com/x.git", nil},
		{"SSH twice", func(o *Options) { o.SSH = []SSH{{}, {ID: "default"}} }, "given twice", nil},
		{"declared name that is no variable name", func(o *Options) { o.Names = []string{"API_TOKEN", "NOT-A-NAME"} }, `declared name "NOT-A-NAME"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := buildDir(t, "FROM scratch\n")
			tc.edit(&o)
			err := o.Check()
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q / %v", err, tc.want, tc.is)
			}
		})
	}
	o := buildDir(t, "FROM scratch\n")
	o.Dests[0].Path = exists
	o.Replace = true
	if err := o.Check(); err != nil {
		t.Errorf("Replace: %v", err)
	}
	if o.Dockerfile != filepath.Join(o.Context, "Dockerfile") {
		t.Errorf("default Dockerfile %q", o.Dockerfile)
	}
	o.Addr, o.TLS.CACert = "tcp://10.0.0.1:1234", "ca.pem"
	if err := o.Check(); err != nil {
		t.Errorf("tcp with TLS: %v", err)
	}
}

// Precise findings of the lint or of the build arguments end the build
// before BuildKit is contacted: the address here answers nothing, so
// reaching it would be an error. Heuristic findings only warn.
func TestFindingsBeforeTheBuild(t *testing.T) {
	v := value(t)
	ao := audit.Options{Values: []audit.Value{{Name: "API_TOKEN", Value: []byte(v)}}, SealedNames: []string{"API_TOKEN"}}

	o := buildDir(t, "FROM scratch\nARG VERSION\n")
	o.BuildArgs = map[string]string{"VERSION": v}
	o.Audit = ao
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Built || res.Written || res.Report.Clean() || res.Report.Findings[0].Where != "build-arg" {
		t.Errorf("result %+v, findings %+v", res, res.Report.Findings)
	}

	// A sealed value as an ARG default.
	o = buildDir(t, "FROM scratch\nARG API_TOKEN="+v+"\n")
	o.Audit = ao
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Built || !hasRule(res.Report.Findings, "sealed-value") {
		t.Errorf("result %+v, findings %+v", res, res.Report.Findings)
	}
	if _, err := os.Stat(o.Dests[0].Path); err == nil {
		t.Error("DEST written")
	}

	// A secret written into a cache mount: no audit of the result sees it.
	o = buildDir(t, "FROM scratch\nRUN --mount=type=secret,id=API_TOKEN --mount=type=cache,target=/root/.cache cp /run/secrets/API_TOKEN /root/.cache/t\n")
	o.Audit = ao
	if res, err = Run(context.Background(), o); err != nil || res.Built || !hasRule(res.Report.Findings, "secret-cache-mount") {
		t.Errorf("cache mount: %v, %+v", err, res)
	}

	// Heuristics (a secret-named ARG, a secret written to a file, which
	// may be a hash) warn: the build starts, and fails on the address;
	// the error holds no value and names the address.
	o = buildDir(t, "FROM scratch\nARG API_TOKEN\nRUN --mount=type=secret,id=T sha256sum < /run/secrets/T > /out\n")
	o.Audit = ao
	o.Secrets = []Secret{{Name: "API_TOKEN", Value: []byte(v), Key: key16}}
	o.TempDir = t.TempDir()
	res, err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), o.Addr) || res.Built {
		t.Fatalf("Run against nothing: %+v, %v", res, err)
	}
	if !hasRule(res.Warnings, "secret-arg") || !hasRule(res.Warnings, "secret-mount-persisted") {
		t.Errorf("warnings %+v", res.Warnings)
	}
	if strings.Contains(err.Error(), v) {
		t.Error("the error holds the value")
	}
	if left, _ := os.ReadDir(o.TempDir); len(left) > 0 {
		t.Errorf("the private directory %s was left behind", left[0].Name())
	}

	// A # syntax= line asking for another frontend: its steps could not
	// be keyed.
	o = buildDir(t, "# syntax=example.com/my/frontend:1\nFROM scratch\n")
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrOtherFrontend) || !strings.Contains(err.Error(), "example.com/my/frontend:1") {
		t.Errorf("other frontend: %v", err)
	}
}

func hasRule(fs []audit.Finding, rule string) bool {
	for _, f := range fs {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func TestSecretStore(t *testing.T) {
	v1, v2 := []byte(value(t)), []byte(value(t))
	caller := bytes.Clone(v1)
	b := Secret{Name: "B", Value: v2, Key: key16}
	s := newSecretStore([]Secret{{Name: "A", Value: caller, Key: key16}, b, {Name: "A", Value: []byte(value(t)), Key: key16}})
	clear(caller) // the store has its own copy
	got, err := s.GetSecret(context.Background(), cacheID(b))
	if err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("B: %v", err)
	}
	for _, id := range []string{"B", "C"} {
		// Served by cache id only: the LLB names no secret by its name.
		if _, err := s.GetSecret(context.Background(), id); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("%s: %v, want not found", id, err)
		}
	}
	s.zero()
	if !bytes.Equal(got, make([]byte, len(got))) {
		t.Error("zero left the served value in memory")
	}
	if _, err := s.GetSecret(context.Background(), cacheID(b)); err == nil {
		t.Error("served after zero")
	}
}

// TestCacheID: the id depends on the value and on the key, and on nothing
// else; it never holds the value.
func TestCacheID(t *testing.T) {
	v := []byte(value(t))
	a := cacheID(Secret{Name: "T", Value: v, Key: key16})
	if a != cacheID(Secret{Name: "T", Value: bytes.Clone(v), Key: bytes.Clone(key16)}) {
		t.Error("the same value and key give two ids")
	}
	for what, s := range map[string]Secret{
		"another value": {Name: "T", Value: []byte(value(t)), Key: key16},
		"another key":   {Name: "T", Value: v, Key: []byte("fedcba9876543210")},
		"another name":  {Name: "U", Value: v, Key: key16},
	} {
		if cacheID(s) == a {
			t.Errorf("%s gives the same id", what)
		}
	}
	if !strings.HasPrefix(a, "T#") || len(a) != 2+32 || strings.Contains(a, string(v)) {
		t.Errorf("id %q: want T# and 128 bits of hex", a)
	}
}

// TestRewrite: the definition the Dockerfile frontend sends is rewritten
// so that every exec op that mounts a served secret (as a file or as an
// environment variable) names it by its cache id; the digests that change
// are replaced where they are referenced; another value changes the
// definition, the same value does not; an SSH mount nobody gave is an
// error.
func TestRewrite(t *testing.T) {
	st := llb.Image("docker.io/library/busybox:latest").
		Run(llb.Shlex("/bin/true"), llb.AddSecret("/run/secrets/T", llb.SecretID("T"))).
		Run(llb.Shlex("/bin/true"), llb.AddSecretWithDest("E", nil, llb.SecretAsEnvName("E"))).
		Run(llb.Shlex("/bin/true"), llb.AddSecret("/run/secrets/N", llb.SecretID("NOT_SERVED"))).Root()
	def, err := st.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(vals map[string]string, ssh bool) (*pb.Definition, error) {
		g := &keyedGateway{ids: map[string]string{}, ssh: map[string]bool{"default": ssh}, asked: map[string]bool{}}
		for n, v := range vals {
			g.ids[n] = cacheID(Secret{Name: n, Value: []byte(v), Key: key16})
		}
		return g.rewrite(def.ToPB())
	}
	vals := map[string]string{"T": value(t), "E": value(t)}
	out, err := rewrite(vals, false)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	digests := map[string]bool{}
	for _, dt := range out.Def {
		digests[string(digest.FromBytes(dt))] = true
	}
	for _, dt := range out.Def {
		var op pb.Op
		if err := op.Unmarshal(dt); err != nil {
			t.Fatal(err)
		}
		for _, in := range op.Inputs {
			if !digests[in.Digest] {
				t.Errorf("an input %s is not in the rewritten definition", in.Digest)
			}
		}
		if e := op.GetExec(); e != nil {
			for _, m := range e.Mounts {
				if m.SecretOpt != nil {
					ids[m.SecretOpt.ID] = true
				}
			}
			for _, s := range e.Secretenv {
				ids[s.ID] = true
			}
		}
	}
	for n, v := range vals {
		if !ids[cacheID(Secret{Name: n, Value: []byte(v), Key: key16})] || ids[n] {
			t.Errorf("secret %s is not named by its cache id: %v", n, ids)
		}
	}
	if !ids["NOT_SERVED"] {
		t.Errorf("a secret nobody serves was renamed: %v", ids)
	}
	for k := range out.Metadata {
		if !digests[k] {
			t.Errorf("metadata of %s, which is not in the definition", k)
		}
	}
	last := func(d *pb.Definition) string { return string(digest.FromBytes(d.Def[len(d.Def)-1])) }
	again, _ := rewrite(vals, false)
	if last(again) != last(out) {
		t.Error("the same values give another definition: the cache would miss")
	}
	rotated, _ := rewrite(map[string]string{"T": value(t), "E": vals["E"]}, false)
	if last(rotated) == last(out) {
		t.Error("another value gives the same definition: the cache would hit")
	}

	sshDef, err := llb.Image("docker.io/library/busybox:latest").Run(llb.Shlex("/bin/true"), llb.AddSSHSocket()).Root().Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := &keyedGateway{ids: map[string]string{}, ssh: map[string]bool{}, asked: map[string]bool{}}
	var se *SSHError
	if _, err := g.rewrite(sshDef.ToPB()); !errors.As(err, &se) || se.ID != "default" {
		t.Errorf("an SSH mount nobody gave: %v", err)
	}
	g.ssh["default"] = true
	if _, err := g.rewrite(sshDef.ToPB()); err != nil {
		t.Errorf("an SSH mount given: %v", err)
	}
}

func TestRedactor(t *testing.T) {
	v, s, short := value(t), value(t), value(t)[:6]
	r := newRedactor(Options{Audit: audit.Options{Values: []audit.Value{{Name: "A", Value: []byte(v)}}},
		Secrets: []Secret{{Name: "S", Value: []byte(s)}, {Name: "PIN", Value: []byte(short)}}})
	var out bytes.Buffer
	w := r.writer(&out)
	// A value split across writes is still replaced, in every encoding the
	// audit searches for; a value too short for the audit, raw.
	w.Write([]byte("#5 0.1 A=" + v[:5]))
	w.Write([]byte(v[5:] + " S=" + s + " b64=" + base64.StdEncoding.EncodeToString([]byte(s)) + " hex=" + hex.EncodeToString([]byte(v)) + " pin=" + short + "\n"))
	r.flush()
	// Of base64, what is left is the last character the value shares
	// with what follows it (two bits) and the padding.
	want := regexp.MustCompile(`^#5 0\.1 A=\[REDACTED:A\] S=\[REDACTED:S\] b64=\[REDACTED:S\][A-Za-z0-9+/]?=* hex=\[REDACTED:A\] pin=\[REDACTED:PIN\]\n$`)
	if got := out.String(); !want.MatchString(got) {
		t.Errorf("progress %q", strings.NewReplacer(v, "V", s, "S").Replace(got))
	}
	err := r.err(errors.New("process printed " + v))
	if strings.Contains(err.Error(), v) || !strings.Contains(err.Error(), "[REDACTED:A]") {
		t.Errorf("error %q", err)
	}
	plain := errors.New("nothing here")
	if r.err(plain) != plain {
		t.Error("an error without a value was replaced")
	}
	// A terminal stays a file for BuildKit's interactive display.
	f, err := os.CreateTemp(t.TempDir(), "tty")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := r.writer(f).(*redactedFile); !ok {
		t.Error("an *os.File is not kept a file")
	}
}

func TestDefaultAddress(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if a, err := DefaultAddress(env(map[string]string{"BUILDKIT_HOST": "tcp://b:1234"})); err != nil || a != "tcp://b:1234" {
		t.Errorf("BUILDKIT_HOST: %q, %v", a, err)
	}
	if os.Geteuid() == 0 {
		if _, err := os.Stat("/run/buildkit/buildkitd.sock"); err == nil {
			t.Skip("this machine has a rootful buildkitd socket")
		}
		_, err := DefaultAddress(env(nil))
		if !errors.Is(err, ErrNoAddress) || !strings.Contains(err.Error(), "/run/buildkit/buildkitd.sock") {
			t.Errorf("no socket: %v", err)
		}
		return
	}
	x := t.TempDir()
	os.MkdirAll(filepath.Join(x, "buildkit"), 0o700)
	l, err := net.Listen("unix", filepath.Join(x, "buildkit", "buildkitd.sock"))
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	if a, err := DefaultAddress(env(map[string]string{"XDG_RUNTIME_DIR": x})); err != nil || a != "unix://"+filepath.Join(x, "buildkit", "buildkitd.sock") {
		t.Errorf("rootless: %q, %v", a, err)
	}
}

// Every display mode shows the steps' output redacted, rawjson (which
// writes it base64-encoded) included, also when a value is split across
// two updates of a step's stream.
func TestStatusesRedacted(t *testing.T) {
	v := value(t)
	r := newRedactor(Options{Secrets: []Secret{{Name: "TOKEN", Value: []byte(v)}}})
	for _, mode := range []string{"plain", "rawjson"} {
		t.Run(mode, func(t *testing.T) {
			var out bytes.Buffer
			disp, err := progressui.NewDisplay(&out, progressui.DisplayMode(mode))
			if err != nil {
				t.Fatal(err)
			}
			dg := digest.FromString("step")
			now := time.Now()
			in, shown := make(chan *client.SolveStatus), make(chan *client.SolveStatus)
			go r.statuses(in, shown)
			done := make(chan struct{})
			go func() {
				disp.UpdateFrom(context.Background(), shown)
				close(done)
			}()
			in <- &client.SolveStatus{Vertexes: []*client.Vertex{{Digest: dg, Name: "RUN step", Started: &now}}}
			in <- &client.SolveStatus{Logs: []*client.VertexLog{{Vertex: dg, Stream: 1, Data: []byte("TOKEN=" + v[:7]), Timestamp: now}}}
			in <- &client.SolveStatus{Logs: []*client.VertexLog{{Vertex: dg, Stream: 1, Data: []byte(v[7:] + "\ntail " + v[:3]), Timestamp: now}}}
			in <- &client.SolveStatus{Vertexes: []*client.Vertex{{Digest: dg, Name: "RUN step", Started: &now, Completed: &now, Error: "failed: " + v}},
				Warnings: []*client.VertexWarning{{Vertex: dg, Short: []byte("saw " + v), Detail: [][]byte{[]byte(v)}}}}
			close(in)
			<-done
			text := out.String()
			if mode == "rawjson" {
				// Decode every log's data, as a consumer of rawjson does.
				var logs bytes.Buffer
				dec := json.NewDecoder(strings.NewReader(text))
				for {
					var st client.SolveStatus
					if err := dec.Decode(&st); err != nil {
						break
					}
					for _, l := range st.Logs {
						logs.Write(l.Data)
					}
					for _, w := range st.Warnings {
						logs.Write(w.Short)
					}
					for _, vx := range st.Vertexes {
						logs.WriteString(vx.Error)
					}
				}
				text += logs.String()
				// The last bytes, which could have begun a value, come
				// when the step ends, before its end.
				if got := logs.String(); !strings.Contains(got, "TOKEN=[REDACTED:TOKEN]\ntail "+v[:3]+"saw ") {
					t.Errorf("rawjson logs %q", logs.String())
				}
			} else {
				if !strings.Contains(text, "TOKEN=[REDACTED:TOKEN]") {
					t.Errorf("plain display:\n%s", text)
				}
				// The step is shown once, its held-back output inside it.
				if n := strings.Count(text, "#1 RUN step"); n != 1 || strings.Index(text, "tail "+v[:3]) > strings.Index(text, "ERROR") {
					t.Errorf("plain display shows the step %d times, or output after its end:\n%s", n, text)
				}
			}
			if strings.Contains(text, v) {
				t.Errorf("the %s display shows the value", mode)
			}
		})
	}
}
