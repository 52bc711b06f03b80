package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	t.Parallel()
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

// The lint sees secrets passed in ways the first cut missed: ONBUILD, a
// credentials file copied out of a build stage, a mounted secret written
// to a file in the same RUN, COPY . of a context holding a plaintext
// secrets file that .dockerignore does not exclude, PAT- and AUTH-style
// names. Each has a twin that must stay quiet.
func TestDockerfileMore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN="+randString(t, alnum, 24)+"\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "conf"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf", "prod.env"), []byte("DB_PASSWORD="+randString(t, alnum, 24)+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o600)
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte(`FROM scratch AS build
ONBUILD ARG NPM_TOKEN
ONBUILD COPY .env /app/.env
ARG GH_PAT
ARG REGISTRY_AUTH
ARG OAUTH_URL
COPY --from=build /root/.npmrc /root/.npmrc
COPY --from=build /out/app /app
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
RUN --mount=type=secret,id=npmrc cp /run/secrets/npmrc /root/.npmrc
RUN --mount=type=secret,id=tok,env=TOKEN echo "$TOKEN" > /etc/token
RUN --mount=type=secret,id=tok,env=TOKEN curl -H "Authorization: $TOKEN" https://example.com > /dev/null
RUN --mount=type=secret,id=gh,env=GH git config --global url."https://${GH}@github.com/".insteadOf https://github.com/
COPY . /app
`), 0o644)
	r, err := Dockerfile(df, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type w struct {
		rule, name string
		line       int
	}
	want := []w{
		{"secret-arg", "NPM_TOKEN", 2},
		{"copy-secret-file", ".env", 3},
		{"secret-arg", "GH_PAT", 4},
		{"secret-arg", "REGISTRY_AUTH", 5},
		{"copy-secret-file", "/root/.npmrc", 7},
		{"secret-mount-persisted", "npmrc", 10},
		{"secret-mount-persisted", "tok", 11},
		{"secret-mount-persisted", "gh", 13},
		{"copy-secret-file", ".env", 14},
		{"copy-secret-file", "conf/prod.env", 14},
	}
	got := map[w]bool{}
	for _, f := range r.Findings {
		got[w{f.Rule, f.Name, f.Line}] = true
	}
	for _, x := range want {
		if !got[x] {
			t.Errorf("missing %+v", x)
		}
	}
	if len(r.Findings) != len(want) {
		t.Errorf("%d findings, want %d: %s", len(r.Findings), len(want), dump(t, r))
	}
	// .dockerignore that excludes the secrets files quiets COPY . .
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(".env\n**/*.env\n"), 0o644)
	r, err = Dockerfile(df, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Line == 14 {
			t.Errorf("excluded by .dockerignore: %+v", f)
		}
	}
}

// The text report of a Dockerfile lint names the variable and the fix, as
// the JSON report does.
func TestDockerfileText(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte("FROM scratch\nARG NPM_TOKEN\n"), 0o644)
	r, err := Dockerfile(df, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.WriteText(&b)
	if !strings.Contains(b.String(), "Dockerfile:2 NPM_TOKEN") || !strings.Contains(b.String(), "RUN --mount=type=secret,id=NPM_TOKEN") {
		t.Fatalf("text report: %q", b.String())
	}
}
