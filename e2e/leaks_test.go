package e2e

// Scenario 2: leaks that must fail `sealenv audit image`, each built for
// real by BuildKit and each found with the right kind, place and location;
// and the same secret reaching RUN --mount=type=secret straight from the
// sealed bundle through `sealenv inject -- buildctl`, which is clean.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func TestScenarioLeaks(t *testing.T) {
	e := needBuildKit(t)
	f := fixture(t, e)
	probe := e.GoBuild(t, "./testdata/probe")
	token, dbURL := f.Values["API_TOKEN"], f.Values["DATABASE_URL"]

	// Every image starts with the probe in layer 0.
	build := func(t *testing.T, b Build) (Image, *Archive, ImageConfig) {
		t.Helper()
		if b.Copy == nil {
			b.Copy = map[string]string{}
		}
		b.Copy["probe"] = probe
		img := e.Build(t, b)
		f.NoValues(t, "the build log", img.Log)
		a := ReadArchive(t, img.Archive)
		return img, a, a.Config(t)
	}
	historyIndex := func(t *testing.T, cfg ImageConfig, marker string) int {
		t.Helper()
		for i, h := range cfg.History {
			if strings.Contains(h.CreatedBy, marker) {
				return i
			}
		}
		t.Fatalf("no history entry holds %q", marker)
		return -1
	}
	envIndex := func(t *testing.T, cfg ImageConfig, name string) int {
		t.Helper()
		for i, kv := range cfg.Config.Env {
			if strings.HasPrefix(kv, name+"=") {
				return i
			}
		}
		t.Fatalf("the image's Env has no %s", name)
		return -1
	}

	t.Run("build-arg", func(t *testing.T) {
		t.Parallel()
		img, _, cfg := build(t, Build{
			Dockerfile: `FROM scratch
COPY probe /probe
ARG API_TOKEN
RUN ["/probe", "write", "/built", "yes"]
`,
			Args:       map[string]string{"API_TOKEN": token},
			Provenance: "max",
		})
		if !strings.HasPrefix(img.Ref, "oci-archive:") {
			t.Errorf("Ref %q: with attestations BuildKit writes an OCI layout", img.Ref)
		}
		h := fmt.Sprintf("history[%d].created_by", historyIndex(t, cfg, "|1 API_TOKEN="))
		argField := `~\.predicate\.(invocation\.parameters|buildDefinition\.externalParameters\.request)\.args\["build-arg:API_TOKEN"\]$`
		r := f.ExpectLeak(t, img.Ref)
		r.Has(t,
			Want{Kind: "build-arg", Rule: "secret-build-arg", Where: "history", Name: "API_TOKEN", Secret: "API_TOKEN", Field: h},
			Want{Kind: "known-value", Rule: "sealed-value", Where: "history", Secret: "API_TOKEN", Field: h, Encoding: "raw"},
			Want{Kind: "build-arg", Rule: "secret-build-arg", Where: "attestation", Name: "API_TOKEN", Field: argField},
			Want{Kind: "known-value", Rule: "sealed-value", Where: "attestation", Secret: "API_TOKEN", Field: argField, Encoding: "raw"},
		)
		if len(r.Provenance) == 0 || r.Provenance[0].Mode != "max" || !contains(r.Provenance[0].BuildArgs, "API_TOKEN") {
			t.Errorf("provenance section %+v, want mode max with build arg API_TOKEN", r.Provenance)
		}
	})

	t.Run("ENV", func(t *testing.T) {
		t.Parallel()
		img, _, cfg := build(t, Build{Dockerfile: "FROM scratch\nCOPY probe /probe\nENV API_TOKEN=" + token + "\n"})
		field := fmt.Sprintf("config.Env[%d]", envIndex(t, cfg, "API_TOKEN"))
		f.ExpectLeak(t, img.Ref).Has(t,
			Want{Kind: "rule", Rule: "secret-variable", Where: "config", Name: "API_TOKEN", Secret: "API_TOKEN", Field: field},
			Want{Kind: "known-value", Rule: "sealed-value", Where: "config", Secret: "API_TOKEN", Field: field, Encoding: "raw"},
		)
	})

	t.Run("LABEL", func(t *testing.T) {
		t.Parallel()
		img, _, _ := build(t, Build{Dockerfile: "FROM scratch\nCOPY probe /probe\nLABEL org.example.upstream=\"" + dbURL + "\"\n"})
		f.ExpectLeak(t, img.Ref).Has(t,
			Want{Kind: "known-value", Rule: "sealed-value", Where: "config", Secret: "DATABASE_URL",
				Field: `config.Labels["org.example.upstream"]`, Encoding: "raw"},
		)
	})

	t.Run("COPY .env", func(t *testing.T) {
		t.Parallel()
		env := "API_TOKEN=" + token + "\nDATABASE_URL=" + dbURL + "\n"
		img, _, cfg := build(t, Build{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nCOPY .env /srv/app/.env\n",
			Files:      map[string][]byte{".env": []byte(env)},
		})
		layer := cfg.Layers[1].Digest
		f.ExpectLeak(t, img.Ref).Has(t,
			Want{Kind: "plaintext-bundle", Rule: "plaintext-bundle", Where: "layer", Path: "srv/app/.env", Layer: intp(1), LayerDigest: layer},
			Want{Kind: "known-value", Secret: "API_TOKEN", Where: "layer", Path: "srv/app/.env", Layer: intp(1), LayerDigest: layer,
				Offset: int64p(int64(len("API_TOKEN="))), Encoding: "raw"},
			Want{Kind: "known-value", Secret: "DATABASE_URL", Where: "layer", Path: "srv/app/.env", Layer: intp(1),
				Offset: int64p(int64(strings.Index(env, dbURL))), Encoding: "raw"},
		)
	})

	t.Run("deleted in the next layer", func(t *testing.T) {
		t.Parallel()
		img, a, cfg := build(t, Build{
			Dockerfile: `FROM scratch
COPY probe /probe
COPY token.txt /var/cache/app/token.txt
RUN ["/probe", "rm", "/var/cache/app/token.txt"]
`,
			Files: map[string][]byte{"token.txt": []byte(token)},
		})
		if len(cfg.Layers) != 3 {
			t.Fatalf("%d layers, want 3", len(cfg.Layers))
		}
		if _, ok := a.LayerFiles(t, cfg.Layers[2])["var/cache/app/.wh.token.txt"]; !ok {
			t.Fatalf("layer 2 has no whiteout of the file")
		}
		f.ExpectLeak(t, img.Ref).Has(t,
			Want{Kind: "known-value", Rule: "sealed-value", Secret: "API_TOKEN", Where: "layer", Path: "var/cache/app/token.txt",
				Layer: intp(1), LayerDigest: cfg.Layers[1].Digest, Offset: int64p(0), Encoding: "raw",
				DeletedIn: intp(2), DeletedInDigest: cfg.Layers[2].Digest},
		)
	})

	t.Run("base64 in a config file", func(t *testing.T) {
		t.Parallel()
		prefix := `{"upstream": {"auth": "`
		conf := prefix + base64.StdEncoding.EncodeToString([]byte(dbURL)) + `"}}` + "\n"
		img, _, cfg := build(t, Build{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nCOPY config.json /etc/app/config.json\n",
			Files:      map[string][]byte{"config.json": []byte(conf)},
		})
		f.ExpectLeak(t, img.Ref).Has(t,
			Want{Kind: "known-value", Rule: "sealed-value", Secret: "DATABASE_URL", Where: "layer", Path: "etc/app/config.json",
				Layer: intp(1), LayerDigest: cfg.Layers[1].Digest, Offset: int64p(int64(len(prefix))), Encoding: "base64"},
		)
	})

	t.Run("plaintext copy of a bundle", func(t *testing.T) {
		t.Parallel()
		// What `sops -d` of a YAML bundle gives, copied in instead of the
		// sealed file.
		yaml := "DATABASE_URL: " + dbURL + "\nAPI_TOKEN: " + token + "\n"
		img, _, cfg := build(t, Build{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nCOPY prod.secrets.yaml /etc/app/secrets.yaml\n",
			Files:      map[string][]byte{"prod.secrets.yaml": []byte(yaml)},
		})
		layer := cfg.Layers[1].Digest
		f.ExpectLeak(t, img.Ref).Has(t,
			Want{Kind: "plaintext-bundle", Where: "layer", Path: "etc/app/secrets.yaml", Layer: intp(1), LayerDigest: layer},
			Want{Kind: "known-value", Secret: "DATABASE_URL", Where: "layer", Path: "etc/app/secrets.yaml", Layer: intp(1),
				Offset: int64p(int64(len("DATABASE_URL: "))), Encoding: "raw"},
			Want{Kind: "known-value", Secret: "API_TOKEN", Where: "layer", Path: "etc/app/secrets.yaml", Layer: intp(1),
				Offset: int64p(int64(strings.Index(yaml, token))), Encoding: "raw"},
		)
	})

	// The sealed bundle itself in the image is ciphertext: clean.
	t.Run("sealed bundle is clean", func(t *testing.T) {
		t.Parallel()
		img, _, _ := build(t, Build{
			Dockerfile: "FROM scratch\nCOPY probe /probe\nCOPY prod.env /etc/sealenv/bundle.env\n",
			Copy:       map[string]string{"prod.env": f.Bundle},
		})
		f.ExpectClean(t, img.Ref)
	})

	// The right way: the value goes from the sealed bundle into buildctl's
	// environment (sealenv inject) and from there into RUN
	// --mount=type=secret. RUN sees it, and neither the image, its history
	// nor its mode=max provenance holds it.
	t.Run("RUN --mount=type=secret from sealenv inject", func(t *testing.T) {
		t.Parallel()
		img, _, _ := build(t, Build{
			Dockerfile: `FROM scratch
COPY probe /probe
RUN --mount=type=secret,id=API_TOKEN ["/probe", "sha256", "/run/secrets/API_TOKEN"]
`,
			Wrap:       []string{f.Sealenv, "inject", "--identity", f.Key, "--bundle", f.Bundle, "--"},
			EnvSecrets: []string{"API_TOKEN"},
			Provenance: "max",
			NoCache:    true,
		})
		sum := sha256.Sum256([]byte(token))
		if !strings.Contains(img.Log, hex.EncodeToString(sum[:])) {
			t.Errorf("RUN did not see the sealed API_TOKEN (its SHA-256 is not in the build log)\n%s", tail(img.Log, 20))
		}
		r := f.ExpectClean(t, img.Ref)
		if len(r.Provenance) == 0 || r.Provenance[0].Mode != "max" || !contains(r.Provenance[0].Secrets, "API_TOKEN") || len(r.Provenance[0].BuildArgs) > 0 {
			t.Errorf("provenance section %+v, want mode max, secret API_TOKEN and no build args", r.Provenance)
		}
	})
}
