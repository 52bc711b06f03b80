// Package fleet runs operations over every bundle of a policy: the rekey
// plan and [RekeyAll] (offboarding), [RotateDue] (values at or past their
// max_age) and [Generate] (a new value by a key's generator). It sits above
// [github.com/sealenv/sealenv/policies] and
// [github.com/sealenv/sealenv/seal/author]; neither imports it.
//
// Every write is all-or-nothing across bundles: all of them are decrypted
// and re-encrypted in memory first, and written only when every one
// succeeded.
package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
	"github.com/sealenv/sealenv/seal/author"
)

// RekeyPlan says what `sealenv rekey --all` does to one environment.
type RekeyPlan struct {
	Env     string
	Bundle  string   // path relative to the policy root
	Add     []string // recipients the bundle is not wrapped to yet ("key (owner)")
	Remove  []string // recipients the policy dropped
	Exposed []string // keys the removed recipients could read: rotate them next
}

// PlanRekeyAll compares every environment's bundle with the policy. It
// needs no identity.
func PlanRekeyAll(p *policies.Policy) ([]RekeyPlan, error) {
	var plans []RekeyPlan
	for i := range p.Environments {
		env := &p.Environments[i]
		path := p.BundlePath(env)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env.Bundle, fsutil.Reason(err))
		}
		f, err := seal.DetectFormat(path, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env.Bundle, err)
		}
		info, err := seal.Inspect(f, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env.Bundle, err)
		}
		plan := RekeyPlan{Env: env.Name, Bundle: env.Bundle}
		have := map[string]bool{}
		for _, r := range info.Recipients {
			have[r] = true
		}
		want := map[string]bool{}
		for _, r := range env.Recipients {
			k := strings.TrimSpace(r.Key)
			want[k] = true
			if !have[k] {
				plan.Add = append(plan.Add, labelled(k, r.Owner))
			}
		}
		for _, r := range info.Recipients {
			if !want[r] {
				plan.Remove = append(plan.Remove, r)
			}
		}
		if len(plan.Remove) > 0 {
			plan.Exposed = info.Keys
		}
		plans = append(plans, plan)
	}
	return plans, nil
}

func labelled(key, owner string) string {
	if owner == "" {
		return key
	}
	return key + " (" + owner + ")"
}

// RekeyAll brings every bundle to its environment's recipients with a new
// data key. It decrypts and re-encrypts everything in memory first and
// writes nothing unless every bundle succeeded; the writes themselves are
// all-or-nothing.
func RekeyAll(p *policies.Policy, ids []age.Identity, now func() time.Time) ([]RekeyPlan, error) {
	plans, err := PlanRekeyAll(p)
	if err != nil {
		return nil, err
	}
	var paths []string
	var outs [][]byte
	for i := range p.Environments {
		env := &p.Environments[i]
		path := p.BundlePath(env)
		b, err := loadFile(path, ids, now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
		err = b.SetKeys(env.Keys(), env.KMS, env.PGP)
		if err == nil {
			var out []byte
			out, err = b.Marshal()
			paths, outs = append(paths, path), append(outs, out)
		}
		b.Zero()
		if err != nil {
			return nil, fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
	}
	if err := fsutil.WriteFilesAtomic(paths, outs); err != nil {
		return nil, err
	}
	return plans, nil
}

// Rotation is one value rotated, or due, by [RotateDue].
type Rotation struct {
	Env, Bundle, Key string
	Age              time.Duration
	Grace            time.Duration
	// Manual is set for a due key without a generator in the policy: a
	// database URL or a vendor-issued token cannot be replaced with random
	// bytes, so it is listed, not rotated.
	Manual bool
}

// RotateDue rotates every value at or past max_age minus warn_before, with
// the key's generator and grace period from the policy. With dryRun it only
// reports. Writes are all-or-nothing across bundles.
func RotateDue(p *policies.Policy, ids []age.Identity, envName string, now func() time.Time, dryRun bool) ([]Rotation, error) {
	if envName != "" {
		if _, err := p.Env(envName); err != nil {
			return nil, err
		}
	}
	var done []Rotation
	var paths []string
	var outs [][]byte
	for i := range p.Environments {
		env := &p.Environments[i]
		if envName != "" && env.Name != envName {
			continue
		}
		path := p.BundlePath(env)
		b, err := loadFile(path, ids, now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
		var due []Rotation
		meta := b.Meta()
		for _, k := range b.Names() {
			m := meta[k]
			r := p.Rule(k)
			if m.GraceOf != "" || r.MaxAge == 0 {
				continue
			}
			old := now().Sub(m.Set)
			if m.Set.IsZero() || old >= r.MaxAge.D()-r.WarnBefore.D() {
				due = append(due, Rotation{Env: env.Name, Bundle: env.Bundle, Key: k, Age: old, Grace: r.Grace.D(), Manual: r.Generator == nil})
			}
		}
		auto := 0
		for _, d := range due {
			if !d.Manual {
				auto++
			}
		}
		if auto == 0 || dryRun {
			done = append(done, due...)
			b.Zero()
			continue
		}
		for _, d := range due {
			if d.Manual {
				continue
			}
			v, err := Generate(p.Rule(d.Key).Generator)
			if err == nil {
				err = b.Rotate(d.Key, v, d.Grace)
				clear(v)
			}
			if err != nil {
				b.Zero()
				return nil, fmt.Errorf("%s: rotating %s: %w; no bundle was changed", env.Bundle, d.Key, err)
			}
		}
		out, err := b.Marshal()
		b.Zero()
		if err != nil {
			return nil, fmt.Errorf("%s: %w; no bundle was changed", env.Bundle, err)
		}
		paths, outs = append(paths, path), append(outs, out)
		done = append(done, due...)
	}
	if len(paths) > 0 {
		if err := fsutil.WriteFilesAtomic(paths, outs); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].Env < done[j].Env })
	return done, nil
}

// Generate makes a new value with a policy generator: nil is 32 random
// bytes as unpadded base64url; Length and Alphabet choose other random
// values. A command generator runs with sh -c and its trimmed stdout is the
// value; its stderr is discarded (it could echo the value).
func Generate(g *policies.Generator) ([]byte, error) {
	if g == nil {
		g = &policies.Generator{}
	}
	if g.Command == "" {
		return random(g.Length, g.Alphabet)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", g.Command)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		clear(out.Bytes())
		return nil, fmt.Errorf("generator command failed: %v", err)
	}
	v := bytes.TrimSpace(out.Bytes())
	if len(v) == 0 {
		return nil, errors.New("generator command printed nothing")
	}
	return v, nil
}

// random returns n random bytes as base64url (the default) or hex, or n
// random alphanumeric characters (0: 32).
func random(n int, alphabet string) ([]byte, error) {
	if n == 0 {
		n = 32
	}
	if n < 16 || n > 4096 {
		return nil, fmt.Errorf("generator length %d is outside 16..4096", n)
	}
	switch alphabet {
	case "", "base64url", "hex":
		raw := make([]byte, n)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		defer clear(raw)
		if alphabet == "hex" {
			out := make([]byte, hex.EncodedLen(n))
			hex.Encode(out, raw)
			return out, nil
		}
		out := make([]byte, base64.RawURLEncoding.EncodedLen(n))
		base64.RawURLEncoding.Encode(out, raw)
		return out, nil
	case "alnum":
		const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		out := make([]byte, n)
		limit := big.NewInt(int64(len(chars)))
		for i := range out {
			j, err := rand.Int(rand.Reader, limit)
			if err != nil {
				return nil, err
			}
			out[i] = chars[j.Int64()]
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown alphabet %q (want base64url, hex or alnum)", alphabet)
}

func loadFile(path string, ids []age.Identity, now func() time.Time) (*author.Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fsutil.Reason(err)
	}
	f, err := seal.DetectFormat(path, data)
	if err != nil {
		return nil, err
	}
	b, err := author.Load(f, data, ids)
	if err != nil {
		return nil, err
	}
	b.Now = now
	return b, nil
}
