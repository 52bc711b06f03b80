package fingerprint

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sealenv/sealenv/internal/match"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCPUCompare(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := salt(t)
	prints := map[string]string{}
	var values []match.Value
	for i := 0; i < 100; i++ {
		v := strong(t, 40)
		p, _ := Make(s, v)
		prints[fmt.Sprintf("K%d", i)] = p
		values = append(values, match.Value{Name: fmt.Sprintf("K%d", i), Value: v})
	}
	set, _ := NewSet([]Bundle{{Path: "b.env", Salt: s, Prints: prints}})
	data := filler(t, 8<<20)
	sc := match.New(values, nil, nil).Scanner()
	best := map[string]time.Duration{}
	for round := 0; round < 8; round++ {
		for _, name := range []string{"keyless", "keyed"} {
			t0 := threadCPU()
			if name == "keyless" {
				set.Search(data)
			} else {
				sc.Bytes(data, func(match.Hit) {})
			}
			d := threadCPU() - t0
			if b, ok := best[name]; !ok || d < b {
				best[name] = d
			}
		}
	}
	mb := func(d time.Duration) float64 { return float64(len(data)) / d.Seconds() / 1e6 }
	t.Logf("keyless %.0f MB/s, keyed %.0f MB/s, ratio %.2f", mb(best["keyless"]), mb(best["keyed"]), float64(best["keyless"])/float64(best["keyed"]))
}
