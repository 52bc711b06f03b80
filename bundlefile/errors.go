package bundlefile

import (
	"errors"

	"github.com/sealenv/sealenv/policies"
)

// SettingError is a setting a person named that names nothing: a store
// ([Options.Store]) or a dotenv dialect ([New.Dialect]).
type SettingError struct {
	Setting string // "store", "dialect"
	Err     error
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

// ErrNoSigningKey is returned by [Sign] when [Options.Key] finds no key.
var ErrNoSigningKey = errors.New("no signing key")

// SignatureError: the bundle was written, but not its signature file.
type SignatureError struct {
	Bundle    string // as the caller named it
	Signature string // the signature file
	Err       error
}

func (e *SignatureError) Error() string {
	return e.Signature + ": the bundle was written, but not its signature: " + e.Err.Error()
}
func (e *SignatureError) Unwrap() error { return e.Err }

// RefusedNameError: a write would leave a name in the bundle that the
// injector refuses at container start, and the allow_names of the
// bundle's environment does not allow it (see [CheckNames]).
type RefusedNameError struct {
	Bundle string // as the caller named it
	// Env is the policy's environment whose bundle it is, in Policy; nil
	// when there is none.
	Env    *policies.Environment
	Policy *policies.Policy
	Err    error // an *inject.NameError
}

func (e *RefusedNameError) Error() string { return e.Bundle + ": " + e.Err.Error() }
func (e *RefusedNameError) Unwrap() error { return e.Err }
