package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/audit"
)

// auditCacheFlags choose the audit's verdict cache.
func auditCacheFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cache", Usage: "keep the verdict of every layer in `DIR`, and reuse it (default: $XDG_CACHE_HOME/sealenv/audit)"},
		&cli.BoolFlag{Name: "no-cache", Usage: "search every layer, and keep no verdict"},
	}
}

// auditCache opens the verdict cache the flags name. A cache named by
// --cache must open; the default one is skipped with a warning when it
// cannot (a read-only home): the audit then searches every layer.
func (e *env) auditCache(c *cli.Context) (*audit.Cache, error) {
	dir := c.String("cache")
	if c.Bool("no-cache") {
		if dir != "" {
			return nil, errors.New("--cache and --no-cache: choose one")
		}
		return nil, nil
	}
	if dir != "" {
		cache, err := audit.OpenCache(dir)
		if err != nil {
			return nil, fmt.Errorf("--cache: %w", err)
		}
		return cache, nil
	}
	base, ok := e.getenv("XDG_CACHE_HOME")
	if !ok || !filepath.IsAbs(base) {
		home, ok := e.getenv("HOME")
		if !ok || !filepath.IsAbs(home) {
			fmt.Fprintln(e.stderr, "sealenv: warning: no verdict cache (neither $XDG_CACHE_HOME nor $HOME is set): every layer is searched; pass --cache DIR to keep verdicts")
			return nil, nil
		}
		base = filepath.Join(home, ".cache")
	}
	cache, err := audit.OpenCache(filepath.Join(base, "sealenv", "audit"))
	if err != nil {
		fmt.Fprintf(e.stderr, "sealenv: warning: %v; every layer is searched (pass --cache DIR, or --no-cache)\n", err)
		return nil, nil
	}
	return cache, nil
}
