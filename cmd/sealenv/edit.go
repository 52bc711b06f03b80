package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

func editCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "edit",
		Usage:     "edit a bundle in $EDITOR through a private plaintext copy (in memory on Linux)",
		ArgsUsage: "BUNDLE",
		Description: "Linux: the plaintext copy lives in a private 0700 directory on tmpfs\n" +
			"($SEALENV_SHM_DIR, /dev/shm or $XDG_RUNTIME_DIR) with mode 0600; with no\n" +
			"memory-backed place, edit refuses to run. macOS and Windows have no tmpfs: the copy\n" +
			"goes to a directory only you can open in your per-user temporary directory (on\n" +
			"disk, never synced), and edit says so each time (see docs/cli.md).\n" +
			"The copy is removed on every exit path, including SIGINT, SIGTERM and SIGHUP;\n" +
			"copies left by an edit killed with SIGKILL are removed by the next edit or check.\n" +
			"Values that you do not change keep their ciphertext byte for byte.\n" +
			"When the saved text does not parse or cannot be written, the editor reopens on\n" +
			"your text with the error on top as a comment; save it unchanged, or quit the editor\n" +
			"with an error, to leave the bundle as it was.",
		Flags: []cli.Flag{identityFlag(), storeFlag(), adoptFlag(), signKeyFlag(), envFlag(), policyFlag()},
		Action: func(c *cli.Context) error {
			path, err := bundleArg(c)
			if err != nil {
				return err
			}
			if err := e.removeStaleEdits(); err != nil {
				return err
			}
			editor := firstSet(e.getenv, "SEALENV_EDITOR", "VISUAL", "EDITOR")
			if editor == "" {
				editor = defaultEditor()
			}
			var changed []string
			err = bundlefile.Edit(path, e.writeOptions(c), func(d *bundlefile.Draft) (bool, error) {
				// A bundle no write may change (wrapped to a removed
				// key) is said before the editor opens, not after.
				if err := d.CheckRecipients(); err != nil {
					return false, err
				}
				var err error
				changed, err = e.editInMemory(c.Context, editor, path, d.Bundle, func(*author.Bundle) error {
					// What the write will do: every name must start, every
					// name and value must be writable.
					return writeError(path, d.Check())
				})
				return len(changed) > 0, err
			})
			if err != nil {
				return writeError(path, err)
			}
			if len(changed) == 0 {
				fmt.Fprintf(e.stderr, "no changes; %s unchanged\n", path)
				return nil
			}
			fmt.Fprintf(e.stderr, "changed %s in %s\n", strings.Join(changed, ", "), path)
			return nil
		},
	}
}

// editInMemory runs the editor on a plaintext copy of b in a private
// memory-backed directory and applies the edit to b. It returns the names
// that changed.
func (e *env) editInMemory(ctx context.Context, editor, path string, b *author.Bundle, check func(*author.Bundle) error) ([]string, error) {
	pd, err := fsutil.NewPrivateDir()
	if err != nil {
		if errors.Is(err, fsutil.ErrNoMemoryDir) {
			return nil, fmt.Errorf("edit: %w; refusing to write plaintext to disk", err)
		}
		return nil, fmt.Errorf("edit: %w; refusing to write plaintext anywhere else", err)
	}
	dir := pd.Path
	defer func() {
		if err := pd.Remove(); err != nil {
			fmt.Fprintf(e.stderr, "sealenv: warning: could not remove the plaintext copy in %s: %v; remove it now\n", dir, fsutil.Reason(err))
		}
	}()
	if note := privateDirNote(pd, runtime.GOOS); note != "" {
		fmt.Fprintln(e.stderr, note) // never silently weaker than tmpfs
	}
	// Remove the plaintext on signals too; the editor gets the signal as well.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got atomic.Int32 // the signal that ended the edit
	go func() {
		select {
		case s := <-sigs:
			if sig, ok := s.(syscall.Signal); ok {
				got.Store(int32(sig))
			}
			cancel()
		case <-ctx.Done():
		}
	}()

	plain, err := b.PlainText()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer clear(plain)
	ext := map[seal.Format]string{seal.FormatDotenv: ".env", seal.FormatYAML: ".yaml", seal.FormatJSON: ".json"}[b.Format()]
	tmp := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+ext)
	shown := plain    // what the editor was given, without an error header
	copyText := plain // what the copy holds: shown, after an error with the header above it
	var lastErr error
	for round := 1; ; round++ {
		if err := os.WriteFile(tmp, copyText, 0o600); err != nil {
			return nil, fmt.Errorf("edit: writing the plaintext copy: %w", fsutil.Reason(err))
		}
		args := append(splitCommand(editor), tmp)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, e.stdout, e.stderr
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				if sig := got.Load(); sig != 0 {
					// Exit 128+N however the race with main's own
					// handler ends.
					return nil, fmt.Errorf("edit: %w; bundle unchanged, plaintext copy removed", interrupted{syscall.Signal(sig)})
				}
				return nil, errors.New("edit: interrupted; bundle unchanged, plaintext copy removed")
			}
			return nil, fmt.Errorf("edit: editor %q exited with an error (%v): the edit is dropped, bundle unchanged", args[0], err)
		}
		edited, err := os.ReadFile(tmp)
		if err != nil {
			return nil, fmt.Errorf("edit: reading the edited copy: %w", fsutil.Reason(err))
		}
		edited = stripEditError(edited)
		if lastErr != nil && bytes.Equal(edited, shown) {
			clear(edited)
			// Saved as it was shown after an error: the person gave up.
			return nil, fmt.Errorf("%s: %w; the copy was saved unchanged, so the edit was dropped and the bundle is unchanged", path, lastErr)
		}
		restore := b.Checkpoint()
		changed, err := b.ReplacePlain(edited)
		if err == nil && len(changed) > 0 {
			err = check(b)
		}
		if err == nil {
			clear(edited)
			return changed, nil
		}
		restore()
		// Never drop what was typed: reopen the editor on the same text,
		// the error at the top as a comment, as sops edit does.
		if round >= maxEditRounds {
			clear(edited)
			return nil, fmt.Errorf("%s: %w; gave up after %d rounds in the editor; bundle unchanged", path, err, maxEditRounds)
		}
		fmt.Fprintf(e.stderr, "sealenv: %s: %v; reopening the editor (save it unchanged, or quit the editor with an error, to leave the bundle as it was)\n", path, err)
		if lastErr != nil {
			clear(shown)
			clear(copyText)
		}
		shown, lastErr = edited, err
		copyText = append(editErrorHeader(err), edited...)
	}
}

// maxEditRounds bounds how often edit reopens the editor after an error:
// a scripted $EDITOR that writes a new mistake each time must not loop
// forever.
const maxEditRounds = 20

// editErrorMark starts every line of the header that edit puts above the
// text after an error; edit removes such lines before it reads the text.
const editErrorMark = "# sealenv edit: "

// editErrorHeader is the comment edit puts above the person's own text
// after an error: what is wrong, and how to leave.
func editErrorHeader(err error) []byte {
	return []byte(editErrorMark + "ERROR: " + oneLine(err.Error()) + "\n" +
		editErrorMark + "fix it and save; save it unchanged, or quit the editor with an error, to leave the bundle as it was\n" +
		editErrorMark + "(these lines are removed before the text is read)\n")
}

// stripEditError removes the header of editErrorHeader from the top.
func stripEditError(text []byte) []byte {
	for bytes.HasPrefix(text, []byte(editErrorMark)) {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			return text[:0]
		}
		text = text[i+1:]
	}
	return text
}

func firstSet(getenv func(string) (string, bool), names ...string) string {
	for _, n := range names {
		if v, ok := getenv(n); ok && strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// askNo asks a yes/no question on stderr and reads the answer from stdin;
// the default is no.
func (e *env) askNo(q string) bool {
	fmt.Fprint(e.stderr, q)
	var line [16]byte
	n, _ := e.stdin.Read(line[:])
	a := strings.ToLower(strings.TrimSpace(string(line[:n])))
	return a == "y" || a == "yes"
}

// removeStaleEdits removes the plaintext copies that edits killed by
// SIGKILL left in memory-backed storage, and says so.
func (e *env) removeStaleEdits() error {
	removed, err := fsutil.RemoveStaleMemoryDirs()
	for _, d := range removed {
		fmt.Fprintf(e.stderr, "sealenv: removed %s, the plaintext copy of an edit whose process is gone (killed?)\n", d)
	}
	if err != nil {
		return fmt.Errorf("removing the plaintext copy of an interrupted edit: %w", err)
	}
	return nil
}

// defaultEditor is the editor when $SEALENV_EDITOR, $VISUAL and $EDITOR are
// unset: vi, or Notepad on Windows (which waits until its window closes).
func defaultEditor() string {
	if runtime.GOOS == "windows" {
		return "notepad"
	}
	return "vi"
}

// privateDirNote is what edit says about where the plaintext copy is when
// that is weaker than Linux's tmpfs: on disk (macOS, Windows), or in a
// $SEALENV_SHM_DIR that sealenv cannot prove memory-backed. "" on tmpfs.
func privateDirNote(pd *fsutil.PrivateDir, goos string) string {
	switch {
	case pd.Memory:
		return ""
	case pd.Explicit:
		return fmt.Sprintf("sealenv: note: the plaintext copy is in %s ($%s), which sealenv cannot prove is memory-backed; it is yours only and removed after the edit", pd.Path, fsutil.EnvPrivateDir)
	}
	return fmt.Sprintf("sealenv: note: the plaintext copy is on disk in %s (%s has no memory-backed directory): yours only, not synced, removed after the edit; see docs/cli.md", pd.Path, platformName(goos))
}

// platformName is the system's name as its users say it.
func platformName(goos string) string {
	switch goos {
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows"
	}
	return goos
}

// splitCommand splits an editor setting into words at blanks, where "..."
// or '...' keep blanks in a word: EDITOR="code --wait" and, on Windows,
// "C:\Program Files\Notepad++\notepad++.exe" -multiInst. A backslash is
// an ordinary character (a Windows path is full of them).
func splitCommand(s string) []string {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}
