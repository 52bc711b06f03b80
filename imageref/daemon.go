package imageref

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

// SaveDaemon saves the image ref of a Docker or Podman engine (the
// /images/{name}/get endpoint both implement) into a new file in tmpDir
// (the system's temporary directory when empty) and returns its path: a
// docker-archive the caller removes. The image is never held in memory.
// host is the API address (unix:// only); empty means $DOCKER_HOST,
// $CONTAINER_HOST, then the usual sockets.
func SaveDaemon(ctx context.Context, ref, host, tmpDir string) (string, error) {
	if host == "" {
		host = DaemonHost()
	}
	if host == "" {
		return "", errors.New("docker-daemon: no Docker or Podman socket found (set DOCKER_HOST)")
	}
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return "", fmt.Errorf("docker-daemon: %s: only unix:// sockets are supported", host)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/images/"+url.PathEscape(ref)+"/get", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("docker-daemon:%s: %w", ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("docker-daemon:%s: %s: %s", ref, resp.Status, strings.TrimSpace(string(msg)))
	}
	tmp, err := os.CreateTemp(tmpDir, "sealenv-daemon-*.tar")
	if err != nil {
		return "", fmt.Errorf("docker-daemon:%s: %w", ref, err)
	}
	name := tmp.Name()
	_, err = io.Copy(tmp, resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("docker-daemon:%s: saving the image: %w", ref, err)
	}
	return name, nil
}

// DaemonHost finds the engine's API socket: $DOCKER_HOST, $CONTAINER_HOST,
// then the usual Docker and Podman sockets; "" when there is none.
func DaemonHost() string {
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
