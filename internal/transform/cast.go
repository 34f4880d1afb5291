package transform

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// Cast config keys (Kafka's names).
const CastSpec = "spec"

var castTargets = map[string]bool{"int8": true, "int16": true, "int32": true, "int64": true, "float32": true, "float64": true, "boolean": true, "string": true}

func init() {
	registerKV("Cast", "casts fields of the record {side}, or the whole {side}, to another primitive type", []flow.Key{
		{Name: CastSpec, Required: true, Doc: "field:type,field2:type, or one type to cast the whole value; types int8 int16 int32 int64 float32 float64 boolean string"},
		{Name: "complex.string.as.json", Type: flow.Bool, Default: "false", Doc: "structs, maps and arrays cast to string are always written as JSON here (Kafka's false gives Java's toString form)"},
		replaceNullKey,
	}, newCast)
}

func newCast(c flow.Config, s side) (smtFunc, error) {
	spec := c.String(CastSpec)
	casts := map[string]string{}
	whole := ""
	for _, part := range listKey(c, CastSpec) {
		f, typ, ok := strings.Cut(part, ":")
		if !ok {
			if len(casts) > 0 || whole != "" || strings.Contains(spec, ",") {
				return nil, keyErr(CastSpec, spec, "a whole-value cast cannot be mixed with field casts", "write field:type,... or a single type")
			}
			f, typ = "", part
		}
		typ = strings.ToLower(strings.TrimSpace(typ))
		if !castTargets[typ] {
			return nil, keyErr(CastSpec, spec, fmt.Sprintf("cannot cast to %q", typ), "cast to int8, int16, int32, int64, float32, float64, boolean or string")
		}
		if f == "" {
			whole = typ
		} else {
			casts[strings.TrimSpace(f)] = typ
		}
	}
	return onRecord(s, func(r record, _ flow.Event) (record, error) {
		if whole != "" {
			v, err := castValue(r.value, typeOf(r.schema, r.value), whole)
			if err != nil {
				return r, err
			}
			if r.schema != nil {
				n := castSchema(r.schema, whole)
				b := r.schema.basics(whole) // the whole value keeps its name, version, doc
				b.Default, b.HasDefault = n.Default, n.HasDefault
				r.schema = b
			}
			r.value = v
			return r, nil
		}
		o, err := requireStruct(r, "cast types")
		if err != nil {
			return r, err
		}
		out := copyObject(o)
		var ns *Schema
		if r.schema != nil {
			ns = r.schema.basics("struct")
			for _, f := range r.schema.Fields {
				if to, ok := casts[f.Name]; ok {
					f.Schema = castSchema(f.Schema, to)
				}
				ns.Fields = append(ns.Fields, f)
			}
		}
		if r.schema == nil {
			for k := range casts {
				if _, ok := o.Get(k); !ok {
					out.Set(k, nil) // Kafka puts every cast field into a map
				}
			}
		}
		for _, k := range o.Keys() {
			to, ok := casts[k]
			if !ok {
				continue
			}
			v, _ := o.Get(k)
			var fs *Schema
			if r.schema != nil {
				if f := r.schema.Field(k); f != nil {
					fs = f.Schema
				}
			}
			cv, err := castValue(v, typeOf(fs, v), to)
			if err != nil {
				return r, fmt.Errorf("casting field %q: %w", k, err)
			}
			out.Set(k, cv)
		}
		r.value = out
		if ns != nil {
			r.schema = ns
		}
		return r, nil
	}), nil
}

// typeOf is the Connect type of v: its schema's, else guessed from v.
func typeOf(s *Schema, v any) string {
	if s != nil {
		return s.Type
	}
	return jsonKind(v)
}

func castSchema(s *Schema, to string) *Schema {
	n := &Schema{Type: to, Optional: s.Optional}
	if s.HasDefault {
		if d, err := castValue(s.Default, s.Type, to); err == nil {
			n.Default, n.HasDefault = d, true
		}
	}
	return n
}

// castValue casts v of Connect type from to type to as Kafka's Cast does:
// numbers narrow like Java's casts, booleans are 1/0, strings are parsed,
// bytes become base64 text.
func castValue(v any, from, to string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch from {
	case "int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes":
	case "struct", "array", "map":
		if to != "string" {
			return nil, fmt.Errorf("cannot cast a value of type %s to %s; only to string", from, to)
		}
		return string(appendJSON(nil, v)), nil // complex.string.as.json=true
	default:
		return nil, fmt.Errorf("cannot cast a value of type %s", from)
	}
	if from == "bytes" && to != "string" {
		return nil, fmt.Errorf("cannot cast bytes to %s", to)
	}
	var i int64
	var f float64
	isFloat := false // v is a float (Java Double/Float)
	switch v := v.(type) {
	case bool:
		if v {
			i, f = 1, 1
		}
	case json.Number:
		if isIntegral(v) {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s is out of range for %s", v, from)
			}
			i, f = n, float64(n)
		} else {
			x, err := v.Float64()
			if err != nil {
				return nil, fmt.Errorf("reading %s as a number: %w", v, err)
			}
			f, i, isFloat = x, javaLong(x), true
		}
	case int64:
		i, f = v, float64(v)
	case float32:
		f, i, isFloat = float64(v), javaLong(float64(v)), true
	case float64:
		f, i, isFloat = v, javaLong(v), true
	case string:
		return castString(v, to)
	case []byte:
		return base64.StdEncoding.EncodeToString(v), nil
	default:
		return nil, fmt.Errorf("cannot cast a value of type %s", jsonKind(v))
	}
	switch to {
	case "int8":
		return int64(int8(i)), nil
	case "int16":
		return int64(int16(i)), nil
	case "int32":
		return int64(int32(i)), nil
	case "int64":
		return i, nil
	case "float32":
		return float32(f), nil
	case "float64":
		return f, nil
	case "boolean":
		return i != 0, nil // Java: longValue() != 0, so 0.5 is false
	case "string":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		switch from {
		case "float32":
			return javaFloat(f, 32), nil
		case "float64":
			return javaFloat(f, 64), nil
		}
		if isFloat {
			return javaFloat(f, 64), nil
		}
		return strconv.FormatInt(i, 10), nil
	}
	return nil, fmt.Errorf("cannot cast to %s", to)
}

// javaLong is Java's (long) cast of a double: truncation, saturating.
func javaLong(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func castString(s, to string) (any, error) {
	bits := map[string]int{"int8": 8, "int16": 16, "int32": 32, "int64": 64}
	switch to {
	case "int8", "int16", "int32", "int64":
		n, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, bits[to])
		if err != nil {
			return nil, fmt.Errorf("value %q is not a valid %s", s, to)
		}
		return n, nil
	case "float32", "float64":
		b := 64
		if to == "float32" {
			b = 32
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), b)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a valid %s", s, to)
		}
		if b == 32 {
			return float32(f), nil
		}
		return f, nil
	case "boolean":
		return strings.EqualFold(s, "true"), nil
	case "string":
		return s, nil
	}
	return nil, fmt.Errorf("cannot cast to %s", to)
}
