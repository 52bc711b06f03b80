package policies_test

import (
	"testing"
	"time"

	"github.com/sealenv/sealenv/policies"
)

// TestDue: the one rule of check and rotate --due, at its edges: a set time
// up to the clock skew ahead is a value set now; beyond it, its age cannot
// be known; warn_before moves the edge of due, max_age that of expired.
func TestDue(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rule := policies.KeyRule{MaxAge: policies.Duration(30 * day), WarnBefore: policies.Duration(7 * day)}
	for name, tc := range map[string]struct {
		rule policies.KeyRule
		set  time.Time
		want policies.Due
	}{
		"fresh":                       {rule, now.Add(-22 * day), policies.NotDue},
		"set now":                     {rule, now, policies.NotDue},
		"two minutes ahead":           {rule, now.Add(2 * time.Minute), policies.NotDue},
		"at the clock skew":           {rule, now.Add(policies.ClockSkew), policies.NotDue},
		"past the clock skew":         {rule, now.Add(policies.ClockSkew + time.Second), policies.DueInFuture},
		"unknown":                     {rule, time.Time{}, policies.DueUnknown},
		"inside warn_before":          {rule, now.Add(-23 * day), policies.DueSoon},
		"at max_age":                  {rule, now.Add(-30 * day), policies.DueExpired},
		"past max_age":                {rule, now.Add(-31 * day), policies.DueExpired},
		"no warn_before, just before": {policies.KeyRule{MaxAge: rule.MaxAge}, now.Add(-30*day + time.Second), policies.NotDue},
		"no max_age":                  {policies.KeyRule{}, time.Time{}, policies.NotDue},
		"no max_age, far ahead":       {policies.KeyRule{}, now.Add(400 * day), policies.NotDue},
	} {
		if got := tc.rule.Due(tc.set, now); got != tc.want {
			t.Errorf("%s: Due = %d, want %d", name, got, tc.want)
		}
	}
	if policies.SetInFuture(now.Add(2*time.Minute), now) || !policies.SetInFuture(now.Add(10*time.Minute), now) {
		t.Error("SetInFuture does not allow the clock skew, or allows more")
	}
}
