package main

import (
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/duration"
)

// durationValue is a flag value in the duration syntax of the policy
// ("72h", "90d", "2w", "1w2d"): one parser for every duration a person
// types. It keeps the text as typed, for messages.
type durationValue struct {
	d    time.Duration
	text string
}

func (v *durationValue) Set(s string) error {
	d, err := duration.Parse(s)
	if err != nil {
		return err
	}
	v.d, v.text = d, s
	return nil
}

func (v *durationValue) String() string {
	if v == nil || v.d == 0 {
		return ""
	}
	if v.text != "" {
		return v.text
	}
	return duration.Format(v.d)
}

// durationFlag declares a duration flag; read it with flagDuration.
func durationFlag(name, usage string) cli.Flag {
	return &cli.GenericFlag{Name: name, Usage: usage, Value: &durationValue{}}
}

// flagDurationText returns a duration flag's value as the person typed it
// ("72h", never "72h0m0s").
func flagDurationText(c *cli.Context, name string) string {
	if v, ok := c.Generic(name).(*durationValue); ok {
		return v.String()
	}
	return ""
}

// plural is "1 key", "2 keys": n and a noun whose plural adds "s".
func plural[N ~int | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(int64(n), 10) + " " + noun + "s"
}

// flagDuration returns the value of a flag declared by durationFlag.
func flagDuration(c *cli.Context, name string) time.Duration {
	if v, ok := c.Generic(name).(*durationValue); ok {
		return v.d
	}
	return 0
}
