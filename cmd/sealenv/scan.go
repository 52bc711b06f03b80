package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/internal/sarif"
	"github.com/sealenv/sealenv/seal"
)

func scanCommand(e *env) *cli.Command {
	flags := []cli.Flag{&cli.BoolFlag{Name: "staged", Usage: "scan the content staged for commit (the git index), not the working tree"}}
	for _, f := range auditFlags() {
		if f.Names()[0] != "output" {
			flags = append(flags, f)
		}
	}
	return &cli.Command{
		Name:      "scan",
		Usage:     "find plaintext secrets and unsealed secrets files in a working tree or a commit",
		ArgsUsage: "[PATH...]",
		Description: "With the audit's detectors and rule set: credential rules, plaintext secrets\n" +
			"files (.env, *.env, secrets YAML/JSON without SOPS metadata), and, with an\n" +
			"identity, every sealed value of the policy's bundles in any encoding. Without\n" +
			"PATH: the repository's tracked and untracked, not ignored, files. --staged\n" +
			"scans what the next commit would contain (for a pre-commit hook).\n" +
			"Exit 0 clean, 1 findings, 2 error.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			var files []scanFile
			var err error
			if c.Bool("staged") {
				if c.NArg() > 0 {
					return errors.New("usage: --staged scans the whole index; drop PATH")
				}
				files, err = stagedFiles()
			} else {
				paths := c.Args().Slice()
				if len(paths) == 0 {
					paths = []string{"."}
				}
				files, err = treeFiles(paths)
			}
			if err != nil {
				return err
			}
			opts, done, err := e.auditOptions(c)
			if err != nil {
				return err
			}
			defer done()
			findings, cov, err := scanFiles(c, files, opts)
			if err != nil {
				return err
			}
			findings = append(findings, unsealedPolicyBundles(c, files)...)
			sort.SliceStable(findings, func(i, j int) bool {
				if findings[i].Path != findings[j].Path {
					return findings[i].Path < findings[j].Path
				}
				return findings[i].Line < findings[j].Line
			})
			if err := writeScan(e.stdout, c.String("format"), findings, cov, len(files)); err != nil {
				return err
			}
			switch {
			case !cov.Complete:
				return fmt.Errorf("scan incomplete: %s", strings.Join(cov.Errors, "; "))
			case len(findings) > 0:
				return withCode(exitFindings, nil)
			}
			return nil
		},
	}
}

type scanFile struct {
	path string // slash-separated, relative to the repository root or as given
	data []byte
}

// git runs git and returns its stdout.
func git(args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("git", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("git %s: %s", args[0], msg)
	}
	return out, nil
}

// stagedFiles reads every added, copied, modified or renamed file from the
// index, the content the next commit will hold. Blobs are read by their ID,
// so no file name (spaces, newlines, quotes) can hide one from the scan;
// gitlinks (submodules) and symlinks hold no file content and are skipped.
func stagedFiles() ([]scanFile, error) {
	root, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("--staged needs a git repository: %w", err)
	}
	top := strings.TrimSpace(string(root))
	out, err := git("-C", top, "diff", "--cached", "--raw", "-z", "--no-abbrev", "--diff-filter=ACMR")
	if err != nil {
		return nil, err
	}
	type entry struct{ mode, blob, path string }
	var entries []entry
	parts := strings.Split(string(out), "\x00")
	for i := 0; i < len(parts); i++ {
		meta := parts[i]
		if !strings.HasPrefix(meta, ":") {
			continue
		}
		fields := strings.Fields(meta) // :old-mode new-mode old-blob new-blob status
		if len(fields) < 5 || i+1 >= len(parts) {
			return nil, fmt.Errorf("git diff --raw: unexpected output")
		}
		path := parts[i+1]
		i++
		if fields[4][0] == 'R' || fields[4][0] == 'C' { // renames and copies name source and destination
			if i+1 >= len(parts) {
				return nil, fmt.Errorf("git diff --raw: unexpected output")
			}
			path = parts[i+1]
			i++
		}
		if fields[1] == "160000" || fields[1] == "120000" {
			continue // a submodule commit or a symlink target
		}
		entries = append(entries, entry{fields[1], fields[3], path})
	}
	if len(entries) == 0 {
		return nil, nil
	}
	var ids strings.Builder
	for _, e := range entries {
		ids.WriteString(e.blob + "\n")
	}
	cmd := exec.Command("git", "-C", top, "cat-file", "--batch")
	cmd.Stdin = strings.NewReader(ids.String())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	br := bufio.NewReader(stdout)
	cwd, _ := os.Getwd()
	var files []scanFile
	for _, e := range entries {
		head, err := br.ReadString('\n')
		if err != nil {
			cmd.Wait()
			return nil, fmt.Errorf("git cat-file: %v", err)
		}
		fields := strings.Fields(head)
		if len(fields) != 3 || fields[1] != "blob" {
			cmd.Wait()
			return nil, fmt.Errorf("git cat-file: %s: not a blob", e.blob)
		}
		size, err := strconv.Atoi(fields[2])
		if err != nil {
			cmd.Wait()
			return nil, fmt.Errorf("git cat-file: bad header for %s", e.blob)
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(br, data); err != nil {
			cmd.Wait()
			return nil, fmt.Errorf("git cat-file: %v", err)
		}
		br.ReadByte() // the newline after the content
		display := e.path
		if rel, err := filepath.Rel(cwd, filepath.Join(top, e.path)); err == nil {
			display = filepath.ToSlash(rel)
		}
		files = append(files, scanFile{path: display, data: data})
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git cat-file: %v", err)
	}
	return files, nil
}

// treeFiles lists regular files under paths: in a git repository the
// tracked and untracked, not ignored, ones; elsewhere every file but .git.
func treeFiles(paths []string) ([]scanFile, error) {
	var files []scanFile
	seen := map[string]bool{}
	add := func(p string) error {
		p = filepath.Clean(p)
		if seen[p] {
			return nil
		}
		seen[p] = true
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() {
			return nil // deleted in the working tree, or a symlink
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, unwrapPathErr(err))
		}
		files = append(files, scanFile{path: filepath.ToSlash(p), data: data})
		return nil
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", root, unwrapPathErr(err))
		}
		if !st.IsDir() {
			if err := add(root); err != nil {
				return nil, err
			}
			continue
		}
		if out, err := git("-C", root, "ls-files", "-z", "-co", "--exclude-standard", "--full-name"); err == nil {
			top, _ := git("-C", root, "rev-parse", "--show-toplevel")
			topDir := strings.TrimSpace(string(top))
			cwd, _ := os.Getwd()
			for _, n := range strings.Split(string(out), "\x00") {
				if n == "" {
					continue
				}
				abs := filepath.Join(topDir, n)
				rel, err := filepath.Rel(cwd, abs)
				if err != nil {
					rel = abs
				}
				if err := add(rel); err != nil {
					return nil, err
				}
			}
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				return add(p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// scanFiles audits the files as one synthetic image layer written to
// memory-backed storage: the same detectors, rules and encodings as an
// image audit, with no second implementation to drift apart.
func scanFiles(c *cli.Context, files []scanFile, opts audit.Options) ([]audit.Finding, audit.Coverage, error) {
	if len(files) == 0 {
		return nil, audit.Coverage{Complete: true}, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.path] = f.data
		if err := tw.WriteHeader(&tar.Header{Name: f.path, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, audit.Coverage{}, err
		}
		tw.Write(f.data)
	}
	tw.Close()
	tarBytes := buf.Bytes()
	defer clear(tarBytes)
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil })
	if err != nil {
		return nil, audit.Coverage{}, err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "sealenv scan"}})
	if err != nil {
		return nil, audit.Coverage{}, err
	}
	dir, cleanup, err := fsutil.MemoryDir()
	if err != nil {
		if dir, err = os.MkdirTemp("", "sealenv-scan-*"); err != nil {
			return nil, audit.Coverage{}, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	defer cleanup()
	p, err := layout.Write(dir, empty.Index)
	if err == nil {
		err = p.AppendImage(img)
	}
	if err != nil {
		return nil, audit.Coverage{}, fmt.Errorf("preparing the scan: %v", err)
	}
	rep, err := audit.Image(c.Context, "oci:"+dir, opts)
	if err != nil {
		return nil, audit.Coverage{}, err
	}
	var out []audit.Finding
	for _, f := range rep.Findings {
		if f.Where != "layer" {
			continue // the synthetic config and history hold nothing of the user's
		}
		f.Path = strings.TrimPrefix(f.Path, "/")
		outer, _, nested := strings.Cut(f.Path, "!/")
		if data, ok := byPath[outer]; ok && !nested && f.Offset != nil && *f.Offset <= int64(len(data)) {
			f.Line = bytes.Count(data[:*f.Offset], []byte("\n")) + 1
		}
		f.Where, f.Image, f.LayerIndex, f.LayerDigest, f.Field = "file", "", nil, "", ""
		out = append(out, f)
	}
	cov := rep.Coverage
	cov.Layers, cov.Images = 0, 0
	return out, cov, nil
}

// unsealedPolicyBundles reports a bundle path of the policy whose scanned
// content has no SOPS metadata.
func unsealedPolicyBundles(c *cli.Context, files []scanFile) []audit.Finding {
	p, err := loadPolicy(c)
	if err != nil {
		return nil
	}
	var out []audit.Finding
	for i := range p.Environments {
		abs := p.BundlePath(&p.Environments[i])
		for _, f := range files {
			fa, err := filepath.Abs(filepath.FromSlash(f.path))
			if err != nil || fa != abs {
				continue
			}
			format, err := seal.DetectFormat(f.path, f.data)
			if err == nil {
				_, err = seal.Inspect(format, f.data)
			}
			if errors.Is(err, seal.ErrNotSealed) || errors.Is(err, seal.ErrMalformed) {
				out = append(out, audit.Finding{Kind: "plaintext-bundle", Rule: "unsealed-policy-bundle", Severity: "high", Where: "file",
					Path: f.path, Message: fmt.Sprintf("the bundle of environment %q is not sealed: sealenv seal --env %s -i FILE", p.Environments[i].Name, p.Environments[i].Name)})
			}
		}
	}
	return out
}

func writeScan(w io.Writer, format string, fs []audit.Finding, cov audit.Coverage, nfiles int) error {
	switch format {
	case "json":
		out := struct {
			Findings []audit.Finding `json:"findings"`
			Coverage audit.Coverage  `json:"coverage"`
		}{fs, cov}
		if out.Findings == nil {
			out.Findings = []audit.Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "sarif":
		log := sarif.New("sealenv scan", version, "https://github.com/sealenv/sealenv")
		for _, f := range fs {
			log.AddRule(sarif.Rule{ID: f.Rule, ShortDescription: &sarif.Message{Text: f.Kind + ": " + f.Rule}})
			msg := f.Kind + " " + f.Rule
			if f.Secret != "" {
				msg += " (sealed value " + f.Secret + ")"
			}
			if f.Message != "" {
				msg += ": " + f.Message
			}
			level := "error"
			if f.Severity == "low" {
				level = "warning"
			}
			outer, _, _ := strings.Cut(f.Path, "!/")
			log.Add(sarif.Result{RuleID: f.Rule, Level: level, Message: sarif.Message{Text: msg}, Locations: []sarif.Location{sarif.FileLocation(outer, f.Line)}})
		}
		return log.Write(w)
	}
	for _, f := range fs {
		loc := f.Path
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", f.Path, f.Line)
		}
		what := f.Rule
		if f.Secret != "" {
			what += " " + f.Secret
		}
		if f.Encoding != "" && f.Encoding != "raw" {
			what += " (" + f.Encoding + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", loc, strings.ToUpper(f.Severity), f.Kind, what, f.Preview)
	}
	fmt.Fprintf(w, "%d findings in %d files (%d bytes)\n", len(fs), nfiles, cov.Bytes)
	return nil
}
