package audit

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// docker-daemon: is read through the Docker Engine API's image save
// endpoint on a unix socket. No daemon runs here, so the test serves that
// one endpoint (GET /images/{name}/get) with a real docker save archive
// written by go-containerregistry.
func TestDaemon(t *testing.T) {
	t.Parallel()
	p := plant(t)
	tmp := t.TempDir()
	archive := filepath.Join(tmp, "save.tar")
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(archive, tag, p.img); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(tmp, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skip("no unix sockets:", err)
	}
	var asked string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/images/"), "/get")
		if !ok || r.Method != http.MethodGet {
			http.Error(w, "page not found", http.StatusNotFound)
			return
		}
		asked = ref
		if ref != "example.com/app:1" {
			http.Error(w, `{"message":"reference does not exist"}`, http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, archive)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	tempDir := filepath.Join(tmp, "buffer")
	os.Mkdir(tempDir, 0o700)
	opts := Options{Values: p.values, ShortAccepted: p.short, DaemonHost: "unix://" + sock, TempDir: tempDir}
	r, err := imageAt(context.Background(), "docker-daemon:example.com/app:1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if asked != "example.com/app:1" {
		t.Fatalf("asked for %q", asked)
	}
	check(t, r, p, layerWants, configWants)
	if left, _ := os.ReadDir(tempDir); len(left) != 0 {
		t.Errorf("the buffer file was left behind: %v", left)
	}
	if _, err := imageAt(context.Background(), "docker-daemon:example.com/none:1", opts); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing image: %v", err)
	}
}
