package audit

import (
	"encoding/base64"
	"testing"
)

func TestBuildArgs(t *testing.T) {
	t.Parallel()
	sealed := randString(t, alnum, 24)
	gh := "ghp_" + randString(t, alnum, 36)
	opts := Options{Values: []Value{{Name: "API_TOKEN", Value: []byte(sealed)}}, SealedNames: []string{"API_TOKEN", "DB_URL"}}

	type want struct{ kind, rule, secret, field, encoding string }
	for _, tc := range []struct {
		name string
		args map[string]string
		want []want
	}{
		{"clean", map[string]string{"VERSION": "1.2.3", "GOFLAGS": "-trimpath", "NPM_TOKEN": "${NPM_TOKEN}", "DB_PASSWORD_FILE": "/run/secrets/db"}, nil},
		{"sealed value under an innocent name", map[string]string{"VERSION": sealed}, []want{
			{kindKnown, "sealed-value", "API_TOKEN", "VERSION", "raw"},
		}},
		{"sealed value, base64", map[string]string{"BLOB": base64.StdEncoding.EncodeToString([]byte("x" + sealed + "y"))}, []want{
			{kindKnown, "sealed-value", "API_TOKEN", "BLOB", "base64"},
		}},
		{"sealed value under its own name", map[string]string{"API_TOKEN": sealed}, []want{
			{kindBuildArg, "secret-build-arg", "API_TOKEN", "API_TOKEN", ""},
			{kindKnown, "sealed-value", "API_TOKEN", "API_TOKEN", "raw"},
		}},
		{"a credential a rule knows", map[string]string{"GIT_URL": "https://x:" + gh + "@github.com/o/r"}, []want{
			{kindRule, "github-token", "", "GIT_URL", ""},
			{kindRule, "connection-string-password", "", "GIT_URL", ""},
		}},
		{"secret-named with a value", map[string]string{"NPM_TOKEN": randString(t, alnum, 20)}, []want{
			{kindBuildArg, "secret-build-arg", "", "NPM_TOKEN", ""},
		}},
		{"sealed name with a value", map[string]string{"DB_URL": "postgres-main"}, []want{
			{kindBuildArg, "secret-build-arg", "DB_URL", "DB_URL", ""},
		}},
		{"sealed value as the name", map[string]string{sealed: "1"}, []want{
			{kindKnown, "sealed-value", "API_TOKEN", "[REDACTED]", "raw"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := BuildArgs(tc.args, opts)
			if !r.Coverage.Complete || r.Coverage.KnownValues != 1 {
				t.Errorf("coverage %+v, want complete with 1 known value", r.Coverage)
			}
			for _, w := range tc.want {
				found := false
				for _, f := range r.Findings {
					if f.Kind == w.kind && f.Rule == w.rule && f.Secret == w.secret && f.Field == w.field && f.Where == whereBuildArg &&
						(w.encoding == "" || f.Encoding == w.encoding) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing %+v in %s", w, dump(t, r))
				}
			}
			if len(r.Findings) != len(tc.want) {
				t.Errorf("%d findings, want %d: %s", len(r.Findings), len(tc.want), dump(t, r))
			}
			if r.Clean() != (len(tc.want) == 0) {
				t.Errorf("Clean() = %v", r.Clean())
			}
			noValues(t, r, sealed, gh)
		})
	}
}

// The policy's allowlist applies to build arguments as to everything else.
func TestBuildArgsAllow(t *testing.T) {
	t.Parallel()
	r := BuildArgs(map[string]string{"NPM_TOKEN": randString(t, alnum, 20)},
		Options{Allow: []Allow{{Rule: "secret-build-arg", Reason: "a test"}}})
	if !r.Clean() || len(r.Suppressed) != 1 {
		t.Errorf("want the finding suppressed: %s %+v", dump(t, r), r.Suppressed)
	}
}
