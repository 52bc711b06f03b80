// Command decoder-candidates measures the Go decoders that could decode
// the audit's bzip2, xz and zstd members side by side, on the same bytes,
// in one process: the library the audit uses and each candidate, in
// interleaved rounds (so that a burst of load on a shared machine falls on
// all of them), printing the best and the median round in MB of output
// per CPU-second, and in wall MB/s for a decoder that uses several cores.
//
// The input is made now: a tar of the Go tree's src/net, src/crypto and
// src/runtime (real third-party files), compressed with the real bzip2,
// xz and zstd, plus the Go tree's own regexp/testdata/re2-exhaustive.txt.bz2.
// It is its own module so that the candidates never enter sealenv's
// go.mod (docs/audit.md, "Decoders", holds the figures and the choice).
//
//	cd scripts/decoder-candidates && go run . [-mb 24] [-rounds 7]
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	stdbz "compress/bzip2"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	pbz "github.com/cosnicolaou/pbzip2"
	dsbz "github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/zstd"
	uxz "github.com/ulikunitz/xz"
	xixz "github.com/xi2/xz"
)

type decoder struct {
	name, input string
	wall        bool // uses several cores: wall MB/s is its figure
	open        func(io.Reader) (io.Reader, error)
	cpu, secs   []float64
	size        int64
}

func main() {
	mb := flag.Int("mb", 24, "MB of the Go tree to compress")
	rounds := flag.Int("rounds", 7, "interleaved rounds")
	flag.Parse()
	if err := run(*mb<<20, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "decoder-candidates:", err)
		os.Exit(2)
	}
}

func run(n, rounds int) error {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %v", err)
	}
	root := strings.TrimSpace(string(out))
	raw, err := goTree(root, n)
	if err != nil {
		return err
	}
	inputs := map[string][]byte{}
	for name, args := range map[string][]string{
		"bzip2 -9":        {"bzip2", "-9", "-c"},
		"xz -6":           {"xz", "-6", "-T1", "-c"},
		"zstd -19 --long": {"zstd", "-q", "-19", "--long", "-T1", "-c"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin = bytes.NewReader(raw)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(stderr.String()))
		}
		inputs[name] = out.Bytes()
	}
	re2, err := os.ReadFile(filepath.Join(root, "src", "regexp", "testdata", "re2-exhaustive.txt.bz2"))
	if err != nil {
		return err
	}
	inputs["re2 .bz2"] = re2
	bzip2s := func(in string) []*decoder {
		return []*decoder{
			{name: "compress/bzip2", input: in, open: func(r io.Reader) (io.Reader, error) { return stdbz.NewReader(r), nil }},
			{name: "dsnet/compress/bzip2", input: in, open: func(r io.Reader) (io.Reader, error) { return dsbz.NewReader(r, nil) }},
			{name: "pbzip2, 1 worker", input: in, open: func(r io.Reader) (io.Reader, error) {
				return pbz.NewReader(context.Background(), r, pbz.DecompressionOptions(pbz.BZConcurrency(1))), nil
			}},
			{name: "pbzip2, 2 workers", input: in, wall: true, open: func(r io.Reader) (io.Reader, error) {
				return pbz.NewReader(context.Background(), r, pbz.DecompressionOptions(pbz.BZConcurrency(2))), nil
			}},
		}
	}
	zstds := func(conc int, low bool) func(io.Reader) (io.Reader, error) {
		return func(r io.Reader) (io.Reader, error) {
			return zstd.NewReader(r, zstd.WithDecoderConcurrency(conc), zstd.WithDecoderLowmem(low), zstd.WithDecoderMaxWindow(128<<20))
		}
	}
	ds := append(bzip2s("bzip2 -9"), bzip2s("re2 .bz2")...)
	ds = append(ds,
		&decoder{name: "ulikunitz/xz", input: "xz -6", open: func(r io.Reader) (io.Reader, error) {
			return uxz.ReaderConfig{DictCap: 8 << 20}.NewReader(bufio.NewReaderSize(r, 4096))
		}},
		&decoder{name: "xi2/xz", input: "xz -6", open: func(r io.Reader) (io.Reader, error) { return xixz.NewReader(r, 0) }},
		&decoder{name: "klauspost, 1 goroutine, lowmem", input: "zstd -19 --long", open: zstds(1, true)},
		&decoder{name: "klauspost, 1 goroutine", input: "zstd -19 --long", open: zstds(1, false)},
		&decoder{name: "klauspost, 2 goroutines", input: "zstd -19 --long", wall: true, open: zstds(2, true)},
	)
	for r := 0; r < rounds; r++ {
		for _, d := range ds {
			c0, t0 := cpuTime(), time.Now()
			rd, err := d.open(bytes.NewReader(inputs[d.input]))
			if err != nil {
				return fmt.Errorf("%s on %s: %v", d.name, d.input, err)
			}
			got, err := io.Copy(io.Discard, rd)
			if err != nil {
				return fmt.Errorf("%s on %s: %v", d.name, d.input, err)
			}
			if d.size != 0 && got != d.size {
				return fmt.Errorf("%s on %s: %d bytes, then %d", d.name, d.input, d.size, got)
			}
			d.size = got
			d.cpu = append(d.cpu, (cpuTime() - c0).Seconds())
			d.secs = append(d.secs, time.Since(t0).Seconds())
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("%d rounds, %d CPUs, load %s\n", rounds, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("%-16s %-32s %9s %10s %10s %10s %10s\n", "input", "decoder", "out MB", "cpu best", "cpu median", "wall best", "wall median")
	for _, d := range ds {
		mbOut := float64(d.size) / 1e6
		cb, cm := bestMedian(d.cpu)
		wb, wm := bestMedian(d.secs)
		fmt.Printf("%-16s %-32s %9.1f %10.1f %10.1f %10.1f %10.1f\n", d.input, d.name, mbOut, mbOut/cb, mbOut/cm, mbOut/wb, mbOut/wm)
	}
	fmt.Println("(MB of decoded output per CPU-second, and per wall second)")
	return nil
}

func bestMedian(x []float64) (float64, float64) {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s[0], s[len(s)/2]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// goTree is a tar of the Go tree's src/net, src/crypto and src/runtime,
// cut at n bytes.
func goTree(root string, n int) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, sub := range []string{"net", "crypto", "runtime"} {
		err := filepath.Walk(filepath.Join(root, "src", sub), func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() || buf.Len() >= n {
				return err
			}
			h, err := tar.FileInfoHeader(fi, "")
			if err != nil {
				return err
			}
			h.Name, _ = filepath.Rel(root, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	tw.Close()
	if buf.Len() > n {
		return buf.Bytes()[:n], nil
	}
	return buf.Bytes(), nil
}
