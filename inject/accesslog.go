package inject

import (
	"encoding/json"
	"time"
)

// bundleLog describes one bundle in the access line.
type bundleLog struct {
	Path      string   `json:"path"`
	SHA256    string   `json:"sha256"`
	Format    string   `json:"format"`
	Recipient string   `json:"recipient"`
	Keys      []string `json:"keys"`
}

// accessLine is the JSON access line. It holds names, paths and digests,
// never a value.
type accessLine struct {
	Time      string      `json:"time"`
	Event     string      `json:"event"`
	Mode      string      `json:"mode"`
	Command   string      `json:"command"`
	Identity  string      `json:"identity"`
	Bundles   []bundleLog `json:"bundles"`
	Keys      []string    `json:"keys"`
	Files     []string    `json:"files,omitempty"`
	KeptEnv   []string    `json:"env_kept,omitempty"`
	Replaced  []string    `json:"env_replaced,omitempty"`
	Expired   []string    `json:"expired,omitempty"`
	DecryptMS float64     `json:"decrypt_ms"`
}

func (c *Config) accessLog(l *loaded, p *envPlan, path string) {
	if c.NoAccessLog {
		return
	}
	mode := "exec"
	switch {
	case c.Redact:
		mode = "redact"
	case c.Supervise:
		mode = "supervise"
	}
	line := accessLine{
		Time:      c.Now().UTC().Format(time.RFC3339Nano),
		Event:     "sealenv.inject",
		Mode:      mode,
		Command:   path,
		Identity:  l.source,
		Bundles:   l.bundles,
		Keys:      []string{},
		Files:     p.fileNames,
		KeptEnv:   p.keptEnv,
		Replaced:  p.replaced,
		Expired:   l.expired,
		DecryptMS: float64(l.decrypt.Microseconds()) / 1000,
	}
	for _, s := range p.set {
		line.Keys = append(line.Keys, s.Name)
	}
	out, err := json.Marshal(line)
	if err != nil {
		return // only strings inside
	}
	c.Stderr.Write(append(out, '\n'))
}
