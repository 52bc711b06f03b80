package main

import (
	"fmt"
	"strings"
)

// reportPrints tells what adopt did for an audit without an identity: the
// values of a recorded bundle whose fingerprints it renewed (missing, or
// made for a value another tool changed). A bundle sealenv had not
// recorded gets fingerprints with everything else.
func reportPrints(e *env, path string, recorded bool, renewed []string) {
	if !recorded || len(renewed) == 0 {
		return
	}
	fmt.Fprintf(e.stderr, "adopted %s: recorded the fingerprints of %s, so an audit without an identity searches them\n", path, strings.Join(renewed, ", "))
}
