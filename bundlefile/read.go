package bundlefile

import (
	"fmt"
	"os"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
)

// Read reads the bundle at path and decides its store: store, as a person
// named it (an unknown one is a [*SettingError]), else from the file's
// name or content.
func Read(path, store string) (seal.Format, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", path, fsutil.Reason(err))
	}
	o := Options{Store: store}
	f, err := o.format(path, data)
	if err != nil {
		return 0, nil, err
	}
	return f, data, nil
}
