package transform

import (
	"maps"
	"slices"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// side is the part of a record a $Key or $Value SMT works on.
type side int

const (
	valueSide side = iota
	keySide
)

func (s side) String() string {
	if s == keySide {
		return "Key"
	}
	return "Value"
}

func (s side) bytes(e flow.Event) []byte {
	if s == keySide {
		return e.Key
	}
	return e.Body
}

func (s side) with(e flow.Event, b []byte) flow.Event {
	if s == keySide {
		e.Key = b
	} else {
		e.Body = b
	}
	return e
}

// kafkaTransforms is the package of Kafka's SMT classes.
const kafkaTransforms = "org.apache.kafka.connect.transforms."

// smtNames are the names an SMT answers to: Connect's alias (the simple
// class name) and Kafka's class name.
func smtNames(class string) []string {
	return []string{class, kafkaTransforms + class}
}

// eventFunc is an SMT on a whole event.
type eventFunc func(flow.Event) (flow.Event, bool, error)

// recordFunc is an SMT on a decoded key or value.
type recordFunc func(r record, e flow.Event) (record, error)

// smtSpecs are the specs registerSMT registered, in order; written only by
// init.
var smtSpecs []flow.Spec

// registerSMT registers a Connect SMT without $Key/$Value variants.
func registerSMT(class, summary string, keys []flow.Key, build func(c flow.Config) (eventFunc, error)) {
	spec := flow.Spec{Kind: flow.KindTransform, Names: smtNames(class), Summary: summary, Keys: keys}
	smtSpecs = append(smtSpecs, spec)
	flow.RegisterTransform(spec, func(c flow.Config) (flow.Transform, error) {
		fn, err := build(c)
		if err != nil {
			return nil, err
		}
		return newFallible(c, fn), nil
	})
}

// registerKV registers class$Key and class$Value.
func registerKV(class, summary string, keys []flow.Key, build func(c flow.Config, s side) (eventFunc, error)) {
	for _, s := range []side{keySide, valueSide} {
		registerSMT(class+"$"+s.String(), strings.ReplaceAll(summary, "{side}", strings.ToLower(s.String())), keys, func(c flow.Config) (eventFunc, error) {
			return build(c, s)
		})
	}
}

// onRecord makes an eventFunc that decodes the key or value, runs fn and
// writes the result back. A nil key or value (a tombstone) passes
// unchanged, as Kafka's SMTs pass null.
func onRecord(s side, fn recordFunc) eventFunc {
	return func(e flow.Event) (flow.Event, bool, error) {
		b := s.bytes(e)
		if b == nil {
			return e, true, nil
		}
		r, err := decodeRecord(b)
		if err != nil {
			return e, true, err
		}
		if r, err = fn(r, e); err != nil {
			return e, true, err
		}
		return s.with(e, r.encode()), true, nil
	}
}

// listKey splits a Connect list value ("a, b,c").
func listKey(c flow.Config, key string) []string { return splitConnectList(c.String(key)) }

// copyObject returns a shallow copy of o.
func copyObject(o *Object) *Object {
	n := &Object{keys: slices.Clone(o.keys), vals: slices.Clone(o.vals)}
	if o.idx != nil {
		n.idx = maps.Clone(o.idx)
	}
	return n
}
