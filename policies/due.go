package policies

import "time"

// ClockSkew is how far in the future a set time may be before it counts as
// in the future: clocks of two machines disagree by seconds, not minutes.
// A set time within it is a value set now.
const ClockSkew = 5 * time.Minute

// Due is where a value stands against its key's max_age: the one rule of
// sealenv check (which reports it) and rotate --due (which rotates every
// value that is not [NotDue]).
type Due int

const (
	// NotDue: younger than max_age minus warn_before, set at most
	// [ClockSkew] in the future, or the key has no max_age.
	NotDue Due = iota
	// DueUnknown: no set time is recorded (a SOPS file sealenv has not
	// adopted, a value added by another tool).
	DueUnknown
	// DueInFuture: set more than [ClockSkew] in the future (a wrong clock,
	// an edited metadata line): its age cannot be known.
	DueInFuture
	// DueSoon: within warn_before of max_age.
	DueSoon
	// DueExpired: at or past max_age.
	DueExpired
)

// Due says where a value of the key set at set (zero: unknown) stands at
// now against the rule's max_age and warn_before.
func (r KeyRule) Due(set, now time.Time) Due {
	switch old := now.Sub(set); {
	case r.MaxAge == 0:
		return NotDue
	case SetInFuture(set, now):
		return DueInFuture
	case set.IsZero():
		return DueUnknown
	case old >= r.MaxAge.D():
		return DueExpired
	case old >= r.MaxAge.D()-r.WarnBefore.D():
		return DueSoon
	}
	return NotDue
}

// SetInFuture reports a set time more than [ClockSkew] after now, whatever
// the key's rule: its age cannot be checked.
func SetInFuture(set, now time.Time) bool { return set.After(now.Add(ClockSkew)) }
