package transform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// Predicate decides whether a transform applies to a record (Kafka
// Connect's predicates, KIP-585).
type Predicate interface {
	Test(e flow.Event) bool
}

// PredicateFunc adapts a function to Predicate.
type PredicateFunc func(flow.Event) bool

// Test calls f.
func (f PredicateFunc) Test(e flow.Event) bool { return f(e) }

// Predicate config keys (Kafka's names).
const (
	TopicNameMatchesPattern = "pattern"
	HasHeaderKeyName        = "name"
)

type predicateReg struct {
	spec  flow.Spec
	build func(flow.Config) (Predicate, error)
}

// predicateRegistry maps the lower-cased names to predicates; written only
// by init.
var predicateRegistry = map[string]*predicateReg{}

const kafkaPredicates = "org.apache.kafka.connect.transforms.predicates."

func registerPredicate(class, summary string, keys []flow.Key, build func(flow.Config) (Predicate, error)) {
	r := &predicateReg{spec: flow.Spec{Kind: flow.KindTransform, Names: []string{class, kafkaPredicates + class}, Summary: summary, Keys: keys}, build: build}
	for _, n := range r.spec.Names {
		predicateRegistry[strings.ToLower(n)] = r
	}
}

// PredicateSpecs returns the specs of every predicate, by name.
func PredicateSpecs() []flow.Spec {
	seen := map[*predicateReg]bool{}
	var out []flow.Spec
	for _, r := range predicateRegistry {
		if !seen[r] {
			seen[r] = true
			out = append(out, r.spec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Names[0] < out[j].Names[0] })
	return out
}

func init() {
	registerPredicate("TopicNameMatches", "true when the whole topic name matches a regular expression", []flow.Key{
		{Name: TopicNameMatchesPattern, Required: true, Doc: "regular expression the whole topic must match"},
	}, func(c flow.Config) (Predicate, error) {
		re, err := compileJavaFull(TopicNameMatchesPattern, c.String(TopicNameMatchesPattern))
		if err != nil {
			return nil, err
		}
		return PredicateFunc(func(e flow.Event) bool { return re.MatchString(e.Topic) }), nil
	})
	registerPredicate("HasHeaderKey", "true when the record has a header of the given name", []flow.Key{
		{Name: HasHeaderKeyName, Required: true, Doc: "header name"},
	}, func(c flow.Config) (Predicate, error) {
		name := c.String(HasHeaderKeyName)
		return PredicateFunc(func(e flow.Event) bool { _, ok := e.Headers[name]; return ok }), nil
	})
	registerPredicate("RecordIsTombstone", "true when the record value is null", nil, func(flow.Config) (Predicate, error) {
		return PredicateFunc(func(e flow.Event) bool { return e.Body == nil }), nil
	})
}

func predicateNames() string {
	var names []string
	for _, s := range PredicateSpecs() {
		names = append(names, s.Names[0])
	}
	return strings.Join(names, ", ")
}

// lookupPredicate finds a predicate by name (case-insensitive).
func lookupPredicate(name string) (*predicateReg, error) {
	r, ok := predicateRegistry[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return nil, fmt.Errorf("unknown predicate %q", name)
	}
	return r, nil
}
