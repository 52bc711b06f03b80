// Package imageref parses, opens and writes image references in the
// skopeo/podman transport convention, for every command that reads or
// writes an image (audit, wrap, build).
//
// # References
//
//	docker-archive:PATH[:NAME[:TAG]]   docker save / podman save output; NAME:TAG picks (or, written, names) the image;
//	                                   written without one, the image is named [DefaultArchiveName]
//	oci-archive:PATH[:TAG]             a tar of an OCI image layout; TAG is the org.opencontainers.image.ref.name
//	oci:PATH[:TAG]                     an OCI image layout directory
//	docker-daemon:REF                  an image of a Docker or Podman engine, through its API socket
//	docker://REF                       a registry
//	PATH                               a bare path: a directory is an OCI layout, a file an archive, told by content
//
// As in skopeo, PATH ends at its first colon, unless the whole rest names an
// existing file (a path with a colon in it) or the colon follows a Windows
// drive letter.
//
// # The audit's transports
//
// The audit parses references here, and saves docker-daemon: images with
// [SaveDaemon], but reads the transports itself (package
// audit/internal/transport): it must prove what it read, so it checks
// every blob against its descriptor's size and digest while streaming it
// (go-containerregistry's layout reader returns a blob's file unchecked),
// reads a docker-archive in place with both of its views (manifest.json
// and an OCI index.json, where [Open] takes one image), fails on a name an
// archive holds twice, never unpacks an oci-archive to disk (Open does, to
// a temporary directory), and serves the blobs of artifacts that are not
// images. Both sides accept the same references.
package imageref

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Transports.
const (
	DockerArchive = "docker-archive"
	OCIArchive    = "oci-archive"
	OCI           = "oci"
	DockerDaemon  = "docker-daemon"
	Docker        = "docker"
)

// Ref is a parsed image reference.
type Ref struct {
	// Transport is one of the constants, or "" for a bare path whose kind
	// is told by content when it is opened.
	Transport string
	// Path is the file or directory of the archive and layout transports.
	Path string
	// Name is what picks one image: NAME:TAG in a docker-archive, the
	// ref.name of an OCI layout or archive, the engine's or registry's
	// reference. It may be empty, except for docker-daemon and docker.
	Name string
}

// String returns the reference as Parse reads it.
func (r Ref) String() string {
	switch r.Transport {
	case "":
		return r.Path
	case Docker:
		return "docker://" + r.Name
	case DockerDaemon:
		return "docker-daemon:" + r.Name
	}
	if r.Name != "" {
		return r.Transport + ":" + r.Path + ":" + r.Name
	}
	return r.Transport + ":" + r.Path
}

// Parse reads a reference. It checks syntax only; whether the image is
// there is for Open.
func Parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("empty image reference")
	}
	if rest, ok := strings.CutPrefix(s, "docker://"); ok {
		if _, err := name.ParseReference(rest); err != nil {
			return Ref{}, fmt.Errorf("%s: %v", s, err)
		}
		return Ref{Transport: Docker, Name: rest}, nil
	}
	if rest, ok := strings.CutPrefix(s, "docker-daemon:"); ok {
		if _, err := name.ParseReference(rest); err != nil {
			return Ref{}, fmt.Errorf("%s: %v", s, err)
		}
		return Ref{Transport: DockerDaemon, Name: rest}, nil
	}
	for _, t := range []string{DockerArchive, OCIArchive, OCI} {
		rest, ok := strings.CutPrefix(s, t+":")
		if !ok {
			continue
		}
		p, n := splitPath(rest)
		if p == "" {
			return Ref{}, fmt.Errorf("%s: no path", s)
		}
		if t == DockerArchive && n != "" {
			if _, err := name.NewTag(n); err != nil {
				return Ref{}, fmt.Errorf("%s: %q is not a NAME:TAG: %v", s, n, err)
			}
		}
		return Ref{Transport: t, Path: p, Name: n}, nil
	}
	if i := strings.Index(s, ":"); i > 0 && !isDrive(s) && !exists(s) && !strings.ContainsAny(s[:i], `/\.`) {
		return Ref{}, fmt.Errorf("%s: unknown transport %q (want docker-archive:, oci-archive:, oci:, docker-daemon: or docker://)", s, s[:i])
	}
	return Ref{Path: s}, nil
}

// splitPath cuts "PATH:NAME" at the first colon that is not part of an
// existing path or a Windows drive.
func splitPath(s string) (string, string) {
	if exists(s) {
		return s, ""
	}
	from := 0
	if isDrive(s) {
		from = 2
	}
	i := strings.Index(s[from:], ":")
	if i < 0 {
		return s, ""
	}
	return s[:from+i], s[from+i+1:]
}

func isDrive(s string) bool {
	return len(s) >= 3 && s[1] == ':' && (s[2] == '\\' || s[2] == '/') &&
		('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z')
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
