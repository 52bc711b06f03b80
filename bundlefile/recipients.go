package bundlefile

import (
	"fmt"
	"strings"

	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/recipients"
)

// RecipientsError: a write would leave the bundle of a policy environment
// wrapped to other keys than the environment lists. The policy is the whole
// list of who may decrypt; a value written to a bundle still wrapped to a
// key the policy dropped would reach whoever holds that key (a person who
// left), and one written without a key it added would not reach the
// newcomer. Nothing is written; rekeying every bundle of the policy (which
// also makes new data keys) is the way forward.
type RecipientsError struct {
	Bundle string // as the caller named it
	Env    string
	Policy string // the policy file
	// Remove are the keys the bundle is wrapped to that the environment
	// does not list; Add those it lists that the bundle lacks (short
	// forms, with the policy's owner label when it has one).
	Remove, Add []string
	// Groups: the key groups or the Shamir threshold differ.
	Groups bool
}

func (e *RecipientsError) Error() string {
	var why []string
	if len(e.Remove) > 0 {
		why = append(why, fmt.Sprintf("is wrapped to %s that environment %q of %s no longer lists (%s), so a value written now would reach %s",
			plural(len(e.Remove), "key"), e.Env, e.Policy, strings.Join(e.Remove, ", "), them(len(e.Remove))))
	}
	if len(e.Add) > 0 {
		why = append(why, fmt.Sprintf("is not wrapped to %s that environment %q lists (%s)", plural(len(e.Add), "key"), e.Env, strings.Join(e.Add, ", ")))
	}
	if e.Groups && len(why) == 0 {
		why = append(why, fmt.Sprintf("has other key groups or another threshold than environment %q of %s", e.Env, e.Policy))
	}
	return e.Bundle + ": the bundle " + strings.Join(why, ", and ")
}

func them(n int) string {
	if n == 1 {
		return "its holder"
	}
	return "their holders"
}

// CheckRecipients returns the [*RecipientsError] a write of the bundle as
// it is now would return, or nil: for a change that asks a person (sealenv
// edit), before it asks.
func (d *Draft) CheckRecipients() error {
	restore := d.Checkpoint() // Marshal drops expired values and records metadata: undone
	out, err := d.Marshal()
	restore()
	if err != nil {
		return fmt.Errorf("%s: %w", d.Path, err)
	}
	return d.checkRecipients(out)
}

// checkRecipients refuses out, the bytes a write is about to write, when
// the bundle is an environment's of a policy and out is not wrapped to
// exactly the environment's keys: the check sealenv check makes of the file
// (recipients drift), made before the file is written.
func (d *Draft) checkRecipients(out []byte) error {
	env, p, err := d.Env()
	if err != nil || env == nil {
		return err
	}
	// Names are not this check's concern (a write that renames or removes a
	// key sops edit added still holds the others).
	info, err := seal.InspectAnyNames(d.Format(), out)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Path, err)
	}
	drift := env.Drift(info)
	if len(drift.Add) == 0 && len(drift.Remove) == 0 && !drift.Groups {
		return nil
	}
	re := &RecipientsError{Bundle: d.Path, Env: env.Name, Policy: p.Path, Groups: drift.Groups}
	for _, k := range drift.Remove {
		re.Remove = append(re.Remove, keyName(k))
	}
	for _, k := range drift.Add {
		re.Add = append(re.Add, keyName(k))
	}
	return re
}

func keyName(k policies.KeyChange) string {
	s := recipients.Short(k.Key.String())
	if k.Owner != "" {
		s += " (" + k.Owner + ")"
	}
	return s
}
