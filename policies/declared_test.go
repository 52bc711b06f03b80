package policies

import (
	"slices"
	"testing"
)

// TestDeclaredNamesIsCheckDeclaration: the list wrap carries into the image
// is what check's unknown-key accepts: keys:, the environment's required:,
// the keys of every service; and nothing when the policy declares no key.
func TestDeclaredNamesIsCheckDeclaration(t *testing.T) {
	t.Parallel()
	p, err := Parse("sealenv.yaml", []byte(`version: 1
environments:
  - {name: prod, bundle: prod.env, recipients: [{key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p}], required: [DB_URL]}
  - {name: dev, bundle: dev.env, recipients: [{key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p}]}
keys:
  API_TOKEN: {min_length: 20}
services:
  - {name: mailer, environments: [dev], keys: [SMTP_PASSWORD]}
`))
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := p.Env("prod")
	if got, want := p.DeclaredNames(prod), []string{"API_TOKEN", "DB_URL", "SMTP_PASSWORD"}; !slices.Equal(got, want) {
		t.Errorf("prod: %v, want %v", got, want)
	}
	for _, n := range []string{"OTHER", "DB_URL_X"} {
		if p.Declared(prod, n) || slices.Contains(p.DeclaredNames(prod), n) {
			t.Errorf("%s declared", n)
		}
	}
	bare, err := Parse("sealenv.yaml", []byte("version: 1\nenvironments:\n  - {name: prod, bundle: prod.env, recipients: [{key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := bare.Env("prod")
	if got := bare.DeclaredNames(env); got != nil {
		t.Errorf("a policy that declares nothing: %v", got)
	}
}
