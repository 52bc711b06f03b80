package audit

import (
	"reflect"

	"github.com/sealenv/sealenv/internal/match"
)

// redacted replaces a secret in any string the audit prints.
const redacted = "[REDACTED]"

// masker replaces every match of the detectors (sealed values in every
// encoding, and the rules) in the strings it is given. It remembers what
// it did, so that a path named in many findings is searched once.
type masker struct {
	sc   *match.Scanner
	memo map[string]string
}

func newMasker(d *detectors) *masker {
	return &masker{sc: d.scanner(), memo: map[string]string{}}
}

func (m *masker) str(s string) string {
	if s == "" {
		return s
	}
	if r, ok := m.memo[s]; ok {
		return r
	}
	r := m.sc.Replace(s, redacted)
	m.memo[s] = r
	return r
}

// redactPlaces ends every audit: it keeps the audit's detectors with the
// report and masks every string the report holds (see [Report.redact]).
func (a *auditor) redactPlaces() {
	a.rep.mask = a.d
	a.rep.redact()
}

// redact replaces, in every string the report holds, each match of the
// audit's detectors by [REDACTED]: finding paths, fields, names and
// messages, coverage errors and notes, provenance, the suppressed
// section, the source. It walks the report's exported fields, so a string
// added to the report later is masked without being named here. Every
// writer calls it first; it is idempotent.
func (r *Report) redact() {
	if r.mask == nil {
		return
	}
	m := newMasker(r.mask)
	maskStrings(reflect.ValueOf(r).Elem(), m.str)
}

// maskStrings replaces every settable string reachable from v (through
// exported struct fields, pointers, slices, arrays, maps and interfaces
// holding such values) by fn of it.
func maskStrings(v reflect.Value, fn func(string) string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(fn(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			maskStrings(v.Elem(), fn)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				maskStrings(v.Field(i), fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			maskStrings(v.Index(i), fn)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(it.Key())
			maskStrings(k, fn)
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			maskStrings(e, fn)
			out.SetMapIndex(k, e)
		}
		if v.CanSet() {
			v.Set(out)
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		maskStrings(e, fn)
		if v.CanSet() {
			v.Set(e)
		}
	}
}

// maskedError is an error whose text had every match of the detectors
// replaced; it unwraps to the original, whose text is never printed.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// maskError masks the text of an error an audit returns instead of a
// report: it may name a file of the image, which may be named like a
// secret.
func maskError(d *detectors, err error) error {
	if err == nil {
		return nil
	}
	msg := d.scanner().Replace(err.Error(), redacted)
	if msg == err.Error() {
		return err
	}
	return &maskedError{msg: msg, err: err}
}
