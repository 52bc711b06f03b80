package audit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDockerfile(t *testing.T) {
	dir := t.TempDir()
	tok := "ghp_" + randString(t, alnum, 36)
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte(`# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
ARG NPM_TOKEN
ARG VERSION=1.0
ARG STRIPE_KEY_ID=abc
ENV GITHUB_TOKEN=`+tok+`
ENV DB_PASSWORD_FILE=/run/secrets/db
ENV CUSTOM_NAME=x
COPY .env /app/.env
COPY --from=build /out/app /app
COPY sealed.env /app/sealed.env
ADD id_rsa /root/.ssh/id_rsa
RUN --mount=type=secret,id=npm,env=NPM_TOKEN npm ci
`), 0o644)
	r, err := Dockerfile(df, Options{SealedNames: []string{"CUSTOM_NAME"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		rule, name string
		line       int
	}{
		{"secret-arg", "NPM_TOKEN", 3},
		{"secret-env", "GITHUB_TOKEN", 6},
		{"github-token", "", 6},
		{"secret-env", "CUSTOM_NAME", 8},
		{"copy-secret-file", ".env", 9},
		{"copy-secret-file", "sealed.env", 11},
		{"copy-secret-file", "id_rsa", 12},
	} {
		found := false
		for _, f := range r.Findings {
			if f.Rule == w.rule && f.Name == w.name && f.Line == w.line && f.Where == whereDockerfile {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %+v", w)
		}
	}
	if len(r.Findings) != 7 {
		t.Errorf("%d findings: %s", len(r.Findings), dump(t, r))
	}
	noValues(t, r, tok)
}
