package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestRepeatableFlagsKeepCommas passes a value with commas and an equals
// sign to every repeatable flag of every command, twice, and checks that
// the command receives exactly the two values given. The table is the
// app's own command and flag definitions, so a new flag is covered the
// day it is added.
func TestRepeatableFlagsKeepCommas(t *testing.T) {
	values := []string{"NO_PROXY=localhost,127.0.0.1", "X=a,y=z"}
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) (string, bool) { return "", false }, now: time.Now}
	app := newApp(e)
	type slot struct {
		path []string
		flag string
	}
	var slots []slot
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			path := append(append([]string{}, prefix...), cmd.Name)
			walk(path, cmd.Subcommands)
			for _, f := range cmd.Flags {
				if !isRepeatable(f) {
					continue
				}
				slots = append(slots, slot{path, f.Names()[0]})
			}
		}
	}
	walk(nil, app.Commands)
	if len(slots) < 10 {
		t.Fatalf("only %d repeatable flags found: the walk broke", len(slots))
	}
	for _, s := range slots {
		t.Run(strings.Join(s.path, " ")+" --"+s.flag, func(t *testing.T) {
			app := newApp(e)
			cmd := commandAt(app.Commands, s.path)
			var got []string
			ran := false
			cmd.Action = func(c *cli.Context) error {
				ran = true
				got = c.StringSlice(s.flag)
				return nil
			}
			cmd.SkipFlagParsing = false
			args := append([]string{"sealenv"}, s.path...)
			for _, v := range values {
				args = append(args, "--"+s.flag, v)
			}
			if err := app.RunContext(context.Background(), permuteArgs(app, args)); err != nil {
				t.Fatalf("%v", err)
			}
			if !ran {
				t.Fatalf("the command did not run")
			}
			if !reflect.DeepEqual(got, values) {
				t.Errorf("--%s got %q, want %q", s.flag, got, values)
			}
		})
	}
}

// isRepeatable reports whether f collects every value it is given.
func isRepeatable(f cli.Flag) bool {
	switch f.(type) {
	case *cli.StringSliceFlag, *cli.IntSliceFlag, *cli.Int64SliceFlag, *cli.UintSliceFlag, *cli.Uint64SliceFlag, *cli.Float64SliceFlag:
		return true
	}
	return false
}

func commandAt(cmds []*cli.Command, path []string) *cli.Command {
	var c *cli.Command
	for _, n := range path {
		c = findCommand(cmds, n)
		cmds = c.Subcommands
	}
	return c
}
