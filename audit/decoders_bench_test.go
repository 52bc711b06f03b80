//go:build unix

package audit

import (
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// decoderCase is one compressed input of BenchmarkDecoders: what the real
// tool wrote, the audit's format, and how the tool decodes it again.
type decoderCase struct {
	name   string   // "xz -6"
	format int      // fmtXz
	tool   []string // {"xz", "-dc"}
	data   []byte   // compressed
	size   int64    // decoded
}

// decoderCases compresses about 12 MB of the Go tree's files (sources,
// binaries, test data) with the real xz, bzip2 and zstd at the levels
// images use, and adds the Go tree's largest bzip2 file as it ships (the
// regexp corpus that is most of the audit-speed image's decoding).
func decoderCases(b *testing.B) []decoderCase {
	raw := corpus(b, 12<<20)
	specs := []struct {
		name   string
		format int
		enc    []string
		dec    []string
	}{
		{"xz -6", fmtXz, []string{"xz", "-6", "-T1", "-c"}, []string{"xz", "-dc"}},
		{"xz -9", fmtXz, []string{"xz", "-9", "-T1", "-c"}, []string{"xz", "-dc"}},
		{"bzip2 -9", fmtBzip2, []string{"bzip2", "-9", "-c"}, []string{"bzip2", "-dc"}},
		{"zstd -19 --long", fmtZstd, []string{"zstd", "-q", "-19", "--long", "-T1", "-c"}, []string{"zstd", "-q", "-dc", "--long=27"}},
		{"zstd -3", fmtZstd, []string{"zstd", "-q", "-3", "-c"}, []string{"zstd", "-q", "-dc"}},
	}
	cases := make([]decoderCase, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		path := peer(b, s.enc[0])
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(path, s.enc[1:]...)
			cmd.Stdin = bytes.NewReader(raw)
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("%s: %v: %s", s.name, err, stderr.Bytes())
				return
			}
			cases[i] = decoderCase{s.name, s.format, append([]string{path}, s.dec[1:]...), out.Bytes(), int64(len(raw))}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	re2 := filepath.Join(goroot(b), "src", "regexp", "testdata", "re2-exhaustive.txt.bz2")
	if data, err := os.ReadFile(re2); err == nil {
		n, err := io.Copy(io.Discard, bzip2.NewReader(bytes.NewReader(data)))
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, decoderCase{"go tree re2-exhaustive.txt.bz2", fmtBzip2, []string{peer(b, "bzip2"), "-dc"}, data, n})
	}
	return cases
}

// cpuTime is the CPU time this process has used, every thread.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecoders times each decoder the audit uses for an xz, bzip2 or
// zstd member (through decompressor, as a layer or a nested file is
// opened) beside the command-line tool on the same bytes, in one run.
// Besides MB/s of decoded output (wall clock), each reports MB/cpu-s: on
// a shared machine the CPU time is the steadier figure.
// scripts/bench-audit.sh prints them side by side.
func BenchmarkDecoders(b *testing.B) {
	lim := &limits{window: defaultMaxWindow}
	for _, c := range decoderCases(b) {
		b.Run(c.name+"/sealenv", func(b *testing.B) {
			b.SetBytes(c.size)
			b.ReportAllocs()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				r, err := decompressor(c.format, bytes.NewReader(c.data), lim)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, r)
				if err != nil || n != c.size {
					b.Fatalf("decoded %d bytes of %d: %v", n, c.size, err)
				}
				if cl, ok := r.(io.Closer); ok {
					cl.Close()
				}
			}
			b.ReportMetric(float64(c.size)*float64(b.N)/1e6/(cpuTime()-cpu).Seconds(), "MB/cpu-s")
		})
		// The tool reads a file and writes to /dev/null (`xz -dc FILE
		// >/dev/null`), so that piping is not counted against it; its
		// exit status says it decoded the whole stream.
		b.Run(c.name+"/tool", func(b *testing.B) {
			null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer null.Close()
			in := filepath.Join(b.TempDir(), "in")
			if err := os.WriteFile(in, c.data, 0o600); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(c.size)
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(c.tool[0], append(append([]string(nil), c.tool[1:]...), in)...)
				var stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = null, &stderr
				if err := cmd.Run(); err != nil {
					b.Fatalf("%v: %v: %s", c.tool, err, stderr.Bytes())
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(float64(c.size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
		})
	}
}
