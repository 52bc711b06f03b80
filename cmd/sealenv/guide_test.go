package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealenv/sealenv/internal/fsutil"
)

// TestHelp: sealenv help, help CMD and help CMD SUB print what --help
// prints; an unknown name is exit 2 with the closest command.
func TestHelp(t *testing.T) {
	c := newParallelCLI(t)
	top := c.ok("", "help").stdout
	for _, name := range []string{"keygen", "seal", "rotate", "audit", "completion", "help"} {
		if !strings.Contains(top, "\n   "+name+" ") {
			t.Errorf("sealenv help does not list %s:\n%s", name, top)
		}
	}
	if got := c.ok("").stdout; got != top {
		t.Errorf("sealenv without arguments prints other help than sealenv help")
	}
	for _, path := range [][]string{{"seal"}, {"rotate"}, {"audit"}, {"audit", "image"}, {"inject"}, {"completion"}} {
		want := c.ok("", append(path, "--help")...).stdout
		got := c.ok("", append([]string{"help"}, path...)...).stdout
		if got != want || want == "" {
			t.Errorf("sealenv help %s differs from --help:\n%s\n---\n%s", strings.Join(path, " "), got, want)
		}
	}
	if out := c.ok("", "help", "inject").stdout; !strings.Contains(out, "--bundle") {
		t.Errorf("sealenv help inject does not show the injector's flags:\n%s", out)
	}
	c.fails(`sealenv has no command "sael"; did you mean sealenv seal? (see sealenv help)`, "", "help", "sael")
	c.fails(`sealenv audit has no command "imgae"; did you mean sealenv audit image? (see sealenv help audit)`, "", "help", "audit", "imgae")
}

// TestUnknownCommandsAndFlags: exit 2 (not urfave/cli's 3), one line, the
// closest command or flag named.
func TestUnknownCommandsAndFlags(t *testing.T) {
	c := newParallelCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sael"}, `usage: sealenv has no command "sael"; did you mean sealenv seal? (see sealenv help)`},
		{[]string{"rotat", "b.env", "K"}, `did you mean sealenv rotate?`},
		{[]string{"audit", "imgae", "x.tar"}, `usage: sealenv audit has no command "imgae"; did you mean sealenv audit image? (see sealenv help audit)`},
		{[]string{"rotate", "b.env", "K", "--gracee", "1h"}, `usage: sealenv rotate has no flag --gracee; did you mean --grace? (see sealenv help rotate)`},
		{[]string{"audit", "image", "--formatt", "json", "x.tar"}, `usage: sealenv audit image has no flag --formatt; did you mean --format? (see sealenv help audit image)`},
		{[]string{"--bogus"}, `usage: sealenv has no flag --bogus (see sealenv help)`},
		{[]string{"seal", "-x"}, `usage: sealenv seal has no flag -x`},
		{[]string{"completion", "tcsh"}, `no shell "tcsh" (want bash, zsh or fish)`},
		{[]string{"completion", "fihs"}, `did you mean fish?`},
	} {
		c.fails(tc.want, "", tc.args...)
	}
	for _, args := range [][]string{{"frobnicate"}, {"rotate", "b.env", "K", "--zzzzzz"}, {"completion", "tcsh"}, {"completion", "fsh"}} {
		if r := c.run("", args...); strings.Contains(r.stderr, "did you mean") {
			t.Errorf("sealenv %s suggests something unrelated: %s", strings.Join(args, " "), r.stderr)
		}
	}
}

// TestBadFlagValues: a value a flag cannot take names the flag and the
// reason, exit 2, one line.
func TestBadFlagValues(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("", "seal", "-r", r, "-o", "b.env")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rotate", "b.env", "K", "--grace", "2x"}, `usage: --grace: invalid duration "2x" (use 72h, 90d or 2w) (see sealenv help rotate)`},
		{[]string{"rotate", "b.env", "K", "--grace=-1d"}, `usage: --grace: negative duration "-1d"`},
		{[]string{"rotate", "b.env", "K", "--grace", "99999999w"}, `is too long (see sealenv help rotate)`},
		{[]string{"rotate", "b.env", "K", "--bytes", "many"}, `usage: --bytes: not a whole number (see sealenv help rotate)`},
		{[]string{"rotate", "b.env", "K", "--bytes", "99999999999999999999"}, `usage: --bytes: number out of range`},
		{[]string{"rotate", "b.env", "K", "--yes=maybe"}, `usage: --yes takes no value, or =true or =false`},
		{[]string{"audit", "image", "--max-depth", "deep", "x.tar"}, `usage: --max-depth: not a whole number (see sealenv help audit image)`},
		{[]string{"seal", "-o"}, `usage: -o needs a value (see sealenv help seal)`},
		{[]string{"audit", "image", "--max-sparse-size", "lots", "x.tar"}, `--max-sparse-size: "lots": want a positive number of bytes`},
	} {
		c.fails(tc.want, "", tc.args...)
	}
	c.env = append(c.env, "SEALENV_LOCK_TIMEOUT=soon")
	c.fails(`$SEALENV_LOCK_TIMEOUT: invalid duration "soon"`, "v", "set", "b.env", "K")
}

// TestGraceInDaysAndWeeks: --grace takes the units the policy takes.
func TestGraceInDaysAndWeeks(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	c.ok("K="+secret(t, "k")+"\nL="+secret(t, "l")+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	if res := c.ok("", "rotate", "b.env", "K", "--grace", "2d"); !strings.Contains(res.stderr, "kept as K_PREVIOUS for 2d\n") {
		t.Errorf("rotate --grace 2d: %q", res.stderr)
	}
	c.ok("", "rotate", "--grace", "1w2d", "b.env", "L")
	var info struct {
		Keys []struct {
			Name    string     `json:"name"`
			Expires *time.Time `json:"expires"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(c.ok("", "show", "--format", "json", "b.env").stdout), &info); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"K_PREVIOUS": 48 * time.Hour, "L_PREVIOUS": 9 * 24 * time.Hour}
	for _, k := range info.Keys {
		d, ok := want[k.Name]
		if !ok {
			continue
		}
		delete(want, k.Name)
		if k.Expires == nil || time.Until(*k.Expires) > d || time.Until(*k.Expires) < d-5*time.Minute {
			t.Errorf("%s expires %v, want in %s", k.Name, k.Expires, d)
		}
	}
	if len(want) > 0 {
		t.Errorf("no grace values for %v", want)
	}
}

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		"vi":            {"vi"},
		"code --wait":   {"code", "--wait"},
		`  emacs  -nw `: {"emacs", "-nw"},
		`"C:\Program Files\Notepad++\notepad++.exe" -multiInst`: {`C:\Program Files\Notepad++\notepad++.exe`, "-multiInst"},
		`'/opt/my editor/ed' -x`:                                {"/opt/my editor/ed", "-x"},
		`a"b c"d`:                                               {"ab cd"},
		`""`:                                                    {""},
	} {
		got := splitCommand(in)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Errorf("splitCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"keygen", "seal", "set", "unset", "show", "reveal", "rekey", "rotate", "audit"}
	for in, want := range map[string]string{
		"sael": "seal", "rot": "rotate", "rotaet": "rotate", "shwo": "show", "revael": "reveal", "auidt": "audit",
		"re": "", "s": "", "sel": "", "st": "set", "frobnicate": "", "tcsh": "", "zzz": "", "": "",
	} {
		if got := closest(in, cands); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParentDirectories: keygen -o and seal --env create the directories
// their file needs (0700 for a key's), never through a symlink out of the
// repository; a file error names the file.
func TestParentDirectories(t *testing.T) {
	c := newParallelCLI(t)
	os.MkdirAll(c.path("existing"), 0o755)
	r := c.keygen(filepath.Join("existing", "keys", "age", "key.txt"))
	for dir, want := range map[string]os.FileMode{"existing": 0o755, "existing/keys": 0o700, "existing/keys/age": 0o700, "existing/keys/age/key.txt": 0o600} {
		st, err := os.Stat(c.path(dir))
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", dir, st.Mode().Perm(), err, want)
		}
	}
	os.WriteFile(c.path("file"), nil, 0o644)
	c.fails("file is not a directory", "", "keygen", "-o", "file/key.txt")

	outside := t.TempDir()
	os.Symlink(outside, c.path("out"))
	policy := "version: 1\nenvironments:\n" +
		"  - {name: prod, bundle: secrets/prod/app.env, recipients: [{key: " + r + "}]}\n" +
		"  - {name: escape, bundle: out/deep/x.env, recipients: [{key: " + r + "}]}\n"
	os.WriteFile(c.path("sealenv.yaml"), []byte(policy), 0o644)
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("existing/keys/age/key.txt"))
	c.ok("K=v\n", "seal", "--env", "prod", "-i", "-")
	if got := c.ok("", "reveal", "secrets/prod/app.env", "K").stdout; got != "v" {
		t.Fatalf("reveal = %q", got)
	}
	c.fails("outside the repository", "", "seal", "--env", "escape")
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("seal --env created %v outside the repository", entries)
	}
	// -o names a path the user typed: a missing directory is an error
	// that names it, as in age.
	c.fails("nodir/b.env: no such file or directory", "", "seal", "-r", r, "-o", "nodir/b.env")
}

// TestFileErrorsNameThePath: every error about a file names it.
func TestFileErrorsNameThePath(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.ok("", "seal", "-r", r, "-o", "b.env")
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"missing.env: no such file or directory", []string{"seal", "-r", r, "-i", "missing.env", "-o", "c.env"}},
		{"nodir/sealenv.yaml: no such file or directory", []string{"init", "-r", r, "-o", "nodir/sealenv.yaml"}},
		{"missing/Dockerfile: no such file or directory", []string{"audit", "dockerfile", "missing/Dockerfile"}},
		{"nodir/b.env: no such file or directory", []string{"set", "nodir/b.env", "K"}},
		{"missing-key.txt: no such file or directory", []string{"reveal", "b.env", "--identity", "missing-key.txt"}},
		{"missing.env: no such file or directory", []string{"show", "missing.env"}},
		{"missing.env: no such file or directory", []string{"rekey", "missing.env", "--identity", "key.txt"}},
		{"missing.yaml", []string{"check", "--policy", "missing.yaml"}},
	} {
		c.fails(tc.want, "v", tc.args...)
	}
}

// TestRotateFirstValueAndPolicyRule: rotate gives a key its first value when
// the policy has a generator for it (or the value's source is named), never
// creates one from its own random default, and never writes a value that
// the key's rule refuses, whatever made it.
func TestRotateFirstValueAndPolicyRule(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	c.env = append(c.env, "SEALENV_AGE_KEY_FILE="+c.path("key.txt"))
	os.WriteFile(c.path("sealenv.yaml"), []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: "+r+"}]}\n"+
		"keys:\n  API_TOKEN: {generator: {length: 32}}\n  DATABASE_URL: {pattern: '^postgres://'}\n"+
		"  UPPER: {pattern: '^[A-Z]{40,}$', generator: {alphabet: hex, length: 32}}\n"), 0o644)
	c.ok("", "seal", "--env", "prod")

	if res := c.ok("", "rotate", "prod.env", "API_TOKEN"); !strings.Contains(res.stderr, "created API_TOKEN in prod.env (its first value, from the policy's generator)") {
		t.Errorf("rotate of a new key with a generator: %q", res.stderr)
	}
	if v := c.ok("", "reveal", "prod.env", "API_TOKEN").stdout; len(v) != 43 {
		t.Errorf("API_TOKEN has %d characters, want 43 (32 bytes, base64url)", len(v))
	}
	var info struct {
		Keys []struct {
			Name string     `json:"name"`
			Set  *time.Time `json:"set"`
		} `json:"keys"`
	}
	json.Unmarshal([]byte(c.ok("", "show", "--format", "json", "prod.env").stdout), &info)
	if len(info.Keys) != 1 || info.Keys[0].Set == nil || time.Since(*info.Keys[0].Set) > time.Minute {
		t.Errorf("the first value has no set time: %+v", info.Keys)
	}
	before := digest(t, c.path("prod.env"))
	// OTHER is in neither the bundle nor the policy: it could be a value
	// typed where the name goes, so the error does not show it.
	c.fails("prod.env: no key [argument 3] to rotate; give its first value with sealenv set prod.env [argument 3]", "", "rotate", "prod.env", "OTHER")

	// A value the pattern refuses is never written: from stdin...
	mysql := "mysql://app:" + secret(t, "pw") + "@db/app"
	res := c.fails("DATABASE_URL does not match its pattern ^postgres://; nothing written", mysql, "rotate", "--stdin", "prod.env", "DATABASE_URL")
	if digest(t, c.path("prod.env")) != before {
		t.Fatal("a refused rotate changed the bundle")
	}
	if strings.Contains(res.stderr, mysql[8:]) {
		t.Fatal("the refused value came back in the error")
	}
	// ... from rotate's random default (the postgres URL case) ...
	c.ok("postgres://app:"+secret(t, "pw")+"@db/app", "set", "prod.env", "DATABASE_URL")
	before = digest(t, c.path("prod.env"))
	c.fails("DATABASE_URL does not match its pattern", "", "rotate", "prod.env", "DATABASE_URL")
	// ... or from the key's own generator.
	c.fails("UPPER does not match its pattern ^[A-Z]{40,}$; nothing written (the key's generator in the policy makes values its own rule refuses", "", "rotate", "prod.env", "UPPER")
	if digest(t, c.path("prod.env")) != before {
		t.Fatal("a refused rotate changed the bundle")
	}
	// A value given by hand that matches is fine, for a new key too.
	c.ok("postgres://app:"+secret(t, "pw2")+"@db/app", "rotate", "--stdin", "prod.env", "DATABASE_URL")
	if res := c.ok("v-"+secret(t, "new"), "rotate", "--stdin", "prod.env", "NEW_KEY"); !strings.Contains(res.stderr, "created NEW_KEY") {
		t.Errorf("rotate --stdin of a new key: %q", res.stderr)
	}
}

// TestRecipientsFile: -R FILE reads recipients as age does (comments, blank
// lines, CRLF, SSH keys of types age cannot use skipped with a warning), in
// seal and rekey; its errors give a line number, never the line.
func TestRecipientsFile(t *testing.T) {
	c := newParallelCLI(t)
	alice := c.keygen("alice.txt")
	bob := c.keygen("bob.txt")
	os.WriteFile(c.path("team.txt"), []byte("# the team\r\n\r\n"+alice+"\r\n# bob\n"+bob+"\n"+
		"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= laptop\n"), 0o644)
	os.WriteFile(c.path("alice-only.txt"), []byte(alice+"\n"), 0o644)
	res := c.ok("K=v\n", "seal", "-R", "team.txt", "-i", "-", "-o", "b.env")
	if !strings.Contains(res.stderr, "team.txt: line 6: skipping an SSH key of type ecdsa-sha2-nistp256") || !strings.Contains(res.stderr, "sealed 1 key to 2 recipients") {
		t.Errorf("seal -R: %q", res.stderr)
	}
	for _, id := range []string{"alice.txt", "bob.txt"} {
		if got := c.ok("", "reveal", "b.env", "K", "--identity", id).stdout; got != "v" {
			t.Errorf("%s reads %q", id, got)
		}
	}
	c.ok("", "rekey", "b.env", "-R", "alice-only.txt", "--identity", "alice.txt")
	c.fails("no identity matches", "", "reveal", "b.env", "--identity", "bob.txt")
	// -R - reads stdin, once.
	c.ok(bob+"\n", "seal", "-R", "-", "-r", alice, "-o", "c.env")
	c.ok("", "reveal", "c.env", "--identity", "bob.txt")
	c.fails("-R - and -i - both read standard input", "", "seal", "-R", "-", "-i", "-", "-o", "d.env")

	key, _ := os.ReadFile(c.path("alice.txt"))
	private := strings.TrimSpace(string(key[strings.Index(string(key), "AGE-SECRET-KEY-"):]))
	os.WriteFile(c.path("oops.txt"), []byte(bob+"\n"+private+"\n"), 0o644)
	res = c.fails("-R: oops.txt: line 2 is a private key, not a recipient", "", "seal", "-R", "oops.txt", "-o", "d.env")
	os.WriteFile(c.path("junk.txt"), []byte("# ok\nnot a key at all "+secret(t, "x")+"\n"), 0o644)
	res2 := c.fails("-R: junk.txt: line 2 is not a recipient", "", "seal", "-R", "junk.txt", "-o", "d.env")
	if strings.Contains(res.stderr+res2.stderr, private[15:40]) || strings.Contains(res2.stderr, "not a key at all") {
		t.Fatal("a line of the recipients file came back in the error")
	}
	os.WriteFile(c.path("empty.txt"), []byte("# nobody\n"), 0o644)
	c.fails("-R: empty.txt: no recipients in it", "", "seal", "-R", "empty.txt", "-o", "d.env")
	c.fails("-R: missing.txt: no such file or directory", "", "seal", "-R", "missing.txt", "-o", "d.env")
	if _, err := os.Stat(c.path("d.env")); err == nil {
		t.Fatal("a failed seal wrote its bundle")
	}
}

// TestSealInputIsNotAnIdentity: an age user's habit, -i KEYFILE, gets an
// explanation, not a dotenv parse error, and the key is not echoed.
func TestSealInputIsNotAnIdentity(t *testing.T) {
	c := newParallelCLI(t)
	r := c.keygen("key.txt")
	key, _ := os.ReadFile(c.path("key.txt"))
	res := c.fails("key.txt holds a private key, not values to seal: in sealenv seal, -i is the plaintext input (age's -i is an identity", "", "seal", "-r", r, "-i", "key.txt", "-o", "b.env")
	if i := strings.Index(string(key), "AGE-SECRET-KEY-"); strings.Contains(res.stderr, string(key[i+15:i+40])) {
		t.Fatal("the private key came back in the error")
	}
	// A value that is an age key (KEY=AGE-SECRET-KEY-...) is a value.
	c.ok("BACKUP_KEY="+strings.TrimSpace(string(key[strings.Index(string(key), "AGE-SECRET-KEY-"):]))+"\n", "seal", "-r", r, "-i", "-", "-o", "b.env")
	// So is a PEM private key in a YAML block.
	c.ok("TLS_KEY: |\n  -----BEGIN PRIVATE KEY-----\n  bm90IGEga2V5\n  -----END PRIVATE KEY-----\n", "seal", "-r", r, "-i", "-", "-o", "tls.yaml")
	// A PEM key file is refused like an identity.
	c.fails("holds a private key, not values to seal", "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n", "seal", "-r", r, "-i", "-", "-o", "pem.env")
}

// TestPrivateDirNote: where the plaintext copy is weaker than Linux's tmpfs,
// edit says so, every time (macOS and Windows run this logic; it is
// tested here).
func TestPrivateDirNote(t *testing.T) {
	for _, tc := range []struct {
		pd   fsutil.PrivateDir
		goos string
		want string
	}{
		{fsutil.PrivateDir{Path: "/dev/shm/sealenv-edit-1-x", Memory: true}, "linux", ""},
		{fsutil.PrivateDir{Path: "/var/folders/ab/T/sealenv-edit-1-x.noindex"}, "darwin", "sealenv: note: the plaintext copy is on disk in /var/folders/ab/T/sealenv-edit-1-x.noindex (macOS has no memory-backed directory): yours only, not synced, removed after the edit; see docs/cli.md"},
		{fsutil.PrivateDir{Path: `C:\Users\me\AppData\Local\Temp\sealenv-edit-1-x`}, "windows", `on disk in C:\Users\me\AppData\Local\Temp\sealenv-edit-1-x (Windows has no memory-backed directory)`},
		{fsutil.PrivateDir{Path: "/Volumes/ram/sealenv-edit-1-x.noindex", Explicit: true}, "darwin", "in /Volumes/ram/sealenv-edit-1-x.noindex ($SEALENV_SHM_DIR), which sealenv cannot prove is memory-backed"},
	} {
		got := privateDirNote(&tc.pd, tc.goos)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s %+v: %q, want %q", tc.goos, tc.pd, got, tc.want)
		}
	}
}
