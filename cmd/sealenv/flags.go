package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/duration"
)

// durationValue is a flag value in the duration syntax of the policy
// ("72h", "90d", "2w", "1w2d"): one parser for every duration a person
// types.
type durationValue struct{ d time.Duration }

func (v *durationValue) Set(s string) error {
	d, err := duration.Parse(s)
	if err != nil {
		return err
	}
	v.d = d
	return nil
}

func (v *durationValue) String() string {
	if v == nil || v.d == 0 {
		return ""
	}
	return duration.Format(v.d)
}

// durationFlag declares a duration flag; read it with flagDuration.
func durationFlag(name, usage string) cli.Flag {
	return &cli.GenericFlag{Name: name, Usage: usage, Value: &durationValue{}}
}

// flagDuration returns the value of a flag declared by durationFlag.
func flagDuration(c *cli.Context, name string) time.Duration {
	if v, ok := c.Generic(name).(*durationValue); ok {
		return v.d
	}
	return 0
}
