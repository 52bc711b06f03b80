package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"

	"github.com/sealenv/sealenv/audit/internal/transport"
)

// blobScan searches a blob that is not a layer tar (an artifact's blob, a
// signature's payload) as a file named name: as stored, decoded by
// content like any file of a layer, and, when it is a DSSE envelope (an
// in-toto attestation as cosign and Sigstore write it), with its base64
// payload decoded and searched as a stream of its own, name!/payload.
func (w *walker) blobScan(ctx context.Context, r io.Reader, name string) (*layerScan, error) {
	c := &jsonCapture{}
	res, err := w.fileScan(ctx, io.TeeReader(r, c), name)
	if err != nil || !c.ok() {
		return res, err
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if json.Unmarshal(c.buf.Bytes(), &env) != nil || env.PayloadType == "" || env.Payload == "" {
		return res, nil
	}
	payload, derr := base64.StdEncoding.DecodeString(env.Payload)
	if derr != nil {
		if payload, derr = base64.URLEncoding.DecodeString(env.Payload); derr != nil {
			w.res.incomplete = append(w.res.incomplete, name+": a DSSE envelope whose payload is not base64: its bytes were searched as stored, its payload not decoded")
			return res, nil
		}
	}
	place := name + "!/payload"
	err = w.decoded(bytes.NewReader(payload), place, func(ds *stream) error {
		return w.file(ds, ds, 0, place)
	})
	w.res.hits = w.d.dropShallow(w.res.hits)
	return res, err
}

// jsonCapture keeps what is written to it while it may be a JSON
// document small enough to parse (at most transport.MaxManifest bytes).
type jsonCapture struct {
	buf  bytes.Buffer
	skip bool
}

func (c *jsonCapture) Write(p []byte) (int, error) {
	if c.skip {
		return len(p), nil
	}
	if c.buf.Len() == 0 {
		t := bytes.TrimLeft(p, " \t\r\n")
		if len(t) == 0 {
			return len(p), nil
		}
		if t[0] != '{' {
			c.skip = true
			return len(p), nil
		}
	}
	if c.buf.Len()+len(p) > transport.MaxManifest {
		c.skip = true
		c.buf = bytes.Buffer{}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

func (c *jsonCapture) ok() bool { return !c.skip && c.buf.Len() > 0 }
