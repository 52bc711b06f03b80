package seal

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Master key types: the names SOPS gives them in a file's metadata.
const (
	KeyAge     = "age"
	KeyPGP     = "pgp"
	KeyKMS     = "kms"      // AWS KMS
	KeyGCPKMS  = "gcp_kms"  // Google Cloud KMS
	KeyAzureKV = "azure_kv" // Azure Key Vault
	KeyVault   = "hc_vault" // HashiCorp Vault transit
	KeyHCKMS   = "hckms"    // Huawei Cloud KMS
)

// KeyTypes lists every master key type SOPS writes, in the order sealenv
// prints them. Each call returns a new slice.
func KeyTypes() []string { return slices.Clone(keyTypes[:]) }

var keyTypes = [...]string{KeyAge, KeyPGP, KeyKMS, KeyGCPKMS, KeyAzureKV, KeyVault, KeyHCKMS}

// OutsideGroups is the [MasterKey.Group] of a key listed at the top of a
// file that also has key groups: sops ignores it when it decrypts, but it
// still wraps the data key, so whoever holds it can read the file.
const OutsideGroups = -1

// MasterKey is one wrapped copy of a bundle's data key, named by what
// unwraps it. Nothing in it is secret.
type MasterKey struct {
	Type string // one of [KeyTypes], or a type this build does not know
	// ID names the key: an age or SSH recipient, a PGP fingerprint
	// (upper case, no spaces), an AWS KMS key ARN, a GCP KMS resource ID,
	// an Azure Key Vault key URL (VAULT_URL/keys/NAME[/VERSION]), a Vault
	// transit key URL (ADDRESS/v1/ENGINE/keys/NAME), a Huawei Cloud KMS
	// REGION:KEY_ID.
	ID string
	// Role and Context belong to AWS KMS keys: the IAM role assumed to use
	// the key, and the encryption context.
	Role    string
	Context map[string]string
	// Group is the index of the key group (Shamir); 0 without groups.
	Group int
}

// String names the key in one line: the ID for age keys, "TYPE ID"
// otherwise, with the role and the context of a KMS key.
func (k MasterKey) String() string {
	if k.Type == KeyAge {
		return k.ID
	}
	s := k.Type + " " + k.ID
	if k.ID == "" {
		s = k.Type + " (unknown key type)"
	}
	if k.Role != "" {
		s += "+" + k.Role
	}
	if len(k.Context) > 0 {
		names := make([]string, 0, len(k.Context))
		for n := range k.Context {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			names[i] = n + "=" + k.Context[n]
		}
		s += " context{" + strings.Join(names, ",") + "}"
	}
	return s
}

// Matches reports whether k (in a bundle) is the key want (in a policy):
// the same type and ID, and for KMS the same role and context. The group
// is not compared. An Azure key that names no version matches every
// version of that key.
func (k MasterKey) Matches(want MasterKey) bool {
	if k.Type != want.Type || k.Role != want.Role || len(k.Context) != len(want.Context) {
		return false
	}
	for n, v := range want.Context {
		if got, ok := k.Context[n]; !ok || got != v {
			return false
		}
	}
	if k.ID == want.ID {
		return k.ID != ""
	}
	if k.Type == KeyAzureKV && strings.Count(want.ID, "/keys/") == 1 && !strings.Contains(want.ID[strings.Index(want.ID, "/keys/")+6:], "/") {
		return strings.HasPrefix(k.ID, want.ID+"/")
	}
	return false
}

// Canonical returns k with its ID in the form [MasterKey.Matches]
// compares: PGP fingerprints in upper case without spaces, URLs without
// trailing slashes.
func (k MasterKey) Canonical() MasterKey {
	switch k.Type {
	case KeyPGP:
		k.ID = strings.ToUpper(strings.Join(strings.Fields(k.ID), ""))
		k.ID = strings.TrimPrefix(k.ID, "0X")
	case KeyKMS:
		k.ID = strings.Join(strings.Fields(k.ID), "")
		k.Role = strings.TrimSpace(k.Role)
	case KeyAzureKV, KeyVault:
		k.ID = strings.TrimRight(strings.TrimSpace(k.ID), "/")
	default:
		k.ID = strings.TrimSpace(k.ID)
	}
	if len(k.Context) == 0 {
		k.Context = nil
	}
	return k
}

// masterKeys lists every master key of the file: top-level keys, then each
// key group's, age first within each.
func (p *parsed) masterKeys() []MasterKey {
	var out []MasterKey
	add := func(group int, age []stanza, other map[string]any) {
		for _, s := range age {
			out = append(out, MasterKey{Type: KeyAge, ID: s.Recipient, Group: group}.Canonical())
		}
		types := make([]string, 0, len(other))
		for t := range other {
			types = append(types, t)
		}
		// Known types in the order of KeyTypes, then unknown ones.
		order := func(t string) int {
			for i, k := range keyTypes {
				if k == t {
					return i
				}
			}
			return len(keyTypes)
		}
		sort.Slice(types, func(i, j int) bool {
			if oi, oj := order(types[i]), order(types[j]); oi != oj {
				return oi < oj
			}
			return types[i] < types[j]
		})
		for _, t := range types {
			list, ok := other[t].([]any)
			if !ok {
				continue // a scalar field this build does not know: not a key
			}
			for _, item := range list {
				out = append(out, masterKeyOf(t, item, group))
			}
		}
	}
	top := 0
	if len(p.meta.KeyGroups) > 0 {
		top = OutsideGroups
	}
	add(top, p.meta.Age, p.meta.Other)
	for g, kg := range p.meta.KeyGroups {
		add(g, kg.Age, kg.Other)
	}
	return out
}

// masterKeyOf reads one non-age master key entry of type t.
func masterKeyOf(t string, item any, group int) MasterKey {
	m, _ := item.(map[string]any)
	str := func(name string) string {
		switch v := m[name].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			return fmt.Sprint(v)
		}
	}
	k := MasterKey{Type: t, Group: group}
	switch t {
	case KeyPGP:
		k.ID = str("fp")
	case KeyKMS:
		k.ID, k.Role = str("arn"), str("role")
		if ctx, ok := m["context"].(map[string]any); ok {
			k.Context = map[string]string{}
			for n, v := range ctx {
				if s, ok := v.(string); ok {
					k.Context[n] = s
				} else if v != nil {
					k.Context[n] = fmt.Sprint(v)
				}
			}
		}
	case KeyGCPKMS:
		k.ID = str("resource_id")
	case KeyAzureKV:
		k.ID = strings.TrimRight(str("vault_url"), "/") + "/keys/" + str("name")
		if v := str("version"); v != "" {
			k.ID += "/" + v
		}
	case KeyVault:
		k.ID = strings.TrimRight(str("vault_address"), "/") + "/v1/" + strings.Trim(str("engine_path"), "/") + "/keys/" + str("key_name")
	case KeyHCKMS:
		k.ID = str("key_id")
	}
	return k.Canonical()
}

// flatNode rebuilds one nested metadata value from the flattened dotenv
// form ("kms__list_0__map_context__map_app").
type flatNode struct {
	val   *string
	keys  map[string]*flatNode
	items map[int]*flatNode
}

func (n *flatNode) place(path []string, val string) error {
	for _, part := range path {
		switch {
		case strings.HasPrefix(part, "map_"):
			if n.keys == nil {
				n.keys = map[string]*flatNode{}
			}
			k := part[4:]
			if n.keys[k] == nil {
				n.keys[k] = &flatNode{}
			}
			n = n.keys[k]
		case strings.HasPrefix(part, "list_"):
			i, err := strconv.Atoi(part[5:])
			if err != nil || i < 0 || i > 1<<16 {
				return malformed("invalid metadata index %q", part)
			}
			if n.items == nil {
				n.items = map[int]*flatNode{}
			}
			if n.items[i] == nil {
				n.items[i] = &flatNode{}
			}
			n = n.items[i]
		default:
			return malformed("invalid metadata key part %q", part)
		}
	}
	if n.val != nil || n.keys != nil || n.items != nil {
		return malformed("conflicting metadata keys")
	}
	n.val = &val
	return nil
}

func (n *flatNode) value() (any, error) {
	switch {
	case n.val != nil:
		return *n.val, nil
	case n.items != nil:
		out := make([]any, len(n.items))
		for i := range out {
			c, ok := n.items[i]
			if !ok {
				return nil, malformed("metadata list item %d is missing", i)
			}
			v, err := c.value()
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	out := map[string]any{}
	for k, c := range n.keys {
		v, err := c.value()
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
