package bundlefile

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sealenv/sealenv/internal/duration"
	"github.com/sealenv/sealenv/seal"
)

// WriteText writes the view for a person: the bundle, its signature, who
// can unwrap the data key, what changed outside sealenv, and a line per
// key with its set time and notes.
func (v *View) WriteText(w io.Writer) error {
	info := v.Info
	fmt.Fprintf(w, "bundle:       %s (%s store)\n", v.Bundle, v.Store)
	fmt.Fprintf(w, "lastmodified: %s\n", info.LastModified.UTC().Format(time.RFC3339))
	v.Signature.writeText(w)
	v.writeRecipients(w)
	v.writeState(w)
	fmt.Fprintf(w, "keys:         %d (metadata not verified without an identity)\n", len(info.Keys))
	return v.writeKeys(w)
}

// writeText prints the signature lines.
func (s *Signature) writeText(w io.Writer) {
	switch s.Status {
	case "none":
		fmt.Fprintf(w, "signature:    none (no %s)\n", s.File)
		return
	case "bad":
		fmt.Fprintf(w, "signature:    BAD: %s (%s)\n", s.Reason, s.File)
		return
	}
	who := s.Type + " " + s.Key
	if len(s.Principals) > 0 {
		who = strings.Join(s.Principals, ",") + " (" + who + ")"
	}
	fmt.Fprintf(w, "signature:    good, by %s\n", who)
	fmt.Fprintf(w, "              over the content written %s (its sops lastmodified; an SSH signature holds no time)\n", s.Content.UTC().Format(time.RFC3339))
	switch {
	case s.Allowed != nil && *s.Allowed:
		fmt.Fprintf(w, "              allowed by the signers of environment %s\n", s.Env)
	case s.Allowed != nil:
		fmt.Fprintf(w, "              NOT ALLOWED: the signers of environment %s do not allow this key\n", s.Env)
	}
}

// writeRecipients prints who can unwrap the data key, by key group.
func (v *View) writeRecipients(w io.Writer) {
	info := v.Info
	fmt.Fprintf(w, "recipients:   %d (who can unwrap the data key, every key type)\n", len(info.MasterKeys))
	if info.KeyGroups > 0 {
		fmt.Fprintf(w, "key groups:   %d, threshold %d (Shamir)\n", info.KeyGroups, info.ShamirThreshold)
	}
	for _, k := range info.MasterKeys {
		switch {
		case k.Group == seal.OutsideGroups:
			fmt.Fprintf(w, "  %s  (outside the key groups; sops ignores it, but it unwraps the data key)\n", k)
		case info.KeyGroups > 0:
			fmt.Fprintf(w, "  [group %d] %s\n", k.Group, k)
		default:
			fmt.Fprintf(w, "  %s\n", k)
		}
	}
}

// writeState prints whether sealenv recorded the bundle, and what changed
// outside it since.
func (v *View) writeState(w io.Writer) {
	info := v.Info
	switch {
	case info.MetaEncrypted:
		fmt.Fprintf(w, "sealenv:      metadata encrypted by the file's rules: set times and changes need an identity (sealenv reveal)\n")
	case !info.Recorded:
		fmt.Fprintf(w, "sealenv:      not adopted: a SOPS file sealenv has not written")
		if len(info.Unauthenticated) > 0 {
			fmt.Fprintf(w, "; nothing authenticates the names of its %s: review, then sealenv adopt %s", plural(len(info.Unauthenticated), "empty or unencrypted value"), v.Bundle)
		}
		fmt.Fprintln(w)
	case len(info.Changes) > 0:
		fmt.Fprintf(w, "changes:      %d outside sealenv since it last wrote the bundle", len(info.Changes))
		if n := len(seal.Unauthenticated(info.Changes)); n > 0 {
			fmt.Fprintf(w, "; %d NOT AUTHENTICATED: the injector refuses the bundle until a review and sealenv adopt %s", n, v.Bundle)
		}
		fmt.Fprintln(w)
	}
}

// writeKeys prints a line per key (then per key removed outside
// sealenv): its name, when it was set, and notes.
func (v *View) writeKeys(w io.Writer) error {
	info := v.Info
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	changeOf, removed := v.changes()
	lm := info.LastModified.UTC().Format(time.RFC3339)
	for i, k := range info.Keys {
		var notes []string
		switch {
		case info.Empty[i]:
			notes = append(notes, "empty")
		case !info.Encrypted[i]:
			notes = append(notes, "PLAINTEXT (unencrypted by the file's rules)")
		}
		when, more := v.keyWhen(k, changeOf, lm)
		notes = append(more.first, notes...)
		notes = append(notes, more.last...)
		shown := k
		if p := info.Paths[i]; p != k {
			shown = p // a nested key, by the dotted name set, reveal and rotate take
			notes = append(notes, "variable "+k)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", shown, when, strings.Join(notes, "; "))
	}
	for _, ch := range removed {
		note := ""
		if !ch.Authenticated {
			note = "NOT AUTHENTICATED: review, then sealenv adopt " + v.Bundle
		}
		fmt.Fprintf(tw, "  %s\tremoved by another tool at %s\t%s\n", ch.Name, lm, note)
	}
	return tw.Flush()
}

// keyNotes are notes a key's set time adds: before the notes of its
// value (a grace value's), or after them.
type keyNotes struct{ first, last []string }

// keyWhen says when key k was set (lm: the file's lastmodified), and the
// notes that go with it.
func (v *View) keyWhen(k string, changeOf map[string]seal.Change, lm string) (string, keyNotes) {
	info, now := v.Info, v.Now
	var n keyNotes
	m, ok := metaFor(info.Meta, k)
	switch ch, changed := changeOf[k]; {
	case changed && ch.Kind == seal.ChangeReencrypted:
		return fmt.Sprintf("set %s (%s ago), re-encrypted at %s", day(m.Set), duration.Age(now.Sub(m.Set)), lm), n
	case changed:
		verb := map[seal.ChangeKind]string{seal.ChangeAdded: "added", seal.ChangeFilled: "filled", seal.ChangeEmptied: "emptied"}[ch.Kind]
		if verb == "" {
			verb = "changed"
		}
		if !ch.Authenticated {
			n.last = append(n.last, "NOT AUTHENTICATED: review, then sealenv adopt "+v.Bundle)
		}
		return fmt.Sprintf("%s by another tool at %s", verb, lm), n
	case info.Recorded && !ok:
		return "set unknown", n
	case !ok:
		if slices.Contains(info.Unauthenticated, k) {
			n.last = append(n.last, "name not authenticated")
		}
		return "-", n
	case m.GraceOf != "" && m.Expires != nil:
		state := "expires"
		if info.Meta.Expired(k, now) {
			state = "EXPIRED"
		}
		n.first = append(n.first, fmt.Sprintf("grace value of %s, %s %s", m.GraceOf, state, m.Expires.UTC().Format(time.RFC3339)))
		return fmt.Sprintf("set %s", day(m.Set)), n
	case m.Set.IsZero():
		return "set unknown (added outside sealenv)", n
	case m.Set.After(now):
		return fmt.Sprintf("set %s (IN THE FUTURE: %s ahead; a wrong clock or an edited line)", day(m.Set), duration.Age(m.Set.Sub(now))), n
	}
	return fmt.Sprintf("set %s (%s ago)", day(m.Set), duration.Age(now.Sub(m.Set))), n
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// plural is "1 key", "2 keys".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
