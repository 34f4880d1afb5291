package transform

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// MaskField config keys (Kafka's names).
const (
	MaskFieldFields      = "fields"
	MaskFieldReplacement = "replacement"
)

func init() {
	registerKV("MaskField", "replaces fields of the record {side} with an empty value of their type (0, false, \"\", [], {}) or a replacement", []flow.Key{
		{Name: MaskFieldFields, Required: true, Doc: "fields to mask, comma-separated"},
		{Name: MaskFieldReplacement, Doc: "replacement for numeric and string fields; empty masks with the type's empty value"},
	}, newMaskField)
}

func newMaskField(c flow.Config, s side) (smtFunc, error) {
	fields := map[string]bool{}
	for _, f := range listKey(c, MaskFieldFields) {
		fields[f] = true
	}
	repl, hasRepl := c.Raw(MaskFieldReplacement)
	hasRepl = hasRepl && repl != ""
	return onRecord(s, func(r record, _ flow.Event) (record, error) {
		o, err := requireStruct(r, "mask fields")
		if err != nil {
			return r, err
		}
		out := copyObject(o)
		for _, k := range o.Keys() {
			if !fields[k] {
				continue
			}
			v, _ := o.Get(k)
			if v == nil {
				continue
			}
			typ := jsonKind(v)
			if r.schema != nil {
				f := r.schema.Field(k)
				if f == nil {
					continue
				}
				typ = f.Schema.Type
				if strings.HasPrefix(f.Schema.Name, "org.apache.kafka.connect.data.") {
					typ = f.Schema.Name // a logical type
				}
			}
			m, err := mask(typ, repl, hasRepl)
			if err != nil {
				return r, fmt.Errorf("masking field %q: %w", k, err)
			}
			out.Set(k, m)
		}
		r.value = out
		return r, nil
	}), nil
}

// mask returns the masked value for a field of Connect type typ (or
// logical type name).
func mask(typ, repl string, hasRepl bool) (any, error) {
	if !hasRepl {
		switch typ {
		case "boolean":
			return false, nil
		case "int8", "int16", "int32", "int64", logicalDate, logicalTime, logicalTimestamp:
			return int64(0), nil
		case "float32", "float64":
			return 0.0, nil
		case "string":
			return "", nil
		case "array":
			return []any{}, nil
		case "map":
			return newObject(), nil
		case logicalDecimal:
			return []byte{0}, nil // unscaled value 0
		}
		return nil, fmt.Errorf("cannot mask a value of type %s", typ)
	}
	bits := map[string]int{"int8": 8, "int16": 16, "int32": 32, "int64": 64}
	switch typ {
	case "string":
		return repl, nil
	case "int8", "int16", "int32", "int64":
		n, err := strconv.ParseInt(repl, 10, bits[typ])
		if err != nil {
			return nil, fmt.Errorf("cannot use replacement %q for a %s value: %w", repl, typ, err)
		}
		return n, nil
	case "float32", "float64":
		v, err := castString(repl, typ)
		if err != nil {
			return nil, fmt.Errorf("cannot use replacement %q for a %s value: %w", repl, typ, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("cannot mask a value of type %s with a custom replacement", typ)
}
