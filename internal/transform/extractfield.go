package transform

import (
	"fmt"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// ExtractField config keys (Kafka's names).
const (
	ExtractFieldField         = "field"
	ExtractFieldSyntaxVersion = "field.syntax.version"
)

func init() {
	registerKV("ExtractField", "replaces the record {side} with one of its fields", []flow.Key{
		{Name: ExtractFieldField, Required: true, Doc: "field to extract; with field.syntax.version=V2 a dotted path into nested structs (`a.b`; a name holding dots in backticks: `a`.`b.c`)"},
		{Name: ExtractFieldSyntaxVersion, Default: "V1", Doc: "V1: field is a top-level name; V2: field is a dotted path (KIP-821)"},
		replaceNullKey,
	}, newExtractField)
}

// fieldPath splits a KIP-821 (V2) path: names separated by dots; a name
// wrapped in backticks (at the start of the path or after a dot, up to a
// backtick at the end of the path or before a dot) may hold dots.
func fieldPath(p string) []string {
	var out []string
	for len(p) > 0 {
		if p[0] == '`' {
			if end := strings.Index(p[1:], "`."); end >= 0 {
				out = append(out, p[1:1+end])
				p = p[end+3:]
				continue
			}
			if len(p) > 1 && p[len(p)-1] == '`' {
				out = append(out, p[1:len(p)-1])
				return out
			}
		}
		name, rest, found := strings.Cut(p, ".")
		out = append(out, name)
		if !found {
			return out
		}
		p = rest
		if p == "" {
			out = append(out, "")
		}
	}
	return out
}

func newExtractField(c flow.Config, s side) (smtFunc, error) {
	field := c.String(ExtractFieldField)
	path := []string{field}
	switch v := strings.ToUpper(c.String(ExtractFieldSyntaxVersion)); v {
	case "V1":
	case "V2":
		path = fieldPath(field)
	default:
		return nil, keyErr(ExtractFieldSyntaxVersion, v, "unknown field syntax version", "use V1 or V2")
	}
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
		out := record{envelope: r.envelope, schema: r.schema}
		var v any = o
		for _, name := range path {
			if out.schema != nil {
				var f *Field
				if out.schema.Type == "struct" {
					f = out.schema.Field(name)
				}
				if f == nil {
					return e, true, fmt.Errorf("unknown field: %s", field)
				}
				out.schema = f.Schema
			}
			if obj, ok := v.(*Object); ok {
				v, _ = obj.Get(name)
			} else {
				v = nil // a null (or non-map) parent has no fields
			}
		}
		out.value = v
		if v == nil && out.schema == nil {
			return s.with(e, nil), true, nil // a null value is a tombstone
		}
		return s.with(e, out.encode()), true, nil
	}), nil
}
