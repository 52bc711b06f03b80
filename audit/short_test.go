package audit

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A sealed value shorter than MinValueLen is not searched: every audit
// that was given one is incomplete, naming its key (never its value),
// unless the options accept it: all short values (AllowShort) or that
// value (ShortAccepted, by name and value). Accepted ones are still listed.
func TestShortValuesMakeTheAuditIncomplete(t *testing.T) {
	t.Parallel()
	pin := randString(t, "0123456789", 6)
	long := randString(t, alnum, 24)
	values := []Value{{Name: "PIN", Value: []byte(pin)}, {Name: "DB_PASSWORD", Value: []byte(long)}, {Name: "EMPTY", Value: nil}}
	img := image(t, v1.Config{}, nil, tarLayer(t, "gzip", file{"app/pin.txt", []byte("pin " + pin + "\n")}))
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte("FROM scratch\nCOPY app /app\n"), 0o644)
	audits := map[string]func(o Options) (*Report, error){
		"image": func(o Options) (*Report, error) { return Image(context.Background(), img, o) },
		"files": func(o Options) (*Report, error) {
			return Files(context.Background(), []File{{Path: "app/pin.txt", Open: func() (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("pin " + pin + "\n")), nil
			}}}, o)
		},
		"build args": func(o Options) (*Report, error) { return BuildArgs(map[string]string{"VERSION": "1"}, o), nil },
		"dockerfile": func(o Options) (*Report, error) { return Dockerfile(df, o) },
	}
	for name, run := range audits {
		for _, c := range []struct {
			opts     Options
			complete bool
		}{
			{Options{Values: values}, false},
			{Options{Values: values, AllowShort: true}, true},
			{Options{Values: values, ShortAccepted: []int{0}}, true},
			{Options{Values: values, ShortAccepted: []int{1, 2}}, false},
			// The same value in two bundles, accepted in one of them only.
			{Options{Values: append(values, values[0]), ShortAccepted: []int{0}}, false},
			{Options{Values: append(values, values[0]), ShortAccepted: []int{0, 3}}, true},
		} {
			r, err := run(c.opts)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			cov := r.Coverage
			if cov.Complete != c.complete || r.Clean() != c.complete {
				t.Errorf("%s (allow %v, accepted %d): complete %v, want %v: %v", name, c.opts.AllowShort, len(c.opts.ShortAccepted), cov.Complete, c.complete, cov.Errors)
			}
			if len(cov.ShortValues) != 1 || cov.ShortValues[0] != "PIN" || cov.KnownValues != 1 && len(c.opts.Values) == 3 {
				t.Errorf("%s: short values %v, searched %d", name, cov.ShortValues, cov.KnownValues)
			}
			if c.complete != (len(cov.ShortAccepted) == 1) {
				t.Errorf("%s: accepted %v", name, cov.ShortAccepted)
			}
			if !c.complete && !strings.Contains(strings.Join(cov.Errors, "\n"), "sealed values shorter than the 8-byte search minimum: PIN") {
				t.Errorf("%s: errors %v", name, cov.Errors)
			}
			var buf bytes.Buffer
			r.WriteText(&buf)
			r.WriteJSON(&buf)
			r.WriteSARIF(&buf)
			if strings.Contains(buf.String(), pin) {
				t.Errorf("%s: the report holds the short value", name)
			}
			if c.complete && !strings.Contains(buf.String(), "1 too short, 1 of them accepted: PIN") {
				t.Errorf("%s: the text report does not list the accepted value:\n%s", name, buf.String())
			}
		}
	}
}
