package audit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	provenance "github.com/moby/buildkit/solver/llbsolver/provenance/types"

	"github.com/sealenv/sealenv/audit/internal/creds"
	"github.com/sealenv/sealenv/audit/internal/transport"
	"github.com/sealenv/sealenv/internal/lazyregexp"
	"github.com/sealenv/sealenv/internal/match"
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// config searches every string of an image config, and checks Env and the
// build arguments recorded in history.
func (a *auditor) config(raw []byte, image string) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		a.incomplete("%s: config: %v", image, err)
		return
	}
	walkJSON(doc, "", func(field, s string) {
		where := whereConfig
		if strings.HasPrefix(field, "history") {
			where = whereHistory
		}
		a.searchString(s, where, image, field)
	})
	var c v1.ConfigFile
	if err := json.Unmarshal(raw, &c); err != nil {
		return
	}
	for i, e := range c.Config.Env {
		k, v, _ := strings.Cut(e, "=")
		a.variable(k, v, whereConfig, kindRule, image, fmt.Sprintf("config.Env[%d]", i))
	}
	for i, h := range c.History {
		field := fmt.Sprintf("history[%d].created_by", i)
		for _, kv := range buildArgs(h.CreatedBy) {
			a.variable(kv[0], kv[1], whereHistory, kindBuildArg, image, field)
		}
	}
}

// variable reports a variable whose name says secret, or is a sealed key,
// and whose value is not a placeholder.
func (a *auditor) variable(name, value, where, kind, image, field string) {
	sealed := a.d.sealed[name]
	if (!sealed && !creds.IsSecretName(name)) || creds.IsPlaceholder(value) {
		return
	}
	f := Finding{Kind: kind, Severity: "high", Where: where, Image: image, Field: field, Name: name, Preview: match.Preview([]byte(value))}
	switch {
	case kind == kindBuildArg:
		f.Rule = "secret-build-arg"
		f.Message = fmt.Sprintf("build argument %s is recorded with its value; pass secrets with RUN --mount=type=secret,id=%s", name, name)
	default:
		f.Rule = "secret-variable"
		f.Message = fmt.Sprintf("%s holds a value; provide it at run time (sealenv-inject) instead of baking it into the image", name)
	}
	if sealed {
		f.Secret = name
		f.Message += " (the name of a sealed key)"
	}
	a.add(f)
}

var buildArgHead = lazyregexp.New(`^(?:RUN )?\|(\d+) `)

// buildArgs parses the "|N KEY=value ..." record that docker build and
// BuildKit put before a RUN step's command in history.
func buildArgs(createdBy string) [][2]string {
	m := buildArgHead().FindStringSubmatch(createdBy)
	if m == nil {
		return nil
	}
	n, _ := strconv.Atoi(m[1])
	rest := createdBy[len(m[0]):]
	var out [][2]string
	for i := 0; i < n && rest != ""; i++ {
		tok := rest
		if j := strings.Index(rest, " "); j >= 0 {
			tok, rest = rest[:j], rest[j+1:]
		} else {
			rest = ""
		}
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			break
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

// walkJSON calls fn with the path and value of every string in v.
func walkJSON(v any, p string, fn func(field, s string)) {
	switch t := v.(type) {
	case string:
		fn(p, t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q := k
			if p != "" {
				q = p + "." + k
			}
			if !identRe().MatchString(k) {
				q = p + "[" + strconv.Quote(k) + "]"
			}
			walkJSON(t[k], q, fn)
		}
	case []any:
		for i, c := range t {
			walkJSON(c, fmt.Sprintf("%s[%d]", p, i), fn)
		}
	}
}

var identRe = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_]*$`)

// attestation reads an attestation manifest: in-toto statements, bare or
// in DSSE envelopes. Every string is searched; BuildKit provenance is
// decoded for its build arguments, secrets and mode.
func (a *auditor) attestation(ctx context.Context, d v1.Descriptor, field string) {
	raw, err := transport.Manifest(ctx, a.st, d)
	if err != nil {
		a.incomplete("%s: attestation manifest: %v", field, err)
		return
	}
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		a.incomplete("%s: attestation manifest: %v", field, err)
		return
	}
	subject := d.Annotations["vnd.docker.reference.digest"]
	label := "attestation for " + subject
	from := len(a.rep.Findings)
	a.annotations(m.Annotations, label, "manifest.annotations")
	a.rawDoc(raw, whereAttestation, label, "manifest", from)
	for i, l := range m.Layers {
		lf := fmt.Sprintf("layers[%d]", i)
		b, err := a.readBlob(ctx, l)
		if err != nil {
			a.incomplete("%s: %s: %v", label, lf, err)
			continue
		}
		a.rep.Coverage.Attestations++
		from := len(a.rep.Findings)
		a.annotations(l.Annotations, label, lf+".annotations")
		stmt := b
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if json.Unmarshal(b, &env) == nil && env.Payload != "" {
			if p, err := base64.StdEncoding.DecodeString(env.Payload); err == nil {
				stmt = p
				lf += ".payload"
			}
		}
		var doc any
		if err := json.Unmarshal(stmt, &doc); err != nil {
			a.searchString(string(stmt), whereAttestation, label, lf)
		} else {
			walkJSON(doc, lf, func(f, s string) { a.searchString(s, whereAttestation, label, f) })
			a.provenance(stmt, label, lf)
			a.rawDoc(stmt, whereAttestation, label, lf, from)
		}
		if len(stmt) != len(b) || &stmt[0] != &b[0] {
			a.rawDoc(b, whereAttestation, label, fmt.Sprintf("layers[%d]", i), from)
		}
	}
}

func (a *auditor) provenance(stmt []byte, label, field string) {
	var st struct {
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if json.Unmarshal(stmt, &st) != nil || !strings.Contains(st.PredicateType, "slsa.dev/provenance") {
		return
	}
	p := Provenance{Image: label, PredicateType: st.PredicateType, Mode: "min"}
	var params provenance.Parameters
	var argsField string
	if strings.HasSuffix(st.PredicateType, "/v0.2") {
		var pr provenance.ProvenancePredicateSLSA02
		if json.Unmarshal(st.Predicate, &pr) != nil {
			return
		}
		params = pr.Invocation.Parameters
		argsField = field + ".predicate.invocation.parameters.args"
		if pr.BuildConfig != nil {
			p.Mode = "max"
		}
	} else {
		var pr provenance.ProvenancePredicateSLSA1
		if json.Unmarshal(st.Predicate, &pr) != nil {
			return
		}
		params = pr.BuildDefinition.ExternalParameters.Request
		argsField = field + ".predicate.buildDefinition.externalParameters.request.args"
		if pr.BuildDefinition.InternalParameters.BuildConfig != nil {
			p.Mode = "max"
		}
	}
	keys := make([]string, 0, len(params.Args))
	for k := range params.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n, ok := strings.CutPrefix(k, "build-arg:")
		if !ok {
			continue
		}
		p.BuildArgs = append(p.BuildArgs, n)
		a.variable(n, params.Args[k], whereAttestation, kindBuildArg, label, argsField+"["+strconv.Quote(k)+"]")
	}
	for _, s := range params.Secrets {
		if s != nil {
			p.Secrets = append(p.Secrets, s.ID)
		}
	}
	a.mu.Lock()
	a.rep.Provenance = append(a.rep.Provenance, p)
	a.mu.Unlock()
}
