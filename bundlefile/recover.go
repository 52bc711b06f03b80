package bundlefile

import (
	"fmt"
	"path/filepath"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
)

// JournalName is the journal of an interrupted [EditAll], in the policy's
// directory. It exists only while a fleet write runs or after one was
// killed.
const JournalName = ".sealenv-journal"

// Recover finishes or rolls back the interrupted fleet writes ([EditAll])
// that concern paths: in the directory of the policy (o.Policy, else the
// sealenv.yaml found from the working directory) and in the repository of
// each path ([Root]). It tells o.Tell a [Recovered] for each. Every write
// runs it first; so does a check of the policy.
func Recover(o Options, paths ...string) error {
	if err := fsutil.CheckLockWait(); err != nil {
		return err // every writer and check come here first
	}
	var roots []string
	if o.Policy != "" {
		abs, err := filepath.Abs(o.Policy)
		if err != nil {
			return err
		}
		roots = append(roots, filepath.Dir(abs))
	} else if p, err := policies.Find("."); err == nil {
		roots = append(roots, filepath.Dir(p))
	}
	for _, path := range paths {
		if r := Root(path); r != "" {
			roots = append(roots, r)
		}
	}
	done := map[string]bool{}
	for _, r := range roots {
		if done[r] {
			continue
		}
		done[r] = true
		if err := recoverDir(r, o.tell); err != nil {
			return err
		}
	}
	return nil
}

// recoverDir finishes or rolls back the fleet write whose journal is in
// root (a policy's directory), if one was interrupted.
func recoverDir(root string, tell func(Event)) error {
	journal := filepath.Join(root, JournalName)
	what, err := fsutil.Recover(journal, fsutil.LockWait())
	if err != nil {
		return fmt.Errorf("recovering an interrupted fleet write: %w", err)
	}
	switch what {
	case fsutil.Finished:
		tell(Recovered{Journal: journal, Finished: true})
	case fsutil.RolledBack:
		tell(Recovered{Journal: journal})
	}
	return nil
}
