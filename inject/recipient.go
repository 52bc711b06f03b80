package inject

import (
	"fmt"
	"slices"

	"filippo.io/age"
)

// NamedIdentity is an identity that carries the recipient it opens, for
// identity types that cannot derive it themselves (SSH keys, age plugins).
// The access line names Recipient when this identity unwraps a bundle's data
// key; see [Config.ParseIdentities].
type NamedIdentity struct {
	age.Identity
	Recipient string
}

// recorder remembers the identity that last unwrapped a data key. The
// recipient label of a SOPS stanza is not authenticated (anyone can edit
// it without breaking the MAC), so the access line names the recipient of
// the identity that actually opened the bundle, never the label.
type recorder struct {
	last age.Identity
}

// recordingIdentity reports a successful Unwrap to its recorder.
type recordingIdentity struct {
	age.Identity
	r *recorder
}

func (i recordingIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	key, err := i.Identity.Unwrap(stanzas)
	if err == nil {
		// The last success is the one that counts: a stanza whose file
		// key unwraps but whose header MAC fails is skipped by the reader,
		// which then tries the next stanza.
		i.r.last = i.Identity
	}
	return key, err
}

// record wraps ids so that r learns which one opened a bundle. Native age
// identities stay first, as age itself orders them, so that a plugin is not
// asked when a native key opens the bundle.
func (r *recorder) record(ids []age.Identity) []age.Identity {
	sorted := slices.Clone(ids)
	slices.SortStableFunc(sorted, func(a, b age.Identity) int {
		return nativeRank(a) - nativeRank(b)
	})
	out := make([]age.Identity, len(sorted))
	for i, id := range sorted {
		out[i] = recordingIdentity{Identity: id, r: r}
	}
	return out
}

func nativeRank(id age.Identity) int {
	switch id.(type) {
	case *age.X25519Identity, *age.HybridIdentity, *age.ScryptIdentity:
		return 0
	}
	return 1
}

// recipientOf names the recipient of an identity for the access line, and
// whether it is known.
func recipientOf(id age.Identity) (string, bool) {
	switch id := id.(type) {
	case *age.X25519Identity:
		return id.Recipient().String(), true
	case *age.HybridIdentity:
		return id.Recipient().String(), true
	case NamedIdentity:
		return id.Recipient, id.Recipient != ""
	case *NamedIdentity:
		return id.Recipient, id.Recipient != ""
	case nil:
		return "", false
	}
	// Never the identity itself (String would print the key): its type.
	return fmt.Sprintf("unknown (%T)", id), false
}
