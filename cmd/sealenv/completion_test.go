package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// completionCases are command lines with the cursor at the end and what
// completion offers there, in every shell.
var completionCases = []struct {
	line string
	want []string // the candidates, sorted
}{
	{"sealenv rot", []string{"rotate"}},
	{"sealenv com", []string{"completion"}},
	{"sealenv rotate --gr", []string{"--grace"}},
	{"sealenv seal --store ", []string{"dotenv", "json", "yaml"}},
	{"sealenv seal --store ya", []string{"yaml"}},
	{"sealenv audit im", []string{"image"}},
	{"sealenv audit image --format ", []string{"json", "sarif", "text"}},
	{"sealenv check --format ", []string{"json", "sarif", "text"}},
	{"sealenv reveal --format ", []string{"dotenv", "json", "shell"}},
	{"sealenv rotate --alphabet ", []string{"alnum", "base64url", "hex"}},
	{"sealenv audit dockerfile --severity ", []string{"high", "low", "medium"}},
	{"sealenv help rot", []string{"rotate"}},
	{"sealenv completion ", []string{"bash", "fish", "zsh"}},
	{"sealenv inject --bun", []string{"--bundle"}},
	{"sealenv seal -o se", []string{"secrets.env"}},                // a file
	{"sealenv show -- ", []string{"secrets.env"}},                  // after --: files
	{"sealenv seal --recipient age1x --out", []string{"--output"}}, // a flag's value skipped
}

// completionDir is a working directory with one file to complete.
func completionDir(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secrets.env"), nil, 0o644)
	return dir
}

// TestCompletionBash runs the bash script's completion function as bash
// does on Tab, with COMP_LINE and COMP_POINT set.
func TestCompletionBash(t *testing.T) {
	bash := peer(t, "bash")
	c := newParallelCLI(t)
	script := filepath.Join(c.dir, "sealenv.bash")
	os.WriteFile(script, []byte(c.ok("", "completion", "bash").stdout), 0o644)
	dir := completionDir(t)
	for _, tc := range completionCases {
		cmd := exec.Command(bash, "--norc", "-c", `source "$1"; COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; __sealenv_complete; printf '%s\n' "${COMPREPLY[@]}"`, "bash", script, tc.line)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", tc.line, err, out)
		}
		checkCandidates(t, "bash", tc.line, string(out), tc.want)
	}
}

// TestCompletionFish asks fish itself what it completes (complete -C).
func TestCompletionFish(t *testing.T) {
	fish := peer(t, "fish")
	c := newParallelCLI(t)
	script := filepath.Join(c.dir, "sealenv.fish")
	os.WriteFile(script, []byte(c.ok("", "completion", "fish").stdout), 0o644)
	dir := completionDir(t)
	for _, tc := range completionCases {
		cmd := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, tc.line)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", tc.line, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			cand, _, _ := strings.Cut(l, "\t") // a description follows a tab
			if i := strings.LastIndex(cand, "="); strings.HasPrefix(cand, "--") && i > 0 {
				cand = cand[i+1:]
			}
			got = append(got, cand)
		}
		checkCandidates(t, "fish", tc.line, strings.Join(got, "\n"), tc.want)
	}
}

// TestCompletionZsh types each line and Tab into an interactive zsh on a
// pseudo-terminal (zsh's zpty), with the script loaded after compinit,
// and reads back the line zle made of it: a single candidate is inserted.
func TestCompletionZsh(t *testing.T) {
	zsh := peer(t, "zsh")
	c := newParallelCLI(t)
	script := filepath.Join(c.dir, "sealenv.zsh")
	os.WriteFile(script, []byte(c.ok("", "completion", "zsh").stdout), 0o644)
	dir := completionDir(t)
	out := filepath.Join(c.dir, "buffers")
	driver := `zmodload zsh/zpty
out=$1 script=$2; shift 2
zpty -b z 'zsh -f -i'
zpty -w z "PS1='> '; autoload -U compinit && compinit -u -D; source ${(q)script}; dump() { print -r -- \"\$BUFFER\" >> ${(q)out}; BUFFER=; }; zle -N dump; bindkey '^X' dump; print READY"
zpty -r z x '*READY*'
n=0
for line in "$@"; do
	zpty -n -w z "$line"$'\t\x18'
	n=$((n + 1))
	for i in {1..100}; do
		[[ -f $out && $(wc -l < $out) -ge $n ]] && break
		sleep 0.05
	done
done
zpty -d z
`
	var single []string
	for _, tc := range completionCases {
		if len(tc.want) == 1 {
			single = append(single, tc.line)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zsh, append([]string{"-f", "-c", driver, "zsh", out, script}, single...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "ZDOTDIR="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zsh: %v: %s", err, b)
	}
	data, _ := os.ReadFile(out)
	buffers := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(buffers) != len(single) {
		t.Fatalf("zsh completed %d of %d lines: %q", len(buffers), len(single), buffers)
	}
	i := 0
	for _, tc := range completionCases {
		if len(tc.want) != 1 {
			continue
		}
		head := tc.line[:strings.LastIndexAny(tc.line, " =")+1]
		// zle removes the space it added after a word when the next key
		// is not a character (here ^X).
		if want := head + tc.want[0]; strings.TrimSuffix(buffers[i], " ") != want {
			t.Errorf("zsh: %q<Tab> gives %q, want %q", tc.line, buffers[i], want)
		}
		i++
	}
}

func checkCandidates(t *testing.T, shell, line, out string, want []string) {
	t.Helper()
	var got []string
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !seen[l] {
			got = append(got, l)
			seen[l] = true
		}
	}
	if strings.Join(sorted(got), " ") != strings.Join(want, " ") {
		if len(got) > 10 {
			got = append(got[:10], "...")
		}
		t.Errorf("%s: %q<Tab> offers %q, want %q", shell, line, got, want)
	}
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
