package inject

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/sealenv/sealenv/internal/fserr"
	"github.com/sealenv/sealenv/seal"
)

// SettingNames names [Config.Names] in messages.
const SettingNames Setting = "Names"

// DefaultNames is where sealenv wrap and sealenv build put the names a
// policy declares for an image's environment. The injector reads it when
// [Config.Names] is empty and the file exists, as it does
// [DefaultSigners]: an image without the file runs as before, and one
// with it needs no --names in its entrypoint. Whoever could remove the
// file controls the image, and with it the entrypoint, anyway.
const DefaultNames = "/etc/sealenv/names"

// maxNamesFile caps the declared names file.
const maxNamesFile = 1 << 20

// namesFile decides which declared names file applies: Names, else the
// default ([Config.NamesDefault], else [DefaultNames]) when anything is
// there (a file that cannot be read, or a directory, turns the check on
// and fails it), else none (""). where is how messages name it.
func (c *Config) namesFile() (path, where string) {
	if c.Names != "" {
		return c.Names, c.mention(SettingNames, c.Names)
	}
	def := c.NamesDefault
	if def == "" {
		def = DefaultNames
	}
	if _, err := os.Lstat(def); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return def, def
	}
	return "", ""
}

// loadDeclared reads the declared names file ([Config.namesFile]): one
// name per line; blank lines and lines starting with # are skipped. nil
// when there is no file to read. A file that cannot be read, or a line
// that is not a variable name, is an error: the list is a gate, and a gate
// fails closed.
func (c *Config) loadDeclared() (map[string]bool, error) {
	path, where := c.namesFile()
	if path == "" {
		return nil, nil
	}
	data, err := readRegular(path, maxNamesFile)
	if err != nil {
		return nil, fail(ExitFailure, "%s: %v", where, fserr.Reason(err))
	}
	declared := map[string]bool{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		name := strings.TrimSpace(string(line))
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		if !seal.ValidName(name) {
			return nil, fail(ExitFailure, "%s: line %d is not an environment variable name", where, i+1)
		}
		declared[name] = true
	}
	if len(declared) == 0 {
		return nil, fail(ExitFailure, "%s: declares no name; an empty list would refuse every key", where)
	}
	return declared, nil
}

// refuseUndeclared refuses a bundle key that the declared names do not
// list (a grace value KEY_PREVIOUS goes with its KEY): with a declared list,
// the injector runs only the names the policy declared, whatever a forged
// bundle holds.
func (c *Config) refuseUndeclared(l *loaded, declared map[string]bool) error {
	if declared == nil {
		return nil
	}
	for _, b := range l.bundles {
		for _, k := range b.Keys {
			if declared[k] || declared[strings.TrimSuffix(k, seal.GraceSuffix)] && strings.HasSuffix(k, seal.GraceSuffix) {
				continue
			}
			_, where := c.namesFile()
			return fail(ExitFailure, "%s: key %s is not among the names %s declares; this image runs only declared names (declare it in sealenv.yaml: keys:, the environment's required:, or a service's keys; then wrap or build again)", b.Path, k, where)
		}
	}
	return nil
}

// NamesFile is the file at [DefaultNames] for names, as tool (sealenv
// wrap, sealenv build) writes it: a comment, then the names sorted, one a
// line; nil without names.
func NamesFile(names []string, tool string) []byte {
	if len(names) == 0 {
		return nil
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return []byte("# the names sealenv.yaml declares for this image (" + tool + "); the injector runs no other\n" + strings.Join(slices.Compact(sorted), "\n") + "\n")
}
