package audit

import (
	"bytes"
	"testing"
)

// FuzzLayer: any bytes as a layer give a result or an error, never a
// panic, and a result only for a stream that ends properly.
func FuzzLayer(f *testing.F) {
	tok := "ghp_" + randString(f, alnum, 36)
	f.Add(tarBytes(f, file{"a.txt", []byte(tok)}))
	f.Add(gz(f, tarBytes(f, file{"a.txt", []byte(tok)}, file{"b/.wh.c", nil})))
	f.Add(tarBytes(f, file{"x.jar", zipBytes(f, file{"y", []byte(tok)})}))
	f.Add(tarBytes(f, file{"x.tgz", gz(f, tarBytes(f, file{"y", []byte(tok)}))}))
	d := defaultDetectors([]Value{{"V", []byte(tok[4:20])}})
	w := newWalker(d, 4)
	f.Fuzz(func(t *testing.T, b []byte) {
		w.layer(bytes.NewReader(b))
	})
}

func FuzzBuildArgs(f *testing.F) {
	f.Add("RUN |2 A=b C=d /bin/sh -c x")
	f.Add("|1 TOKEN=")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kv := range buildArgs(s) {
			if kv[0] == "" && kv[1] == "" && !bytes.Contains([]byte(s), []byte("=")) {
				t.Fatal("a pair from nothing")
			}
		}
	})
}
