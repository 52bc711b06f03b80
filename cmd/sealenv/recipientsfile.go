package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/sealenv/sealenv/internal/fsutil"
	"github.com/sealenv/sealenv/seal"
)

// recipientsFileFlag is -R FILE, as in age: a file of recipients.
func recipientsFileFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "recipients-file", Aliases: []string{"R"}, Usage: "recipients `FILE`, as age's -R: one recipient per line (age1..., ssh-..., or TYPE:ID as -r), # comments; - for stdin (repeatable)"}
}

// recipientFlags returns the keys that -r and -R name, in that order.
func (e *env) recipientFlags(c *cli.Context, stdinTaken bool) ([]seal.MasterKey, error) {
	keys, err := parseRecipients(c.StringSlice("recipient"))
	if err != nil {
		return nil, err
	}
	for _, name := range c.StringSlice("recipients-file") {
		var r io.Reader
		if name == "-" {
			if stdinTaken {
				return nil, errors.New("usage: -R - and -i - both read standard input; give one of them a file")
			}
			stdinTaken = true
			r = e.stdin
		} else {
			f, err := os.Open(name)
			if err != nil {
				return nil, fmt.Errorf("-R: %s: %w", name, fsutil.Reason(err))
			}
			defer f.Close()
			r = f
		}
		more, err := e.readRecipientsFile(displayName(name), r)
		if err != nil {
			return nil, fmt.Errorf("-R: %w", err)
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

func displayName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

// readRecipientsFile reads recipients the way age reads -R: one per line,
// lines starting with # and empty lines skipped, at most 16 MiB and 8 KiB
// a line; an SSH key of a type age cannot use is skipped with a warning.
// A malformed line is reported by its number only: a recipients file may
// be something else by mistake, even a private key.
func (e *env) readRecipientsFile(name string, r io.Reader) ([]seal.MasterKey, error) {
	const sizeLimit = 16 << 20
	const lineLimit = 8 << 10
	lr := &io.LimitedReader{R: r, N: sizeLimit + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), lineLimit+1)
	var keys []seal.MasterKey
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("%s: line %d is not valid UTF-8", name, n)
		}
		k, err := parseRecipients([]string{line})
		if err != nil {
			if t, ok := unsupportedSSHKey(line); ok {
				fmt.Fprintf(e.stderr, "sealenv: warning: %s: line %d: skipping an SSH key of type %s, which age cannot encrypt to\n", name, n, t)
				continue
			}
			if strings.HasPrefix(line, "AGE-") || strings.HasPrefix(line, "-----BEGIN") {
				return nil, fmt.Errorf("%s: line %d is a private key, not a recipient (-R takes public keys; keep the private key out of this file)", name, n)
			}
			return nil, fmt.Errorf("%s: line %d is not a recipient", name, n)
		}
		keys = append(keys, k...)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: line %d is longer than 8 KiB", name, n+1)
		}
		return nil, fmt.Errorf("%s: %w", name, fsutil.Reason(err))
	}
	if lr.N == 0 {
		return nil, fmt.Errorf("%s: larger than 16 MiB", name)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no recipients in it", name)
	}
	return keys, nil
}

// unsupportedSSHKey reports an SSH public key of a type age does not
// encrypt to (age takes ssh-ed25519 and ssh-rsa).
func unsupportedSSHKey(line string) (string, bool) {
	t, _, _ := strings.Cut(line, " ")
	switch {
	case t == "ssh-dss", strings.HasPrefix(t, "ecdsa-sha2-"), strings.HasPrefix(t, "sk-"):
		return t, true
	}
	return "", false
}

// looksLikeIdentity reports a plaintext input that is an age identity file
// or a private key, not values: age's -i is an identity, sealenv seal's -i
// is the input. Its first line that is not blank or a comment decides, so a
// key held as a value (KEY=AGE-SECRET-KEY-..., a YAML block with a PEM key)
// is a value.
func looksLikeIdentity(plain []byte) bool {
	for _, line := range bytes.Split(plain, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		return bytes.HasPrefix(line, []byte("AGE-SECRET-KEY-")) || bytes.HasPrefix(line, []byte("AGE-PLUGIN-")) ||
			bytes.HasPrefix(line, []byte("-----BEGIN")) && bytes.Contains(line, []byte("PRIVATE KEY"))
	}
	return false
}
