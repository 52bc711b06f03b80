package imageref

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	colon := filepath.Join(dir, "a:b.tar")
	os.WriteFile(colon, nil, 0o600)
	for in, want := range map[string]Ref{
		"docker-archive:app.tar":                 {DockerArchive, "app.tar", ""},
		"docker-archive:app.tar:example.com/a:1": {DockerArchive, "app.tar", "example.com/a:1"},
		"docker-archive:app.tar:app:latest":      {DockerArchive, "app.tar", "app:latest"},
		"docker-archive:" + colon:                {DockerArchive, colon, ""},
		"oci-archive:img.tar":                    {OCIArchive, "img.tar", ""},
		"oci-archive:img.tar:v1":                 {OCIArchive, "img.tar", "v1"},
		"oci:build/layout":                       {OCI, "build/layout", ""},
		"oci:build/layout:v1.2":                  {OCI, "build/layout", "v1.2"},
		`oci:C:\images\app:v1`:                   {OCI, `C:\images\app`, "v1"},
		"docker-daemon:app:1":                    {DockerDaemon, "", "app:1"},
		"docker://registry.example.com/a/b:1":    {Docker, "", "registry.example.com/a/b:1"},
		"docker://registry.example.com/a@sha256:" + strings.Repeat("a", 64): {Docker, "", "registry.example.com/a@sha256:" + strings.Repeat("a", 64)},
		"build/app.tar": {"", "build/app.tar", ""},
		colon:           {"", colon, ""},
	} {
		got, err := Parse(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", in, got, want)
		}
		if in != colon && !strings.Contains(in, "a:b.tar") {
			if back, _ := Parse(got.String()); back != got {
				t.Errorf("%s: String() %q does not parse back", in, got.String())
			}
		}
	}
	for in, want := range map[string]string{
		"":                               "empty",
		"docker-archive:":                "no path",
		"docker-archive:a.tar:Not A Tag": "not a NAME:TAG",
		"docker://UPPER/x":               "docker://UPPER/x",
		"dokcer-archive:a.tar":           "unknown transport",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", in, err, want)
		}
	}
}

// docker-archive:FILE:NAME:TAG writes FILE with that name, and reads back
// the image of that name from an archive of several.
func TestDockerArchiveNameAndTag(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, _ := random.Image(256, 1)
	b, _ := random.Image(256, 1)
	p := filepath.Join(dir, "out.tar")
	ref, err := Parse("docker-archive:" + p + ":example.com/app:2")
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(ctx, ref, a, nil, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("%s not written with mode 0644: %v %v", p, st, err)
	}
	if err := Write(ctx, ref, a, nil, false, Options{}); !errors.Is(err, ErrDestinationUsed) {
		t.Fatalf("written twice: %v", err)
	}
	two := filepath.Join(dir, "two.tar")
	refs := map[name.Reference]v1.Image{mustTag(t, "example.com/a:1"): a, mustTag(t, "example.com/b:1"): b}
	if err := tarball.MultiRefWriteToFile(two, refs); err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]v1.Image{"example.com/a:1": a, "example.com/b:1": b} {
		r, _ := Parse("docker-archive:" + two + ":" + tag)
		s, err := Open(ctx, r, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Image.ConfigName()
		w, _ := want.ConfigName()
		if got != w {
			t.Errorf("%s: got the other image", tag)
		}
		s.Close()
	}
}

// docker-daemon: is a source like any other: the image is saved through
// the engine API to a temporary file, removed on Close.
func TestOpenDaemon(t *testing.T) {
	img, _ := random.Image(512, 2)
	tmp := t.TempDir()
	archive := filepath.Join(tmp, "save.tar")
	if err := tarball.WriteToFile(archive, mustTag(t, "example.com/app:1"), img); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(tmp, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skip("no unix sockets:", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/images/example.com/app:1/get" {
			http.Error(w, `{"message":"no such image"}`, http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, archive)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	buf := filepath.Join(tmp, "buf")
	os.Mkdir(buf, 0o700)
	r, _ := Parse("docker-daemon:example.com/app:1")
	s, err := Open(context.Background(), r, Options{DaemonHost: "unix://" + sock, TempDir: buf})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Image.Digest()
	want, _ := img.Digest()
	if got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
	s.Close()
	if left, _ := os.ReadDir(buf); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
