package seal_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sealenv/sealenv/seal"
)

// TestAliasExpansionIsBounded: a 300-byte YAML file whose aliases expand to
// 10^7 values is rejected as malformed instead of exhausting CPU and memory.
func TestAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	var y strings.Builder
	y.WriteString("a: &a [x,x,x,x,x,x,x,x,x,x]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		y.WriteString(n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 10), ",") + "]\n")
		prev = n
	}
	y.WriteString("sops:\n  mac: x\n  lastmodified: '2020-01-01T00:00:00Z'\n")
	_, err := seal.Inspect(seal.FormatYAML, []byte(y.String()))
	if !errors.Is(err, seal.ErrMalformed) || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("alias bomb: %v", err)
	}
}
