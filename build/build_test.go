package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/imageref"
)

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
		Dest:    imageref.Ref{Transport: imageref.OCI, Path: filepath.Join(t.TempDir(), "out")},
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
			o.Dest = imageref.Ref{Transport: imageref.DockerArchive, Path: "x.tar"}
			o.Platforms = []string{"linux/amd64", "linux/arm64"}
		}, "", ErrDockerArchive},
		{"docker-archive, provenance", func(o *Options) {
			o.Dest = imageref.Ref{Transport: imageref.DockerArchive, Path: "x.tar"}
			o.Provenance = "min"
		}, "", ErrDockerArchive},
		{"daemon destination", func(o *Options) { o.Dest = imageref.Ref{Transport: imageref.DockerDaemon, Name: "x:1"} }, "not a destination", nil},
		{"bare path destination", func(o *Options) { o.Dest = imageref.Ref{Path: "x"} }, "not a destination", nil},
		{"destination exists", func(o *Options) { o.Dest.Path = exists }, "", imageref.ErrDestinationUsed},
		{"secret without a name", func(o *Options) { o.Secrets = []Secret{{Value: []byte("x")}} }, "no name", nil},
		{"secret too large", func(o *Options) { o.Secrets = []Secret{{Name: "BIG", Value: make([]byte, 600<<10)}} }, "BIG", nil},
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
	o.Dest.Path = exists
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

// Findings of the lint or of the build arguments end the build before
// BuildKit is contacted: the address here answers nothing, so reaching it
// would be an error.
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

	o = buildDir(t, "FROM scratch\nARG API_TOKEN\n")
	o.Audit = ao
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Built || len(res.Report.Findings) != 1 || res.Report.Findings[0].Rule != "secret-arg" {
		t.Errorf("result %+v, findings %+v", res, res.Report.Findings)
	}
	if _, err := os.Stat(o.Dest.Path); err == nil {
		t.Error("DEST written")
	}

	// Clean: the build starts, and fails on the address; the error holds
	// no value and names the address.
	o = buildDir(t, "FROM scratch\n")
	o.Audit = ao
	o.Secrets = []Secret{{Name: "API_TOKEN", Value: []byte(v)}}
	o.TempDir = t.TempDir()
	res, err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), o.Addr) || res.Built {
		t.Fatalf("Run against nothing: %+v, %v", res, err)
	}
	if strings.Contains(err.Error(), v) {
		t.Error("the error holds the value")
	}
	if left, _ := os.ReadDir(o.TempDir); len(left) > 0 {
		t.Errorf("the private directory %s was left behind", left[0].Name())
	}
}

func TestSecretStore(t *testing.T) {
	v1, v2 := []byte(value(t)), []byte(value(t))
	caller := bytes.Clone(v1)
	s := newSecretStore([]Secret{{Name: "A", Value: caller}, {Name: "B", Value: v2}, {Name: "A", Value: []byte(value(t))}})
	clear(caller) // the store has its own copy
	got, err := s.GetSecret(context.Background(), "B")
	if err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("B: %v", err)
	}
	if _, err := s.GetSecret(context.Background(), "C"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("C: %v, want not found", err)
	}
	s.GetSecret(context.Background(), "AA")
	if u := s.unserved(); strings.Join(u, ",") != "AA,C" {
		t.Errorf("unserved %q", u)
	}
	s.zero()
	if !bytes.Equal(got, make([]byte, len(got))) {
		t.Error("zero left the served value in memory")
	}
	if _, err := s.GetSecret(context.Background(), "B"); err == nil {
		t.Error("served after zero")
	}
}

func TestRedactor(t *testing.T) {
	v, s := value(t), value(t)
	r := newRedactor(Options{Audit: audit.Options{Values: []audit.Value{{Name: "A", Value: []byte(v)}}}, Secrets: []Secret{{Name: "S", Value: []byte(s)}}})
	var out bytes.Buffer
	w := r.writer(&out)
	// A value split across writes is still replaced.
	w.Write([]byte("#5 0.1 A=" + v[:5]))
	w.Write([]byte(v[5:] + " S=" + s + "\n"))
	r.flush()
	if got := out.String(); got != "#5 0.1 A=[REDACTED:A] S=[REDACTED:S]\n" {
		t.Errorf("progress %q", got)
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
				// when the stream ends.
				if got := logs.String(); !strings.Contains(got, "TOKEN=[REDACTED:TOKEN]\ntail ") || !strings.HasSuffix(got, v[:3]) {
					t.Errorf("rawjson logs %q", logs.String())
				}
			} else if !strings.Contains(text, "TOKEN=[REDACTED:TOKEN]") {
				t.Errorf("plain display:\n%s", text)
			}
			if strings.Contains(text, v) {
				t.Errorf("the %s display shows the value", mode)
			}
		})
	}
}
