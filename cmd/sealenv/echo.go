package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
	"github.com/sealenv/sealenv/audit/rules"
	"github.com/sealenv/sealenv/imageref"
	"github.com/sealenv/sealenv/inject"
	"github.com/sealenv/sealenv/internal/lazyregexp"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// echo decides which command-line arguments an error may show. A value
// typed where a key name, a path or a flag belongs must not come back on
// the terminal, in a CI log or in a shell's scrollback, so an argument is
// shown only when it is a flag, a file that exists (or a path in a
// folder that does), a key name of a bundle the command opened or of the
// policy, a public key, an image reference, an address or a server name
// (with any userinfo removed); and never when it holds a value of a
// bundle the command opened or matches a credential rule. Everything else
// is "[argument N]".
type echo struct {
	args []string

	commands map[string]bool // the CLI's command names

	mu     sync.Mutex
	names  map[string]bool // key names of the bundles opened
	unsafe map[string]bool // texts (arguments, their fields) that hold a value of a bundle opened
}

func newEcho(args []string, cmds []*cli.Command) *echo {
	ec := &echo{args: args, commands: map[string]bool{}, names: map[string]bool{}, unsafe: map[string]bool{}}
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			for _, n := range c.Names() {
				ec.commands[n] = true
			}
			walk(c.Subcommands)
		}
	}
	walk(cmds)
	return ec
}

// sawBundle records what a command opened: its key names may be shown,
// an argument that holds one of its values never. The values are not
// kept.
func (e *env) sawBundle(names []string, secrets []seal.Secret) {
	if e.echo == nil {
		return
	}
	ec := e.echo
	ec.mu.Lock()
	defer ec.mu.Unlock()
	for _, n := range names {
		ec.names[n] = true
	}
	for _, s := range secrets {
		ec.names[s.Name] = true
		for _, t := range ec.texts() {
			if holdsValue(t.text, s.Value) {
				ec.unsafe[t.text] = true
			}
		}
	}
}

// sawAuthor records a bundle opened for writing (see [env.sawBundle]).
func (e *env) sawAuthor(b *author.Bundle) {
	names := b.Names()
	secrets := make([]seal.Secret, 0, len(names))
	for _, n := range names {
		v, _ := b.Get(n)
		secrets = append(secrets, seal.Secret{Name: n, Value: []byte(v)})
	}
	e.sawBundle(names, secrets)
}

// ErrValueAsName: a key name typed on the command line looks like a value.
var ErrValueAsName = errors.New("looks like a value, not a key name (it matches a credential rule or a value of the bundle); a value goes on stdin")

// newKeyName refuses a new key name from the command line that matches a
// credential rule or is (or holds) a value of a bundle the command opened:
// it would become a name, which every command shows.
func (e *env) newKeyName(name string) error {
	creds := credentials([]text{{text: name}})
	unsafe := false
	if e.echo != nil {
		e.echo.mu.Lock()
		unsafe = e.echo.unsafe[name]
		e.echo.mu.Unlock()
	}
	if creds[0] || unsafe {
		return fmt.Errorf("%s: %w", name, ErrValueAsName)
	}
	return nil
}

// openedBy wraps a function that opens bundles, so that what it opens is
// recorded for the echo filter.
func (e *env) openedBy(open func(seal.Format, []byte, ...age.Identity) (*seal.Bundle, error)) func(seal.Format, []byte, ...age.Identity) (*seal.Bundle, error) {
	return func(f seal.Format, data []byte, ids ...age.Identity) (*seal.Bundle, error) {
		b, err := open(f, data, ids...)
		if b != nil {
			e.sawBundle(nil, b.Secrets)
		}
		return b, err
	}
}

// holdsValue reports whether text is or contains v. Values shorter than
// four bytes count only when they are the whole text: they would be in
// any text.
func holdsValue(text string, v []byte) bool {
	if len(v) == 0 {
		return false
	}
	if len(v) < 4 {
		return text == string(v)
	}
	return bytes.Contains([]byte(text), v)
}

// text is an argument, or a part of one that an error may quote alone:
// the value of --flag=value, the fields of NAME=VALUE,NAME=VALUE, the
// userinfo of an address.
type text struct {
	text string
	n    int  // the argument's position
	bad  bool // never shown: a flag that is no flag's name
}

func (ec *echo) texts() []text {
	var out []text
	seen := map[string]bool{}
	add := func(s string, n int, bad bool) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, text{s, n, bad})
		}
	}
	for i, a := range ec.args {
		if i == 0 {
			continue
		}
		s := a
		if len(a) > 1 && a[0] == '-' {
			name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !flagName().MatchString(name) {
				// "-VALUE": urfave/cli quotes it without its dashes.
				add(a, i, true)
				add(strings.TrimLeft(a, "-"), i, true)
				continue
			}
			if !ok {
				continue
			}
			add(a, i, false)
			s = value
		}
		add(s, i, false)
		for _, f := range strings.Split(s, ",") {
			add(f, i, false)
			if _, v, ok := strings.Cut(f, "="); ok {
				add(v, i, false)
			}
		}
		if u := userinfo(s); u != "" {
			add(u, i, true)
			if _, pw, ok := strings.Cut(u, ":"); ok {
				add(pw, i, true)
			}
		}
	}
	return out
}

// redact replaces, in an error message, every argument and part of one
// that may not be shown (see [echo]).
func (e *env) redact(msg string) string {
	ec := e.echo
	if ec == nil {
		return msg
	}
	ec.mu.Lock()
	defer ec.mu.Unlock()
	names := ec.policyNames()
	ts := ec.texts()
	// An address is checked, and shown, without its userinfo (which is
	// a text of its own, never shown).
	checked := make([]text, len(ts))
	for i, t := range ts {
		checked[i] = t
		checked[i].text = stripUserinfo(t.text)
	}
	creds := credentials(checked)
	type repl struct {
		old, new string
	}
	var rs []repl
	for i, t := range ts {
		if len(t.text) < 4 {
			continue
		}
		if !t.bad && !ec.unsafe[t.text] && !creds[i] {
			if ec.commands[t.text] {
				continue
			}
			if shown, ok := safeText(checked[i].text, ec.names, names); ok {
				if shown != t.text {
					rs = append(rs, repl{t.text, shown})
				}
				continue
			}
		}
		rs = append(rs, repl{t.text, fmt.Sprintf("[argument %d]", t.n)})
		if len(t.text) > 60 {
			rs = append(rs, repl{t.text[:60], fmt.Sprintf("[argument %d]", t.n)})
		}
	}
	// Longest first, so that one text inside another goes as a whole.
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].old) > len(rs[j].old) })
	for _, r := range rs {
		msg = strings.ReplaceAll(msg, r.old, r.new)
	}
	return msg
}

// credentials reports which texts a credential rule matches, by the
// audit's rules (every severity).
func credentials(ts []text) map[int]bool {
	m := make(map[string]string, len(ts))
	for i, t := range ts {
		m[strconv.Itoa(i)] = t.text
	}
	rep := audit.BuildArgs(m, audit.Options{Severity: rules.Low})
	out := map[int]bool{}
	for _, f := range rep.Findings {
		if i, err := strconv.Atoi(f.Field); err == nil {
			out[i] = true
		}
	}
	return out
}

// policyNames lists the environment, service and key names of the policy
// the command would read: --policy, else sealenv.yaml here or above.
func (ec *echo) policyNames() map[string]bool {
	path := ""
	for i, a := range ec.args {
		if v, ok := strings.CutPrefix(a, "--policy="); ok {
			path = v
		} else if a == "--policy" && i+1 < len(ec.args) {
			path = ec.args[i+1]
		}
	}
	if path == "" {
		var err error
		if path, err = policies.Find("."); err != nil {
			return nil
		}
	}
	p, err := policies.Load(path)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for k := range p.Keys {
		out[k] = true
	}
	for i := range p.Environments {
		env := &p.Environments[i]
		out[env.Name] = true
		for _, k := range p.RequiredKeys(env) {
			out[k] = true
		}
	}
	for _, s := range p.Services {
		out[s.Name] = true
	}
	return out
}

var (
	flagName  = lazyregexp.New(`^[a-z][a-z0-9-]*$`)
	pathLike  = lazyregexp.New(`^[A-Za-z0-9._/~-]+$`)
	fileExt   = lazyregexp.New(`\.(env|ya?ml|json|txt|tar|sarif|pem|pub|key|crt|gz|zst|lock|sh|md)$`)
	pubKey    = lazyregexp.New(`^(age1[a-z0-9]+|ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( .*)?)$`)
	shortWord = lazyregexp.New(`^[a-z]{1,7}$`)
	// containerName is a container or pod name of docker-container://,
	// podman-container:// and kube-pod:// addresses.
	containerName = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	hostName      = lazyregexp.New(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)
	// words are the values of buildx's NAME=VALUE options that are
	// neither paths nor names (--cache-to type=registry,mode=max).
	words = map[string]bool{"registry": true, "local": true, "inline": true, "true": true, "false": true,
		"gzip": true, "zstd": true, "estargz": true, "uncompressed": true, "provenance": true, "default": true,
		"host": true, "none": true, "docker": true, "image": true}
)

// safeText says whether an argument (or part of one) may be shown, and
// how: an address or reference with userinfo is shown without it. A path
// that does not exist is shown when its folder exists or none of its parts
// looks generated.
func safeText(a string, opened, policy map[string]bool) (string, bool) {
	if strings.HasPrefix(a, "-") {
		// --flag=value (a flag alone is never a text)
		name, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flagName().MatchString(name) {
			return "", false
		}
		if len(value) < 4 {
			return a, true
		}
		v, ok := safeText(value, opened, policy)
		return a[:len(a)-len(value)] + v, ok
	}
	if opened[a] || policy[a] || pubKey().MatchString(a) || words[a] {
		return a, true
	}
	if _, err := os.Lstat(a); err == nil {
		return a, true
	}
	if shortWord().MatchString(a) {
		// Shorter than the shortest value the audit searches for, and
		// no token looks like it: a mistyped command, flag value or shell.
		return a, true
	}
	if seal.ValidName(a) && inject.RefusedName(a, nil, nil) != nil {
		// A name the injector refuses (NODE_OPTIONS, HTTPS_PROXY, LD_*,
		// the identity variables) is a well-known variable, not a value.
		return a, true
	}
	if seal.ValidName(a) {
		// A name nobody declared may be a value typed in its place; a
		// command on PATH (inject -- CMD) is not.
		_, err := exec.LookPath(a)
		return a, err == nil
	}
	if pathLike().MatchString(a) && (strings.Contains(a, "/") || fileExt().MatchString(a)) {
		if dir := filepath.Dir(a); dir == "." || exists(dir) || !randomLooking(a) {
			return a, true
		}
	}
	if s, ok := address(a); ok {
		return s, true
	}
	if strings.ContainsAny(a, "=,") {
		// buildx's NAME=VALUE,NAME=VALUE: shown when every NAME is an
		// option's name and every VALUE may be shown.
		var out []string
		for _, f := range strings.Split(a, ",") {
			k, v, ok := strings.Cut(f, "=")
			if !ok || !flagName().MatchString(k) {
				return "", false
			}
			if len(v) >= 4 {
				if v, ok = safeText(v, opened, policy); !ok || strings.ContainsAny(v, "=,") {
					return "", false
				}
			}
			out = append(out, k+"="+v)
		}
		return strings.Join(out, ","), true
	}
	return "", false
}

// randomLooking reports whether a path has a part that looks generated
// rather than named: long, with digits, in both cases or very long.
func randomLooking(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		digit, upper, lower := false, false, false
		for _, c := range seg {
			digit = digit || '0' <= c && c <= '9'
			upper = upper || 'A' <= c && c <= 'Z'
			lower = lower || 'a' <= c && c <= 'z'
		}
		if len(seg) >= 12 && digit && (upper && lower || len(seg) >= 20) {
			return true
		}
	}
	return false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// address returns a, without its userinfo, when it is an image reference,
// a URL-shaped address (unix://, tcp://, ssh://, https://, ...), a host
// name, an IP address or host:port.
func address(a string) (string, bool) {
	if rest, ok := strings.CutPrefix(a, "docker://"); ok {
		_, err := name.ParseReference(rest, name.StrictValidation)
		return a, err == nil
	}
	if strings.Contains(a, "://") {
		u, err := url.Parse(a)
		if err != nil || u.Scheme == "" {
			return "", false
		}
		u.User = nil
		host := okHost(u.Host)
		if strings.HasSuffix(u.Scheme, "-container") || u.Scheme == "kube-pod" {
			host = containerName().MatchString(u.Host)
		}
		if !host || (u.Path != "" && !pathLike().MatchString(u.Path)) || u.Fragment != "" {
			return "", false
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				if !flagName().MatchString(v) {
					return "", false
				}
			}
		}
		return u.String(), true
	}
	if r, err := imageref.Parse(a); err == nil && r.Transport != "" {
		if r.Path != "" && !pathLike().MatchString(r.Path) {
			return "", false
		}
		return a, true
	}
	if strings.Contains(a, "/") {
		// A registry reference: registry.example.com/app:1.4.
		if _, err := name.ParseReference(a, name.StrictValidation); err == nil {
			return a, true
		}
	}
	return a, okHost(a)
}

// okHost reports whether h is a host name, an IP address, with or without
// a port, or empty (unix:///path).
func okHost(h string) bool {
	if h == "" {
		return true
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, ""
	}
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
	}
	return host == "localhost" || net.ParseIP(host) != nil || hostName().MatchString(host)
}

// stripUserinfo returns s without the userinfo of a URL-shaped s.
func stripUserinfo(s string) string {
	u := userinfo(s)
	if u == "" {
		return s
	}
	return strings.Replace(s, u+"@", "", 1)
}

// userinfo returns the userinfo of a URL-shaped s ("" when it has none).
func userinfo(s string) string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	u, _, ok := strings.Cut(rest, "@")
	if !ok || strings.Contains(u, "@") {
		// The last @ ends the userinfo.
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			return rest[:i]
		}
		return ""
	}
	return u
}
