package imageref

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// SaveDaemon saves the image ref of a Docker or Podman engine (the
// /images/{name}/get endpoint both implement) into a new file in tmpDir
// (the system's temporary directory when empty) and returns its path: a
// docker-archive the caller removes. The image is never held in memory.
// host is the API address (unix:// only); empty means $DOCKER_HOST,
// $CONTAINER_HOST, then the usual sockets.
func SaveDaemon(ctx context.Context, ref, host, tmpDir string) (string, error) {
	client, err := daemonClient(host)
	if err != nil {
		return "", err
	}
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

// daemonClient is an HTTP client of the engine's API socket at host (see
// [SaveDaemon]).
func daemonClient(host string) (*http.Client, error) {
	if host == "" {
		host = DaemonHost()
	}
	if host == "" {
		return nil, errors.New("docker-daemon: no Docker or Podman socket found (set DOCKER_HOST)")
	}
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil, fmt.Errorf("docker-daemon: %s: only unix:// sockets are supported", host)
	}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}, nil
}

// LoadDaemon loads img into the engine at host (see [SaveDaemon]) under
// the name tag, as docker load does: a docker-archive streamed to the
// /images/load endpoint, never held in memory or written to disk. It then
// checks that tag names the image it sent (its config digest, the image
// ID). Errors name the reference and quote the engine.
func LoadDaemon(ctx context.Context, tag name.Tag, img v1.Image, host string) error {
	client, err := daemonClient(host)
	if err != nil {
		return err
	}
	ref := "docker-daemon:" + tag.String()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker/images/load?quiet=1", pr)
	if err != nil {
		pr.Close()
		return err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := client.Do(req)
	pr.CloseWithError(errors.New("the request ended"))
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", ref, resp.Status, engineMessage(resp.Body))
	}
	// The engine answers 200 and reports a failed load in the stream.
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("%s: reading the engine's answer: %w", ref, err)
		}
		if msg := cmp.Or(m.ErrorDetail.Message, m.Error); msg != "" {
			return fmt.Errorf("%s: the engine refused the image: %s", ref, oneLine(msg, 300))
		}
	}
	want, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/images/"+url.PathEscape(tag.String())+"/json", nil)
	if err != nil {
		return err
	}
	resp2, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: checking the loaded image: %w", ref, err)
	}
	defer resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: the engine does not name the loaded image: %s: %s", ref, resp2.Status, engineMessage(resp2.Body))
	}
	var got struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(io.LimitReader(resp2.Body, 1<<20)).Decode(&got); err != nil {
		return fmt.Errorf("%s: checking the loaded image: %w", ref, err)
	}
	if strings.TrimPrefix(got.ID, "sha256:") != want.Hex {
		return fmt.Errorf("%s: the engine names image %s, not the one loaded (%s)", ref, got.ID, want)
	}
	return nil
}

// engineMessage reads the message of an engine's error response.
func engineMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	var m struct{ Message string }
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return oneLine(m.Message, 300)
	}
	return oneLine(string(b), 300)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
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
