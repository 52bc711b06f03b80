package audit

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/sealenv/sealenv/seal"
)

// Dockerfile lints a Dockerfile statically with BuildKit's parser: ARG and
// ENV whose name says secret or names a sealed key, literal secrets (every
// detector), and COPY or ADD of plaintext secret files. Files copied from
// the Dockerfile's directory are checked for SOPS metadata.
func Dockerfile(file string, opts Options) (*Report, error) {
	o := opts.defaults()
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	a := &auditor{o: o, d: o.detectors(), rep: newReport(file, o)}
	a.rep.Coverage.Files = 1
	a.rep.Coverage.Bytes = int64(len(data))
	lineOf := lineIndex(data)
	sc := &scanner{d: a.d, seen: map[seenKey]bool{}}
	sc.scanBytes(data, func(h hit) {
		f := a.hitFinding(h)
		f.Where, f.Path, f.Line = whereDockerfile, file, lineOf(h.offset)
		f.Offset = nil
		f.Message += "; pass it with RUN --mount=type=secret instead"
		a.add(f)
	})
	ctxDir := filepath.Dir(file)
	for _, n := range res.AST.Children {
		ins, err := instructions.ParseInstruction(n)
		if err != nil {
			continue // BuildKit reports these itself; we only lint
		}
		at := func(rule, name, msg string) {
			a.add(Finding{Kind: kindDockerfle, Rule: rule, Severity: "high", Where: whereDockerfile, Path: file, Line: n.StartLine, Name: name,
				Secret: sealedName(a.d, name), Message: msg})
		}
		switch c := ins.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if a.d.sealed[kv.Key] || isSecretName(kv.Key) {
					at("secret-arg", kv.Key, fmt.Sprintf("ARG %s: build arguments are recorded in the image history and provenance; use RUN --mount=type=secret,id=%s", kv.Key, kv.Key))
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if (a.d.sealed[kv.Key] || isSecretName(kv.Key)) && strings.TrimSpace(kv.Value) != "" && !strings.HasPrefix(kv.Value, "/") {
					at("secret-env", kv.Key, fmt.Sprintf("ENV %s bakes a secret into the image config; provide it at run time with sealenv-inject, or use RUN --mount=type=secret,id=%s during the build", kv.Key, kv.Key))
				}
			}
		case *instructions.CopyCommand:
			if c.From == "" {
				a.copies(c.SourcePaths, ctxDir, "COPY", at)
			}
		case *instructions.AddCommand:
			a.copies(c.SourcePaths, ctxDir, "ADD", at)
		}
	}
	a.rep.filter(o)
	return a.rep, nil
}

func sealedName(d *detectors, n string) string {
	if d.sealed[n] {
		return n
	}
	return ""
}

// copies reports sources that are secrets files and not sealed.
func (a *auditor) copies(srcs []string, ctxDir, verb string, at func(rule, name, msg string)) {
	for _, s := range srcs {
		base := strings.ToLower(path.Base(s))
		if !looksLikeSecretsFile(s) && !secretFileName(base) {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(ctxDir, filepath.FromSlash(s))); err == nil {
			if f, err := seal.DetectFormat(s, data); err == nil {
				if _, err := seal.Inspect(f, data); err == nil {
					continue // a sealed bundle: ciphertext is safe in an image
				}
			}
		}
		at("copy-secret-file", s, fmt.Sprintf("%s %s puts a plaintext secrets file into a layer; seal it (sealenv seal) or mount it with RUN --mount=type=secret", verb, s))
	}
}

// secretFileName lists files that hold credentials by convention.
func secretFileName(base string) bool {
	switch base {
	case "id_rsa", "id_ecdsa", "id_ed25519", "id_dsa", ".npmrc", ".netrc", ".pypirc", ".pgpass", "credentials", "credentials.json", "keys.txt", ".git-credentials", "service-account.json":
		return true
	}
	return strings.HasSuffix(base, ".pem") || strings.HasSuffix(base, ".key") || strings.HasSuffix(base, ".p12") || strings.HasSuffix(base, ".pfx")
}

// lineIndex maps a byte offset to a 1-based line number.
func lineIndex(data []byte) func(int64) int {
	var starts []int64
	starts = append(starts, 0)
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, int64(i+1))
		}
	}
	return func(off int64) int {
		lo, hi := 0, len(starts)
		for lo+1 < hi {
			m := (lo + hi) / 2
			if starts[m] <= off {
				lo = m
			} else {
				hi = m
			}
		}
		return lo + 1
	}
}
