package e2e

// BenchmarkSealBuild times `sealenv build` against the pipeline it
// replaces, `sealenv inject -- buildctl build` then `sealenv audit image`,
// on the same Dockerfile, context and secret, both writing an oci-archive.
// Each iteration runs both, in alternating order, so that the load of a
// shared machine falls on both alike; the figures are the minimum and the
// median wall time per pipeline (docs/build.md):
//
//	go test ./e2e/ -run '^$' -bench SealBuild -benchtime 7x

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func BenchmarkSealBuild(b *testing.B) {
	e := needBuildKit(b)
	f := fixture(b, e)
	ctx := b.TempDir()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal(err)
	}
	// The Go tree's sources, a sizeable context.
	linkTree(b, filepath.Join(strings.TrimSpace(string(out)), "src"), filepath.Join(ctx, "src"), nil)
	copyFile(b, e.GoBuild(b, "./testdata/probe"), filepath.Join(ctx, "probe"))
	dockerfile := `FROM scratch
COPY probe /probe
COPY src /src
RUN --mount=type=secret,id=API_TOKEN ["/probe", "hash-file", "/run/secrets/API_TOKEN", "/token.sha256"]
`
	writeFile(b, filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644)
	// The tree's test keys are plaintext secrets files: the lint would
	// stop the build (rightly). What is left is 126 MB.
	writeFile(b, filepath.Join(ctx, ".dockerignore"), []byte("**/testdata\nsrc/crypto/x509/platform_root_*.pem\n"), 0o644)
	outDir := b.TempDir()
	env := append(cleanEnv(f.Home), "SEALENV_AGE_KEY_FILE="+f.Key)

	run := func(name string, argv []string, extra ...string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = ctx
		cmd.Env = append(append([]string{}, env...), extra...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v: %s", name, err, tail(string(out), 10))
		}
	}
	sealenvBuild := func(noCache bool) {
		dest := filepath.Join(outDir, "sealenv.tar")
		os.Remove(dest)
		args := []string{f.Sealenv, "build", "--addr", e.Addr, "--bundle", f.Bundle, "--progress", "quiet",
			"--report", os.DevNull, "-o", "oci-archive:" + dest}
		if noCache {
			args = append(args, "--no-cache")
		}
		run("sealenv build", append(args, ctx))
	}
	buildctlAudit := func(noCache bool) {
		dest := filepath.Join(outDir, "buildctl.tar")
		os.Remove(dest)
		args := []string{f.Sealenv, "inject", "--bundle", f.Bundle, "--", e.Buildctl, "--addr", e.Addr,
			"build", "--progress", "quiet", "--frontend", "dockerfile.v0",
			"--local", "context=" + ctx, "--local", "dockerfile=" + ctx,
			"--secret", "id=API_TOKEN,env=API_TOKEN", "--output", "type=oci,dest=" + dest}
		if noCache {
			args = append(args, "--no-cache")
		}
		run("inject -- buildctl build", args)
		run("sealenv audit image", []string{f.Sealenv, "audit", "image", "--bundle", f.Bundle, "--output", os.DevNull, "oci-archive:" + dest})
	}

	for _, noCache := range []bool{false, true} {
		name := "cached"
		if noCache {
			name = "no-cache"
		}
		b.Run(name, func(b *testing.B) {
			// One untimed round fills the cache (and BuildKit's copy of
			// the context) for both.
			sealenvBuild(false)
			buildctlAudit(false)
			var gate, pipe []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				steps := []func(){
					func() { t0 := time.Now(); sealenvBuild(noCache); gate = append(gate, time.Since(t0)) },
					func() { t0 := time.Now(); buildctlAudit(noCache); pipe = append(pipe, time.Since(t0)) },
				}
				if i%2 == 1 {
					slices.Reverse(steps)
				}
				for _, s := range steps {
					s()
				}
			}
			b.StopTimer()
			report := func(unit string, d []time.Duration) {
				slices.Sort(d)
				b.ReportMetric(d[0].Seconds(), unit+"-min-s")
				b.ReportMetric(d[len(d)/2].Seconds(), unit+"-median-s")
			}
			report("sealenv-build", gate)
			report("buildctl+audit", pipe)
		})
	}
}
