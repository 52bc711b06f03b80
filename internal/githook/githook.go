// Package githook installs sealenv's git hooks into a repository: a
// pre-commit and a pre-merge-commit hook that run sealenv scan --staged and
// sealenv check --no-identity, so that neither a commit nor a merge adds a
// plaintext secret or breaks the policy. The pre-merge-commit hook also
// passes --base HEAD (as warnings): what the merge does to trust.
//
// Hooks go where git runs them: `git rev-parse --git-path hooks`, which
// honours core.hooksPath. A hook sealenv did not write is never replaced
// silently: Install refuses it ([ErrForeignHook]) unless Force (replace it)
// or Chain (keep it as HOOK.sealenv-chained, which sealenv's hook runs
// first).
package githook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sealenv/sealenv/internal/fsutil"
)

// names are the hooks Install writes.
var names = [...]string{"pre-commit", "pre-merge-commit"}

// marker is the line that says a hook is sealenv's.
const marker = "# sealenv-hook:"

// ChainedSuffix names the hook that was in the way, kept and run first
// when Install is asked to chain.
const ChainedSuffix = ".sealenv-chained"

// ErrForeignHook is returned for a hook that sealenv did not write.
var ErrForeignHook = errors.New("a hook that sealenv did not write is in the way")

// Options say where and how to install.
type Options struct {
	// Dir is a directory in the repository (the working directory when
	// empty).
	Dir string
	// Force replaces a hook sealenv did not write; Chain keeps it as
	// HOOK.sealenv-chained and runs it before sealenv's checks.
	Force, Chain bool
	// Sealenv is the absolute path of a sealenv the hook runs when none is
	// on PATH.
	Sealenv string
}

// Result says what Install did.
type Result struct {
	HooksDir  string   // where the hooks are, as git names it
	Installed []string // hook names written
	Replaced  []string // foreign hooks replaced (Force)
	Chained   []string // foreign hooks kept and chained (Chain)
}

// Install writes the pre-commit and pre-merge-commit hooks (see the package doc).
func Install(o Options) (*Result, error) {
	if o.Force && o.Chain {
		return nil, errors.New("replacing and chaining a foreign hook exclude each other")
	}
	dir, err := hooksDir(o.Dir)
	if err != nil {
		return nil, err
	}
	res := &Result{HooksDir: dir}
	type plan struct{ name, path string }
	var plans []plan
	for _, name := range names {
		p := filepath.Join(dir, name)
		if !filepath.IsAbs(dir) && o.Dir != "" {
			p = filepath.Join(o.Dir, dir, name)
		}
		data, err := os.ReadFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("%s: %w", p, fsutil.Reason(err))
		case !bytes.Contains(data, []byte(marker)) && !o.Force && !o.Chain:
			return nil, fmt.Errorf("%s: %w", p, ErrForeignHook)
		case !bytes.Contains(data, []byte(marker)) && o.Chain:
			if _, err := os.Stat(p + ChainedSuffix); err == nil {
				return nil, fmt.Errorf("%s: %w, and %s exists already", p, ErrForeignHook, p+ChainedSuffix)
			}
		}
		plans = append(plans, plan{name, p})
	}
	// Every check passed: now write.
	for _, pl := range plans {
		if err := os.MkdirAll(filepath.Dir(pl.path), 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Dir(pl.path), fsutil.Reason(err))
		}
		data, err := os.ReadFile(pl.path)
		if err == nil && !bytes.Contains(data, []byte(marker)) {
			if o.Chain {
				if err := os.Rename(pl.path, pl.path+ChainedSuffix); err != nil {
					return nil, fmt.Errorf("%s: %w", pl.path, fsutil.Reason(err))
				}
				os.Chmod(pl.path+ChainedSuffix, 0o755)
				res.Chained = append(res.Chained, pl.name)
			} else {
				res.Replaced = append(res.Replaced, pl.name)
			}
		}
		if err := fsutil.WriteFileAtomic(pl.path, Script(pl.name, o.Sealenv), 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", pl.path, fsutil.Reason(err))
		}
		res.Installed = append(res.Installed, pl.name)
	}
	return res, nil
}

// hooksDir asks git where it runs hooks from (core.hooksPath honoured).
func hooksDir(dir string) (string, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return "", errors.New("git is not installed")
	}
	cmd := exec.Command(git, "rev-parse", "--git-path", "hooks")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "not a git repository") {
			return "", errors.New("not in a git repository")
		}
		return "", fmt.Errorf("git rev-parse --git-path hooks: %s", strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Script is the hook named name; fallback is the sealenv it runs when
// none is on PATH.
func Script(name, fallback string) []byte {
	what := "commit"
	if name == "pre-merge-commit" {
		what = "merge"
	}
	return []byte(fmt.Sprintf(`#!/bin/sh
%s %s (written by sealenv hook install; run that again to update it)
# Stops a %s that would add a plaintext secret or an unsealed secrets file
# (sealenv scan --staged), or that breaks sealenv.yaml (sealenv check).
# A hook that was here before is kept as $0%s and runs first.
if [ -x "$0%s" ]; then
	"$0%s" "$@" || exit $?
fi
sealenv=sealenv
if ! command -v sealenv >/dev/null 2>&1; then
	sealenv=%s
	if [ ! -x "$sealenv" ]; then
		echo "sealenv hook: sealenv is not on PATH (nor at $sealenv): install it, or remove $0" >&2
		exit 1
	fi
fi
"$sealenv" scan --staged || exit $?
if [ -f sealenv.yaml ]; then
	"$sealenv" check --no-identity%s || exit $?
fi
`, marker, name, what, ChainedSuffix, ChainedSuffix, ChainedSuffix, shellQuote(fallback), checkArgs(name)))
}

// checkArgs are check's extra arguments in the hook named name: a merge
// knows its base (HEAD, the branch merged into), so the pre-merge-commit
// hook shows what the merge does to trust, as warnings: merging is the
// reviewer's deliberate act, which the hook informs and does not stop.
func checkArgs(name string) string {
	if name == "pre-merge-commit" {
		return " --base HEAD --trust-changes warning"
	}
	return ""
}

// shellQuote quotes s for sh in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
