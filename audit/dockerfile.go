package audit

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/sealenv/sealenv/audit/internal/creds"
	"github.com/sealenv/sealenv/internal/lazyregexp"
	"github.com/sealenv/sealenv/internal/match"
	"github.com/sealenv/sealenv/seal"
)

// Dockerfile lints a Dockerfile statically with BuildKit's parser: ARG and
// ENV whose name says secret or names a sealed key (in ONBUILD too),
// literal secrets (every detector), COPY or ADD of plaintext secret files
// (named, copied out of another stage, or under a directory of the build
// context that .dockerignore does not exclude), and a RUN that writes the
// secret it mounts to a file. Files of the build context (Options.
// BuildContext, default the Dockerfile's directory) are checked for SOPS
// metadata.
func Dockerfile(file string, opts Options) (*Report, error) {
	o := opts.defaults()
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		// BuildKit quotes the line it could not parse: it may hold a secret.
		return nil, maskError(o.detectors(), fmt.Errorf("%s: %w", file, err))
	}
	a := &auditor{o: o, d: o.detectors(), rep: newReport(file, o)}
	a.rep.Coverage.Files = 1
	a.rep.Coverage.Bytes = int64(len(data))
	lineOf := lineIndex(data)
	sc := a.d.scanner()
	sc.Bytes(data, func(h match.Hit) {
		f := a.hitFinding(h)
		f.Where, f.Path, f.Line = whereDockerfile, file, lineOf(h.Offset)
		f.Offset = nil
		f.Message += "; pass it with RUN --mount=type=secret instead"
		a.add(f)
	})
	ctxDir := o.BuildContext
	if ctxDir == "" {
		ctxDir = filepath.Dir(file)
	}
	l := &dfLint{a: a, file: file, ctxDir: ctxDir, ignore: dockerignore(file, ctxDir)}
	for _, n := range res.AST.Children {
		l.node(n, n.StartLine, "")
	}
	a.coverValues()
	a.redactPlaces()
	a.rep.filter(o)
	return a.rep, nil
}

// dfLint checks the instructions of one Dockerfile.
type dfLint struct {
	a       *auditor
	file    string
	ctxDir  string
	ignore  func(rel string, dir bool) bool
	context []string // the build context's unsealed secrets files, listed once
	walked  bool
}

func (l *dfLint) node(n *parser.Node, line int, prefix string) {
	ins, err := instructions.ParseInstruction(n)
	if err != nil {
		return // BuildKit reports these itself; we only lint
	}
	a := l.a
	at := func(rule, name, msg string) {
		a.add(Finding{Kind: kindDockerfle, Rule: rule, Severity: "high", Where: whereDockerfile, Path: l.file, Line: line, Name: name,
			Secret: sealedName(a.d, name), Message: prefix + msg})
	}
	switch c := ins.(type) {
	case *instructions.OnbuildCommand:
		// ONBUILD runs in every image built FROM this one.
		res, err := parser.Parse(strings.NewReader(c.Expression + "\n"))
		if err == nil {
			for _, m := range res.AST.Children {
				l.node(m, line, "ONBUILD: ")
			}
		}
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			if a.d.sealed[kv.Key] || creds.IsSecretName(kv.Key) {
				at("secret-arg", kv.Key, fmt.Sprintf("ARG %s: build arguments are recorded in the image history and provenance; use RUN --mount=type=secret,id=%s", kv.Key, kv.Key))
			}
		}
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			if (a.d.sealed[kv.Key] || creds.IsSecretName(kv.Key)) && strings.TrimSpace(kv.Value) != "" && !strings.HasPrefix(kv.Value, "/") {
				at("secret-env", kv.Key, fmt.Sprintf("ENV %s bakes a secret into the image config; provide it at run time with sealenv-inject, or use RUN --mount=type=secret,id=%s during the build", kv.Key, kv.Key))
			}
		}
	case *instructions.CopyCommand:
		if c.From != "" {
			l.fromStage(c.SourcePaths, c.From, at)
		} else {
			l.copies(c.SourcePaths, "COPY", at)
		}
	case *instructions.AddCommand:
		l.copies(c.SourcePaths, "ADD", at)
	case *instructions.RunCommand:
		l.run(c, at)
	}
}

// fromStage reports credentials files copied out of another stage: the
// stage was built with them, the final image gets them.
func (l *dfLint) fromStage(srcs []string, stage string, at func(rule, name, msg string)) {
	for _, s := range srcs {
		if creds.LooksLikeSecretsFile(s) || secretFileName(strings.ToLower(path.Base(s))) {
			at("copy-secret-file", s, fmt.Sprintf("COPY --from=%s %s copies a credentials file out of a build stage into the image; mount it with RUN --mount=type=secret in the stage that needs it", stage, s))
		}
	}
}

// run reports a RUN that mounts a secret and writes it (or the variable
// it is in) to a file in the same step: the file lands in the layer.
func (l *dfLint) run(c *instructions.RunCommand, at func(rule, name, msg string)) {
	var refs []string
	var ids []string
	// Mount options are read when the command is expanded; build args are
	// not known here, so words stay as written.
	if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
		return
	}
	var caches []string
	for _, m := range instructions.GetMounts(c) {
		if m.Type == instructions.MountTypeCache && m.Target != "" {
			caches = append(caches, path.Clean(m.Target))
		}
		if m.Type != instructions.MountTypeSecret {
			continue
		}
		id := m.CacheID
		target := m.Target
		if id == "" && target != "" {
			id = path.Base(target)
		}
		if target == "" && id != "" {
			target = "/run/secrets/" + id
		}
		if target != "" {
			refs = append(refs, target)
		}
		if m.Env != nil && *m.Env != "" {
			refs = append(refs, "$"+*m.Env, "${"+*m.Env)
		}
		ids = append(ids, id)
	}
	if len(refs) == 0 {
		return
	}
	script := strings.Join(c.CmdLine, " ")
	for _, f := range c.Files {
		script += "\n" + f.Data
	}
	if stmt := persistsSecret(script, refs); stmt != "" {
		for _, dir := range caches {
			if strings.Contains(stmt, dir+"/") || strings.HasSuffix(stmt, dir) {
				// A cache mount outlives the step, is shared with every
				// later build, and is in no image an audit reads.
				at("secret-cache-mount", strings.Join(ids, ","), fmt.Sprintf("RUN mounts secret %s and writes it into the cache mount %s (%q): the cache keeps it for every later build, where no audit sees it", strings.Join(ids, ","), dir, clip(stmt, 60)))
				return
			}
		}
		at("secret-mount-persisted", strings.Join(ids, ","), fmt.Sprintf("RUN mounts secret %s and writes it to a file in the same step (%q): the file is in the layer; use it where it is mounted, never copy it", strings.Join(ids, ","), clip(stmt, 60)))
	}
}

var (
	redirect = lazyregexp.New(`(?:^|[^0-9&<>])>>?\s*([^\s&|;]+)`)
	stmtSep  = lazyregexp.New(`&&|\|\||;|\n`)
)

// persistsSecret returns the shell statement that writes one of refs (a
// secret's path or variable) to a file, or "".
func persistsSecret(script string, refs []string) string {
	for _, stmt := range stmtSep().Split(script, -1) {
		mentions := false
		for _, r := range refs {
			if strings.Contains(stmt, r) {
				mentions = true
			}
		}
		if !mentions {
			continue
		}
		for _, m := range redirect().FindAllStringSubmatch(stmt, -1) {
			switch m[1] {
			case "/dev/null", "/dev/stdout", "/dev/stderr":
				continue
			}
			return strings.TrimSpace(stmt)
		}
		fields := strings.Fields(stmt)
		for i, f := range fields {
			if f == "|" && i+1 < len(fields) && fields[i+1] == "tee" || i == 0 && f == "tee" {
				return strings.TrimSpace(stmt)
			}
		}
		if len(fields) > 0 {
			switch fields[0] {
			case "cp", "mv", "install", "ln", "rsync", "dd":
				return strings.TrimSpace(stmt)
			case "git":
				if strings.Contains(stmt, "config") && (strings.Contains(stmt, "--global") || strings.Contains(stmt, "--system")) {
					return strings.TrimSpace(stmt)
				}
			case "npm", "yarn", "pnpm":
				if strings.Contains(stmt, "config set") {
					return strings.TrimSpace(stmt) // writes ~/.npmrc
				}
			}
		}
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func sealedName(d *detectors, n string) string {
	if d.sealed[n] {
		return n
	}
	return ""
}

// copies reports sources that are secrets files and not sealed, and, for a
// source that is a directory of the build context (COPY . /app), every
// unsealed secrets file under it that .dockerignore does not exclude.
func (l *dfLint) copies(srcs []string, verb string, at func(rule, name, msg string)) {
	for _, s := range srcs {
		base := strings.ToLower(path.Base(s))
		if creds.LooksLikeSecretsFile(s) || secretFileName(base) {
			if !sealedFile(filepath.Join(l.ctxDir, filepath.FromSlash(s)), s) {
				at("copy-secret-file", s, fmt.Sprintf("%s %s puts a plaintext secrets file into a layer; seal it (sealenv seal) or mount it with RUN --mount=type=secret", verb, s))
			}
			continue
		}
		dir := path.Clean(strings.TrimPrefix(s, "/"))
		if fi, err := os.Stat(filepath.Join(l.ctxDir, filepath.FromSlash(dir))); err != nil || !fi.IsDir() {
			continue
		}
		for _, rel := range l.contextSecrets() {
			if dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/") {
				at("copy-secret-file", rel, fmt.Sprintf("%s %s copies the plaintext secrets file %s of the build context into a layer; add it to .dockerignore, or seal it (sealenv seal)", verb, s, rel))
			}
		}
	}
}

// contextSecrets lists, once, the unsealed secrets files of the build
// context that .dockerignore does not exclude (slash paths). .git is not
// sent by docker build either way, but is excluded only by .dockerignore,
// so it is walked too.
func (l *dfLint) contextSecrets() []string {
	if l.walked {
		return l.context
	}
	l.walked = true
	filepath.WalkDir(l.ctxDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(l.ctxDir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if l.ignore(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if (creds.LooksLikeSecretsFile(rel) || secretFileName(strings.ToLower(d.Name()))) && !sealedFile(p, rel) {
			l.context = append(l.context, rel)
		}
		return nil
	})
	return l.context
}

// sealedFile reports whether the file at p is a sealed bundle: ciphertext
// is safe in an image.
func sealedFile(p, name string) bool {
	data, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	f, err := seal.DetectFormat(name, data)
	if err != nil {
		return false
	}
	_, err = seal.Inspect(f, data)
	return err == nil
}

// dockerignore returns what the build's .dockerignore excludes (the
// Dockerfile's own FILE.dockerignore first, as BuildKit reads it), with
// Docker's own pattern matcher.
func dockerignore(dockerfile, ctxDir string) func(string, bool) bool {
	var pats []string
	for _, p := range []string{dockerfile + ".dockerignore", filepath.Join(ctxDir, ".dockerignore")} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		pats, _ = ignorefile.ReadAll(f)
		f.Close()
		break
	}
	if len(pats) == 0 {
		return func(string, bool) bool { return false }
	}
	pm, err := patternmatcher.New(pats)
	if err != nil {
		return func(string, bool) bool { return false }
	}
	return func(rel string, dir bool) bool {
		ok, _ := pm.MatchesOrParentMatches(rel)
		return ok && !(dir && pm.Exclusions())
	}
}

// secretFileName lists files that hold credentials by convention.
func secretFileName(base string) bool {
	switch base {
	case "id_rsa", "id_ecdsa", "id_ed25519", "id_dsa", ".npmrc", ".netrc", ".pypirc", ".pgpass", "credentials", "credentials.json", "keys.txt", ".git-credentials", "service-account.json":
		return true
	}
	return strings.HasSuffix(base, ".pem") || strings.HasSuffix(base, ".key") || strings.HasSuffix(base, ".p12") || strings.HasSuffix(base, ".pfx")
}

// lineIndex maps a byte offset to a 1-based line number.
func lineIndex(data []byte) func(int64) int {
	var starts []int64
	starts = append(starts, 0)
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, int64(i+1))
		}
	}
	return func(off int64) int {
		lo, hi := 0, len(starts)
		for lo+1 < hi {
			m := (lo + hi) / 2
			if starts[m] <= off {
				lo = m
			} else {
				hi = m
			}
		}
		return lo + 1
	}
}
