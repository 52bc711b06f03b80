package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/internal/match"
)

// nasty is a value with every character the escapers disagree on: the
// reserved and HTML-sensitive ASCII, a space, control characters, DEL,
// Latin-1, the BMP beyond it, an astral character and U+2028.
func nasty(t *testing.T) string {
	return randString(t, alnum, 12) + " +/=?&%#<>'\"`~!*();:@$,[]{}|\\^\n\t\x01\x7f éж€😀\u2028" + randString(t, alnum, 4)
}

// hasForm reports whether the known-value detector searches v in exactly
// the form f, and finds v written that way in a file.
func hasForm(t *testing.T, d *detectors, v, f string) bool {
	t.Helper()
	found := false
	for _, p := range match.Forms([]byte(v)) {
		if string(p.Text) == f {
			found = true
		}
	}
	if !found {
		return false
	}
	for _, h := range collect(d, []byte(`{"k": "`+f+`"}`), false) {
		if h.Name == "V" {
			return true
		}
	}
	return false
}

// oracle runs a program of a language that is installed, feeding it the
// value on stdin (never in argv), and returns the forms it prints as
// "NAME\tHEX" lines. It skips the test when the language is missing.
func oracle(t *testing.T, v string, name string, args ...string) map[string]string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed (scripts/setup-peers.sh installs it): its standard library's escapes are checked here only against the documented outputs in TestDocumentedEscapes", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(v)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", name, err, stderr.String())
	}
	forms := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, h, ok := strings.Cut(sc.Text(), "\t")
		b, err := hex.DecodeString(h)
		if !ok || err != nil {
			t.Fatalf("%s: bad output line", name)
		}
		forms[k] = string(b)
	}
	if len(forms) == 0 {
		t.Fatalf("%s printed no forms", name)
	}
	return forms
}

// Every escaping that the standard libraries of JavaScript (node),
// Python, Java, PHP, Ruby and Perl produce for a URL, a form or JSON is a
// form the known-value detector searches: each language that is installed
// is run as an oracle on a value with every character they disagree on.
func TestLanguageEscapes(t *testing.T) {
	t.Parallel()
	v := nasty(t)
	d := defaultDetectors([]Value{{Name: "V", Value: []byte(v)}})
	check := func(t *testing.T, forms map[string]string) {
		t.Helper()
		for name, f := range forms {
			if f == v {
				continue // raw
			}
			if !hasForm(t, d, v, f) {
				t.Errorf("%s: not searched", name)
			}
		}
	}
	t.Run("node", func(t *testing.T) {
		check(t, oracle(t, v, "node", "-e", `
const v = require('fs').readFileSync(0, 'utf8');
const f = {
  'JSON.stringify': JSON.stringify(v).slice(1, -1),
  encodeURIComponent: encodeURIComponent(v),
  encodeURI: encodeURI(v),
  escape: escape(v),
  URLSearchParams: new URLSearchParams({k: v}).toString().slice(2),
};
for (const [k, x] of Object.entries(f)) console.log(k + '\t' + Buffer.from(x, 'utf8').toString('hex'));
`))
	})
	t.Run("python", func(t *testing.T) {
		check(t, oracle(t, v, "python3", "-c", `
import sys, json, urllib.parse
v = sys.stdin.buffer.read().decode('utf-8')
f = {
    'json.dumps': json.dumps(v)[1:-1],
    'json.dumps(ensure_ascii=False)': json.dumps(v, ensure_ascii=False)[1:-1],
    'quote': urllib.parse.quote(v),
    'quote(safe="")': urllib.parse.quote(v, safe=''),
    'quote_plus': urllib.parse.quote_plus(v),
    'urlencode': urllib.parse.urlencode({'k': v})[2:],
}
for k, x in f.items():
    print(k + '\t' + x.encode('utf-8').hex())
`))
	})
	t.Run("java", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "Enc.java")
		os.WriteFile(src, []byte(`
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
public class Enc {
  public static void main(String[] a) throws Exception {
    String v = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
    System.out.println("URLEncoder.encode\t" + hex(URLEncoder.encode(v, StandardCharsets.UTF_8)));
  }
  static String hex(String s) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) b.append(String.format("%02x", x));
    return b.toString();
  }
}
`), 0o644)
		check(t, oracle(t, v, "java", src))
	})
	t.Run("php", func(t *testing.T) {
		check(t, oracle(t, v, "php", "-r", `
$v = stream_get_contents(STDIN);
$f = [
  'json_encode' => json_encode($v),
  'json_encode(JSON_UNESCAPED_UNICODE)' => json_encode($v, JSON_UNESCAPED_UNICODE),
  'json_encode(JSON_UNESCAPED_SLASHES)' => json_encode($v, JSON_UNESCAPED_SLASHES),
  'json_encode(JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE)' => json_encode($v, JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE),
];
foreach ($f as $k => $x) { $f[$k] = substr($x, 1, -1); }
$f['urlencode'] = urlencode($v);
$f['rawurlencode'] = rawurlencode($v);
$f['http_build_query'] = substr(http_build_query(['k' => $v]), 2);
foreach ($f as $k => $x) { echo $k, "\t", bin2hex($x), "\n"; }
`))
	})
	t.Run("ruby", func(t *testing.T) {
		check(t, oracle(t, v, "ruby", "-e", `
require 'json'; require 'cgi'; require 'erb'; require 'uri'
v = STDIN.read.force_encoding('UTF-8')
f = {
  'JSON.generate' => JSON.generate(v)[1..-2],
  'JSON.generate(ascii_only: true)' => JSON.generate(v, ascii_only: true)[1..-2],
  'CGI.escape' => CGI.escape(v),
  'ERB::Util.url_encode' => ERB::Util.url_encode(v),
  'URI.encode_www_form_component' => URI.encode_www_form_component(v),
}
f.each { |k, x| puts k + "\t" + x.unpack1('H*') }
`))
	})
	t.Run("perl", func(t *testing.T) {
		check(t, oracle(t, v, "perl", "-MJSON::PP", "-e", `
local $/; my $v = <STDIN>; utf8::decode($v);
my %f = (
  'JSON::PP' => JSON::PP->new->allow_nonref->utf8->encode($v),
  'JSON::PP->ascii' => JSON::PP->new->allow_nonref->ascii->encode($v),
);
for my $k (sort keys %f) { my $x = substr($f{$k}, 1, -1); print $k, "\t", unpack('H*', $x), "\n"; }
`))
	})
}

// The escapes of the libraries that no test machine runs (.NET, Gson,
// Jackson), against the outputs their documentation and sources give.
func TestDocumentedEscapes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ what, value, form string }{
		// learn.microsoft.com, "How to customize character encoding with
		// System.Text.Json": the default escapes every non-ASCII character.
		{"System.Text.Json", "жарко", `\u0436\u0430\u0440\u043A\u043E`},
		// JavaScriptEncoder.Default: HTML-sensitive characters, + and the
		// grave accent as \uXXXX, upper-case hex; " is \u0022.
		{"System.Text.Json", `a+b"c<d>e&f'g` + "`h", `a\u002Bb\u0022c\u003Cd\u003Ee\u0026f\u0027g\u0060h`},
		// Uri.EscapeDataString: RFC 3986 unreserved characters stay.
		{"Uri.EscapeDataString", "a b+c/d~é", "a%20b%2Bc%2Fd~%C3%A9"},
		// WebUtility.UrlEncode: space as +, -_.!*() stay, upper case.
		{"WebUtility.UrlEncode", "a b+c/d!é~", "a+b%2Bc%2Fd!%C3%A9%7E"},
		// HttpUtility.UrlEncode: the same in lower case.
		{"HttpUtility.UrlEncode", "a b+c/d!é~", "a+b%2bc%2fd!%c3%a9%7e"},
		// Gson's HTML-safe default.
		{"Gson", "a<b=c'd&e>f", `a\u003cb\u003dc\u0027d\u0026e\u003ef`},
		// Jackson: other control characters in upper case.
		{"Jackson", "abc\x1fdefgh\n", `abc\u001Fdefgh\n`},
		// JavaScript escape(): %uXXXX beyond Latin-1 (ECMA-262 B.2.1.1).
		{"escape()", "a b@*€é12345", "a%20b@*%u20AC%E912345"},
	} {
		d := defaultDetectors([]Value{{Name: "V", Value: []byte(c.value)}})
		if !hasForm(t, d, c.value, c.form) {
			t.Errorf("%s of %q: %s is not searched", c.what, c.value, c.form)
		}
	}
}
