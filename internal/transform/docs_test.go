package transform

import (
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryTransform keeps docs/transforms.md in step with the
// registry: every transform and predicate, and every key of each, is named
// there.
func TestDocsListEveryTransform(t *testing.T) {
	doc, err := os.ReadFile("../../docs/transforms.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	specs := append(PredicateSpecs(), smtSpecs...)
	specs = append(specs, TimestampSpec, HostSpec, StaticSpec, RemoveHeaderSpec, UUIDSpec, RegexFilterSpec, RegexExtractorSpec, SearchReplaceSpec)
	for _, s := range specs {
		if s.Summary == "" {
			t.Errorf("%s has no summary", s.Names[0])
		}
		name := strings.TrimSuffix(strings.TrimSuffix(s.Names[0], "$Key"), "$Value")
		if !strings.Contains(text, "`"+name) {
			t.Errorf("docs/transforms.md does not name %s", s.Names[0])
		}
		for _, k := range s.Keys {
			if !strings.Contains(text, "`"+strings.TrimSuffix(k.Name, ".*")) {
				t.Errorf("docs/transforms.md does not name key %s of %s", k.Name, s.Names[0])
			}
		}
	}
}
