package bundlefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/signature"
)

// View is what a person may see of a bundle without an identity (sealenv
// show): names, recipients, set times, changes outside sealenv and its
// signature; never a value. Nothing in it but the signature is
// authenticated: the MAC needs the data key. [View.WriteText] and
// [View.WriteJSON] print it.
type View struct {
	Bundle    string // as the caller named it
	Store     seal.Format
	Info      *seal.Info
	Signature *Signature
	// Now is the time ages are counted to.
	Now time.Time
}

// Signature is what a [View] says of the bundle's signature file.
type Signature struct {
	File       string    `json:"file"`
	Status     string    `json:"status"` // good, bad, none
	Reason     string    `json:"reason,omitempty"`
	Type       string    `json:"type,omitempty"`
	Key        string    `json:"key,omitempty"`
	Principals []string  `json:"principals,omitempty"`
	Allowed    *bool     `json:"allowed,omitempty"` // by the policy's signers of the bundle's environment
	Env        string    `json:"environment,omitempty"`
	Content    time.Time `json:"content_lastmodified,omitzero"`
}

// Inspect reads the bundle at path (its store: o.Store, else detected)
// without any key, and checks its signature, naming the signer by the
// signers of its environment in the policy (o.Policy, else the one found
// from the bundle) when they name it. o.Now is the clock (ages, signers'
// validity).
func Inspect(path string, o Options) (*View, error) {
	f, data, err := Read(path, o.Store)
	if err != nil {
		return nil, err
	}
	info, err := seal.Inspect(f, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	now := o.now()
	return &View{Bundle: path, Store: f, Info: info, Signature: inspectSignature(o.Policy, path, data, info.LastModified, now), Now: now}, nil
}

// inspectSignature checks the signature next to the bundle at path
// (content data) and names its signer: by the policy's signers of the
// bundle's environment when there is one, else by its key.
func inspectSignature(policy, path string, data []byte, lastModified, now time.Time) *Signature {
	s := &Signature{File: signature.Path(path), Status: "none"}
	f, err := os.Open(signature.Locate(path))
	if errors.Is(err, fs.ErrNotExist) {
		return s
	}
	var sig []byte
	if err == nil {
		sig, err = io.ReadAll(io.LimitReader(f, signature.MaxSignatureSize+1))
		f.Close()
	}
	if err != nil {
		s.Status, s.Reason = "bad", fsutil.Reason(err).Error()
		return s
	}
	parsed, err := signature.Parse(sig)
	if err == nil {
		err = parsed.Verify(data)
	}
	if err != nil {
		s.Status, s.Reason = "bad", strings.TrimPrefix(err.Error(), signature.ErrBadSignature.Error()+": ")
		return s
	}
	s.Status, s.Type, s.Key, s.Content = "good", parsed.Key.Type, parsed.Key.Fingerprint(), lastModified
	// A view is no gate: a policy that does not load is check's to report.
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	if env, _, _ := EnvOf(policy, real); env != nil && env.Signed() {
		s.Env = env.Name
		principals, err := env.AllowedSigners().Allow(parsed.Key, now)
		allowed := err == nil
		s.Allowed, s.Principals = &allowed, principals
	}
	return s
}

// changes splits the bundle's changes outside sealenv: by key name, and
// the removed ones.
func (v *View) changes() (byName map[string]seal.Change, removed []seal.Change) {
	byName = map[string]seal.Change{}
	for _, ch := range v.Info.Changes {
		if ch.Kind == seal.ChangeRemoved {
			removed = append(removed, ch)
		} else {
			byName[ch.Name] = ch
		}
	}
	return byName, removed
}

// metaFor finds the metadata of an environment name; nested YAML keys share
// the metadata of their top-level key.
func metaFor(m seal.Meta, name string) (seal.KeyMeta, bool) {
	if km, ok := m[name]; ok {
		return km, true
	}
	best := ""
	for k := range m {
		if strings.HasPrefix(name, k+"_") && len(k) > len(best) {
			best = k // the longest prefix, whatever the map order
		}
	}
	if best != "" {
		return m[best], true
	}
	return seal.KeyMeta{}, false
}
