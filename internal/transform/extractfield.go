package transform

import (
	"fmt"

	"github.com/runnel/runnel/internal/flow"
)

// ExtractField config keys (Kafka's names).
const ExtractFieldField = "field"

func init() {
	registerKV("ExtractField", "replaces the record {side} with one of its fields", []flow.Key{
		{Name: ExtractFieldField, Required: true, Doc: "field to extract"},
		{Name: "field.syntax.version", Default: "V1", NotImplemented: true, Doc: "V2 (nested field paths) is not supported; names are taken whole"},
		{Name: "replace.null.with.default", Type: flow.Bool, Default: "true", NotImplemented: true, Doc: "replace null fields with their schema default"},
	}, newExtractField)
}

func newExtractField(c flow.Config, s side) (smtFunc, error) {
	field := c.String(ExtractFieldField)
	return eventFunc(func(e flow.Event) (flow.Event, bool, error) {
		b := s.bytes(e)
		if b == nil {
			return e, true, nil
		}
		r, err := decodeRecord(b)
		if err != nil {
			return e, true, err
		}
		o, err := requireStruct(r, "field extraction")
		if err != nil {
			return e, true, err
		}
		v, _ := o.Get(field)
		out := record{value: v, envelope: r.envelope}
		if r.schema != nil {
			f := r.schema.Field(field)
			if f == nil {
				return e, true, fmt.Errorf("unknown field: %s", field)
			}
			out.schema = f.Schema
		}
		if v == nil && out.schema == nil {
			return s.with(e, nil), true, nil // a null value is a tombstone
		}
		return s.with(e, out.encode()), true, nil
	}), nil
}
