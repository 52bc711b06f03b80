package inject

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/testutil/injecttest"
	"github.com/sealenv/sealenv/seal"
)

// docEntry is one row of the table of refused names in docs/inject.md.
type docEntry struct {
	name   string // as written: "LD_PRELOAD" or "LD_*"
	class  string
	source string
}

// concrete is a name the entry covers: the name itself, or one of its
// prefix family.
func (e docEntry) concrete() string {
	if p, ok := strings.CutSuffix(e.name, "*"); ok {
		return p + "SEALENV_TEST"
	}
	return e.name
}

var docRow = regexp.MustCompile("^\\| `([A-Za-z_][A-Za-z0-9_]*\\*?)` \\| (code|leak|redirect) \\| ([^|]+) \\| ([^|]+) \\|$")

// refusedNamesDoc parses the table under "### Refused names".
func refusedNamesDoc(t *testing.T) []docEntry {
	t.Helper()
	data, err := os.ReadFile("../docs/inject.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Refused names\n")
	if !ok {
		t.Fatal(`docs/inject.md has no "### Refused names" section`)
	}
	var out []docEntry
	inTable := false
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| name |") || strings.HasPrefix(line, "| --- |") {
			inTable = true
			continue
		}
		if !inTable {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("malformed row in the table of refused names: %s", line)
			continue
		}
		out = append(out, docEntry{name: m[1], class: m[2], source: strings.TrimSpace(m[4])})
	}
	if len(out) < 100 {
		t.Fatalf("only %d rows parsed from the table of refused names; the parser broke", len(out))
	}
	return out
}

// TestDenylistMatchesTheDocs: the table in docs/inject.md and the injector's
// list are the same list, entry for entry and class for class, and every
// entry names its source.
func TestDenylistMatchesTheDocs(t *testing.T) {
	t.Parallel()
	doc := map[string]string{}
	for _, e := range refusedNamesDoc(t) {
		if _, dup := doc[e.name]; dup {
			t.Errorf("%s is in the table twice", e.name)
		}
		doc[e.name] = e.class
		if !strings.Contains(e.source, "](https://") && e.source != "this page" {
			t.Errorf("%s: no source link: %q", e.name, e.source)
		}
		if got := classifyName(e.concrete()).String(); got != e.class {
			t.Errorf("%s: the injector classifies %s as %s, the table says %s", e.name, e.concrete(), got, e.class)
		}
	}
	for name, k := range refusedNames {
		if doc[name] != k.String() {
			t.Errorf("%s (%s) is refused but not in the table of docs/inject.md", name, k)
		}
	}
	for _, p := range refusedPrefixes {
		if doc[p.prefix+"*"] != p.class.String() {
			t.Errorf("%s* (%s) is refused but not in the table of docs/inject.md", p.prefix, p.class)
		}
	}
}

// TestEveryDocumentedNameIsRefused opens a real bundle that holds every name
// of the table and checks, name by name, that the injector refuses it with
// exit 125 and its reason, and that allowing it (AllowNames, or Only for a
// redirecting name) is what lets it through.
func TestEveryDocumentedNameIsRefused(t *testing.T) {
	t.Parallel()
	entries := refusedNamesDoc(t)
	key := injecttest.NewKey(t)
	var sealed []injecttest.Entry
	var names []string
	for _, e := range entries {
		n := e.concrete()
		names = append(names, n)
		sealed = append(sealed, injecttest.Entry{Name: n, Value: injecttest.Value(t, "v-")})
	}
	bundle := injecttest.Write(t, t.TempDir(), "all.env", []injecttest.Key{key}, sealed...)

	for i, e := range entries {
		name := names[i]
		others := slices.Concat(names[:i], names[i+1:])
		var stderr bytes.Buffer
		c := config(&stderr, seal.EnvAgeKey+"="+key.Text)
		c.Bundles = []string{bundle}
		c.AllowNames = others
		c.Describe = describeFlag
		_, err := c.load()
		if err == nil {
			t.Errorf("%s: accepted without an allow", name)
			continue
		}
		if ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "key "+name+" ") ||
			!strings.Contains(err.Error(), classifyName(name).reason()) || !strings.Contains(err.Error(), "--allow-name "+name) {
			t.Errorf("%s: err = %v", name, err)
		}

		// Only (a service's keys) lets a redirecting name through, and
		// nothing else.
		c = config(&stderr, seal.EnvAgeKey+"="+key.Text)
		c.Bundles = []string{bundle}
		c.Only = []string{name}
		l, err := c.load()
		if e.class == "redirect" {
			if err != nil {
				t.Errorf("%s: refused although Only lists it: %v", name, err)
			} else {
				l.zero()
			}
		} else if err == nil {
			t.Errorf("%s (%s): Only let it through; only AllowNames may", name, e.class)
			l.zero()
		}
	}

	// Allowing all of them is all it takes.
	var stderr bytes.Buffer
	c := config(&stderr, seal.EnvAgeKey+"="+key.Text)
	c.Bundles = []string{bundle}
	c.AllowNames = names
	l, err := c.load()
	if err != nil {
		t.Fatalf("every name allowed: %v", err)
	}
	if len(l.secrets) != len(names) {
		t.Errorf("%d secrets, want %d", len(l.secrets), len(names))
	}
	l.zero()
}

func TestClassifyName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]nameClass{
		"LD_PRELOAD": nameCode, "LD_LIBRARY_PATH": nameCode, "DYLD_INSERT_LIBRARIES": nameCode,
		"PATH": nameCode, "NODE_OPTIONS": nameCode, "BASH_FUNC_x%%": nameCode,
		"CORECLR_PROFILER_PATH_64": nameCode, "COR_PROFILER_PATH": nameCode, "LUA_CPATH_5_4": nameCode,
		"GIT_CONFIG_KEY_0": nameCode, "OPENSSL_CONF": nameCode,
		"SSLKEYLOGFILE": nameLeak, "GIT_TRACE_CURL": nameLeak, "GOTRACEBACK": nameLeak,
		"HTTPS_PROXY": nameRedirect, "https_proxy": nameRedirect, "no_proxy": nameRedirect,
		"RES_OPTIONS": nameRedirect, "LOCALDOMAIN": nameRedirect, "SSL_CERT_FILE": nameRedirect,
		// Ordinary names that merely look alike.
		"DATABASE_URL": nameSafe, "API_KEY": nameSafe, "PATHS": nameSafe, "ENVIRONMENT": nameSafe,
		"LDAP_PASSWORD": nameSafe, "NODE_ENV": nameSafe, "GIT_AUTHOR_NAME": nameSafe,
		"PYTHONUNBUFFERED": nameSafe, "CORS_ORIGIN": nameSafe, "HTTP_PORT": nameSafe,
		"PROXY_URL": nameSafe, "OPENSSL_VERSION_NOTE": nameSafe,
	} {
		if got := classifyName(name); got != want {
			t.Errorf("classifyName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestProxyAndNpmNamesInAnyCase: a forged bundle got Https_Proxy past a
// list of exact spellings; Python reads any NAME_proxy in any case, and npm
// any npm_config_ name in any case. The one check (RefusedName, which the
// writes use too) refuses them all, and an exact allow still allows.
func TestProxyAndNpmNamesInAnyCase(t *testing.T) {
	t.Parallel()
	for name, class := range map[string]string{
		"Https_Proxy": "redirect", "hTTP_pROXY": "redirect", "SOCKS_PROXY": "redirect", "socks5_proxy": "redirect",
		"No_Proxy": "redirect", "GRPC_PROXY": "redirect", "Npm_Config_Script_Shell": "code", "npm_config_node_options": "code",
		"PYTHONSAFEPATH": "code", "PYTHONEXECUTABLE": "code", "PERL5_DEBUG_ROLE": "code", "PERL5SHELL": "code",
	} {
		err := RefusedName(name, nil, nil)
		var ne *NameError
		if !errors.As(err, &ne) || ne.Class != class {
			t.Errorf("%s: %v, want refused as %s", name, err, class)
		}
		if err := RefusedName(name, []string{name}, nil); err != nil {
			t.Errorf("%s: allowed by name, still refused: %v", name, err)
		}
	}
	for _, name := range []string{"PROXY", "_PROXY", "PROXY_URL", "API_TOKEN", "DATABASE_URL", "PROXY_PASSWORD"} {
		if err := RefusedName(name, nil, nil); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}
