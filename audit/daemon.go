package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// openDaemon saves an image from a Docker or Podman API socket (the
// /images/{name}/get endpoint both implement) into a temporary file, and
// reads that as a docker-archive. The image is never held in memory.
func openDaemon(ctx context.Context, ref string, o *Options) (store, string, error) {
	host := o.DaemonHost
	if host == "" {
		host = daemonHost()
	}
	if host == "" {
		return nil, "", errors.New("docker-daemon: no Docker or Podman socket found (set DOCKER_HOST)")
	}
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil, "", fmt.Errorf("docker-daemon: %s: only unix:// sockets are supported", host)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/images/"+url.PathEscape(ref)+"/get", nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("docker-daemon:%s: %w", ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, "", fmt.Errorf("docker-daemon:%s: %s: %s", ref, resp.Status, strings.TrimSpace(string(msg)))
	}
	tmp, err := os.CreateTemp(o.TempDir, "sealenv-audit-*.tar")
	if err != nil {
		return nil, "", fmt.Errorf("docker-daemon:%s: %w", ref, err)
	}
	name := tmp.Name()
	_, err = io.Copy(tmp, resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return nil, "", fmt.Errorf("docker-daemon:%s: saving the image: %w", ref, err)
	}
	st, _, err := openArchive(name)
	if err != nil {
		os.Remove(name)
		return nil, "", fmt.Errorf("docker-daemon:%s: %w", ref, err)
	}
	return &tempStore{store: st, path: name}, "docker-daemon:" + ref, nil
}

// daemonHost finds the API socket: $DOCKER_HOST, $CONTAINER_HOST, then the
// usual Docker and Podman sockets.
func daemonHost() string {
	for _, v := range []string{"DOCKER_HOST", "CONTAINER_HOST"} {
		if h := os.Getenv(v); h != "" {
			return h
		}
	}
	cands := []string{"/var/run/docker.sock"}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		cands = append(cands, filepath.Join(d, "podman", "podman.sock"), filepath.Join(d, "docker.sock"))
	}
	cands = append(cands, "/run/podman/podman.sock")
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix://" + c
		}
	}
	return ""
}

// tempStore removes its buffer file when closed.
type tempStore struct {
	store
	path string
}

func (t *tempStore) legacy() ([]legacyImage, error) {
	if ls, ok := t.store.(legacyStore); ok {
		return ls.legacy()
	}
	return nil, nil
}

func (t *tempStore) close() error {
	err := t.store.close()
	os.Remove(t.path)
	return err
}
