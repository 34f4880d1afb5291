package transform

import (
	"fmt"

	"github.com/runnel/runnel/internal/flow"
)

// ValueToKey config keys (Kafka's names).
const ValueToKeyFields = "fields"

func init() {
	registerSMT("ValueToKey", "replaces the record key with a struct of fields of the value", []flow.Key{
		{Name: ValueToKeyFields, Required: true, Doc: "value fields that make the key, comma-separated"},
		replaceNullKey,
	}, newValueToKey)
}

func newValueToKey(c flow.Config) (smtFunc, error) {
	fields := listKey(c, ValueToKeyFields)
	return eventFunc(func(e flow.Event) (flow.Event, bool, error) {
		if e.Body == nil {
			return e, true, nil
		}
		r, err := decodeRecord(e.Body)
		if err != nil {
			return e, true, err
		}
		o, err := requireStruct(r, "copying fields from value to key")
		if err != nil {
			return e, true, err
		}
		key := record{value: newObject(), envelope: r.envelope}
		if r.schema != nil {
			key.schema = &Schema{Type: "struct"}
		}
		for _, f := range fields {
			if r.schema != nil {
				fs := r.schema.Field(f)
				if fs == nil {
					return e, true, fmt.Errorf("field does not exist: %s", f)
				}
				key.schema.Fields = append(key.schema.Fields, *fs)
			}
			v, _ := o.Get(f)
			key.value.(*Object).Set(f, v)
		}
		e.Key = key.encode()
		return e, true, nil
	}), nil
}
