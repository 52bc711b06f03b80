package duration

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"0": 0, "72h": 72 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "500ms": 500 * time.Millisecond,
		"90d": 90 * Day, "2w": 2 * Week, "1.5d": 36 * time.Hour, "1w2d": 9 * Day, "1d12h": 36 * time.Hour,
		"2d3h4m": 2*Day + 3*time.Hour + 4*time.Minute, " 3d ": 3 * Day, "+1d": Day, "0d": 0,
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"": "invalid duration", "d": "invalid duration", "soon": "invalid duration", "2": "invalid duration",
		"2x": "invalid duration", "1e3d": "invalid duration", "NaNd": "invalid duration", "Infw": "invalid duration",
		"1..5d": "invalid duration", "d2": "invalid duration", "2 d": "invalid duration",
		"-1d": "negative duration", "-1h": "negative duration",
		"20000000w": "too long", "100000000000000000000d": "too long", "2562047h+1": "invalid duration",
		"9999999999999h": "too long", "15250w15250w": "too long", ".h": "invalid duration", "1..5h": "invalid duration",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v; want an error with %q", in, err, want)
		}
	}
	if _, err := Parse("-2d"); !errors.Is(err, ErrNegative) {
		t.Errorf("Parse(-2d) = %v; want ErrNegative", err)
	}
}

func TestFormatRoundTrips(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{0: "0", 2 * Week: "2w", 90 * Day: "90d", 36 * time.Hour: "36h", 90 * time.Minute: "90m", 1500 * time.Millisecond: "1.5s"} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q; want %q", d, got, want)
		}
		if back, err := Parse(want); err != nil || back != d {
			t.Errorf("Parse(Format(%v)) = %v, %v", d, back, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"90d", "1w2d", "1h30m", "1.5d", "-1d", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %v, negative", s, d)
		}
		if back, err := Parse(Format(d)); err != nil || back != d {
			t.Fatalf("Parse(Format(Parse(%q))) = %v, %v; want %v", s, back, err, d)
		}
	})
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{-time.Hour: "0h", 0: "0h", 47*time.Hour + 59*time.Minute: "47h", 48 * time.Hour: "2d", 400 * 24 * time.Hour: "400d"} {
		if got := Age(d); got != want {
			t.Errorf("Age(%v) = %q, want %q", d, got, want)
		}
	}
}
