package policies

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrBadRef is returned for a base that is not a git commit.
var ErrBadRef = errors.New("not a commit in this repository")

// Base is the policy file as it was at a git commit: the base of a change
// (a pull request's target branch), read with git show.
type Base struct {
	Ref string
	// Policy is the policy at Ref; nil when the file is not there.
	Policy *Policy

	dir, file string // git's working directory (the policy's), the file's name in it
}

// LoadBase reads the policy file of p as it was at ref (git show
// REF:./FILE, from the policy's directory), with the signers files it
// names as they were at ref too. A ref that names no commit is
// [ErrBadRef]; a policy that was not there gives a Base with no Policy;
// one that does not parse is an error, since nothing could be compared.
func LoadBase(p *Policy, ref string) (*Base, error) {
	if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, "\x00\n") {
		return nil, fmt.Errorf("base %q: %w", ref, ErrBadRef)
	}
	b := &Base{Ref: ref, dir: p.Root, file: filepath.Base(p.Path)}
	if _, err := b.git("rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}"); err != nil {
		if errors.Is(err, errGitMissing) {
			return nil, err
		}
		return nil, fmt.Errorf("base %s: %w", ref, ErrBadRef)
	}
	if _, err := b.git("cat-file", "-e", ref+":./"+b.file); err != nil {
		if errors.Is(err, errGitMissing) {
			return nil, err
		}
		return b, nil // no policy at the base
	}
	data, err := b.show(b.file)
	if err != nil {
		return nil, err
	}
	b.Policy, err = parse(p.Path, data, b.show)
	if err != nil {
		return nil, fmt.Errorf("%s as of %s: %w", b.file, ref, err)
	}
	return b, nil
}

// show reads a file named relative to the policy's directory at the base.
func (b *Base) show(name string) ([]byte, error) {
	out, err := b.git("show", b.Ref+":./"+filepath.ToSlash(name))
	if err != nil {
		return nil, fmt.Errorf("as of %s: %w", b.Ref, err)
	}
	return out, nil
}

// AddedBy names the first commit after the base that added text to the
// policy file (git log -S), as "COMMIT (AUTHOR <EMAIL>)": a commit between
// the base and HEAD, else (a merge not committed yet, as in the
// pre-merge-commit hook) one on any other ref but not in the base, said
// so. "" when none is and the file differs from HEAD's: the change is not
// committed yet. When none is and the file is HEAD's, the history is
// missing (a shallow clone): it says so, never "not committed".
func (b *Base) AddedBy(text string) (string, error) {
	first := func(args ...string) (string, error) {
		out, err := b.git(append([]string{"log", "--reverse", "--format=%h (%an <%ae>)", "-S" + text}, args...)...)
		if err != nil {
			return "", err
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line, nil
	}
	found, err := first(b.Ref+"..HEAD", "--", b.file)
	if err != nil || found != "" {
		return found, err
	}
	if _, err := b.git("diff", "--quiet", "HEAD", "--", b.file); err == nil {
		return fmt.Sprintf("no commit found since %s (is the clone shallow? git fetch --unshallow)", b.Ref), nil
	}
	found, err = first("--all", "--not", b.Ref, "--", b.file)
	if err != nil || found == "" {
		return "", err
	}
	return found + ", a commit not on this branch yet (a merge?)", nil
}

var errGitMissing = errors.New("git is not installed: --base needs it")

// git runs git in the policy's directory and returns its stdout; an error
// says git's first line of stderr.
func (b *Base) git(args ...string) ([]byte, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, errGitMissing
	}
	cmd := exec.Command(git, append([]string{"-c", "core.quotepath=off"}, args...)...)
	cmd.Dir = b.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git %s: %s", args[0], msg)
	}
	return out, nil
}
