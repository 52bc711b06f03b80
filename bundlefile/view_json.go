package bundlefile

import (
	"encoding/json"
	"io"
	"time"

	"github.com/sealenv/sealenv/seal"
)

// viewJSON is the JSON of a [View] (sealenv show --format json).
type viewJSON struct {
	Bundle          string          `json:"bundle"`
	Store           string          `json:"store"`
	Recipients      []string        `json:"recipients"`
	MasterKeys      []masterKeyJSON `json:"master_keys"`
	KeyGroups       int             `json:"key_groups,omitempty"`
	ShamirThreshold int             `json:"shamir_threshold,omitempty"`
	LastModified    time.Time       `json:"lastmodified"`
	Keys            []keyJSON       `json:"keys"`
	Verified        bool            `json:"verified"`
	// Recorded: the bundle has sealenv metadata (sealenv wrote or
	// adopted it); Changes: what changed outside sealenv since.
	Recorded        bool         `json:"recorded"`
	MetaEncrypted   bool         `json:"metadata_encrypted,omitempty"`
	Changes         []changeJSON `json:"changes"`
	Unauthenticated []string     `json:"unauthenticated"`
	Signature       *Signature   `json:"signature"`
}

type keyJSON struct {
	Name string `json:"name"`
	// Path is the dotted name of a nested key ("db.password").
	Path      string `json:"path"`
	Encrypted bool   `json:"encrypted"`
	Empty     bool   `json:"empty"`
	// Set is when the value was last set, by sealenv or (Changed) by
	// another tool, as far as the file says.
	Set           *time.Time `json:"set,omitempty"`
	GraceOf       string     `json:"grace_of,omitempty"`
	Expires       *time.Time `json:"expires,omitempty"`
	Change        string     `json:"change,omitempty"`
	Authenticated *bool      `json:"authenticated,omitempty"`
}

type changeJSON struct {
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Authenticated bool   `json:"authenticated"`
}

type masterKeyJSON struct {
	Type    string            `json:"type"`
	ID      string            `json:"id"`
	Role    string            `json:"role,omitempty"`
	Context map[string]string `json:"context,omitempty"`
	Group   int               `json:"group"`
}

// WriteJSON writes the view as one indented JSON object.
func (v *View) WriteJSON(w io.Writer) error {
	info := v.Info
	out := viewJSON{Signature: v.Signature, Bundle: v.Bundle, Store: v.Store.String(), Recipients: info.Recipients, MasterKeys: []masterKeyJSON{}, KeyGroups: info.KeyGroups,
		ShamirThreshold: info.ShamirThreshold, LastModified: info.LastModified, Keys: v.keysJSON(),
		Recorded: info.Recorded, MetaEncrypted: info.MetaEncrypted, Changes: []changeJSON{}, Unauthenticated: []string{}}
	for _, k := range info.MasterKeys {
		out.MasterKeys = append(out.MasterKeys, masterKeyJSON{k.Type, k.ID, k.Role, k.Context, k.Group})
	}
	for _, ch := range info.Changes {
		out.Changes = append(out.Changes, changeJSON{ch.Name, string(ch.Kind), ch.Authenticated})
	}
	out.Unauthenticated = append(out.Unauthenticated, info.Unauthenticated...)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// keysJSON lists every key, with the metadata in effect (changes outside
// sealenv counted from the file's lastmodified).
func (v *View) keysJSON() []keyJSON {
	info := v.Info
	changeOf, _ := v.changes()
	effective := seal.EffectiveMeta(info.Meta, info.Changes, info.LastModified)
	keys := []keyJSON{}
	for i, k := range info.Keys {
		m, ok := metaFor(effective, k)
		item := keyJSON{Name: k, Path: info.Paths[i], Encrypted: info.Encrypted[i], Empty: info.Empty[i]}
		if ok && !m.Set.IsZero() {
			item.Set, item.GraceOf, item.Expires = &m.Set, m.GraceOf, m.Expires
		}
		if ch, ok := changeOf[k]; ok {
			item.Change, item.Authenticated = string(ch.Kind), &ch.Authenticated
		}
		keys = append(keys, item)
	}
	return keys
}
