package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Sentinel errors. Every error returned by [Open] and [Inspect] matches one of
// them with errors.Is, and its text names the reason, never a value.
var (
	// ErrIncorrectIdentity: none of the identities unwraps the data key.
	ErrIncorrectIdentity = errors.New("no identity matches any recipient of the bundle")
	// ErrTampered: a value, the MAC or the metadata failed authentication.
	ErrTampered = errors.New("bundle failed authentication (tampered or corrupted)")
	// ErrMalformed: the file is not a well-formed SOPS file.
	ErrMalformed = errors.New("malformed bundle")
	// ErrNotSealed: the file has no SOPS metadata at all (plaintext).
	ErrNotSealed = errors.New("not sealed: no sops metadata")
	// ErrUnsupported: a valid SOPS feature the slim reader does not implement.
	ErrUnsupported = errors.New("unsupported bundle feature")
	// ErrInvalidName: a key is not usable as an environment variable name.
	ErrInvalidName = errors.New("invalid key name")
)

// Secret is one decrypted value. Value is a byte slice so that callers can
// zero it when they are done (see [Bundle.Zero]).
type Secret struct {
	Name  string
	Value []byte
}

// Bundle is an opened, authenticated bundle.
type Bundle struct {
	Format  Format
	Secrets []Secret // in file order; the metadata key is not among them
	Meta    Meta     // authenticated by the MAC
	// Recipients lists the age recipients the data key is wrapped to.
	Recipients []string
	// Matched is the recipient label of the stanza the identities
	// unwrapped. SOPS does not authenticate labels, so it is what the file
	// claims: anyone can rewrite it. To know which key opened the bundle,
	// derive the recipient from the identity (package inject does).
	Matched      string
	LastModified time.Time
	// Unauthenticated lists keys with empty or unencrypted values in a
	// bundle that sealenv did not write: the SOPS MAC covers values, not
	// names, so anyone could have added or renamed these. Bundles with
	// sealenv metadata never have any (an unrecorded one is an error there).
	Unauthenticated []string
}

// Lookup returns the value of name, or nil.
func (b *Bundle) Lookup(name string) []byte {
	for _, s := range b.Secrets {
		if s.Name == name {
			return s.Value
		}
	}
	return nil
}

// Zero overwrites every value in memory. The bundle is unusable afterwards.
func (b *Bundle) Zero() {
	for i := range b.Secrets {
		clear(b.Secrets[i].Value)
	}
	b.Secrets = nil
}

// Info is what can be read from a bundle without an identity. Nothing in it is
// authenticated.
type Info struct {
	Format     Format
	Keys       []string // environment names in file order, metadata key excluded
	Encrypted  []bool   // per key: whether the value is encrypted
	Meta       Meta
	Recipients []string
	OtherKeys  []string // non-age master key types (kms, pgp, ...)
	// MasterKeys lists every wrapped copy of the data key, of every type,
	// with its key group.
	MasterKeys []MasterKey
	// KeyGroups is the number of key groups (0: none, one list of keys);
	// ShamirThreshold how many of them must be opened.
	KeyGroups       int
	ShamirThreshold int
	// Weak lists the values no ciphertext authenticates (see [WeakNames]).
	Weak         []string
	LastModified time.Time
	Version      string
}

// Inspect reads names, recipients and metadata of a bundle without any key.
// Metadata returned here is not authenticated; use [Open] for that.
func Inspect(format Format, data []byte) (*Info, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	info := &Info{Format: format, Version: p.meta.Version, OtherKeys: p.otherKeyTypes(), MasterKeys: p.masterKeys(),
		KeyGroups: len(p.meta.KeyGroups), ShamirThreshold: p.meta.ShamirThreshold}
	info.LastModified, _ = time.Parse(time.RFC3339, p.meta.LastModified)
	for _, s := range p.stanzas() {
		info.Recipients = append(info.Recipients, s.Recipient)
	}
	seen := map[string]bool{}
	for _, l := range p.leaves {
		if err := checkName(l.name, seen); err != nil {
			return nil, err
		}
		if l.name == MetaKey {
			s, ok := l.val.(string)
			if !ok {
				return nil, malformed("%s is not a string", MetaKey)
			}
			if info.Meta, err = ParseMeta(s); err != nil {
				return nil, err
			}
			continue
		}
		enc := p.encrypted(l.path)
		info.Keys = append(info.Keys, l.name)
		info.Encrypted = append(info.Encrypted, enc)
		if l.val == nil || l.val == "" || !enc {
			info.Weak = append(info.Weak, l.name)
		}
	}
	return info, nil
}

// Open decrypts a bundle with the given identities and verifies its MAC. It
// returns either every value, authenticated, or an error and nothing.
func Open(format Format, data []byte, identities ...age.Identity) (*Bundle, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	key, matched, err := p.dataKey(identities)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	b, err := p.decrypt(key)
	if err != nil {
		return nil, err
	}
	b.Matched = matched
	return b, nil
}

// Verify decrypts and authenticates a bundle with a data key obtained
// elsewhere (the authoring side unwraps KMS and PGP keys through sops), with
// exactly the checks of [Open].
func Verify(format Format, data, dataKey []byte) (*Bundle, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	return p.decrypt(dataKey)
}

// UnsealedValues lists the flattened names of the values of a sealed file
// that are stored in plaintext although nothing says they should be: a
// non-empty value that the file's rules encrypt but that is not an
// ENC[...] value (a line typed into the file by hand), or, in a bundle
// sealenv wrote, a plaintext value its metadata does not record as
// intentionally plain. It needs no key; the names it returns are not
// authenticated, and neither is what makes the others look sealed (see
// [Open]). A file with no SOPS metadata is [ErrNotSealed].
func UnsealedValues(format Format, data []byte) ([]string, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	var recorded map[string]bool // nil: no sealenv metadata
	for _, l := range p.leaves {
		if l.name != MetaKey {
			continue
		}
		if s, ok := l.val.(string); ok {
			if doc, err := parseMetaDoc(s); err == nil {
				recorded = map[string]bool{}
				for _, n := range doc.Weak {
					recorded[n] = true
				}
			}
		}
	}
	var out []string
	for _, l := range p.leaves {
		if l.name == MetaKey || l.val == nil || l.val == "" {
			continue
		}
		if p.encrypted(l.path) {
			if s, ok := l.val.(string); ok {
				if _, _, _, _, ok := splitEnc(s); ok {
					continue
				}
			}
			out = append(out, l.name)
			continue
		}
		if recorded != nil && !recorded[l.name] {
			out = append(out, l.name)
		}
	}
	return out, nil
}

// WeakNames lists the flattened names of the values in a bundle that no
// ciphertext authenticates: empty values, nulls, and values the file's
// rules leave unencrypted (the metadata key aside). The authoring side
// records them in the metadata.
func WeakNames(format Format, data []byte) ([]string, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range p.leaves {
		if l.name == MetaKey {
			continue
		}
		if l.val == nil || l.val == "" || !p.encrypted(l.path) {
			out = append(out, l.name)
		}
	}
	return out, nil
}

// dataKey unwraps the 32-byte data key from the first age stanza that one of
// the identities opens.
func (p *parsed) dataKey(ids []age.Identity) ([]byte, string, error) {
	if len(p.meta.KeyGroups) > 1 || p.meta.ShamirThreshold > 1 {
		return nil, "", unsupported("Shamir key groups are not supported; open it with the full sealenv CLI")
	}
	if len(ids) == 0 {
		return nil, "", ErrIncorrectIdentity
	}
	stanzas := p.stanzas()
	if len(stanzas) == 0 {
		if other := p.otherKeyTypes(); len(other) > 0 {
			return nil, "", unsupported("data key is wrapped only to %s keys; open it with the full sealenv CLI", strings.Join(other, ", "))
		}
		return nil, "", malformed("no age recipients")
	}
	var lastErr error
	for _, s := range stanzas {
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(s.Enc)), ids...)
		if err != nil {
			var noMatch *age.NoIdentityMatchError
			if !errors.As(err, &noMatch) {
				lastErr = err
			}
			continue
		}
		key, err := io.ReadAll(io.LimitReader(r, 64))
		if err != nil {
			return nil, "", &reasonError{kind: ErrTampered, msg: "age-wrapped data key failed authentication"}
		}
		if len(key) != 32 {
			clear(key)
			return nil, "", malformed("data key has %d bytes, want 32", len(key))
		}
		return key, s.Recipient, nil
	}
	if lastErr != nil {
		return nil, "", &reasonError{kind: ErrIncorrectIdentity, msg: fmt.Sprintf("no identity unwraps the data key (%d recipients; last error: %s)", len(stanzas), ageReason(lastErr))}
	}
	return nil, "", &reasonError{kind: ErrIncorrectIdentity, msg: fmt.Sprintf("no identity matches any of the %d recipients", len(stanzas))}
}

// ageReason shortens an age error; age never puts key material in errors.
func ageReason(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// decrypt decrypts every value, computes the MAC, and compares it with the
// stored one. Nothing is returned unless the MAC matches.
func (p *parsed) decrypt(key []byte) (b *Bundle, err error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, 32)
	if err != nil {
		return nil, err
	}
	b = &Bundle{Format: p.format}
	defer func() {
		if err != nil {
			b.Zero()
			b = nil
		}
	}()
	mac := sha512.New()
	seen := map[string]bool{}
	var metaText string
	var weak []leaf // empty or unencrypted values: no ciphertext binds their names
	for _, l := range p.leaves {
		if err := checkName(l.name, seen); err != nil {
			return b, err
		}
		var plain []byte                                 // the value as the environment sees it
		encrypted := l.val != nil && p.encrypted(l.path) // sops never encrypts null
		if encrypted {
			s, ok := l.val.(string)
			if !ok {
				return b, &reasonError{kind: ErrTampered, msg: fmt.Sprintf("value of %s is not encrypted", l.name)}
			}
			var macBytes []byte
			var comment bool
			plain, macBytes, comment, err = decryptValue(gcm, s, strings.Join(l.path, ":")+":")
			if err != nil {
				return b, fmt.Errorf("value of %s: %w", l.name, err)
			}
			if comment {
				continue
			}
			mac.Write(macBytes)
		} else {
			var macBytes []byte
			plain, macBytes = plainBytes(l.val)
			mac.Write(macBytes)
		}
		if l.name == MetaKey {
			metaText = string(plain)
			continue
		}
		if len(plain) == 0 || !encrypted {
			if !encrypted && looksLikeMeta(plain) {
				return b, &reasonError{kind: ErrTampered, msg: fmt.Sprintf("%s holds sealenv metadata under another name", l.name)}
			}
			weak = append(weak, l)
		}
		b.Secrets = append(b.Secrets, Secret{Name: l.name, Value: plain})
	}
	lm, err := time.Parse(time.RFC3339, p.meta.LastModified)
	if err != nil {
		return b, malformed("invalid sops.lastmodified")
	}
	stored, _, _, err := decryptValue(gcm, p.meta.MAC, lm.Format(time.RFC3339))
	if err != nil {
		return b, &reasonError{kind: ErrTampered, msg: "MAC failed authentication"}
	}
	want := make([]byte, hex.EncodedLen(sha512.Size))
	hex.Encode(want, mac.Sum(nil))
	if subtle.ConstantTimeCompare(bytes.ToUpper(want), stored) != 1 {
		return b, &reasonError{kind: ErrTampered, msg: "MAC mismatch"}
	}
	b.LastModified = lm
	if metaText != "" {
		if b.Meta, err = ParseMeta(metaText); err != nil {
			return b, err
		}
	}
	// The SOPS MAC covers values, not names. An encrypted value's name is
	// bound by its additional data, but an empty or unencrypted value has no
	// ciphertext: anyone could add "NAME=" lines, insert an empty list item
	// (shifting the names after it) or rename a plaintext key, unnoticed.
	// The MAC-covered metadata lists the exact names of such values, and
	// they must match.
	if metaText == "" {
		for _, l := range weak {
			// A plain sops file: sops accepts these, so do we, but say so.
			b.Unauthenticated = append(b.Unauthenticated, l.name)
		}
	} else {
		doc, _ := parseMetaDoc(metaText)
		recorded := map[string]bool{}
		for _, n := range doc.Weak {
			recorded[n] = true
		}
		for _, l := range weak {
			if !recorded[l.name] {
				return b, &reasonError{kind: ErrTampered, msg: fmt.Sprintf("%s has an empty or unencrypted value that the bundle metadata does not record (added, moved or renamed outside sealenv?)", l.name)}
			}
			delete(recorded, l.name)
		}
		for n := range recorded {
			return b, &reasonError{kind: ErrTampered, msg: fmt.Sprintf("the bundle metadata records an empty or unencrypted %s that is not there (removed, moved or renamed outside sealenv?)", n)}
		}
	}
	for _, s := range p.stanzas() {
		b.Recipients = append(b.Recipients, s.Recipient)
	}
	return b, nil
}

// looksLikeMeta reports whether a plaintext value is sealenv metadata.
func looksLikeMeta(v []byte) bool {
	if !bytes.HasPrefix(v, []byte(`{"v":`)) {
		return false
	}
	_, err := ParseMeta(string(v))
	return err == nil
}

// plainBytes returns the environment form and the MAC form of an
// unencrypted value, as sops.ToBytes does.
func plainBytes(v any) (env, mac []byte) {
	switch v := v.(type) {
	case string:
		return []byte(v), []byte(v)
	case int:
		s := []byte(strconv.Itoa(v))
		return s, s
	case float64:
		s := []byte(strconv.FormatFloat(v, 'f', -1, 64))
		return s, s
	case bool:
		if v {
			return []byte("true"), []byte("True")
		}
		return []byte("false"), []byte("False")
	case time.Time:
		s, _ := v.MarshalText()
		return s, s
	case nil:
		return []byte{}, nil
	}
	return nil, nil
}

// decryptValue opens one "ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]"
// value. It returns the environment form, the MAC form, and whether the value
// is a comment (comments are not part of the MAC or the environment).
func decryptValue(gcm cipher.AEAD, s, ad string) (env, mac []byte, comment bool, err error) {
	if s == "" {
		return []byte{}, nil, false, nil
	}
	data, iv, tag, typ, ok := splitEnc(s)
	if !ok {
		return nil, nil, false, &reasonError{kind: ErrTampered, msg: "not in sops encrypted format"}
	}
	if len(iv) != gcm.NonceSize() || len(tag) != gcm.Overhead() {
		return nil, nil, false, &reasonError{kind: ErrTampered, msg: "invalid iv or tag length"}
	}
	sealed := make([]byte, 0, len(data)+len(tag))
	sealed = append(append(sealed, data...), tag...)
	out, err := gcm.Open(sealed[:0], iv, sealed, []byte(ad))
	if err != nil {
		clear(sealed)
		return nil, nil, false, &reasonError{kind: ErrTampered, msg: "failed authentication"}
	}
	switch typ {
	case "str", "bytes":
		return out, out, false, nil
	case "comment":
		clear(out)
		return nil, nil, true, nil
	case "int":
		n, err := strconv.Atoi(string(out))
		clear(out)
		if err != nil {
			return nil, nil, false, malformed("invalid int")
		}
		s := []byte(strconv.Itoa(n))
		return s, s, false, nil
	case "float":
		f, err := strconv.ParseFloat(string(out), 64)
		clear(out)
		if err != nil {
			return nil, nil, false, malformed("invalid float")
		}
		s := []byte(strconv.FormatFloat(f, 'f', -1, 64))
		return s, s, false, nil
	case "bool":
		v, err := strconv.ParseBool(string(out))
		clear(out)
		if err != nil {
			return nil, nil, false, malformed("invalid bool")
		}
		return plainBytesBool(v)
	case "time":
		var t time.Time
		err := t.UnmarshalText(out)
		clear(out)
		if err != nil {
			return nil, nil, false, malformed("invalid time")
		}
		s, _ := t.MarshalText()
		return s, s, false, nil
	}
	clear(out)
	return nil, nil, false, malformed("unknown value type %q", typ)
}

func plainBytesBool(v bool) (env, mac []byte, comment bool, err error) {
	env, mac = plainBytes(v)
	return env, mac, false, nil
}

// strictB64 rejects non-canonical encodings (non-zero padding bits), so no
// byte of a value can change without the value changing. sops writes
// canonical base64.
var strictB64 = base64.StdEncoding.Strict()

// splitEnc parses the SOPS encrypted value syntax strictly.
func splitEnc(s string) (data, iv, tag []byte, typ string, ok bool) {
	const prefix = "ENC[AES256_GCM,data:"
	if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, "]") {
		return nil, nil, nil, "", false
	}
	body := s[len(prefix) : len(s)-1]
	d, rest, ok1 := strings.Cut(body, ",iv:")
	i, rest, ok2 := strings.Cut(rest, ",tag:")
	t, ty, ok3 := strings.Cut(rest, ",type:")
	if !ok1 || !ok2 || !ok3 || ty == "" {
		return nil, nil, nil, "", false
	}
	var err error
	if data, err = strictB64.DecodeString(d); err != nil {
		return nil, nil, nil, "", false
	}
	if iv, err = strictB64.DecodeString(i); err != nil {
		return nil, nil, nil, "", false
	}
	if tag, err = strictB64.DecodeString(t); err != nil {
		return nil, nil, nil, "", false
	}
	return data, iv, tag, ty, true
}
