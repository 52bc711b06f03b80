// Package duration parses the durations that sealenv reads from a person:
// policy fields (max_age, warn_before, grace), flags (rotate --grace) and
// variables ($SEALENV_LOCK_TIMEOUT). One parser, so that every place
// accepts the same text.
//
// # Syntax
//
// Everything [time.ParseDuration] accepts ("72h", "1h30m", "500ms"), plus
// the units d (24h) and w (7d), alone or combined with the others: "90d",
// "2w", "1.5d", "1w2d", "1d12h". A duration is never negative.
package duration

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrNegative is returned by [Parse] for a negative duration.
var ErrNegative = errors.New("negative duration")

// Day and Week are the units d and w.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// Parse reads a duration in the syntax of the package doc.
func Parse(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("%w %q", ErrNegative, s)
	}
	bad := fmt.Errorf("invalid duration %q (use 72h, 90d or 2w)", s)
	in = strings.TrimPrefix(in, "+")
	if in == "0" {
		return 0, nil
	}
	if in == "" {
		return 0, bad
	}
	var total time.Duration
	for rest := in; rest != ""; {
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return 0, bad // no number, or a number without a unit
		}
		j := strings.IndexFunc(rest[i:], func(r rune) bool { return r >= '0' && r <= '9' || r == '.' })
		if j < 0 {
			j = len(rest) - i
		}
		num, unit := rest[:i], rest[i:i+j]
		rest = rest[i+j:]
		var d time.Duration
		switch unit {
		case "d", "w":
			// num holds only digits and dots: no sign, exponent, NaN or Inf.
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, bad
			}
			u := Day
			if unit == "w" {
				u = Week
			}
			x := f * float64(u)
			if x >= math.MaxInt64 {
				return 0, fmt.Errorf("duration %q is too long", s)
			}
			d = time.Duration(x)
		default:
			var err error
			if d, err = time.ParseDuration(num + unit); err != nil {
				// A well-formed number of a known unit that time cannot
				// hold is too long; anything else is malformed.
				if _, perr := strconv.ParseFloat(num, 64); perr == nil && validUnit(unit) {
					return 0, fmt.Errorf("duration %q is too long", s)
				}
				return 0, bad
			}
		}
		if total > math.MaxInt64-d {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += d
	}
	return total, nil
}

func validUnit(u string) bool {
	switch u {
	case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		return true
	}
	return false
}

// Format writes d in the largest whole unit of the syntax that fits it:
// "90d", "2w", "36h", "90m"; what no unit divides is [time.Duration.String].
func Format(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%Week == 0:
		return strconv.FormatInt(int64(d/Week), 10) + "w"
	case d%Day == 0:
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// Age formats how old something is, in whole hours under two days and in
// whole days from then on: "5h", "12d". A negative duration is "0h"; the
// callers say "in the future" themselves.
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0h"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}
