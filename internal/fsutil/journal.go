package fsutil

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A journaled write replaces several files as one change that survives
// SIGKILL and power loss: afterwards every file is old or every file is new.
//
//  1. The journal (intent) file is created, locked, filled with the list
//     of targets and the names of their staged and backup files, and
//     synced, with its directory, before anything else.
//  2. Each new content is written and synced next to its target; each
//     target gets a hard link as a backup of its old content.
//  3. The staged files are renamed over their targets, in order.
//  4. A commit marker is created and synced: from here on the change is
//     done. The backups, the marker and the journal are removed.
//
// [Recover] finishes an interrupted change whose marker exists (it only
// removes what is left over) and rolls back any other (every backup is
// renamed over its target).

// journalEntry is one file of a journaled write.
type journalEntry struct {
	Path string `json:"path"` // target, resolved
	New  string `json:"new"`  // staged new content; "" when the target is removed
	Old  string `json:"old"`  // hard link to the old content; "" when the target is created
	// Create: the target did not exist, so a rollback removes it.
	Create bool `json:"create,omitempty"`
	// Remove: the change removes the target (its backup is Old).
	Remove bool `json:"remove,omitempty"`
}

// Change is one file of [WriteChangesJournaled]: new content for Path
// (created if it does not exist), or, with Remove, the removal of Path.
type Change struct {
	Path   string
	Data   []byte
	Remove bool
}

type journalDoc struct {
	V     int            `json:"v"`
	PID   int            `json:"pid"`
	Start time.Time      `json:"start"`
	Files []journalEntry `json:"files"`
}

// TestHookStep, when set (by tests only), is called at each step of a
// journaled write: i < n before the rename of file i, n before the commit
// marker, n+1 after it. A test kills the process there.
var TestHookStep func(i, n int)

func hook(i, n int) {
	if TestHookStep != nil {
		TestHookStep(i, n)
	}
}

// WriteChangesJournaled replaces, creates (mode 0644) or removes files as
// one change, with a journal at journal (see the steps above). If it fails
// before the commit, every file is as it was: replaced and removed files
// have their old content, created ones are gone. Symlinks are written
// through. The caller holds the files' locks (a created file's lock is its
// bundle's).
func WriteChangesJournaled(journal string, changes []Change) (err error) {
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	tag := hex.EncodeToString(id)
	doc := journalDoc{V: 1, PID: os.Getpid(), Start: time.Now().UTC()}
	var data [][]byte
	var modes []fs.FileMode
	for _, c := range changes {
		p, err := throughLink(c.Path)
		if err != nil {
			return err
		}
		dir, base := filepath.Dir(p), filepath.Base(p)
		e := journalEntry{
			Path:   p,
			New:    filepath.Join(dir, "."+base+".sealenv-new-"+tag),
			Old:    filepath.Join(dir, "."+base+".sealenv-old-"+tag),
			Remove: c.Remove,
		}
		mode := fs.FileMode(0o644)
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && c.Remove:
			continue // nothing to remove
		case errors.Is(err, fs.ErrNotExist):
			e.Create, e.Old = true, ""
		case err != nil:
			return err
		case !st.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		default:
			mode = st.Mode().Perm()
		}
		if c.Remove {
			e.New = ""
		}
		doc.Files = append(doc.Files, e)
		data, modes = append(data, c.Data), append(modes, mode)
	}
	if len(doc.Files) == 0 {
		return nil
	}
	text, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	jf, err := createForLock(journal, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: another fleet write is running or was interrupted; run sealenv check to finish or roll it back", journal)
	}
	if err != nil {
		return err
	}
	defer jf.Close()
	if err := tryLock(jf); err != nil {
		os.Remove(journal)
		return fmt.Errorf("%s: locking: %w", journal, err)
	}
	undo := func() { rollback(doc) }
	defer func() {
		if err != nil {
			undo()
			os.Remove(journal)
			syncDir(filepath.Dir(journal))
		}
	}()
	if _, err = jf.Write(text); err != nil {
		return err
	}
	if err = jf.Sync(); err != nil {
		return err
	}
	syncDir(filepath.Dir(journal))
	for i, e := range doc.Files {
		if !e.Remove {
			if err = writeExact(e.New, data[i], modes[i]); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
		}
		if !e.Create {
			if err = os.Link(e.Path, e.Old); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
		}
		syncDir(filepath.Dir(e.Path))
	}
	n := len(doc.Files)
	for i, e := range doc.Files {
		hook(i, n)
		if e.Remove {
			err = os.Remove(e.Path)
		} else {
			err = rename(e.New, e.Path)
		}
		if err != nil {
			return fmt.Errorf("%s: %w (all files restored)", e.Path, err)
		}
		syncDir(filepath.Dir(e.Path))
	}
	hook(n, n)
	if err = writeExact(journal+".committed", nil, 0o600); err != nil {
		return err
	}
	syncDir(filepath.Dir(journal))
	hook(n+1, n)
	undo = func() {} // committed: never roll back from here
	finish(doc)
	if err := os.Remove(journal + ".committed"); err != nil {
		return err
	}
	if err := os.Remove(journal); err != nil {
		return err
	}
	syncDir(filepath.Dir(journal))
	return nil
}

// writeExact creates path (which must not exist) with data and syncs it.
func writeExact(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// rollback puts every backup back over its target, removes created
// targets, and removes what was staged.
func rollback(doc journalDoc) {
	for _, e := range doc.Files {
		if e.Create {
			os.Remove(e.Path) // the caller held its lock: nobody else created it
		}
		if e.Old == "" {
			// created: nothing to restore
		} else if _, err := os.Lstat(e.Old); err == nil {
			// If the target still is the old file, rename does nothing
			// (both names link the same inode), so remove the backup.
			if err := rename(e.Old, e.Path); err == nil {
				os.Remove(e.Old)
			}
		}
		if e.New != "" {
			os.Remove(e.New)
		}
		syncDir(filepath.Dir(e.Path))
	}
}

// finish removes the backups and staged files of a committed change.
func finish(doc journalDoc) {
	for _, e := range doc.Files {
		if e.Old != "" {
			os.Remove(e.Old)
		}
		if e.New != "" {
			os.Remove(e.New)
		}
		syncDir(filepath.Dir(e.Path))
	}
}

// Recovery says what [Recover] did.
type Recovery int

const (
	Nothing    Recovery = iota // no interrupted write
	Finished                   // it had committed: leftovers removed, every file new
	RolledBack                 // it had not: every file old again
)

// Recover finishes or rolls back an interrupted journaled write with the
// journal at journal (see [WriteChangesJournaled]). It waits up to wait for
// a write that is still running.
func Recover(journal string, wait time.Duration) (Recovery, error) {
	unlock, err := Lock(journal, wait)
	if errors.Is(err, fs.ErrNotExist) {
		return Nothing, nil
	}
	if err != nil {
		return Nothing, err
	}
	defer unlock()
	f, err := os.Open(journal)
	if errors.Is(err, fs.ErrNotExist) {
		return Nothing, nil // the writer finished while we waited
	}
	if err != nil {
		return Nothing, err
	}
	text, err := io.ReadAll(io.LimitReader(f, 16<<20))
	f.Close()
	if err != nil {
		return Nothing, err
	}
	var doc journalDoc
	if err := json.Unmarshal(text, &doc); err != nil || doc.V != 1 {
		// Killed while writing the journal: nothing was staged yet.
		if err := os.Remove(journal); err != nil {
			return Nothing, err
		}
		syncDir(filepath.Dir(journal))
		return RolledBack, nil
	}
	what := RolledBack
	if _, err := os.Stat(journal + ".committed"); err == nil {
		finish(doc)
		what = Finished
	} else {
		rollback(doc)
	}
	os.Remove(journal + ".committed")
	if err := os.Remove(journal); err != nil {
		return Nothing, err
	}
	syncDir(filepath.Dir(journal))
	return what, nil
}
