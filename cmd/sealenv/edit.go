package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

func editCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "edit",
		Usage:     "edit a bundle in $EDITOR through a plaintext copy in memory-backed storage",
		ArgsUsage: "BUNDLE",
		Description: "The plaintext copy lives in a private 0700 directory on tmpfs ($SEALENV_SHM_DIR,\n" +
			"/dev/shm or $XDG_RUNTIME_DIR) with mode 0600, and is removed on every exit path,\n" +
			"including SIGINT, SIGTERM and SIGHUP. With no memory-backed place, edit refuses\n" +
			"to run. Values that you do not change keep their ciphertext byte for byte.\n" +
			"Copies left by an edit killed with SIGKILL are removed by the next edit or check.",
		Flags: []cli.Flag{identityFlag(), storeFlag(), adoptFlag(), signKeyFlag()},
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
				editor = "vi"
			}
			var changed []string
			err = e.editBundle(c, path, func(b *author.Bundle) (bool, error) {
				var err error
				changed, err = e.editInMemory(c.Context, editor, path, b)
				return len(changed) > 0, err
			})
			if err != nil {
				return err
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
func (e *env) editInMemory(ctx context.Context, editor, path string, b *author.Bundle) ([]string, error) {
	dir, cleanup, err := fsutil.MemoryDir()
	if err != nil {
		return nil, fmt.Errorf("edit: %w; refusing to write plaintext to disk", err)
	}
	defer cleanup()
	// Remove the plaintext on signals too; the editor gets the signal as well.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()

	plain, err := b.PlainText()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ext := ".env"
	if b.Format() == seal.FormatYAML {
		ext = ".yaml"
	}
	tmp := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+ext)
	if err := os.WriteFile(tmp, plain, 0o600); err != nil {
		clear(plain)
		return nil, fmt.Errorf("edit: writing the plaintext copy: %w", fsutil.Reason(err))
	}
	clear(plain)
	interactive := false
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		interactive = true
	}
	for {
		args := append(strings.Fields(editor), tmp)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, e.stdout, e.stderr
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return nil, errors.New("edit: interrupted; bundle unchanged, plaintext copy removed")
			}
			return nil, fmt.Errorf("edit: editor %q failed: %v; bundle unchanged", args[0], err)
		}
		edited, err := os.ReadFile(tmp)
		if err != nil {
			return nil, fmt.Errorf("edit: reading the edited copy: %w", fsutil.Reason(err))
		}
		changed, err := b.ReplacePlain(edited)
		clear(edited)
		if err != nil {
			// A typo should not cost the edits: on a terminal, offer
			// the editor again on the same copy.
			if interactive && e.askYes(fmt.Sprintf("%s: %v; edit again? [Y/n] ", path, err)) {
				continue
			}
			return nil, fmt.Errorf("%s: %w; bundle unchanged", path, err)
		}
		return changed, nil
	}
}

func firstSet(getenv func(string) (string, bool), names ...string) string {
	for _, n := range names {
		if v, ok := getenv(n); ok && strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// askYes asks a yes/no question on stderr and reads the answer from stdin;
// the default is yes.
func (e *env) askYes(q string) bool {
	fmt.Fprint(e.stderr, q)
	var line [16]byte
	n, _ := e.stdin.Read(line[:])
	a := strings.ToLower(strings.TrimSpace(string(line[:n])))
	return a == "" || a == "y" || a == "yes"
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
