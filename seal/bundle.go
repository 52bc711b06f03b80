package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
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
	"golang.org/x/crypto/chacha20poly1305"
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
	// Recorded reports whether the bundle has sealenv metadata: sealenv
	// wrote it, or adopted it after a review.
	Recorded bool
	// Changes lists what changed since sealenv last wrote the bundle
	// (another tool, such as sops, edited it), in file order, removed
	// names last; nil without sealenv metadata.
	Changes []Change
	// Unauthenticated lists the names whose presence nothing
	// authenticates: the SOPS MAC covers values, not names, so an empty or
	// unencrypted value can be added, removed or renamed by anyone who can
	// write the file. In a bundle sealenv recorded, these are the changes
	// no ciphertext proves; in a SOPS file sealenv never wrote, every
	// empty or unencrypted value. Only [OpenForReview] returns a bundle
	// with any; [Open] fails with [*UnauthenticatedError].
	Unauthenticated []string

	// derived is HMAC-SHA256(data key, derivedLabel): the root of
	// [Bundle.DeriveKey], never the data key itself.
	derived []byte
}

const derivedLabel = "sealenv derived key v1"

// DeriveKey returns a 32-byte key for purpose, derived from the bundle's
// data key (HMAC-SHA256 of the data key and a fixed label, then of
// purpose): the same for everyone who opens this bundle, unknown to anyone
// who cannot, and different for every purpose and every data key (sops
// rotate, a new bundle). It reveals nothing of the data key or the values.
// It is nil for a bundle that [Bundle.Zero] cleared.
func (b *Bundle) DeriveKey(purpose string) []byte {
	if len(b.derived) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, b.derived)
	m.Write([]byte(purpose))
	return m.Sum(nil)
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
	clear(b.derived)
	b.derived = nil
}

// Info is what can be read from a bundle without an identity. Nothing in it is
// authenticated.
type Info struct {
	Format Format
	Keys   []string // environment names in file order, metadata key excluded
	// Paths names each key as a person types it: the dotted path of a
	// nested YAML or JSON key ("db.password", "hosts.0"), the key itself
	// at the top level.
	Paths     []string
	Encrypted []bool // per key: whether the value is stored encrypted (empty values are not)
	Empty     []bool // per key: whether the value is empty or null
	Meta      Meta
	// MetaKey is the name of the metadata key in this file (see
	// [MetaKeyFor]); MetaEncrypted reports that the file's rules encrypt
	// it, so that Meta, Changes and Unauthenticated need an identity
	// ([Open]) and are empty here.
	MetaKey       string
	MetaEncrypted bool
	Recipients    []string
	OtherKeys     []string // non-age master key types (kms, pgp, ...)
	// MasterKeys lists every wrapped copy of the data key, of every type,
	// with its key group.
	MasterKeys []MasterKey
	// KeyGroups is the number of key groups (0: none, one list of keys);
	// ShamirThreshold how many of them must be opened.
	KeyGroups       int
	ShamirThreshold int
	// Weak lists the values no ciphertext authenticates: empty values, nulls,
	// and values the file's rules leave unencrypted.
	Weak []string
	// Recorded, Changes and Unauthenticated are those of [Bundle], read
	// without checking the MAC.
	Recorded        bool
	Changes         []Change
	Unauthenticated []string
	// Current is what the metadata would record if it were written now
	// (see [Recorded]).
	Current      Record
	LastModified time.Time
	Version      string
	// Prints are the fingerprints the metadata records, read without
	// checking the MAC (a signed bundle's signature covers them).
	Prints Prints
}

// Inspect reads names, recipients and metadata of a bundle without any key.
// Metadata returned here is not authenticated; use [Open] for that.
func Inspect(format Format, data []byte) (*Info, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	return p.inspect(format)
}

// InspectAnyNames is [Inspect] for a bundle that may hold names that are
// not environment variable names (a key added with sops edit, such as
// "my-key"): for the write that renames or removes them. Nothing that
// runs a bundle uses it.
func InspectAnyNames(format Format, data []byte) (*Info, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	p.anyNames = true
	return p.inspect(format)
}

func (p *parsed) inspect(format Format) (*Info, error) {
	info := &Info{Format: format, Version: p.meta.Version, OtherKeys: p.otherKeyTypes(), MasterKeys: p.masterKeys(),
		KeyGroups: len(p.meta.KeyGroups), ShamirThreshold: p.meta.ShamirThreshold, MetaKey: p.metaKey()}
	info.LastModified, _ = time.Parse(time.RFC3339, p.meta.LastModified)
	for _, s := range p.stanzas() {
		info.Recipients = append(info.Recipients, s.Recipient)
	}
	seen := map[string]bool{}
	var doc *metaDoc
	for _, l := range p.leaves {
		if err := p.checkName(l.name, seen); err != nil {
			return nil, err
		}
		isMeta, err := p.isMeta(l)
		if err != nil {
			return nil, err
		}
		if isMeta {
			s, ok := l.val.(string)
			if !ok {
				return nil, malformed("%s is not a string", l.name)
			}
			if _, _, _, _, enc := splitEnc(s); enc && p.encrypted(l.path) {
				info.MetaEncrypted = true
				continue
			}
			if s == "" {
				continue
			}
			if doc, err = parseMetaDoc(s); err != nil {
				return nil, err
			}
			info.Meta = doc.Keys
			info.Prints = Prints{Salt: doc.Salt, ByName: doc.Prints}
			continue
		}
		enc := p.encrypted(l.path)
		empty := l.val == nil || l.val == ""
		info.Keys = append(info.Keys, l.name)
		info.Paths = append(info.Paths, l.dotted)
		info.Encrypted = append(info.Encrypted, enc && !empty)
		info.Empty = append(info.Empty, empty)
		if empty || !enc {
			info.Weak = append(info.Weak, l.name)
		}
	}
	states := p.states()
	info.Current = p.record(states)
	if !info.MetaEncrypted {
		info.Recorded = doc != nil
		info.Changes, info.Unauthenticated = p.review(doc, states)
	}
	return info, nil
}

// Open decrypts a bundle with the given identities and verifies its MAC. It
// returns either every value, authenticated, or an error and nothing. A
// bundle whose values are authentic but whose names are not all (see
// [Bundle.Unauthenticated]) is an [*UnauthenticatedError]; [OpenForReview]
// opens it for a person to look at.
func Open(format Format, data []byte, identities ...age.Identity) (*Bundle, error) {
	b, err := OpenForReview(format, data, identities...)
	if err != nil {
		return nil, err
	}
	if err := Strict(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Strict zeroes b and returns an [*UnauthenticatedError] when b has names
// that nothing authenticates; it returns nil otherwise.
func Strict(b *Bundle) error {
	if len(b.Unauthenticated) == 0 {
		return nil
	}
	e := &UnauthenticatedError{Names: b.Unauthenticated}
	if b.Recorded {
		e.Changes = Unauthenticated(b.Changes)
	}
	b.Zero()
	return e
}

// OpenForReview is [Open] for a person or a gate that shows what changed:
// it also returns a bundle with names that nothing authenticates, listed in
// [Bundle.Unauthenticated] with the [Bundle.Changes] that explain them.
// Every value it returns is authenticated by the MAC; its name may not be.
// The caller must refuse or show those names, never use them silently.
func OpenForReview(format Format, data []byte, identities ...age.Identity) (*Bundle, error) {
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
// exactly the checks of [OpenForReview].
func Verify(format Format, data, dataKey []byte) (*Bundle, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	return p.decrypt(dataKey)
}

// VerifyAnyNames is [Verify] that accepts names that are not environment
// variable names, as [InspectAnyNames] does.
func VerifyAnyNames(format Format, data, dataKey []byte) (*Bundle, error) {
	p, err := parseFile(format, data)
	if err != nil {
		return nil, err
	}
	p.anyNames = true
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
	mk := p.metaKey()
	for _, l := range p.leaves {
		if len(l.path) != 1 || l.path[0] != mk {
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
		if (len(l.path) == 1 && l.path[0] == mk) || l.val == nil || l.val == "" {
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

// shamirNeed is how many of groups key groups open a bundle: its
// threshold, or all of them.
func shamirNeed(threshold, groups int) int {
	if threshold <= 0 || threshold > groups {
		return groups
	}
	return threshold
}

// dataKey unwraps the 32-byte data key from the first age stanza that one of
// the identities opens.
func (p *parsed) dataKey(ids []age.Identity) ([]byte, string, error) {
	if len(p.meta.KeyGroups) > 1 || p.meta.ShamirThreshold > 1 {
		return nil, "", unsupported("the data key is split into key groups (Shamir: needs %d of %d key groups), which the injector does not open; open it with the full sealenv CLI", shamirNeed(p.meta.ShamirThreshold, len(p.meta.KeyGroups)), len(p.meta.KeyGroups))
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
		key, err := openWrappedKey(s.Enc, ids)
		if errors.Is(err, errPayload) {
			return nil, "", &reasonError{kind: ErrTampered, msg: "age-wrapped data key failed authentication"}
		}
		if err != nil {
			var noMatch *age.NoIdentityMatchError
			if !errors.As(err, &noMatch) {
				lastErr = err
			}
			continue
		}
		if len(key) != 32 {
			clear(key)
			return nil, "", malformed("data key has %d bytes, want 32", len(key))
		}
		return key, s.Recipient, nil
	}
	if lastErr != nil {
		return nil, "", &reasonError{kind: ErrIncorrectIdentity, msg: fmt.Sprintf("no identity unwraps the data key (%s; last error: %s)", recipientCount(len(stanzas)), ageReason(lastErr))}
	}
	return nil, "", &reasonError{kind: ErrIncorrectIdentity, msg: "no identity matches " + recipientsPhrase(len(stanzas))}
}

// errPayload is an age file whose header opened but whose payload failed
// authentication (or could not be read).
var errPayload = errors.New("age payload failed authentication")

// openWrappedKey decrypts the armored age file that wraps a data key, at
// most 64 bytes of plaintext (the caller checks for 32). The header (the
// stanzas and the header MAC) is opened by age itself; a payload of one
// STREAM chunk, which a wrapped data key always is, is then opened here
// (age's format: HKDF-SHA-256 of the file key with the 16-byte nonce as
// salt and "payload" as info, ChaCha20-Poly1305 with the last-chunk nonce),
// since age.Decrypt's reader allocates two 64 KiB chunk buffers, a third of
// what a container start allocates. Any other shape goes through
// age.Decrypt. Errors from the header are age's (a
// *age.NoIdentityMatchError when no identity matches); a payload that fails
// authentication is errPayload.
func openWrappedKey(armored string, ids []age.Identity) ([]byte, error) {
	raw, err := readArmored(armored)
	if err != nil {
		return nil, fmt.Errorf("failed to read header: %w", err)
	}
	const nonceSize, tagSize = 16, chacha20poly1305.Overhead
	n := headerEnd(raw)
	if n < 0 || len(raw)-n < nonceSize+tagSize || len(raw)-n > nonceSize+64+tagSize {
		return openAgeFile(raw, ids)
	}
	// age.DecryptHeader parses the header as age.Decrypt does and checks
	// its MAC; the payload is what follows it.
	hdr, payload := raw[:n], raw[n:]
	fileKey, err := age.DecryptHeader(hdr, ids...)
	if err != nil {
		return nil, err
	}
	defer clear(fileKey)
	streamKey, err := hkdf.Key(sha256.New, fileKey, payload[:nonceSize], "payload", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	defer clear(streamKey)
	aead, err := chacha20poly1305.New(streamKey)
	if err != nil {
		return nil, err
	}
	var nonce [chacha20poly1305.NonceSize]byte
	nonce[len(nonce)-1] = 1 // chunk 0, the last one
	key, err := aead.Open(nil, nonce[:], payload[nonceSize:], nil)
	if err != nil {
		return nil, errPayload
	}
	return key, nil
}

// readArmored decodes an armored age file into one buffer of the armor's
// length (the binary is shorter), not io.ReadAll's growing ones.
func readArmored(armored string) ([]byte, error) {
	// One byte more than the armor, so that the read always ends at the
	// armor's end (or its error), never at a full buffer.
	raw := make([]byte, len(armored)+1)
	n, err := io.ReadFull(armor.NewReader(strings.NewReader(armored)), raw)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return raw[:n], nil
	case err != nil:
		return nil, err
	}
	return nil, errors.New("armored data decodes to more than its length")
}

// headerEnd returns the length of the age header at the start of raw, up
// to the end of its first line that starts with "---" (the MAC line, where
// age's parser ends a header), or -1 when there is no such line.
func headerEnd(raw []byte) int {
	for off := 0; off < len(raw); {
		nl := bytes.IndexByte(raw[off:], '\n')
		if nl < 0 {
			return -1
		}
		if bytes.HasPrefix(raw[off:], []byte("---")) {
			return off + nl + 1
		}
		off += nl + 1
	}
	return -1
}

// openAgeFile is openWrappedKey through age.Decrypt, for a file whose
// payload is not one small chunk.
func openAgeFile(raw []byte, ids []age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(raw), ids...)
	if err != nil {
		return nil, err
	}
	key, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		clear(key)
		return nil, errPayload
	}
	return key, nil
}

// recipientCount is "1 recipient", "2 recipients".
func recipientCount(n int) string {
	if n == 1 {
		return "1 recipient"
	}
	return fmt.Sprintf("%d recipients", n)
}

// recipientsPhrase is "the 1 recipient" or "any of the 2 recipients".
func recipientsPhrase(n int) string {
	if n == 1 {
		return "the 1 recipient"
	}
	return "any of the " + recipientCount(n)
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
	dm := hmac.New(sha256.New, key)
	dm.Write([]byte(derivedLabel))
	b.derived = dm.Sum(nil)
	defer func() {
		if err != nil {
			b.Zero()
			b = nil
		}
	}()
	mac := sha512.New()
	seen := map[string]bool{}
	var metaText string
	haveMeta := false
	for _, l := range p.leaves {
		if err := p.checkName(l.name, seen); err != nil {
			return b, err
		}
		isMeta, err := p.isMeta(l)
		if err != nil {
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
		if isMeta {
			metaText, haveMeta = string(plain), true
			continue
		}
		if !encrypted && looksLikeMeta(plain) {
			return b, &reasonError{kind: ErrTampered, msg: fmt.Sprintf("%s holds sealenv metadata under another name", l.name)}
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
	// The SOPS MAC covers values, not names. An encrypted value's name is
	// bound by its additional data, but an empty or unencrypted value has no
	// ciphertext: anyone could add "NAME=" lines, insert an empty list item
	// (shifting the names after it) or rename a plaintext key, unnoticed.
	// The MAC-covered metadata records the exact names of such values and a
	// digest of every value; what differs is a change, and the changes no
	// ciphertext proves wait for a review (see review).
	var doc *metaDoc
	if haveMeta && metaText != "" {
		if doc, err = parseMetaDoc(metaText); err != nil {
			return b, err
		}
		b.Meta = doc.Keys
	}
	b.Recorded = doc != nil
	b.Changes, b.Unauthenticated = p.review(doc, p.states())
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
