package audit

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// leaks returns what of secrets the report shows in any format.
func leaks(t *testing.T, r *Report, secrets ...string) []string {
	t.Helper()
	var buf bytes.Buffer
	for _, f := range Formats {
		if err := r.Write(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			out = append(out, s)
		}
	}
	return out
}

// fillStrings sets every string reachable from v (allocating pointers and
// one element per slice and map) to s, and returns how many it set.
func fillStrings(v reflect.Value, s string) int {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
		return 1
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.Int || v.Type().Elem().Kind() == reflect.Int64 {
			return 0 // an index or an offset
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return fillStrings(v.Elem(), s)
	case reflect.Struct:
		n := 0
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				n += fillStrings(v.Field(i), s)
			}
		}
		return n
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		return fillStrings(v.Index(0), s)
	}
	return 0
}

// Every string of a report, whatever field holds it (those added later
// too: the report is filled by reflection), is masked in every format: a
// sealed value and a rule-shaped token planted in all of them never come
// out.
func TestEveryReportStringIsMasked(t *testing.T) {
	t.Parallel()
	v := randString(t, alnum, 20)
	gh := "ghp_" + randString(t, alnum, 36)
	d := defaultDetectors([]Value{{Name: "V", Value: []byte(v)}})
	r := &Report{}
	n := fillStrings(reflect.ValueOf(r).Elem(), "at "+v+" and "+gh+" here")
	if n < 30 {
		t.Fatalf("only %d strings filled", n)
	}
	zero := 0
	r.Findings[0].LayerIndex, r.Findings[0].Where = &zero, whereLayer
	r.mask = d
	if got := leaks(t, r, v, gh); len(got) > 0 {
		t.Fatalf("%d planted strings in the report", len(got))
	}
	// The text that is not secret is kept.
	var buf bytes.Buffer
	r.WriteText(&buf)
	if !strings.Contains(buf.String(), "at [REDACTED] and [REDACTED] here") {
		t.Fatalf("masked text: %s", buf.String())
	}
}

// A sealed value and a rule-shaped token planted in every name an image
// holds (a file name, a GNU long name, a PAX path, a link target, a zip
// entry name, a label key whose value is a token, an env name) and in the
// messages that name
// them (a note on a broken archive, a limit reached) never appear in any
// report format; the findings still say where they are.
func TestPlantedNamesAreMasked(t *testing.T) {
	t.Parallel()
	v := "k" + randString(t, alnum, 19) // a label key that is a JSON path identifier
	gh := "ghp_" + randString(t, alnum, 36)
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("conf/" + gh + ".txt")
	w.Write([]byte("hello\n"))
	w, _ = zw.Create("conf/" + v + ".txt")
	w.Write([]byte("hello\n"))
	zw.Close()
	inner := gz(t, tarBytes(t, file{"x.txt", []byte("x")}))
	nested := gz(t, tarBytes(t, file{"deep.tar.gz", inner}))

	var lb bytes.Buffer
	tw := tar.NewWriter(&lb)
	add := func(h *tar.Header, data []byte) {
		h.Mode, h.ModTime, h.Size = 0o644, time.Unix(0, 0), int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	long := strings.Repeat("d/", 60)
	add(&tar.Header{Name: "app/" + v + ".txt", Typeflag: tar.TypeReg}, []byte("x"))
	add(&tar.Header{Name: long + gh, Typeflag: tar.TypeReg, Format: tar.FormatGNU}, []byte("x"))
	add(&tar.Header{Name: long + v, Typeflag: tar.TypeReg, Format: tar.FormatPAX}, []byte("x"))
	add(&tar.Header{Name: "app/link", Typeflag: tar.TypeSymlink, Linkname: "/run/" + gh}, nil)
	add(&tar.Header{Name: "app/hard", Typeflag: tar.TypeLink, Linkname: "app/" + v + ".txt"}, nil)
	add(&tar.Header{Name: "app/bundle.zip", Typeflag: tar.TypeReg}, zb.Bytes())
	add(&tar.Header{Name: "app/" + gh + ".zip", Typeflag: tar.TypeReg}, []byte("PK\x03\x04broken"))
	add(&tar.Header{Name: "app/" + v + ".tgz", Typeflag: tar.TypeReg}, nested)
	tw.Close()
	cfg := v1.Config{
		Labels: map[string]string{v: gh},
		Env:    []string{"X_" + v + "=1", gh + "=2"},
	}
	img := image(t, cfg, nil, layer(lb.Bytes(), "none"))
	r, err := Image(context.Background(), img, Options{Values: []Value{{Name: "V", Value: []byte(v)}}, MaxDepth: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := leaks(t, r, v, gh); len(got) > 0 {
		t.Fatalf("%d planted strings in the report:\n%s", len(got), dump(t, r))
	}
	var out bytes.Buffer
	r.WriteJSON(&out)
	js := out.String()
	for _, want := range []string{
		`"part": "name"`, `"part": "linkname"`,
		`"path": "app/bundle.zip!/conf/[REDACTED].txt"`,
		`"path": "app/[REDACTED].txt"`,
		`"field": "config.Labels.[REDACTED]"`,
		`nested deeper than the depth limit`, // a coverage error that names the file
		`app/[REDACTED].zip`,                 // a note that names it
	} {
		if !strings.Contains(js, want) {
			t.Errorf("the report does not hold %s", want)
		}
	}
	if t.Failed() {
		t.Log(js)
	}
}

// An error the audit returns instead of a report is masked too: an image
// archive that holds a name twice names it.
func TestErrorsAreMasked(t *testing.T) {
	t.Parallel()
	v := randString(t, alnum, 20)
	gh := "ghp_" + randString(t, alnum, 36)
	img, err := mutate.AppendLayers(empty.Image, tarLayer(t, "none", file{"a", []byte("a")}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "img.tar")
	if err := tarball.WriteToFile(p, mustTag(t, "example.com/app:1"), img); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	// Append two entries with the same name to the archive.
	var buf bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(data))
	tw := tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b := new(bytes.Buffer)
		b.ReadFrom(tr)
		tw.WriteHeader(h)
		tw.Write(b.Bytes())
	}
	for i := 0; i < 2; i++ {
		tw.WriteHeader(&tar.Header{Name: gh + "/" + v, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	os.WriteFile(p, buf.Bytes(), 0o644)
	_, err = imageAt(context.Background(), "docker-archive:"+p, Options{Values: []Value{{Name: "V", Value: []byte(v)}}})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("want the archive refused: %v", err)
	}
	if strings.Contains(err.Error(), v) || strings.Contains(err.Error(), gh) || !strings.Contains(err.Error(), "[REDACTED]/[REDACTED]") {
		t.Fatalf("the error is not masked: %d bytes", len(err.Error()))
	}
	var me *maskedError
	if !errors.As(err, &me) || errors.Unwrap(err) == nil {
		t.Fatal("the masked error does not unwrap")
	}
}
