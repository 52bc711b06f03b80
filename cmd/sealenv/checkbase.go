package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/policies"
)

// checkBaseFlags are check's flags for reviewing a change of the policy.
func checkBaseFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "base", Usage: "also report what the policy change since git `REF` (a pull request's base) does to trust"},
		&cli.StringFlag{Name: "trust-changes", Value: "error", Usage: "severity of what --base reports: `error` (exit 1) or warning"},
	}
}

// trustChanges is what --base REF reports: nil without it.
func trustChanges(c *cli.Context, p *policies.Policy) ([]policies.Violation, error) {
	sev := policies.Severity(c.String("trust-changes"))
	if sev != policies.SeverityError && sev != policies.SeverityWarning {
		return nil, fmt.Errorf("--trust-changes: unknown severity %q (want error or warning)", sev)
	}
	ref := c.String("base")
	if ref == "" {
		return nil, nil
	}
	base, err := policies.LoadBase(p, ref)
	if err != nil {
		return nil, fmt.Errorf("--base: %w", err)
	}
	return p.TrustChanges(base.Policy, policies.TrustOptions{Base: ref, Severity: sev, AddedBy: base.AddedBy})
}
