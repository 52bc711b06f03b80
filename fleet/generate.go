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
	"slices"
	"strings"
	"time"

	"github.com/sealenv/sealenv/internal/keyenv"
	"github.com/sealenv/sealenv/policies"
	"github.com/sealenv/sealenv/seal"
)

// ErrCommandRefused is returned by [Generate] for a command generator that
// was not confirmed.
var ErrCommandRefused = errors.New("the policy's generator runs a command, which was not confirmed")

// Generate makes a new value with a policy generator: nil is 32 random
// bytes as unpadded base64url; Length and Alphabet choose other random
// values.
//
// A command generator is code from the policy file, which anyone who can
// change the file in a pull request controls; so it runs only while the
// policy's pin matches the command and the files it names (else a
// [*policies.PinError]), after confirm accepts the command (nil refuses),
// in the policy's directory, with sh -c, a 30 s limit, and
// an environment without any identity or signing key variable
// (SEALENV_AGE_*, SOPS_AGE_*, SEALENV_SIGN_KEY); it is refused while this
// process's /proc/self/environ still shows one of them (see
// internal/keyenv, which sealenv's main uses to take them out).
// Its trimmed stdout is the value; its stderr is discarded (it could echo
// the value).
func Generate(g *policies.Generator, confirm func(command string) error) ([]byte, error) {
	if g == nil {
		g = &policies.Generator{}
	}
	if g.Command == "" {
		return random(g.Length, g.Alphabet)
	}
	// A command runs only as pinned: a pull request that changes the
	// command or a script it names, and not the pin beside it in the
	// policy, is refused before anyone is asked.
	if err := g.Verify(); err != nil {
		return nil, err
	}
	if confirm == nil {
		return nil, fmt.Errorf("%w: %s", ErrCommandRefused, g.Command)
	}
	if err := confirm(g.Command); err != nil {
		return nil, err
	}
	// The command may read this process's /proc/PID/environ: refuse while
	// it still shows a key variable (sealenv's main takes them out).
	shown, err := keyenv.Visible(seal.IdentityEnvVars())
	if err != nil {
		return nil, fmt.Errorf("generator command not run: %v", err)
	}
	if len(shown) > 0 {
		return nil, fmt.Errorf("generator command not run: this process's environment block (/proc/self/environ) still holds %s, which the command could read", strings.Join(shown, ", "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", g.Command)
	cmd.Dir = g.Dir() // where the pinned files were found
	cmd.Env = withoutIdentities(os.Environ())
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

// ErrValueRefused is returned by [CheckNew] for a new value that the
// key's rule in the policy refuses.
var ErrValueRefused = errors.New("the policy refuses the new value")

// CheckNew checks a new value of key (from a generator, or given by a
// person) against the key's rule in p, before it is written: a value that
// sealenv check would report as an error (its pattern, min_length, a
// placeholder) is refused, naming the rules it fails but never the value.
func CheckNew(p *policies.Policy, key string, value []byte) error {
	var why []string
	for _, prob := range p.CheckValue(key, value) {
		if prob.Severity == policies.SeverityError {
			why = append(why, prob.Message)
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrValueRefused, strings.Join(why, "; "))
}

// withoutIdentities drops every variable that holds or names an identity.
func withoutIdentities(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(seal.IdentityEnvVars(), name) || strings.HasPrefix(name, "SOPS_AGE_") || strings.HasPrefix(name, "SEALENV_AGE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
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
