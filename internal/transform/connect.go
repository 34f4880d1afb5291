package transform

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// Step is one transform of a Chain, applied only to records its predicate
// (if any) accepts, or rejects when Negate.
type Step struct {
	Name      string // the alias in the transforms list
	Type      string // the transforms.<name>.type value
	Transform flow.Transform
	Predicate Predicate // nil: always
	Negate    bool
}

// Chain is a connector's ordered transforms.
type Chain []Step

// StepError is a transform of a Chain failing on a record.
type StepError struct {
	Name, Type string
	Err        error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("transform %s (%s): %v", e.Name, e.Type, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Apply runs every step on e in order. keep is false when a step dropped
// the record (Filter); the error (a *StepError) names the step that failed,
// and the Connect worker handles it per errors.tolerance.
//
// Consecutive steps that only rewrite the key (or only the value) and have
// no predicate run on one decoding of it, written back once: what each sees
// is what the previous one produced, as in Kafka, where SMTs pass objects,
// not bytes.
func (c Chain) Apply(e flow.Event) (flow.Event, bool, error) {
	var (
		pending    record // the decoded key or value, not yet written back
		pendSide   side
		hasPending bool
	)
	flush := func() {
		if hasPending {
			e = pendSide.with(e, pending.encode())
			hasPending = false
		}
	}
	for _, s := range c {
		if f, ok := s.Transform.(*fallible); ok && f.rec != nil && s.Predicate == nil {
			if !hasPending || pendSide != f.rec.side {
				flush()
				b := f.rec.side.bytes(e)
				if b == nil {
					continue // a tombstone passes
				}
				r, err := decodeRecord(b)
				if err != nil {
					return e, false, &StepError{Name: s.Name, Type: s.Type, Err: err}
				}
				pending, pendSide, hasPending = r, f.rec.side, true
			}
			r, err := f.rec.fn(pending, e)
			if err != nil {
				return e, false, &StepError{Name: s.Name, Type: s.Type, Err: err}
			}
			pending = r
			continue
		}
		flush()
		if s.Predicate != nil && s.Predicate.Test(e) == s.Negate {
			continue
		}
		out, keep, err := Apply(s.Transform, e)
		if err != nil {
			return e, false, &StepError{Name: s.Name, Type: s.Type, Err: err}
		}
		if !keep {
			return out, false, nil
		}
		e = out
	}
	flush()
	return e, true, nil
}

// FromConnect builds the transform chain of a Kafka Connect connector config:
// transforms=a,b; transforms.a.type=<class or alias>; transforms.a.<key>;
// transforms.a.predicate=p; transforms.a.negate=true; predicates=p;
// predicates.p.type=...; predicates.p.<key>. Errors are *flow.KeyError
// with the full key; warnings name keys that are accepted without effect.
func FromConnect(props map[string]string) (Chain, []flow.Warning, error) {
	var warnings []flow.Warning
	preds := map[string]Predicate{}
	predList := splitConnectList(props["predicates"])
	for _, p := range predList {
		if _, dup := preds[p]; dup {
			return nil, warnings, &flow.KeyError{Key: "predicates", Value: props["predicates"], Problem: fmt.Sprintf("predicate %q is listed twice", p), Fix: "list each predicate once"}
		}
		prefix := "predicates." + p + "."
		typ := strings.TrimSpace(props[prefix+"type"])
		if typ == "" {
			return nil, warnings, &flow.KeyError{Key: prefix + "type", Problem: "predicate has no type", Fix: "set it to one of " + predicateNames()}
		}
		reg, err := lookupPredicate(typ)
		if err != nil {
			return nil, warnings, &flow.KeyError{Key: prefix + "type", Value: typ, Problem: "unknown predicate type", Fix: "use one of " + predicateNames() + " (or their class names)"}
		}
		cfg, w, err := validate(&reg.spec, p, prefix, props)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, warnings, err
		}
		pr, err := reg.build(cfg)
		if err != nil {
			return nil, warnings, prefixKeyErr(prefix, err)
		}
		preds[p] = pr
	}

	var chain Chain
	seen := map[string]bool{}
	for _, n := range splitConnectList(props["transforms"]) {
		if seen[n] {
			return nil, warnings, &flow.KeyError{Key: "transforms", Value: props["transforms"], Problem: fmt.Sprintf("transform %q is listed twice", n), Fix: "list each transform once"}
		}
		seen[n] = true
		prefix := "transforms." + n + "."
		typ := strings.TrimSpace(props[prefix+"type"])
		if typ == "" {
			return nil, warnings, &flow.KeyError{Key: prefix + "type", Problem: "transform has no type", Fix: "set it to a transform class such as org.apache.kafka.connect.transforms.InsertField$Value"}
		}
		reg, ok := flow.Lookup(flow.KindTransform, typ)
		if !ok {
			return nil, warnings, &flow.KeyError{Key: prefix + "type", Value: typ, Problem: "unknown transform type",
				Fix: "use one of " + strings.Join(flow.Names(flow.KindTransform), ", ") + " (or their class names)"}
		}
		cfg, w, err := validate(&reg.Spec, n, prefix, props)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, warnings, err
		}
		v, err := reg.Build(cfg)
		if err != nil {
			return nil, warnings, prefixKeyErr(prefix, err)
		}
		step := Step{Name: n, Type: typ, Transform: v.(flow.Transform)}
		if p, ok := props[prefix+"predicate"]; ok && strings.TrimSpace(p) != "" {
			p = strings.TrimSpace(p)
			if step.Predicate = preds[p]; step.Predicate == nil {
				return nil, warnings, &flow.KeyError{Key: prefix + "predicate", Value: p, Problem: "no such predicate", Fix: fmt.Sprintf("add %s to predicates and set predicates.%s.type", p, p)}
			}
		}
		if neg, ok := props[prefix+"negate"]; ok {
			switch strings.ToLower(strings.TrimSpace(neg)) {
			case "true":
				step.Negate = true
			case "false":
			default:
				return nil, warnings, &flow.KeyError{Key: prefix + "negate", Value: neg, Problem: "not a boolean", Fix: "set it to true or false"}
			}
			if step.Predicate == nil {
				return nil, warnings, &flow.KeyError{Key: prefix + "negate", Value: neg, Problem: "negate without a predicate", Fix: fmt.Sprintf("set %spredicate, or remove %snegate", prefix, prefix)}
			}
		}
		chain = append(chain, step)
	}
	warnings = append(warnings, strayKeys(props, "transforms.", seen)...)
	warnings = append(warnings, strayKeys(props, "predicates.", setOf(predList))...)
	return chain, warnings, nil
}

func setOf(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// strayKeys warns about keys under prefix for names that are not listed.
func strayKeys(props map[string]string, prefix string, listed map[string]bool) []flow.Warning {
	var out []flow.Warning
	keys := make([]string, 0)
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if !listed[name] {
			list := strings.TrimSuffix(prefix, ".")
			out = append(out, flow.Warning{Key: k, Message: fmt.Sprintf("%s is not listed in %s; the key is ignored", name, list)})
		}
	}
	return out
}

// validate checks the keys under prefix (other than type, predicate and
// negate) against spec, with errors and warnings naming full keys.
func validate(spec *flow.Spec, name, prefix string, props map[string]string) (flow.Config, []flow.Warning, error) {
	raw := map[string]string{}
	for k, v := range props {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "type" || rest == "predicate" || rest == "negate" {
			continue
		}
		raw[rest] = v
	}
	cfg, ws, err := spec.Validate(name, raw)
	for i := range ws {
		ws[i].Key = prefix + ws[i].Key
	}
	return cfg, ws, prefixKeyErr(prefix, err)
}

// prefixKeyErr makes a component's *flow.KeyError name the full key.
func prefixKeyErr(prefix string, err error) error {
	var ke *flow.KeyError
	if errors.As(err, &ke) {
		k := *ke
		k.Key = prefix + k.Key
		return &k
	}
	return err
}

// splitConnectList splits a Connect list value (comma-separated, spaces
// around names ignored).
func splitConnectList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
