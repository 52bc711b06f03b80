package signature_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealenv/sealenv/internal/testutil/signtest"
	"github.com/sealenv/sealenv/seal/signature"
)

// TestAllowedSignersAgreeWithOpenSSH: for each allowed signers line, this
// package allows the signature exactly when ssh-keygen -Y verify does
// (principal "alice"), names the principals ssh-keygen -Y find-principals
// finds, and a line ssh-keygen cannot parse is an error here.
func TestAllowedSignersAgreeWithOpenSSH(t *testing.T) {
	t.Parallel()
	signtest.Keygen(t)
	dir := t.TempDir()
	k := signtest.NewKey(t, dir, "id", "ed25519")
	other := signtest.NewKey(t, dir, "other", "ed25519")
	data := bundleBytes(t)
	sig := k.Sign(t, signature.Namespace, data)
	key := k.Public
	for _, tc := range []struct {
		line    string
		allowed bool
		parse   bool // false: a malformed file
	}{
		{"alice " + key, true, true},
		{"alice " + key + " a comment with spaces", true, true},
		{"  alice\t" + key, true, true},
		{`alice namespaces="` + signature.Namespace + `" ` + key, true, true},
		{`alice NAMESPACES="` + signature.Namespace + `" ` + key, true, true},
		{`alice namespaces="*@sealenv.github.io" ` + key, true, true},
		{`alice namespaces="git,file" ` + key, false, true},
		{`alice namespaces="*,!` + signature.Namespace + `" ` + key, false, true},
		{`alice valid-after="20990101" ` + key, false, true},
		{`alice valid-before="20000101Z" ` + key, false, true},
		{`alice valid-after="20000101",valid-before="20990101120000Z" ` + key, true, true},
		{`alice cert-authority ` + key, false, true},
		{`"alice,bob" ` + key, true, true},
		{`alice,bob ` + key, true, true},
		{"alice " + other.Public, false, true},
		{"# alice " + key, false, true},
		{"alice unknown-option " + key, false, false},
		{"alice namespaces=bundle " + key, false, false},
		{"alice", false, false},
		{`alice valid-after="2020" ` + key, false, false},
		{`alice valid-after="20200101",valid-after="20200102" ` + key, false, false},
		{`alice valid-after="20990101",valid-before="20200101" ` + key, false, false},
		{"alice ssh-ed25519 AAAA!!!", false, false},
		{"alice ssh-foo AAAA", false, false},
	} {
		t.Run(tc.line[:min(len(tc.line), 40)], func(t *testing.T) {
			path := signtest.WriteAllowed(t, t.TempDir(), "allowed_signers", tc.line)
			keygen := signtest.KeygenVerify(t, path, "alice", signature.Namespace, sig, data) == nil
			if keygen != tc.allowed {
				t.Fatalf("ssh-keygen allowed=%v; the table says %v", keygen, tc.allowed)
			}
			a, err := signature.ParseAllowedSigners([]byte(tc.line + "\n"))
			if (err == nil) != tc.parse {
				t.Fatalf("parse error %v, want parsed=%v", err, tc.parse)
			}
			if err != nil {
				if !errors.Is(err, signature.ErrMalformedSigners) || !strings.HasPrefix(err.Error(), "malformed allowed signers: line 1: ") {
					t.Errorf("error %q", err)
				}
				if strings.Contains(err.Error(), "AAAA") {
					t.Errorf("the error echoes the line: %v", err)
				}
				return
			}
			s, err := signature.Verify(data, sig, a, time.Now())
			if (err == nil) != tc.allowed {
				t.Fatalf("sealenv: %v %v, want allowed=%v", s, err, tc.allowed)
			}
			if err != nil && !errors.Is(err, signature.ErrNotAllowed) {
				t.Errorf("%v is not 'signer not allowed'", err)
			}
			if err == nil {
				// Without a principal to look for, sealenv finds the signer's
				// principals as ssh-keygen -Y find-principals does.
				found, ferr := signtest.KeygenFindPrincipals(t, path, sig)
				if ferr != nil || strings.Join(s.Principals, ",") != found {
					t.Errorf("principals %v; ssh-keygen -Y find-principals: %q %v", s.Principals, found, ferr)
				}
			}
		})
	}
}

// TestNotAllowedSaysWhy: the message names the key's fingerprint and what
// each line that lists it says; principals of every allowing line are
// collected.
func TestNotAllowedSaysWhy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := signtest.NewKey(t, dir, "id", "ed25519")
	data := bundleBytes(t)
	sig := k.Sign(t, signature.Namespace, data)
	now := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	for lines, want := range map[string]string{
		"":                                       "is not an allowed signer",
		`a namespaces="git" ` + k.Public:         "line 1 allows it for other namespaces only",
		`a valid-before="20300101Z" ` + k.Public: "line 1 allowed it until 2030-01-01T00:00:00Z",
		"x y\n" + `a valid-after="20310101Z" ` + k.Public: "line 2 allows it from 2031-01-01T00:00:00Z",
	} {
		a, err := signature.ParseAllowedSigners([]byte(strings.Replace(lines, "x y\n", "# x y\n", 1)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = signature.Verify(data, sig, a, now)
		if !errors.Is(err, signature.ErrNotAllowed) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), k.Fingerprint()) {
			t.Errorf("%q: got %v, want %q", lines, err, want)
		}
	}
	a, _ := signature.ParseAllowedSigners([]byte("alice " + k.Public + "\n" + `ci@example.com namespaces="` + signature.Namespace + `" ` + k.Public + "\n"))
	s, err := signature.Verify(data, sig, a, now)
	if err != nil || strings.Join(s.Principals, " ") != "alice ci@example.com" {
		t.Errorf("principals %v %v", s, err)
	}
	if got := s.String(); got != "alice,ci@example.com (ssh-ed25519 "+k.Fingerprint()+")" {
		t.Errorf("String() = %q", got)
	}
	if line := signature.Line("alice@example.com", s.Key); line != `alice@example.com namespaces="bundle@sealenv.github.io" `+k.Public {
		t.Errorf("Line() = %q", line)
	}
}
