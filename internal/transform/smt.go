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

// replaceNullKey is Kafka's replace.null.with.default, which many SMTs
// accept; null fields with a default are already read as the default (see
// withDefaults), so the key has no effect of its own.
var replaceNullKey = flow.Key{Name: "replace.null.with.default", Type: flow.Bool, Default: "true", NotImplemented: true, Doc: "replace null fields with their schema default"}

// kafkaTransforms is the package of Kafka's SMT classes.
const kafkaTransforms = "org.apache.kafka.connect.transforms."

// smtNames are the names an SMT answers to: Connect's alias (the simple
// class name) and Kafka's class name.
func smtNames(class string) []string {
	return []string{class, kafkaTransforms + class}
}

// smtFunc is a built SMT: an eventFunc, or a recordSMT that a Chain can run
// on an already decoded key or value.
type smtFunc interface {
	apply(flow.Event) (flow.Event, bool, error)
}

// eventFunc is an SMT on a whole event.
type eventFunc func(flow.Event) (flow.Event, bool, error)

func (f eventFunc) apply(e flow.Event) (flow.Event, bool, error) { return f(e) }

// recordFunc is an SMT on a decoded key or value. It must not change the
// objects of r in place (it copies what it changes) and never drops the
// event.
type recordFunc func(r record, e flow.Event) (record, error)

// recordSMT is an SMT that only rewrites the decoded key or value of one
// side; Chain runs consecutive ones on one decoding.
type recordSMT struct {
	side side
	fn   recordFunc
}

// onRecord makes an SMT that decodes the key or value, runs fn and writes
// the result back. A nil key or value (a tombstone) passes unchanged, as
// Kafka's SMTs pass null.
func onRecord(s side, fn recordFunc) *recordSMT { return &recordSMT{side: s, fn: fn} }

func (r *recordSMT) apply(e flow.Event) (flow.Event, bool, error) {
	b := r.side.bytes(e)
	if b == nil {
		return e, true, nil
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return e, true, err
	}
	if rec, err = r.fn(rec, e); err != nil {
		return e, true, err
	}
	return r.side.with(e, rec.encode()), true, nil
}

// smtSpecs are the specs registerSMT registered, in order; written only by
// init.
var smtSpecs []flow.Spec

// registerSMT registers a Connect SMT without $Key/$Value variants.
func registerSMT(class, summary string, keys []flow.Key, build func(c flow.Config) (smtFunc, error)) {
	spec := flow.Spec{Kind: flow.KindTransform, Names: smtNames(class), Summary: summary, Keys: keys}
	smtSpecs = append(smtSpecs, spec)
	flow.RegisterTransform(spec, func(c flow.Config) (flow.Transform, error) {
		fn, err := build(c)
		if err != nil {
			return nil, err
		}
		f := newFallible(c, fn.apply)
		f.rec, _ = fn.(*recordSMT)
		return f, nil
	})
}

// registerKV registers class$Key and class$Value.
func registerKV(class, summary string, keys []flow.Key, build func(c flow.Config, s side) (smtFunc, error)) {
	for _, s := range []side{keySide, valueSide} {
		registerSMT(class+"$"+s.String(), strings.ReplaceAll(summary, "{side}", strings.ToLower(s.String())), keys, func(c flow.Config) (smtFunc, error) {
			return build(c, s)
		})
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
