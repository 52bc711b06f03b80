// Package sources lists the files a scan searches: the content the next
// commit holds (the git index), or a working tree. Each yields
// [audit.File] values for [audit.Files], the one detector.
package sources

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/internal/fsutil"
)

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

// Staged reads every file the next commit adds or changes from the git
// index of the repository that holds the working directory: added, copied,
// modified, renamed, and changed in type (a symlink or a submodule that
// became a file). Blobs are read by their ID, so no file name (spaces,
// newlines, quotes) can hide one; gitlinks (submodules) and symlinks hold no
// file content and are skipped. Paths are relative to the working
// directory.
func Staged() ([]audit.File, error) {
	root, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("not in a git repository: %w", err)
	}
	top := strings.TrimSpace(string(root))
	out, err := git("-C", top, "diff", "--cached", "--raw", "-z", "--no-abbrev", "--diff-filter=ACMRT")
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
	var files []audit.File
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
		files = append(files, memFile(display, data))
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git cat-file: %v", err)
	}
	return files, nil
}

// Tree lists the regular files under paths: in a git repository the
// tracked and untracked, not ignored, ones; elsewhere every file but .git.
// Files are opened when searched, not before.
func Tree(paths []string) ([]audit.File, error) {
	var files []audit.File
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
		files = append(files, audit.File{Path: filepath.ToSlash(p), Open: func() (io.ReadCloser, error) {
			f, err := os.Open(p)
			if err != nil {
				return nil, fsutil.Reason(err)
			}
			return f, nil
		}})
		return nil
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", root, fsutil.Reason(err))
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

func memFile(path string, data []byte) audit.File {
	return audit.File{Path: path, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}
