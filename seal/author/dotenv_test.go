package author_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sealenv/sealenv/seal/author"
)

// oracleReading is what the oracle program prints per file.
type oracleReading struct {
	Compose struct {
		Err  string      `json:"err"`
		Vars [][2]string `json:"vars"`
	} `json:"compose"`
	Docker struct {
		Err  string      `json:"err"`
		Vars [][2]string `json:"vars"`
	} `json:"docker"`
}

// needPeer skips (or, with SEALENV_REQUIRE_PEERS, fails) a test whose
// reference tool is missing.
func needPeer(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("SEALENV_REQUIRE_PEERS") != "" {
		t.Fatalf("%s: %v", what, err)
	}
	t.Skipf("%s: %v", what, err)
}

// buildDotenvOracle builds testdata/dotenvoracle: the real parsers of
// docker compose (compose-go) and of docker run --env-file (docker/cli
// kvfile), in a module of its own.
func buildDotenvOracle(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dotenvoracle")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("testdata", "dotenvoracle")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		needPeer(t, "building the dotenv oracle (compose-go, docker/cli from the Go module proxy)", fmt.Errorf("%v: %s", err, out))
	}
	return bin
}

// readOracles reads files with compose's and docker's parsers and with
// bash (set -a; . FILE in an empty environment and directory).
func readOracles(t *testing.T, oracle string, files []string) ([]oracleReading, []map[string]string) {
	t.Helper()
	out, err := exec.Command(oracle, files...).Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var rs []oracleReading
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r oracleReading
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if len(rs) != len(files) {
		t.Fatalf("oracle read %d of %d files", len(rs), len(files))
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		needPeer(t, "bash", err)
	}
	empty := t.TempDir()
	shells := make([]map[string]string, len(files))
	// One bash per file, as many at once as there are cores: a bash
	// starts in milliseconds, and hundreds of files wait on that alone.
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				shells[i] = readShell(bash, empty, files[i])
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return rs, shells
}

// readShell is what bash exports after sourcing file with set -a, in an
// empty environment and the folder dir.
func readShell(bash, dir, file string) map[string]string {
	// PATH names nothing: a word bash would run as a command is not found.
	cmd := exec.Command("env", "-i", "PATH=/nonexistent", bash, "--noprofile", "--norc", "-c", `set -a; . "$1"; exec /usr/bin/env -0`, "bash", file)
	cmd.Dir = dir
	got, _ := cmd.Output() // a syntax error still prints what bash assigned
	m := map[string]string{}
	for _, kv := range strings.Split(string(got), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for _, k := range []string{"PWD", "SHLVL", "_", "PATH"} {
		delete(m, k)
	}
	return m
}

// dotenvCases are lines every dialect has an opinion about: the table of
// docs/cli.md and the mistakes of issue 21.
var dotenvCases = []string{
	"A=plain value\n", `B="double quoted"` + "\n", "C='single $HOME'\n", `D="one\ntwo"` + "\n",
	"E=x # note\n", "F=a=b\n", "G=\n", "export H=1\n", "  I = 1\n", `J="ab\cd"` + "\n", `K="C:\logs\app"` + "\n",
	"L='abc'def\n", "M=${HOME}/x\n", "N=$$literal\n", "O='it''s'\n", "P=a\\ b\n", `Q="multi` + "\n" + `line"` + "\n",
	"R=x\r\n", "S:  colon\n", "T=\"x\" # c\n", "U=~/x\n", "V=a:b\n", "W=#hash\n", "X='q\\'\n", `Y="\$x"` + "\n",
	"# comment only\n\nZ=1\n", "\ufeffBOM=1\n", "TAB=\tx\t\n", "SP=  lead\n", "A1=x\nA2=\"y\"\n",
}

// TestDialectsReadWhatTheirToolsRead: every value a dialect returns is
// exactly what its reference tool reads from the same file (docker's
// env-file parser, compose-go's dotenv parser, bash), on the fixed cases and
// on generated ones (400; 40 with -short); a dialect may refuse, never
// differ. Without a dialect a file is read only when all three agree.
func TestDialectsReadWhatTheirToolsRead(t *testing.T) {
	t.Parallel()
	oracle := buildDotenvOracle(t)
	cases := slices.Clone(dotenvCases)
	generated := 400
	if testing.Short() {
		generated = 40
	}
	pieces := []string{"a", "Z", "0", " ", "  ", "\t", "=", "#", " #", `"`, "'", `\`, `\n`, `\t`, `\$`, `\"`, `\\`,
		"$", "$$", "${X}", "$X", "~", ":", "*", "{", "}", "é", "\r", "\n", "x y", "''", `""`}
	r := mrand.New(mrand.NewPCG(21, 21))
	for range generated {
		var in strings.Builder
		for i := range 1 + r.IntN(3) {
			if r.IntN(5) == 0 {
				in.WriteString(" ")
			}
			if r.IntN(5) == 0 {
				in.WriteString("export ")
			}
			sep := []string{"=", "=", "=", " = ", ": ", "="}[r.IntN(6)]
			fmt.Fprintf(&in, "K%d%s", i, sep)
			var v strings.Builder
			for range r.IntN(5) {
				v.WriteString(pieces[r.IntN(len(pieces))])
			}
			switch r.IntN(4) {
			case 0:
				in.WriteString(`"` + v.String() + `"`)
			case 1:
				in.WriteString("'" + v.String() + "'")
			default:
				in.WriteString(v.String())
			}
			if r.IntN(6) == 0 {
				in.WriteString(" # note")
			}
			in.WriteString("\n")
		}
		cases = append(cases, in.String())
	}
	dir := t.TempDir()
	var files []string
	for i, c := range cases {
		f := filepath.Join(dir, fmt.Sprintf("case%03d.env", i))
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	oracles, shells := readOracles(t, oracle, files)
	accepted := map[author.Dialect]int{}
	for i, c := range cases {
		got := map[author.Dialect][]author.Variable{}
		for _, d := range []author.Dialect{author.DialectLiteral, author.DialectCompose, author.DialectShell} {
			vars, err := author.ReadDotenv([]byte(c), d)
			if err != nil {
				if strings.Contains(err.Error(), "line 0") {
					t.Errorf("%q: %s: an error without a line: %v", c, d, err)
				}
				continue
			}
			accepted[d]++
			got[d] = vars
			var want [][2]string
			switch d {
			case author.DialectLiteral:
				if oracles[i].Docker.Err != "" {
					t.Errorf("%q: literal read it, docker refuses it: %s", c, oracles[i].Docker.Err)
					continue
				}
				want = oracles[i].Docker.Vars
			case author.DialectCompose:
				if oracles[i].Compose.Err != "" {
					t.Errorf("%q: compose dialect read it, compose refuses it: %s", c, oracles[i].Compose.Err)
					continue
				}
				want = oracles[i].Compose.Vars
			case author.DialectShell:
				for k, v := range shells[i] {
					want = append(want, [2]string{k, v})
				}
			}
			var have [][2]string
			for _, v := range vars {
				have = append(have, [2]string{v.Name, v.Value})
			}
			if d != author.DialectLiteral { // compose and bash give no order
				slices.SortFunc(want, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
				slices.SortFunc(have, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
			}
			if !slices.Equal(have, want) {
				t.Errorf("%q: the %s dialect reads %q, its tool %q", c, d, have, want)
			}
		}
		vars, err := author.ReadDotenv([]byte(c), author.DialectAuto)
		if err == nil {
			for _, d := range []author.Dialect{author.DialectLiteral, author.DialectCompose, author.DialectShell} {
				if g, ok := got[d]; !ok || !slices.Equal(g, vars) {
					t.Errorf("%q: read without a dialect, but the %s dialect reads %v", c, d, g)
				}
			}
		} else if len(got) == 3 && slices.Equal(got[author.DialectLiteral], got[author.DialectCompose]) && slices.Equal(got[author.DialectCompose], got[author.DialectShell]) {
			t.Errorf("%q: the dialects agree, yet without a dialect: %v", c, err)
		}
	}
	for _, d := range []author.Dialect{author.DialectLiteral, author.DialectCompose, author.DialectShell} {
		if accepted[d] < len(cases)/5 {
			t.Errorf("the %s dialect read only %d of %d files: the comparison lost its teeth", d, accepted[d], len(cases))
		}
	}
}

// TestDialectErrorNamesLine: without a dialect, the first line the
// dialects read differently is named by number, never its value, with how
// each dialect reads it.
func TestDialectErrorNamesLine(t *testing.T) {
	t.Parallel()
	value := "s3cr3t-value"
	_, err := author.ReadDotenv([]byte("A=1\nB=plain\nC=\""+value+"\"\nD='x'\n"), author.DialectAuto)
	de, ok := err.(*author.DialectError)
	if !ok || de.Line != 3 {
		t.Fatalf("got %v, want a DialectError at line 3", err)
	}
	msg := err.Error()
	if strings.Contains(msg, value) || !strings.Contains(msg, "literal reads one value; compose and shell read another") {
		t.Errorf("message: %s", msg)
	}
	if _, err := author.ReadDotenv([]byte("A=1\nB=${HOME}\n"), author.DialectAuto); err == nil || !strings.Contains(err.Error(), "line 2") ||
		!strings.Contains(err.Error(), "compose refuses it") || !strings.Contains(err.Error(), "shell refuses it") {
		t.Errorf("${HOME}: %v", err)
	}
	if vars, err := author.ReadDotenv([]byte("A=1\n# c\nB=two words\n"), author.DialectCompose); err != nil || len(vars) != 2 || vars[1].Value != "two words" {
		t.Errorf("compose: %v %v", vars, err)
	}
	for in, want := range map[string]string{"A=1\r\nB=2\r\n": "carriage return", "\ufeffA=1\n": "byte order mark"} {
		if _, err := author.ReadDotenv([]byte(in), author.DialectAuto); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a note on the %s", in, err, want)
		}
	}
}

// BenchmarkReadDotenv reads a .env of 80,000 keys (about as many short keys
// as fit in a 16 MiB bundle) in each dialect, and without one (all three).
func BenchmarkReadDotenv(b *testing.B) {
	var in strings.Builder
	for i := range 80_000 {
		fmt.Fprintf(&in, "K%05d=v%05d-value\n", i, i)
	}
	data := []byte(in.String())
	for _, d := range []author.Dialect{author.DialectAuto, author.DialectLiteral, author.DialectCompose, author.DialectShell, author.DialectSops} {
		name := d.String()
		if name == "" {
			name = "auto"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := author.ReadDotenv(data, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
