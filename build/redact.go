package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/moby/buildkit/client"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/match"
)

// redactor replaces sealed values in the progress display and in errors:
// every form the audit searches an image for (raw, hex, base64 at every
// alignment, URL, JSON, HTML, UTF-16), and, raw, the values too short for
// the audit to search (from four bytes on, as the injector does). Both are
// redactors of package internal/match, the audit's and the injector's
// matcher.
type redactor struct {
	ar    *match.Redactor // every form of the values the audit searches
	short *match.Redactor // the shorter values, raw
	mu    sync.Mutex
	out   *chain
}

func newRedactor(o Options) *redactor {
	var all, short []match.Value
	for _, v := range o.Audit.Values {
		all = append(all, match.Value(v))
	}
	for _, s := range o.Secrets {
		all = append(all, match.Value{Name: s.Name, Value: s.Value})
	}
	for _, v := range all {
		if len(v.Value) < audit.MinValueLen {
			short = append(short, v)
		}
	}
	return &redactor{ar: match.NewRedactor(all), short: match.NewRawRedactor(short, inject.MinRedactLen)}
}

func (r *redactor) zero() {
	r.ar.Zero()
	r.short.Zero()
}

// chain is one redacted stream: the audit's forms, then the short values.
type chain struct {
	a *match.Writer
	i *match.Writer
}

func (r *redactor) chain(w io.Writer) *chain {
	i := r.short.Writer(w)
	return &chain{a: r.ar.Writer(i), i: i}
}

func (c *chain) Write(p []byte) (int, error) { return c.a.Write(p) }

func (c *chain) Flush() error {
	return errors.Join(c.a.Flush(), c.i.Flush())
}

// writer wraps w; a terminal stays a terminal, so that auto picks the
// interactive display.
func (r *redactor) writer(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	r.out = r.chain(w)
	lw := &lockedWriter{r: r}
	if f, ok := w.(*os.File); ok {
		return &redactedFile{File: f, w: lw}
	}
	return lw
}

func (r *redactor) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out != nil {
		_ = r.out.Flush()
	}
}

// err returns err with every sealed value replaced; BuildKit's errors can
// quote a step's output. The error keeps its identity for errors.Is when
// nothing was replaced.
func (r *redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := string(r.bytes([]byte(err.Error())))
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// statuses copies BuildKit's status updates from in to out with every
// sealed value in the steps' output, the vertex names and errors, and the
// warnings replaced: the display then shows no value in any mode (rawjson
// writes the output base64-encoded, where no byte stream redactor would
// see it). Each step's stream is redacted as one stream, so a value split
// across two updates is still found; the last bytes held back are sent
// when in closes. out is closed at the end.
func (r *redactor) statuses(in <-chan *client.SolveStatus, out chan<- *client.SolveStatus) {
	defer close(out)
	type stream struct {
		buf bytes.Buffer
		w   *chain
		log client.VertexLog
	}
	streams := map[string]*stream{}
	str := func(s string) string {
		if s == "" {
			return s
		}
		return string(r.bytes([]byte(s)))
	}
	for s := range in {
		for _, v := range s.Vertexes {
			v.Name, v.Error = str(v.Name), str(v.Error)
		}
		for _, v := range s.Statuses {
			v.Name = str(v.Name)
		}
		logs := s.Logs[:0]
		for _, l := range s.Logs {
			key := fmt.Sprintf("%s/%d", l.Vertex, l.Stream)
			st := streams[key]
			if st == nil {
				st = &stream{log: client.VertexLog{Vertex: l.Vertex, Stream: l.Stream}}
				st.w = r.chain(&st.buf)
				streams[key] = st
			}
			_, _ = st.w.Write(l.Data)
			clear(l.Data)
			st.log.Timestamp = l.Timestamp
			if st.buf.Len() == 0 {
				continue
			}
			l.Data = bytes.Clone(st.buf.Bytes())
			st.buf.Reset()
			logs = append(logs, l)
		}
		s.Logs = logs
		// A step that ends gets what its streams held back now, before
		// its end: the display would show later output as a step of its
		// own, out of order.
		var ended []*client.VertexLog
		for _, v := range s.Vertexes {
			if v.Completed == nil {
				continue
			}
			for key, st := range streams {
				if st.log.Vertex != v.Digest {
					continue
				}
				delete(streams, key)
				_ = st.w.Flush()
				if st.buf.Len() > 0 {
					l := st.log
					l.Data = bytes.Clone(st.buf.Bytes())
					ended = append(ended, &l)
				}
			}
		}
		if len(ended) > 0 {
			out <- &client.SolveStatus{Logs: append(s.Logs, ended...)}
			s.Logs = nil
		}
		for _, w := range s.Warnings {
			w.Short = r.bytes(w.Short)
			for i := range w.Detail {
				w.Detail[i] = r.bytes(w.Detail[i])
			}
		}
		out <- s
	}
	last := &client.SolveStatus{}
	for _, st := range streams {
		_ = st.w.Flush()
		if st.buf.Len() > 0 {
			l := st.log
			l.Data = bytes.Clone(st.buf.Bytes())
			last.Logs = append(last.Logs, &l)
		}
	}
	if len(last.Logs) > 0 {
		out <- last
	}
}

// bytes returns b with every sealed value replaced.
func (r *redactor) bytes(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	var buf bytes.Buffer
	w := r.chain(&buf)
	_, _ = w.Write(b)
	_ = w.Flush()
	return buf.Bytes()
}

type lockedWriter struct{ r *redactor }

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.out.Write(p)
}

// redactedFile is a console.File whose writes are redacted.
type redactedFile struct {
	*os.File
	w io.Writer
}

func (f *redactedFile) Write(p []byte) (int, error) { return f.w.Write(p) }
