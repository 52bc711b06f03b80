// Command imagetool makes and unpacks tiny images for the demo, on a machine
// with no container runtime.
//
//	imagetool build [--env-stdin NAME] BINARY OUT.tar [ENTRYPOINT ARG...]
//	    a one-layer docker archive, FROM scratch; --env-stdin bakes the value
//	    on stdin into the config as NAME (the mistake the audit must catch)
//	imagetool rootfs IMAGE DIR
//	    apply an image's layers into DIR
//
// rootfs is for the demo's own images: it applies regular files and
// directories and honours whiteouts; it is not a general image extractor.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/wrap"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: imagetool build BINARY OUT.tar [ENTRYPOINT...] | imagetool rootfs IMAGE DIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		args, env := os.Args[2:], ""
		if args[0] == "--env-stdin" && len(args) >= 4 {
			env, args = args[1], args[2:]
		}
		err = build(args[0], args[1], args[2:], env)
	case "rootfs":
		err = rootfs(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagetool: error:", err)
		os.Exit(1)
	}
}

func build(binary, out string, entry []string, envName string) error {
	data, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	platform, err := wrap.ELFPlatform(data)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "COPY app /app"}})
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, _ = strings.Cut(platform, "/")
	if len(entry) == 0 {
		entry = []string{"/app"}
	}
	cf.Config.Entrypoint = entry
	if envName != "" {
		v, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		cf.Config.Env = append(cf.Config.Env, envName+"="+strings.TrimSpace(string(v)))
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	tag, _ := name.NewTag("example/app:demo")
	return tarball.WriteToFile(out, tag, img)
}

func rootfs(ref, dir string) error {
	r, err := imageref.Parse(ref)
	if err != nil {
		return err
	}
	s, err := imageref.Open(context.Background(), r, imageref.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if s.Image == nil {
		return fmt.Errorf("%s is a multi-platform index", ref)
	}
	layers, err := s.Image.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		err = apply(tar.NewReader(rc), dir)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func apply(tr *tar.Reader, dir string) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if base := filepath.Base(target); strings.HasPrefix(base, ".wh.") {
			os.RemoveAll(filepath.Join(filepath.Dir(target), strings.TrimPrefix(base, ".wh.")))
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
				var f *os.File
				if f, err = os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(h.Mode)&0o777); err == nil {
					_, err = io.Copy(f, tr)
					f.Close()
				}
			}
		}
		if err != nil {
			return err
		}
	}
}
