package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the agent config parser: it returns an
// agent's keys or an error, and never panics.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../examples/agent/*.conf")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a1.sources = r1\na1.sinkgroups = g1 g1\na1.sinkgroups.g1.sinks = k1\na1.sources.r1.interceptors.i1.type = x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := parse("f.conf", data, "a1")
		if err != nil {
			return
		}
		for kind, names := range p.lists {
			for _, n := range names {
				c := p.comps[kind][n]
				if c == nil || c.fingerprint() == "" && len(c.keys) > 0 {
					t.Fatalf("%s %q listed but not parsed", kindName(kind), n)
				}
			}
		}
	})
}
