package inject

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sealenv/sealenv/seal/signature"
)

// bundleLog describes one bundle in the access line.
type bundleLog struct {
	Path   string
	SHA256 string // of the bytes that were read, opened and authenticated
	Format string
	// Recipient is the recipient of the identity that unwrapped the data
	// key (see recipientOf); empty when no age identity did.
	Recipient string
	Keys      []string
	// Changed names the values another tool (sops) changed since sealenv
	// last wrote the bundle; each change is authenticated, or the start
	// was refused (see seal.Change).
	Changed []string
	// Unauthenticated names what nothing authenticates, when
	// AllowUnauthenticated let the start go on anyway.
	Unauthenticated []string
	// Signer is who signed the bundle, when an allowed signers file asked
	// for a signature.
	Signer *signature.Signer
}

// accessLog writes the JSON access line: names, paths and digests, never a
// value. It is written by hand rather than with encoding/json: reflection's
// first use costs about a tenth of a millisecond, a tenth of the whole start.
func (c *Config) accessLog(l *loaded, p *envPlan, path string) {
	if c.NoAccessLog {
		return
	}
	mode := "exec"
	switch {
	case c.Redact:
		mode = "redact"
	case c.Supervise:
		mode = "supervise"
	}
	keys := make([]string, 0, len(p.set))
	for _, s := range p.set {
		keys = append(keys, s.Name)
	}
	b := make([]byte, 0, 1024)
	b = append(b, `{"time":`...)
	b = appendString(b, c.Now().UTC().Format(time.RFC3339Nano))
	b = append(b, `,"event":"sealenv.inject","mode":`...)
	b = appendString(b, mode)
	b = append(b, `,"command":`...)
	b = appendString(b, path)
	b = append(b, `,"identity":`...)
	b = appendString(b, l.source)
	b = append(b, `,"bundles":[`...)
	for i, bl := range l.bundles {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"path":`...)
		b = appendString(b, bl.Path)
		b = append(b, `,"sha256":`...)
		b = appendString(b, bl.SHA256)
		b = append(b, `,"format":`...)
		b = appendString(b, bl.Format)
		b = append(b, `,"recipient":`...)
		if bl.Recipient == "" {
			b = append(b, "null"...) // no age identity opened it (a KMS or PGP key did)
		} else {
			b = appendString(b, bl.Recipient)
		}
		b = append(b, `,"keys":`...)
		b = appendStrings(b, bl.Keys)
		if len(bl.Changed) > 0 {
			b = append(b, `,"changed_outside_sealenv":`...)
			b = appendStrings(b, bl.Changed)
		}
		if len(bl.Unauthenticated) > 0 {
			b = append(b, `,"unauthenticated":`...)
			b = appendStrings(b, bl.Unauthenticated)
		}
		if bl.Signer != nil {
			b = append(b, `,"signer":{"principals":`...)
			b = appendStrings(b, bl.Signer.Principals)
			b = append(b, `,"key":`...)
			b = appendString(b, bl.Signer.Key.Type+" "+bl.Signer.Key.Fingerprint())
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, `],"keys":`...)
	b = appendStrings(b, keys)
	for _, f := range []struct {
		name string
		list []string
	}{{"files", p.fileNames}, {"env_kept", p.keptEnv}, {"env_replaced", p.replaced}, {"expired", l.expired}} {
		if len(f.list) > 0 {
			b = append(b, `,"`+f.name+`":`...)
			b = appendStrings(b, f.list)
		}
	}
	b = append(b, `,"decrypt_ms":`...)
	b = strconv.AppendFloat(b, float64(l.decrypt.Microseconds())/1000, 'f', -1, 64)
	b = append(b, "}\n"...)
	c.Stderr.Write(b)
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
