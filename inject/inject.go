package inject

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/internal/fserr"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/signature"
)

// Exit statuses, in the convention of env(1), chroot(1) and docker run.
const (
	// ExitFailure: the injector failed; the command never started.
	ExitFailure = 125
	// ExitNotExecutable: the command exists but cannot be executed.
	ExitNotExecutable = 126
	// ExitNotFound: the command was not found.
	ExitNotFound = 127
)

// Default locations. See docs/inject.md.
const (
	// DefaultIdentityFile is where Docker, Compose, Swarm and common
	// Kubernetes setups mount a secret named sealenv_age_key.
	DefaultIdentityFile = "/run/secrets/sealenv_age_key"
	// EnvBundle lists bundle paths, colon-separated, when no --bundle is
	// given.
	EnvBundle = "SEALENV_BUNDLE"
	// EnvStore names the bundles' store when no --store is given.
	EnvStore = "SEALENV_STORE"
)

// DefaultBundles returns the bundles tried, in order, when neither
// --bundle nor SEALENV_BUNDLE names a bundle; exactly one must exist. Each
// call returns a new slice: no importer can change where the injector looks.
func DefaultBundles() []string { return slices.Clone(defaultBundles[:]) }

var defaultBundles = [...]string{"/etc/sealenv/bundle.env", "/etc/sealenv/bundle.yaml", "/etc/sealenv/bundle.json"}

// maxBundleFile caps what is read of a bundle file (one byte more is read,
// so that the reader refuses a larger one); maxIdentity caps an identity, as
// age does.
const (
	maxBundleFile = 16 << 20
	maxIdentity   = 16 << 20
)

// OpenFunc opens one bundle, returning names that nothing authenticates in
// seal.Bundle.Unauthenticated rather than failing, as
// [seal.OpenForReview] does: the injector refuses them itself, naming them
// and the fix. The default is seal.OpenForReview; the full sealenv CLI
// passes one that can also unwrap KMS and PGP data keys.
type OpenFunc func(format seal.Format, data []byte, ids ...age.Identity) (*seal.Bundle, error)

// Config is one start of the injector. The zero value of every field but
// Args is a sensible default.
type Config struct {
	// Args is the command and its arguments.
	Args []string
	// Bundles are bundle files, merged in order. Empty means SEALENV_BUNDLE,
	// then [DefaultBundles].
	Bundles []string
	// Override lists keys that a later bundle may redefine ("*": any key).
	// The last bundle that defines such a key wins. Without it, the same
	// key in two bundles is an error.
	Override []string
	// Identity is an age identity file (--identity).
	Identity string
	// IdentityFD, when IdentityFromFD is set, is an inherited file
	// descriptor to read the identity from (--identity-fd): read to its end
	// within a deadline, then closed so that the command does not inherit
	// it. Descriptor 0 is replaced by /dev/null instead, so the command
	// still has a stdin; 1, 2, terminals and a negative or closed
	// descriptor are refused.
	IdentityFD     int
	IdentityFromFD bool
	// AllowEnvOverride lists keys for which a value already in the
	// environment wins over the sealed one.
	AllowEnvOverride []string
	// AllowNames lists names of the denylist (docs/inject.md) that a bundle
	// may set: names that load code, leak keys or redirect connections.
	AllowNames []string
	// Files delivers values as in-memory files: "NAME" sets NAME_FILE,
	// "NAME=VAR" sets VAR, to /proc/self/fd/N; NAME itself is not set.
	Files []string
	// Supervise keeps the injector running as the parent of the command.
	Supervise bool
	// Redact passes the command's stdout and stderr through a [Redactor].
	// It implies Supervise.
	Redact bool
	// NoAccessLog turns off the JSON access line.
	NoAccessLog bool
	// Only, when set, is the list of keys the command may receive (least
	// privilege when one bundle feeds several services); other keys are
	// dropped, and a listed key that no bundle holds is an error. A listed
	// key's grace value (KEY_PREVIOUS) comes with it.
	// Listing a redirecting name of the denylist (a proxy, a CA bundle)
	// allows it, as AllowNames does: the service is meant to receive it.
	Only []string
	// AllowUnauthenticated starts the command although a bundle has names
	// that nothing authenticates (see seal.Bundle.Unauthenticated): empty
	// or unencrypted values added, removed or renamed outside sealenv, or
	// those of a SOPS file sealenv never adopted. Without it they stop the
	// start.
	AllowUnauthenticated bool
	// Store is the SOPS store of every bundle ("dotenv", "yaml", "json");
	// empty means SEALENV_STORE, else each file's name, else its content.
	Store string
	// Signers is an allowed signers file (the format of ssh-keygen -Y
	// verify and git): every bundle must then carry a signature
	// (BUNDLE.sig, see package seal/signature) by a key it allows, checked
	// before any identity is read or anything decrypted. Empty means
	// SignersDefault ([DefaultSigners]) when that file exists, else no
	// check.
	Signers string
	// Names is a file of the names the bundles may set (--names): with it,
	// a key it does not list is refused. Empty means NamesDefault
	// ([DefaultNames], which sealenv wrap and sealenv build write from the
	// names the policy declares for the environment) when that file
	// exists, else no such check.
	Names string
	// NamesDefault replaces [DefaultNames] (tests).
	NamesDefault string
	// SignersDefault replaces [DefaultSigners] (tests).
	SignersDefault string

	// Environ is the environment the command starts from; nil means
	// os.Environ().
	Environ []string
	// Stdin, Stdout and Stderr are given to the command in supervise mode
	// (nil: the process's own). Warnings and the access line go to Stderr.
	Stdin          *os.File
	Stdout, Stderr io.Writer
	// Prog prefixes warnings: "sealenv-inject".
	Prog string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Open opens a bundle; nil means seal.OpenForReview.
	Open OpenFunc
	// ParseIdentities parses identity file or variable content; nil means
	// [seal.ParseNativeIdentities] (native age keys only, which keeps SSH and
	// plugin code out of the slim binary). The full CLI passes a parser
	// that also reads SSH keys and plugin identities.
	ParseIdentities seal.IdentityParser
	// Describe names a setting in messages, with its argument when arg is
	// not empty; a command passes its flag names ("--override KEY"). nil
	// names the setting itself ("Override KEY"). [Config.ParseArgs] sets it.
	Describe func(s Setting, arg string) string
	// IdentityDefaults are identity files tried last, in order; nil means
	// [DefaultIdentityFile]. The full CLI adds the sops keys.txt.
	IdentityDefaults []string
	// IdentityOptional lets a start without any age identity go on to Open,
	// for bundles that a KMS or PGP key opens (the full CLI). Open still
	// fails closed on age-only bundles.
	IdentityOptional bool
}

// Error is a failure before the command started, with the exit status the
// injector should end with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func fail(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// ExitCode returns the exit status for an error from [Run]: the code of an
// [*Error], else [ExitFailure].
func ExitCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitFailure
}

// loaded is the result of decrypting and merging the bundles.
type loaded struct {
	secrets  []seal.Secret // merged, in order of first definition
	bundles  []bundleLog
	expired  []string
	source   string // where the identity came from
	decrypt  time.Duration
	zeroList []*seal.Bundle
}

func (l *loaded) zero() {
	for _, b := range l.zeroList {
		b.Zero()
	}
	l.secrets = nil
}

func (c *Config) defaults() {
	if c.Environ == nil {
		c.Environ = os.Environ()
	}
	if c.Stdin == nil {
		c.Stdin = os.Stdin
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Prog == "" {
		c.Prog = "sealenv-inject"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Open == nil {
		c.Open = seal.OpenForReview
	}
	if c.IdentityDefaults == nil {
		c.IdentityDefaults = []string{DefaultIdentityFile}
	}
	if c.ParseIdentities == nil {
		c.ParseIdentities = seal.ParseNativeIdentities
	}
	if c.Redact {
		c.Supervise = true
	}
}

func (c *Config) warnf(format string, args ...any) {
	fmt.Fprintf(c.Stderr, "%s: warning: "+format+"\n", append([]any{c.Prog}, args...)...)
}

// getenv looks a name up in c.Environ (the last definition wins, as in
// getenv(3) implementations that scan from the end; duplicates are rare).
func (c *Config) getenv(name string) (string, bool) {
	for i := len(c.Environ) - 1; i >= 0; i-- {
		k, v, ok := strings.Cut(c.Environ[i], "=")
		if ok && k == name {
			return v, true
		}
	}
	return "", false
}

// check rejects contradictory settings before any secret is read.
func (c *Config) check() error {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return fail(ExitFailure, "no command to run")
	}
	if c.Identity != "" && c.IdentityFromFD {
		return fail(ExitFailure, "%s and %s are mutually exclusive", c.mention(SettingIdentity, ""), c.mention(SettingIdentityFD, ""))
	}
	for _, lists := range []struct {
		setting Setting
		names   []string
	}{{SettingAllowEnvOverride, c.AllowEnvOverride}, {SettingAllowNames, c.AllowNames}, {SettingOnly, c.Only}, {SettingOverride, c.Override}} {
		for _, n := range lists.names {
			if !seal.ValidName(n) && (lists.setting != SettingOverride || n != "*") {
				return fail(ExitFailure, "%s: not a valid environment variable name", c.mention(lists.setting, strconv.Quote(n)))
			}
		}
	}
	for _, f := range c.Files {
		name, target, _ := strings.Cut(f, "=")
		if !seal.ValidName(name) || (target != "" && !seal.ValidName(target)) {
			return fail(ExitFailure, "%s: want NAME or NAME=VAR", c.mention(SettingFiles, strconv.Quote(f)))
		}
	}
	return nil
}

// bundlePaths decides which bundles to read.
func (c *Config) bundlePaths() ([]string, error) {
	if len(c.Bundles) > 0 {
		return c.Bundles, nil
	}
	if v, ok := c.getenv(EnvBundle); ok && v != "" {
		paths := strings.Split(v, ":")
		if slices.Contains(paths, "") {
			return nil, fail(ExitFailure, "%s: empty path in the list", EnvBundle)
		}
		return paths, nil
	}
	var found []string
	for _, p := range defaultBundles {
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return nil, fail(ExitFailure, "no bundle: pass %s or set %s (default %s not found)", c.mention(SettingBundles, "FILE"), EnvBundle, strings.Join(defaultBundles[:], " or "))
	case 1:
		return found, nil
	}
	return nil, fail(ExitFailure, "no bundle chosen: both %s exist; pass %s", strings.Join(found, " and "), c.mention(SettingBundles, "FILE"))
}

// load reads the identity, decrypts every bundle and merges them. On error
// nothing decrypted is returned.
//
// Its phases, in order: read and parse-check the bundles ([Config.readBundles]),
// check who signed them ([Config.checkSignatures]), find the identity
// ([Config.identity]), open each bundle ([Config.openBundle]) and merge its
// values ([merger.add]), keep only the listed keys ([Config.keepOnly]), and
// refuse the names no bundle may set ([Config.refuseNames]).
func (c *Config) load() (l *loaded, err error) {
	paths, err := c.bundlePaths()
	if err != nil {
		return nil, err
	}
	// Read and parse-check the bundles first: a missing or malformed bundle
	// is reported before any identity is touched.
	files, err := c.readBundles(paths)
	if err != nil {
		return nil, err
	}
	// Who signed them, when the image asks: before any identity is read and
	// anything decrypted.
	signers, err := c.checkSignatures(files)
	if err != nil {
		return nil, err
	}
	declared, err := c.loadDeclared()
	if err != nil {
		return nil, err
	}
	found, err := c.identity(paths[0])
	if err != nil {
		return nil, err
	}

	l = &loaded{source: found.Source}
	defer func() {
		if err != nil {
			l.zero()
			l = nil
		}
	}()
	m := newMerger(c.Override)
	now := c.Now()
	rec := &recorder{}
	ids := rec.record(found.Identities)
	for i, f := range files {
		b, bl, err := c.openBundle(l, f, ids, rec, found.Identities == nil)
		if err != nil {
			return l, err
		}
		bl.Signer = signers[i]
		m.reserve(len(b.Secrets))
		bl.Keys = make([]string, 0, len(b.Secrets))
		for _, s := range b.Secrets {
			if b.Meta.Expired(s.Name, now) {
				l.expired = append(l.expired, s.Name)
				continue
			}
			bl.Keys = append(bl.Keys, s.Name)
			if earlier, dup := m.add(f.path, s); dup {
				return l, fail(ExitFailure, "%s: key %s is also in %s; pass %s to let the later bundle win", f.path, s.Name, earlier, c.mention(SettingOverride, s.Name))
			}
		}
		l.bundles = append(l.bundles, bl)
	}
	l.secrets = m.secrets
	if err := c.refuseUndeclared(l, declared); err != nil {
		return l, err
	}
	if err := c.keepOnly(l, m, paths[0]); err != nil {
		return l, err
	}
	return l, c.refuseNames(l, m)
}

// bundleFile is a bundle as read, before anything is decrypted.
type bundleFile struct {
	path   string
	format seal.Format
	data   []byte
	sum    [32]byte
}

// storeFormat is the store every bundle is read as (Store, else
// SEALENV_STORE), or 0 to detect each one's; setting names where it came
// from.
func (c *Config) storeFormat() (seal.Format, error) {
	store, setting := c.Store, c.mention(SettingStore, "")
	if store == "" {
		store, _ = c.getenv(EnvStore)
		setting = EnvStore
	}
	if store == "" {
		return 0, nil
	}
	format, err := seal.ParseFormat(store)
	if err != nil {
		// The value is not echoed: it may be a secret in the wrong place.
		return 0, fail(ExitFailure, "%s: unknown store (want dotenv, yaml or json)", setting)
	}
	return format, nil
}

// readBundles reads the bundles at paths and decides each one's store.
func (c *Config) readBundles(paths []string) ([]bundleFile, error) {
	format, err := c.storeFormat()
	if err != nil {
		return nil, err
	}
	files := make([]bundleFile, 0, len(paths))
	for _, p := range paths {
		data, err := readRegular(p, maxBundleFile)
		if err != nil {
			return nil, fail(ExitFailure, "%s: %v", p, fserr.Reason(err))
		}
		f := format
		if f == 0 {
			if f, err = seal.DetectFormat(p, data); err != nil {
				return nil, fail(ExitFailure, "%s: %v; pass %s or set %s", p, err, c.mention(SettingStore, "dotenv|yaml|json"), EnvStore)
			}
		}
		files = append(files, bundleFile{path: p, format: f, data: data, sum: sha256.Sum256(data)})
	}
	return files, nil
}

// checkSignatures verifies each bundle's signature against the allowed
// signers file, when there is one, and returns the signer of each (nil
// without a file).
func (c *Config) checkSignatures(files []bundleFile) ([]*signature.Signer, error) {
	signers := make([]*signature.Signer, len(files))
	allowed, file, err := c.loadSigners()
	if err != nil || allowed == nil {
		return signers, err
	}
	for i, f := range files {
		if signers[i], err = c.verifySignature(f.path, f.data, allowed, file); err != nil {
			return nil, err
		}
	}
	return signers, nil
}

// identity finds the identity that opens the bundles; errors name bundle,
// the first one. Key text from a variable gets a warning.
func (c *Config) identity(bundle string) (*seal.FoundIdentity, error) {
	found, err := c.findIdentity()
	if errors.Is(err, seal.ErrNoIdentity) && c.IdentityOptional {
		found, err = &seal.FoundIdentity{Source: "none"}, nil
	}
	if errors.Is(err, seal.ErrNoIdentity) {
		return nil, c.noIdentity(bundle)
	}
	var ierr *Error
	if errors.As(err, &ierr) {
		return nil, err // already says where
	}
	if err != nil {
		return nil, fail(ExitFailure, "%s: %v", bundle, err)
	}
	if found.FromEnv {
		c.warnf("the identity came from %s, which shows in docker inspect and /proc; mount it as a file under /run/secrets instead", found.Source)
	}
	return found, nil
}

// openBundle decrypts f with ids (noAgeIdentity: no age identity was
// found) and describes it for the access line, without its keys. The
// bundle joins l's zero list once open; one with names nothing
// authenticates is refused unless AllowUnauthenticated.
func (c *Config) openBundle(l *loaded, f bundleFile, ids []age.Identity, rec *recorder, noAgeIdentity bool) (*seal.Bundle, bundleLog, error) {
	start := time.Now()
	rec.last = nil
	b, err := c.Open(f.format, f.data, ids...)
	l.decrypt += time.Since(start)
	if err != nil && noAgeIdentity && errors.Is(err, seal.ErrIncorrectIdentity) {
		return nil, bundleLog{}, c.noIdentity(f.path)
	}
	if err != nil {
		return nil, bundleLog{}, fail(ExitFailure, "%s: %v", f.path, err)
	}
	l.zeroList = append(l.zeroList, b)
	if len(b.Unauthenticated) > 0 && !c.AllowUnauthenticated {
		return nil, bundleLog{}, fail(ExitFailure, "%s: %s; review the bundle, then run: sealenv adopt %s", f.path, unauthenticatedReason(b), f.path)
	}
	// The recipient is derived from the identity that opened the data
	// key, never copied from the file's unauthenticated label
	// (b.Matched); the digest is of the very bytes that were opened.
	recipient, _ := recipientOf(rec.last)
	bl := bundleLog{Path: f.path, SHA256: hex.EncodeToString(f.sum[:]), Format: f.format.String(), Recipient: recipient, Keys: []string{},
		Unauthenticated: b.Unauthenticated}
	for _, ch := range b.Changes {
		if ch.Authenticated {
			bl.Changed = append(bl.Changed, ch.Name)
		}
	}
	return b, bl, nil
}

// merger merges the values of bundles in order: a key keeps its place of
// first definition, and a later bundle may redefine it only when Override
// lists it.
type merger struct {
	override map[string]bool
	secrets  []seal.Secret
	index    map[string]int    // name → index in secrets
	from     map[string]string // name → the bundle whose value it has
}

func newMerger(override []string) *merger {
	m := &merger{override: map[string]bool{}, index: map[string]int{}, from: map[string]string{}}
	for _, n := range override {
		m.override[n] = true
	}
	return m
}

// reserve makes room for n more keys, so that merging a bundle grows
// nothing key by key.
func (m *merger) reserve(n int) {
	m.secrets = slices.Grow(m.secrets, n)
	if len(m.index) == 0 {
		m.index, m.from = make(map[string]int, n), make(map[string]string, n)
	}
}

// add merges s from the bundle at path. A key an earlier bundle has, which
// Override does not list, is not merged: dup is true and earlier names that
// bundle.
func (m *merger) add(path string, s seal.Secret) (earlier string, dup bool) {
	if i, ok := m.index[s.Name]; ok {
		if !m.override[s.Name] && !m.override["*"] {
			return m.from[s.Name], true
		}
		m.secrets[i].Value = s.Value
		m.from[s.Name] = path
		return "", false
	}
	m.index[s.Name] = len(m.secrets)
	m.from[s.Name] = path
	m.secrets = append(m.secrets, s)
	return "", false
}

// keepOnly drops every value Only does not list (a listed key's grace value
// stays with it); a listed key that no bundle holds is an error naming
// bundle, the first one.
func (c *Config) keepOnly(l *loaded, m *merger, bundle string) error {
	if len(c.Only) == 0 {
		return nil
	}
	only := map[string]bool{}
	for _, n := range c.Only {
		if _, ok := m.index[n]; !ok {
			return fail(ExitFailure, "%s: %s: no bundle has this key", bundle, c.mention(SettingOnly, n))
		}
		only[n], only[n+seal.GraceSuffix] = true, true
	}
	kept := l.secrets[:0]
	for _, s := range l.secrets {
		if only[s.Name] {
			kept = append(kept, s)
		}
	}
	clear(l.secrets[len(kept):]) // drop references to the values not passed on
	l.secrets = kept
	return nil
}

// refuseNames refuses a value whose name no bundle may set (see
// [RefusedName]), naming the bundle it came from.
func (c *Config) refuseNames(l *loaded, m *merger) error {
	for _, s := range l.secrets {
		var ne *NameError
		if err := RefusedName(s.Name, c.AllowNames, c.Only); errors.As(err, &ne) {
			if ne.Reserved {
				return fail(ExitFailure, "%s: %v", m.from[s.Name], err)
			}
			return fail(ExitFailure, "%s: %v; %s", m.from[s.Name], err, c.allowHint(s.Name, classOf(ne.Class)))
		}
	}
	return nil
}

// unauthenticatedReason says which names of b nothing authenticates and
// why, without a value.
func unauthenticatedReason(b *seal.Bundle) string {
	if !b.Recorded {
		return strings.Join(b.Unauthenticated, ", ") + ": empty or unencrypted values in a SOPS file sealenv has not adopted, whose names nothing authenticates"
	}
	return seal.DescribeChanges(seal.Unauthenticated(b.Changes)) + " outside sealenv: nothing authenticates these changes (SOPS does not protect the names of empty or unencrypted values)"
}

// findIdentity looks the identity up: the descriptor when one is given
// (IdentityFD and Identity are exclusive, and the descriptor comes before
// the variables), else package seal's order (Identity, the variables, the
// defaults), reading regular files only.
func (c *Config) findIdentity() (*seal.FoundIdentity, error) {
	if c.IdentityFromFD {
		source := c.mention(SettingIdentityFD, strconv.Itoa(c.IdentityFD))
		data, err := readFD(c.IdentityFD, maxIdentity)
		if err != nil {
			return nil, fail(ExitFailure, "%s: %v", source, err)
		}
		defer clear(data)
		if len(data) > maxIdentity {
			return nil, fail(ExitFailure, "%s: identity is larger than 16 MiB", source)
		}
		ids, err := c.ParseIdentities(data)
		if err != nil {
			return nil, fail(ExitFailure, "%s: %v", source, err)
		}
		return &seal.FoundIdentity{Identities: ids, Source: source}, nil
	}
	lookup := seal.IdentityLookup{File: c.Identity, Getenv: c.getenv, Defaults: c.IdentityDefaults,
		ReadFile: func(path string) ([]byte, error) {
			data, err := readRegular(path, maxIdentity)
			if errors.Is(err, fs.ErrPermission) {
				// The image's USER may not read what the runtime mounted:
				// say who reads and what would work.
				return nil, errors.New(permissionReason(path))
			}
			if err != nil {
				return nil, fserr.Reason(err)
			}
			if len(data) > maxIdentity {
				clear(data)
				return nil, errors.New("larger than 16 MiB")
			}
			return data, nil
		}}
	return seal.FindIdentitiesWith(lookup, c.ParseIdentities)
}

// envPlan is the child's environment, built from the base environment and
// the secrets.
type envPlan struct {
	base      []string // the base environment without identity variables and replaced names
	set       []seal.Secret
	files     []fileVar // values delivered as memfd files
	keptEnv   []string  // sealed keys for which the runtime value won
	replaced  []string  // sealed keys that replaced a runtime value
	fileNames []string
}

type fileVar struct {
	name, target string
	value        []byte
}

// plan decides which variables the child gets.
func (c *Config) plan(l *loaded) (*envPlan, error) {
	p := &envPlan{set: make([]seal.Secret, 0, len(l.secrets)), base: make([]string, 0, len(c.Environ))}
	var byName map[string][]byte // only --files looks values up by name
	if len(c.Files) > 0 {
		byName = make(map[string][]byte, len(l.secrets))
		for _, s := range l.secrets {
			byName[s.Name] = s.Value
		}
	}
	asFile := map[string]bool{}
	for _, f := range c.Files {
		name, target, _ := strings.Cut(f, "=")
		if target == "" {
			target = name + "_FILE"
		}
		v, ok := byName[name]
		if !ok {
			return nil, fail(ExitFailure, "%s: no such key in the bundles", c.mention(SettingFiles, name))
		}
		if reservedName(target) {
			return nil, fail(ExitFailure, "%s: %s is an identity variable and is never passed on", c.mention(SettingFiles, f), target)
		}
		if k := c.refusal(target); k != nameSafe {
			return nil, fail(ExitFailure, "%s: %s %s; %s", c.mention(SettingFiles, f), target, k.reason(), c.allowHint(target, k))
		}
		asFile[name] = true
		p.files = append(p.files, fileVar{name: name, target: target, value: v})
		p.fileNames = append(p.fileNames, name)
	}
	allowEnv := map[string]bool{}
	for _, n := range c.AllowEnvOverride {
		allowEnv[n] = true
	}
	// The names the injector will define, and whether the runtime value wins.
	define := make(map[string]bool, len(l.secrets)+len(c.Files))
	for _, s := range l.secrets {
		if asFile[s.Name] {
			continue
		}
		if _, inEnv := c.getenv(s.Name); inEnv {
			if allowEnv[s.Name] {
				p.keptEnv = append(p.keptEnv, s.Name)
				continue
			}
			p.replaced = append(p.replaced, s.Name)
		}
		define[s.Name] = true
		p.set = append(p.set, s)
	}
	for _, f := range p.files {
		if _, inEnv := c.getenv(f.target); inEnv {
			if allowEnv[f.target] {
				return nil, fail(ExitFailure, "%s: %s is already set and %s keeps it", c.mention(SettingFiles, f.name), f.target, c.mention(SettingAllowEnvOverride, f.target))
			}
			p.replaced = append(p.replaced, f.target)
		}
		if define[f.target] {
			return nil, fail(ExitFailure, "%s: %s is also a key in the bundles", c.mention(SettingFiles, f.name), f.target)
		}
		define[f.target] = true
	}
	for _, kv := range c.Environ {
		k, _, _ := strings.Cut(kv, "=")
		if reservedName(k) || define[k] {
			continue
		}
		p.base = append(p.base, kv)
	}
	for _, n := range p.replaced {
		c.warnf("%s is set in the environment and is replaced by the sealed value (pass %s to keep the runtime value)", n, c.mention(SettingAllowEnvOverride, n))
	}
	return p, nil
}

// noIdentity is the error for a start without any identity.
func (c *Config) noIdentity(bundle string) error {
	return fail(ExitFailure, "%s: no identity: pass %s or %s, mount %s, or set %s", bundle,
		c.mention(SettingIdentity, "FILE"), c.mention(SettingIdentityFD, "N"), DefaultIdentityFile, seal.EnvAgeKeyFile)
}

// fdPath is the path a child opens to read an inherited descriptor.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }
