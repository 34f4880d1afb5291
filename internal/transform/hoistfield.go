package transform

import (
	"github.com/runnel/runnel/internal/flow"
)

// HoistField config keys (Kafka's names).
const HoistFieldField = "field"

func init() {
	registerKV("HoistField", "wraps the record {side} in a struct (or map) with a single field", []flow.Key{
		{Name: HoistFieldField, Required: true, Doc: "name of the field that holds the old value"},
	}, newHoistField)
}

func newHoistField(c flow.Config, s side) (smtFunc, error) {
	field := c.String(HoistFieldField)
	return eventFunc(func(e flow.Event) (flow.Event, bool, error) {
		r := record{}
		if b := s.bytes(e); b != nil { // Kafka hoists null too: {"field": null}
			var err error
			if r, err = decodeRecord(b); err != nil {
				return e, true, err
			}
		}
		o := newObject()
		o.Set(field, r.value)
		if r.schema != nil {
			r.schema = &Schema{Type: "struct", Fields: []Field{{Name: field, Schema: r.schema}}}
		}
		r.value = o
		return s.with(e, r.encode()), true, nil
	}), nil
}
