package e2e

// Builds: buildctl against the harness's buildkitd, stand-in base images for
// the ones that cannot be pulled here, and podman load. See harness_test.go.

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ---- base images --------------------------------------------------------------

// Rootfs describes a folder that stands in for a base image which cannot be
// pulled here: pass the folder in Build.Contexts under the image's name
// (Contexts: {"golang:1.26": dir}) and FROM golang:1.26 builds on it, with
// the Dockerfile unchanged. Every rootfs has /etc/passwd and /etc/group
// (root, nobody) and a /tmp.
type Rootfs struct {
	// Shell puts the static busybox (Debian's busybox-static) at
	// /bin/busybox with /bin/sh and its other applets as symlinks, so shell
	// form RUN steps work.
	Shell bool
	// Go puts this machine's Go toolchain at /usr/local/go (hard links,
	// so it is quick), /usr/local/bin/go on the default PATH, and the
	// host's CA certificates: a stand-in for the golang image.
	Go bool
	// Files are written into the rootfs (container path -> content, 0644);
	// Copy copies host files in (container path -> host path, mode kept).
	Files map[string][]byte
	Copy  map[string]string
}

// MakeRootfs builds the folder r describes and returns its path.
func (e *Env) MakeRootfs(t testing.TB, r Rootfs) string {
	t.Helper()
	dir, err := os.MkdirTemp(e.Dir, "rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"), 0o644)
	writeFile(t, filepath.Join(dir, "etc/group"), []byte("root:x:0:\nnobody:x:65534:\n"), 0o644)
	for _, d := range []string{"tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if r.Shell {
		bb := e.staticBusybox(t)
		copyFile(t, bb, filepath.Join(dir, "bin/busybox"))
		out, err := exec.Command(bb, "--list").Output()
		if err != nil {
			t.Fatalf("%s --list: %v", bb, err)
		}
		for _, applet := range strings.Fields(string(out)) {
			if applet == "busybox" || strings.Contains(applet, "/") {
				continue
			}
			link := filepath.Join(dir, "bin", applet)
			if err := os.Symlink("busybox", link); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
	}
	if r.Go {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		goroot := strings.TrimSpace(string(out))
		if err != nil || goroot == "" {
			missing(t, "go env GOROOT failed: no Go toolchain to put in a golang stand-in")
		}
		linkTree(t, goroot, filepath.Join(dir, "usr/local/go"), goToolchainSkip)
		if err := os.MkdirAll(filepath.Join(dir, "usr/local/bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tool := range []string{"go", "gofmt"} {
			if err := os.Symlink("/usr/local/go/bin/"+tool, filepath.Join(dir, "usr/local/bin", tool)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
			copyFile(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(dir, "etc/ssl/certs/ca-certificates.crt"))
		}
	}
	for p, b := range r.Files {
		writeFile(t, filepath.Join(dir, p), b, 0o644)
	}
	for p, src := range r.Copy {
		copyFile(t, src, filepath.Join(dir, p))
	}
	return dir
}

// staticBusybox finds a statically linked busybox ($SEALENV_BUSYBOX, or
// Debian busybox-static's /bin/busybox): a dynamic one cannot run in an
// image with no libc.
func (e *Env) staticBusybox(t testing.TB) string {
	t.Helper()
	p, err := findTool("SEALENV_BUSYBOX", "busybox", []string{"/bin", "/usr/bin"})
	if err != nil {
		missing(t, err.Error()+": install Debian's busybox-static")
	}
	f, err := elf.Open(p)
	if err != nil {
		missing(t, fmt.Sprintf("%s is not an ELF binary: install Debian's busybox-static", p))
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			missing(t, fmt.Sprintf("%s is dynamically linked: install Debian's busybox-static", p))
		}
	}
	return p
}

// goToolchainSkip leaves out of the golang stand-in what building a program
// never reads (the toolchain's own sources and tests, docs): a third of the
// files, and that much less for BuildKit to transfer and remove.
func goToolchainSkip(rel string, d os.DirEntry) bool {
	switch rel {
	case "api", "doc", "misc", "test", "src/cmd":
		return true
	}
	if d.IsDir() {
		return d.Name() == "testdata"
	}
	return strings.HasSuffix(rel, "_test.go")
}

// linkTree recreates the tree src at dst with hard links (copies when the
// two are on different file systems), leaving out what skip says.
func linkTree(t testing.TB, src, dst string, skip func(rel string, d os.DirEntry) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && skip != nil && skip(filepath.ToSlash(rel), d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			if err := os.Link(p, target); err == nil {
				return nil
			}
			copyFile(t, p, target)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("link %s into %s: %v", src, dst, err)
	}
}

// ---- builds -----------------------------------------------------------------

// Build is one buildctl build of a Dockerfile with the dockerfile.v0 frontend.
type Build struct {
	// Dockerfile is the Dockerfile's text, written to a folder of its own
	// (never into Context). Empty: Context's own Dockerfile is used.
	Dockerfile string
	// Context is an existing build context folder, used as it is. Empty: a
	// new folder with Files and Copy in it.
	Context string
	// Files are written into the new context (relative path -> content,
	// 0644); not allowed with Context, which the harness never writes to.
	Files map[string][]byte
	// Copy copies host files into the new context (relative path -> host
	// path), keeping their mode; use it for the static binaries from
	// GoBuild. Not allowed with Context.
	Copy map[string]string
	// Args become --opt build-arg:NAME=value (so they do land in the image
	// history and in mode=max provenance).
	Args map[string]string
	// Secrets become --secret id=NAME,env=NAME, with the value only in
	// buildctl's environment, never in its arguments.
	Secrets map[string]string
	// EnvSecrets become --secret id=NAME,env=NAME with no value from the
	// harness: the Wrap command (sealenv inject) provides NAME.
	EnvSecrets []string
	// Contexts are named contexts: NAME -> a host folder (sent with --local
	// and used as --opt context:NAME=local:...) or a value with a scheme
	// ("docker-image://...", "oci-layout://...") passed as it is. A
	// FROM NAME whose image cannot be pulled here resolves to the folder.
	Contexts map[string]string
	// Provenance is "", "min" or "max": --opt attest:provenance=mode=....
	Provenance string
	// Output is "docker" (default) or "oci": the tarball's format.
	Output string
	// Export adds attributes to --output, such as "rewrite-timestamp=true".
	Export []string
	// OCILayouts are OCI layout folders the build may read (--oci-layout
	// ID=DIR), for named contexts "oci-layout://ID@sha256:...".
	OCILayouts map[string]string
	// Push, when set, pushes the image to this reference (plain HTTP, as
	// to an in-memory registry on 127.0.0.1) instead of writing a tarball:
	// --output type=image,name=PUSH,push=true,registry.insecure=true.
	// Image.Archive is then empty and Image.Ref is "docker://PUSH".
	Push string
	// Name is the image name in the tarball; default
	// localhost/sealenv-e2e/<test>:<n>.
	Name     string
	Target   string   // --opt target=...
	NoCache  bool     // --no-cache
	Opts     []string // more --opt values, as KEY=VALUE
	Wrap     []string // run buildctl under this command: Wrap... buildctl args...
	WrapEnv  []string // extra NAME=value for the Wrap command (and buildctl)
	Platform string   // --opt platform=...
	// Syntax honours a "# syntax=IMAGE" line. By default the harness passes
	// --opt cmdline= so that BuildKit's built-in Dockerfile frontend builds
	// the file itself: the frontend image cannot be pulled here, and a
	// Dockerfile users copy (Dockerfile.example) has the line.
	Syntax bool
}

// Image is a built image tarball.
type Image struct {
	Name    string // the name it carries (and gets from podman load)
	Archive string // path of the tarball
	Format  string // "docker" or "oci": what Build.Output asked for; "registry" for Push
	// Ref is the transport-prefixed reference for sealenv audit and skopeo:
	// "docker-archive:PATH" when the tarball has a manifest.json, else
	// "oci-archive:PATH" (BuildKit's docker exporter writes no manifest.json
	// when there are attestations: the tarball is then an OCI layout).
	Ref string
	Log string // buildctl's plain progress output
}

// Build builds b and fails t with the tail of the build log if it fails.
func (e *Env) Build(t testing.TB, b Build) Image {
	t.Helper()
	img, err := e.TryBuild(t, b)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(img.Log, 40))
	}
	return img
}

// TryBuild builds b and returns the error (with its log in Image.Log)
// instead of failing t; for builds that are meant to fail.
func (e *Env) TryBuild(t testing.TB, b Build) (Image, error) {
	t.Helper()
	args, env, img := e.BuildctlArgs(t, b)
	argv := append(append([]string{}, b.Wrap...), e.Buildctl)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	err := cmd.Run()
	img.Log = log.String()
	if err != nil {
		return img, fmt.Errorf("buildctl build of %s failed: %v: %s", img.Name, err, lastNonEmpty(img.Log))
	}
	if b.Push != "" {
		return img, nil
	}
	ref, err := archiveRef(img.Archive)
	if err != nil {
		return img, err
	}
	img.Ref = ref
	return img, nil
}

// BuildctlArgs prepares b's context and returns buildctl's arguments
// (starting with --addr), the NAME=value environment it needs (secrets),
// and the Image it will write. For a test that runs buildctl itself.
func (e *Env) BuildctlArgs(t testing.TB, b Build) (args, env []string, img Image) {
	t.Helper()
	n := counter.Add(1)
	ctx := b.Context
	if ctx != "" && (len(b.Files) > 0 || len(b.Copy) > 0) {
		t.Fatalf("Build: Files and Copy go into a new context; with Context %s, put them there yourself", ctx)
	}
	if ctx == "" {
		ctx = t.TempDir()
	}
	dockerfileDir := ctx
	if b.Dockerfile != "" {
		dockerfileDir = t.TempDir()
		writeFile(t, filepath.Join(dockerfileDir, "Dockerfile"), []byte(b.Dockerfile), 0o644)
	}
	for rel, content := range b.Files {
		writeFile(t, filepath.Join(ctx, rel), content, 0o644)
	}
	for rel, src := range b.Copy {
		copyFile(t, src, filepath.Join(ctx, rel))
	}
	format := b.Output
	if format == "" {
		format = "docker"
	}
	if format != "docker" && format != "oci" {
		t.Fatalf("Build.Output %q: want docker or oci", format)
	}
	name := b.Name
	if name == "" {
		name = fmt.Sprintf("localhost/sealenv-e2e/%s:%d", imageComponent(t.Name()), n)
	}
	if err := os.MkdirAll(filepath.Join(e.Dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(e.Dir, "images", fmt.Sprintf("%d.%s.tar", n, format))
	img = Image{Name: name, Archive: dest, Format: format}
	output := fmt.Sprintf("type=%s,dest=%s,name=%s", format, dest, name)
	for _, x := range b.Export {
		output += "," + x
	}
	if b.Push != "" {
		img = Image{Name: b.Push, Format: "registry", Ref: "docker://" + b.Push}
		output = fmt.Sprintf("type=image,name=%s,push=true,registry.insecure=true", b.Push)
	}

	args = []string{"--addr", e.Addr, "build", "--progress", "plain",
		"--frontend", "dockerfile.v0",
		"--local", "context=" + ctx, "--local", "dockerfile=" + dockerfileDir,
		"--output", output,
	}
	for _, k := range sortedKeys(b.Args) {
		args = append(args, "--opt", "build-arg:"+k+"="+b.Args[k])
	}
	for _, k := range sortedKeys(b.Secrets) {
		args = append(args, "--secret", "id="+k+",env="+k)
		env = append(env, k+"="+b.Secrets[k])
	}
	for _, k := range b.EnvSecrets {
		args = append(args, "--secret", "id="+k+",env="+k)
	}
	for _, k := range sortedKeys(b.OCILayouts) {
		args = append(args, "--oci-layout", k+"="+b.OCILayouts[k])
	}
	for i, k := range sortedKeys(b.Contexts) {
		v := b.Contexts[k]
		if strings.Contains(v, "://") {
			args = append(args, "--opt", "context:"+k+"="+v)
			continue
		}
		local := fmt.Sprintf("namedctx%d", i)
		args = append(args, "--local", local+"="+v, "--opt", "context:"+k+"=local:"+local)
	}
	switch b.Provenance {
	case "":
	case "min", "max":
		args = append(args, "--opt", "attest:provenance=mode="+b.Provenance)
	default:
		t.Fatalf("Build.Provenance %q: want min or max", b.Provenance)
	}
	if b.Target != "" {
		args = append(args, "--opt", "target="+b.Target)
	}
	if b.Platform != "" {
		args = append(args, "--opt", "platform="+b.Platform)
	}
	for _, o := range b.Opts {
		args = append(args, "--opt", o)
	}
	if !b.Syntax {
		args = append(args, "--opt", "cmdline=")
	}
	if b.NoCache {
		args = append(args, "--no-cache")
	}
	env = append(env, b.WrapEnv...)
	return args, env, img
}

// archiveRef says how sealenv audit and skopeo address the tarball.
func archiveRef(path string) (string, error) {
	names, err := tarNames(path)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if n == "manifest.json" {
			return "docker-archive:" + path, nil
		}
	}
	for _, n := range names {
		if n == "index.json" {
			return "oci-archive:" + path, nil
		}
	}
	return "", fmt.Errorf("%s has neither manifest.json nor index.json", path)
}

// Load loads an image tarball into the private podman store and returns the
// name podman gave it.
func (e *Env) Load(t testing.TB, img Image) string {
	t.Helper()
	out := e.PodmanOut(t, "load", "--quiet", "--input", img.Archive)
	// "Loaded image: NAME" (one) or "Loaded image(s): A,B".
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(line, "Loaded image") {
			name := strings.TrimSpace(strings.Split(rest, ",")[0])
			if name != "" {
				return name
			}
		}
	}
	t.Fatalf("podman load %s: no image name in its output: %q", img.Archive, out)
	return ""
}
