package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"gopkg.in/yaml.v3"
)

// ---- JSON store ----
//
// sops reads JSON with encoding/json's token stream and UseNumber, turning
// each number into an int when it fits in 64 bits and a float64 otherwise
// (stores/json normalizeJSONNumber). This reader does exactly the same, so
// that values, their types and their MAC form agree byte for byte.

func parseJSON(data []byte) (*parsed, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, malformed("invalid JSON: %s", jsonReason(dec, err))
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, malformed("top level of a JSON bundle must be an object")
	}
	p := &parsed{}
	var metaVal any
	haveMeta := false
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, malformed("invalid JSON: %s", jsonReason(dec, err))
		}
		key, _ := k.(string)
		if key == "sops" {
			if haveMeta {
				return nil, malformed("duplicate sops metadata")
			}
			haveMeta = true
			if metaVal, err = p.jsonValue(dec, 0); err != nil {
				return nil, err
			}
			continue
		}
		if err := p.walkJSON(dec, []string{key}, key, key, 0); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, malformed("invalid JSON: %s", jsonReason(dec, err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("invalid JSON: text after the top-level object")
	}
	if !haveMeta {
		return nil, ErrNotSealed
	}
	m, ok := metaVal.(map[string]any)
	if !ok {
		return nil, malformed("sops metadata is not an object")
	}
	if err := yamlNode(m).Decode(&p.meta); err != nil {
		return nil, malformed("invalid sops metadata: %s", yamlReason(err))
	}
	return p, nil
}

// jsonReason names the byte offset of a JSON error, never the input.
func jsonReason(dec *json.Decoder, err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return "syntax error near byte " + strconv.FormatInt(dec.InputOffset(), 10)
}

// jsonScalar turns a token into the value sops would hold.
func jsonScalar(t json.Token) (any, error) {
	switch v := t.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return int(i), nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, malformed("invalid number")
		}
		return f, nil
	case string, bool, nil:
		return v, nil
	}
	return nil, malformed("unexpected JSON token")
}

// walkJSON reads one value at path into leaves, as walkYAML does.
func (p *parsed) walkJSON(dec *json.Decoder, path []string, name, dotted string, depth int) error {
	if depth > maxDepth {
		return malformed("nesting deeper than %d", maxDepth)
	}
	if p.nodes++; p.nodes > maxNodes {
		return malformed("more than %d JSON values", maxNodes)
	}
	t, err := dec.Token()
	if err != nil {
		return malformed("invalid JSON: %s", jsonReason(dec, err))
	}
	switch t {
	case json.Delim('{'):
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return malformed("invalid JSON: %s", jsonReason(dec, err))
			}
			key, _ := k.(string)
			if err := p.walkJSON(dec, append(path[:len(path):len(path)], key), name+"_"+key, dotted+"."+key, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			idx := strconv.Itoa(i)
			if err := p.walkJSON(dec, path, name+"_"+idx, dotted+"."+idx, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	default:
		v, serr := jsonScalar(t)
		if serr != nil {
			return serr
		}
		p.leaves = append(p.leaves, leaf{path: path, name: name, dotted: dotted, val: v})
	}
	if err != nil {
		return malformed("invalid JSON: %s", jsonReason(dec, err))
	}
	return nil
}

// jsonValue reads one value as plain Go values (for the metadata).
func (p *parsed) jsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, malformed("nesting deeper than %d", maxDepth)
	}
	if p.nodes++; p.nodes > maxNodes {
		return nil, malformed("more than %d JSON values", maxNodes)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, malformed("invalid JSON: %s", jsonReason(dec, err))
	}
	switch t {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, malformed("invalid JSON: %s", jsonReason(dec, err))
			}
			key, _ := k.(string)
			if m[key], err = p.jsonValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, malformed("invalid JSON: %s", jsonReason(dec, err))
		}
		return m, nil
	case json.Delim('['):
		l := []any{}
		for dec.More() {
			v, err := p.jsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, malformed("invalid JSON: %s", jsonReason(dec, err))
		}
		return l, nil
	}
	return jsonScalar(t)
}

// yamlNode builds a YAML node of a plain value, so that the metadata of
// every store decodes through one set of yaml tags.
func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for k, c := range v {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, yamlNode(c))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, c := range v {
			n.Content = append(n.Content, yamlNode(c))
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v, 'g', -1, 64)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}
