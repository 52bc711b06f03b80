package audit

import (
	"os"
	"path/filepath"
	"testing"
)

// A RUN that writes its mounted secret into a cache mount is its own
// finding (the cache outlives the step and is in no image); written
// elsewhere it stays secret-mount-persisted, and a cache mount the secret
// does not reach is quiet.
func TestDockerfileCacheMount(t *testing.T) {
	t.Parallel()
	df := filepath.Join(t.TempDir(), "Dockerfile")
	os.WriteFile(df, []byte(`FROM scratch
RUN --mount=type=secret,id=npm --mount=type=cache,target=/root/.npm cp /run/secrets/npm /root/.npm/token
RUN --mount=type=secret,id=tok,env=TOKEN --mount=type=cache,target=/cache/ echo "$TOKEN" > /cache/t
RUN --mount=type=secret,id=tok,env=TOKEN --mount=type=cache,target=/cache echo "$TOKEN" > /etc/t
RUN --mount=type=secret,id=npm --mount=type=cache,target=/root/.npm npm ci
`), 0o644)
	r, err := Dockerfile(df, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type w struct {
		rule, name string
		line       int
	}
	want := map[w]bool{{"secret-cache-mount", "npm", 2}: true, {"secret-cache-mount", "tok", 3}: true, {"secret-mount-persisted", "tok", 4}: true}
	for _, f := range r.Findings {
		if !want[w{f.Rule, f.Name, f.Line}] {
			t.Errorf("unexpected %s %s at line %d", f.Rule, f.Name, f.Line)
		}
		delete(want, w{f.Rule, f.Name, f.Line})
	}
	for x := range want {
		t.Errorf("missing %+v", x)
	}
}
