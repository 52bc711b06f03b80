package fserr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReason(t *testing.T) {
	t.Parallel()
	_, notExist := os.Open(filepath.Join(t.TempDir(), "missing.env"))
	other := errors.New("larger than 16 MiB")
	for name, tc := range map[string]struct {
		err  error
		want string
		is   error
	}{
		"a path error loses its path":    {notExist, "no such file or directory", fs.ErrNotExist},
		"a wrapped path error, likewise": {fmt.Errorf("reading: %w", notExist), "no such file or directory", fs.ErrNotExist},
		"another error stays":            {other, "larger than 16 MiB", other},
		"nil stays nil":                  {nil, "", nil},
	} {
		got := Reason(tc.err)
		if tc.err == nil {
			if got != nil {
				t.Errorf("%s: %v, want nil", name, got)
			}
			continue
		}
		if got.Error() != tc.want || !errors.Is(got, tc.is) {
			t.Errorf("%s: %q, want %q (and errors.Is %v)", name, got, tc.want, tc.is)
		}
	}
}
