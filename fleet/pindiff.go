package fleet

import (
	"bytes"
	"os/exec"
	"strings"

	"github.com/sealenv/sealenv/policies"
)

// PinDiff shows what changed in the files of a generator command since it
// was pinned: it looks, in the git history of the policy's directory (the
// last 200 commits that touched the files), for the newest commit whose
// files, with the command as it is now, have the pinned digest, and
// returns that commit and `git diff COMMIT -- FILES` (against the working
// tree). It returns "" and nil when there is no git repository, the
// command itself changed, or no commit matches: the digests in the error
// are then all there is to show.
func PinDiff(pe *policies.PinError) (commit string, diff []byte) {
	if pe == nil || pe.Pinned == "" || len(pe.Files) == 0 || pe.Dir == "" {
		return "", nil
	}
	git := func(args ...string) ([]byte, error) {
		cmd := exec.Command("git", append([]string{"-C", pe.Dir}, args...)...)
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		return out.Bytes(), err
	}
	paths := make([]string, len(pe.Files))
	for i, f := range pe.Files {
		paths[i] = "./" + f
	}
	log, err := git(append([]string{"log", "--format=%H", "-n", "200", "--"}, paths...)...)
	if err != nil {
		return "", nil
	}
	for _, c := range strings.Fields(string(log)) {
		files := map[string][]byte{}
		for i, f := range pe.Files {
			if data, err := git("show", c+":"+paths[i]); err == nil {
				files[f] = data
			}
		}
		if policies.PinOf(pe.Command, files) != pe.Pinned {
			continue
		}
		d, err := git(append([]string{"diff", "--no-color", "--no-ext-diff", "--no-textconv", c, "--"}, paths...)...)
		if err != nil {
			return "", nil
		}
		return c, d
	}
	return "", nil
}
