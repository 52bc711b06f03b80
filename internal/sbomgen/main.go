// Command sbomgen writes a CycloneDX 1.5 SBOM of a release archive: every
// Go binary in it, with the modules and Go version its build information
// names. goreleaser runs it once per archive (.goreleaser.yaml, sboms).
//
//	go run ./internal/sbomgen ARCHIVE DOCUMENT
//
// It reads what `go version -m` reads, so it needs no scanner of its own to
// install (syft took most of an hour to build here), and it writes no time
// or random serial: the same archive gives the same SBOM byte for byte, as
// reproducible as the archive.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

type component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Hashes     []hash     `json:"hashes,omitempty"`
	Properties []property `json:"properties,omitempty"`
}

type hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

type bom struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	Version      int          `json:"version"`
	Metadata     metadata     `json:"metadata"`
	Components   []component  `json:"components"`
	Dependencies []dependency `json:"dependencies"`
}

type metadata struct {
	Component component `json:"component"`
	Tools     struct {
		Components []component `json:"components"`
	} `json:"tools"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sbomgen ARCHIVE DOCUMENT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "sbomgen:", err)
		os.Exit(1)
	}
}

func run(archive, document string) error {
	files, err := readArchive(archive)
	if err != nil {
		return fmt.Errorf("%s: %w", archive, err)
	}
	b := bom{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1, Components: []component{}, Dependencies: []dependency{}}
	b.Metadata.Component = component{Type: "file", BOMRef: "archive", Name: path.Base(archive)}
	b.Metadata.Tools.Components = []component{{Type: "application", BOMRef: "tool", Name: "sealenv internal/sbomgen"}}
	seen := map[string]bool{}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		info, err := buildinfo.Read(bytes.NewReader(files[n]))
		if err != nil {
			continue // not a Go binary (README, docs)
		}
		sum := sha256.Sum256(files[n])
		app := component{Type: "application", BOMRef: "file:" + n, Name: n, Version: info.Main.Version,
			PURL:       purl(info.Main.Path, info.Main.Version),
			Hashes:     []hash{{Alg: "SHA-256", Content: hex.EncodeToString(sum[:])}},
			Properties: []property{{Name: "go:path", Value: info.Path}, {Name: "go:version", Value: info.GoVersion}}}
		for _, s := range info.Settings {
			switch s.Key {
			case "GOOS", "GOARCH", "GOARM", "CGO_ENABLED", "-trimpath", "vcs.revision", "vcs.time", "vcs.modified":
				app.Properties = append(app.Properties, property{Name: "go:" + s.Key, Value: s.Value})
			}
		}
		b.Components = append(b.Components, app)
		dep := dependency{Ref: app.BOMRef, DependsOn: []string{}}
		std := "pkg:golang/std@" + info.GoVersion
		if !seen[std] {
			seen[std] = true
			b.Components = append(b.Components, component{Type: "library", BOMRef: std, Name: "std", Version: info.GoVersion, PURL: std})
		}
		dep.DependsOn = append(dep.DependsOn, std)
		for _, m := range info.Deps {
			if m.Replace != nil {
				m = m.Replace
			}
			p := purl(m.Path, m.Version)
			if !seen[p] {
				seen[p] = true
				c := component{Type: "library", BOMRef: p, Name: m.Path, Version: m.Version, PURL: p}
				if m.Sum != "" {
					c.Properties = []property{{Name: "go:sum", Value: m.Sum}}
				}
				b.Components = append(b.Components, c)
			}
			dep.DependsOn = append(dep.DependsOn, p)
		}
		b.Dependencies = append(b.Dependencies, dep)
	}
	if len(b.Dependencies) == 0 {
		return fmt.Errorf("%s: no Go binary in it", archive)
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(document, append(out, '\n'), 0o644)
}

func purl(module, version string) string {
	return "pkg:golang/" + strings.ToLower(module) + "@" + version
}

// readArchive returns the regular files of a .tar.gz or .zip archive.
func readArchive(p string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if strings.HasSuffix(p, ".zip") {
		zr, err := zip.OpenReader(p)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().Mode().IsRegular() {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					return nil, err
				}
				out[f.Name] = b
			}
		}
		return out, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			out[h.Name] = b
		}
	}
}
