package fleet

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sealenv/sealenv/bundlefile"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
)

// RotateKeyOptions configure [RotateKey].
type RotateKeyOptions struct {
	// Grace keeps the old value as KEY_PREVIOUS (see seal.GraceSuffix)
	// for this long; nil: the grace of the key's rule in the policy (none
	// without a policy).
	Grace *time.Duration
	// Value returns the new value, given by a person; Generator makes one
	// instead of the key's generator in the policy. Without either, the
	// policy's generator, else 32 random bytes as unpadded base64url.
	Value     func() ([]byte, error)
	Generator *policies.Generator
	// Confirm is asked before a generator command of the policy runs (see
	// [Generate]).
	Confirm func(command string) error
	// Write is how the bundle is written; its Policy names the policy
	// whose rule for the key applies (else sealenv.yaml is looked for in
	// the working directory; none is no rule).
	Write bundlefile.Options
}

// Source is where a new value came from.
type Source int

const (
	// SourceDefault is rotate's own random default, which never creates a
	// key that is not in the bundle yet.
	SourceDefault   Source = iota
	SourceGiven            // [RotateKeyOptions.Value]
	SourceGenerator        // [RotateKeyOptions.Generator]
	SourcePolicy           // the key's generator in the policy
)

// KeyRotated is what [RotateKey] did.
type KeyRotated struct {
	// Created: the key was not in the bundle and got its first value.
	Created bool
	Source  Source
	// Grace is how long the old value is kept; PolicyGrace says it is the
	// policy's.
	Grace       time.Duration
	PolicyGrace bool
}

// MissingKeyError: [RotateKey] was asked for a key the bundle does not
// have, and nothing says where its first value comes from.
type MissingKeyError struct{ Bundle, Key string }

func (e *MissingKeyError) Error() string { return e.Bundle + ": no key " + e.Key + " to rotate" }

// RefusedError is a new value of [RotateKey] that the key's rule refuses
// (Err matches [ErrValueRefused]); Source says where it came from.
type RefusedError struct {
	Source Source
	Err    error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// RotateKey gives key of the bundle at path a new value, keeping the old
// one for the grace period: a value given, else one made by a generator,
// which the key's rule in the policy must accept ([CheckNew]; else the error
// is a [*RefusedError] and nothing is written). The new value is made
// before the bundle is touched. A key that is not in the bundle yet gets
// its first value only when a value or a generator is named (by o or the
// policy); otherwise the error is a [*MissingKeyError]. A nested key is
// named by its dotted path; the policy names it with "_" (db.password is
// db_password).
func RotateKey(path, key string, o RotateKeyOptions) (*KeyRotated, error) {
	envKey := strings.ReplaceAll(key, ".", "_")
	p, err := policyOf(o.Write.Policy)
	if err != nil {
		return nil, err // a policy that exists must parse
	}
	r := &KeyRotated{}
	gen := o.Generator
	if o.Grace != nil {
		r.Grace = *o.Grace
	}
	if p != nil {
		rule := p.Rule(envKey)
		if gen == nil {
			gen = rule.Generator
		}
		if o.Grace == nil {
			r.Grace, r.PolicyGrace = rule.Grace.D(), true
		}
	}
	switch {
	case o.Value != nil:
		r.Source = SourceGiven
	case o.Generator != nil:
		r.Source = SourceGenerator
	case gen != nil:
		r.Source = SourcePolicy
	}
	value, err := newValue(o.Value, gen, o.Confirm)
	if err != nil {
		return nil, err
	}
	defer clear(value)
	if p != nil {
		if err := CheckNew(p, envKey, value); err != nil {
			return nil, fmt.Errorf("%s: %w; nothing written", path, &RefusedError{Source: r.Source, Err: err})
		}
	}
	err = bundlefile.Edit(path, o.Write, func(b *bundlefile.Draft) (bool, error) {
		if !b.Has(key) && !strings.HasSuffix(key, seal.GraceSuffix) {
			if r.Source == SourceDefault {
				return false, &MissingKeyError{Bundle: path, Key: key}
			}
			r.Created = true
			return true, valueError(path, b.Set(key, value))
		}
		return true, valueError(path, b.Rotate(key, value, r.Grace))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// newValue is the value given, or a new one by gen.
func newValue(given func() ([]byte, error), gen *policies.Generator, confirm func(string) error) ([]byte, error) {
	if given != nil {
		return given()
	}
	return Generate(gen, confirm)
}

// valueError names the bundle in an error of writing a value.
func valueError(path string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// policyOf loads the policy file path, else the one found from the working
// directory; nil when there is none.
func policyOf(path string) (*policies.Policy, error) {
	if path == "" {
		var err error
		path, err = policies.Find(".")
		if errors.Is(err, policies.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return policies.Load(path)
}
