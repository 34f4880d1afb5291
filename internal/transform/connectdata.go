package transform

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Connect data model on bytes. A record's key or value is read as
//
//   - a JsonConverter envelope {"schema": {...}, "payload": ...} (schemas.enable=true):
//     the schema is kept and kept correct by the SMTs;
//   - other JSON (schemaless, schemas.enable=false): objects are maps;
//   - anything else: a string (as Connect's StringConverter reads it).
//
// Written back: an envelope as an envelope, schemaless JSON as JSON, except
// that a string is written as its bytes, as StringConverter writes it.
// Payloads hold nil, bool, string, json.Number, int64, float32, float64,
// []byte, []any and *Object.

// Object is a JSON object (a Connect struct or map) with its keys in order.
// Lookups scan the keys; objects with many keys get an index.
type Object struct {
	keys []string
	vals []any
	idx  map[string]int // nil until the object has more than indexFrom keys
}

const indexFrom = 16

func newObject() *Object { return &Object{} }

func (o *Object) find(k string) int {
	if o.idx == nil && len(o.keys) > indexFrom {
		o.idx = make(map[string]int, len(o.keys))
		for i, kk := range o.keys {
			o.idx[kk] = i
		}
	}
	if o.idx != nil {
		if i, ok := o.idx[k]; ok {
			return i
		}
		return -1
	}
	for i, kk := range o.keys {
		if kk == k {
			return i
		}
	}
	return -1
}

// Get returns the value of k.
func (o *Object) Get(k string) (any, bool) {
	if i := o.find(k); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// get returns the value of k, nil when absent.
func (o *Object) get(k string) any {
	v, _ := o.Get(k)
	return v
}

// Set sets k to v, appending k when it is new.
func (o *Object) Set(k string, v any) {
	if i := o.find(k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	if o.idx != nil {
		o.idx[k] = len(o.keys) - 1
	}
}

// Delete removes k.
func (o *Object) Delete(k string) {
	i := o.find(k)
	if i < 0 {
		return
	}
	o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
	o.vals = append(o.vals[:i:i], o.vals[i+1:]...)
	o.idx = nil
}

// Keys returns the keys in order.
func (o *Object) Keys() []string { return o.keys }

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Schema is a Connect schema as JsonConverter writes it.
type Schema struct {
	Type       string // int8 int16 int32 int64 float32 float64 boolean string bytes array map struct
	Optional   bool
	Name       string
	Version    json.Number
	Doc        string
	Parameters *Object
	Default    any
	HasDefault bool
	Fields     []Field // struct
	Items      *Schema // array
	Keys       *Schema // map
	Values     *Schema // map
}

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Schema *Schema
}

// Connect's logical type names.
const (
	logicalTimestamp = "org.apache.kafka.connect.data.Timestamp"
	logicalDate      = "org.apache.kafka.connect.data.Date"
	logicalTime      = "org.apache.kafka.connect.data.Time"
	logicalDecimal   = "org.apache.kafka.connect.data.Decimal"
)

// Field returns the field named name, or nil.
func (s *Schema) Field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// basics returns a copy of s with only its name, version, doc, parameters
// and optionality (Kafka's SchemaUtil.copySchemaBasics) and type typ.
func (s *Schema) basics(typ string) *Schema {
	return &Schema{Type: typ, Optional: s.Optional, Name: s.Name, Version: s.Version, Doc: s.Doc, Parameters: s.Parameters}
}

var primitiveTypes = map[string]bool{"int8": true, "int16": true, "int32": true, "int64": true, "float32": true, "float64": true, "boolean": true, "string": true, "bytes": true}

// parseSchema reads a JsonConverter schema.
func parseSchema(v any) (*Schema, error) {
	o, ok := v.(*Object)
	if !ok {
		return nil, fmt.Errorf("schema must be a JSON object, found %s", jsonKind(v))
	}
	s := &Schema{}
	t, _ := o.Get("type")
	s.Type, ok = t.(string)
	if !ok {
		return nil, errors.New(`schema must name its "type"`)
	}
	if b, ok := o.get("optional").(bool); ok {
		s.Optional = b
	}
	s.Name, _ = o.get("name").(string)
	s.Doc, _ = o.get("doc").(string)
	s.Version, _ = o.get("version").(json.Number)
	s.Parameters, _ = o.get("parameters").(*Object)
	s.Default, s.HasDefault = o.Get("default")
	if s.Default == nil {
		s.HasDefault = false
	}
	var err error
	switch {
	case primitiveTypes[s.Type]:
	case s.Type == "array":
		if s.Items, err = parseSchema(o.get("items")); err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
	case s.Type == "map":
		if s.Keys, err = parseSchema(o.get("keys")); err != nil {
			return nil, fmt.Errorf("map keys: %w", err)
		}
		if s.Values, err = parseSchema(o.get("values")); err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
	case s.Type == "struct":
		fields, ok := o.get("fields").([]any)
		if !ok {
			return nil, errors.New(`struct schema has no "fields" array`)
		}
		for i, f := range fields {
			fs, err := parseSchema(f)
			if err != nil {
				return nil, fmt.Errorf("field %d: %w", i, err)
			}
			name, ok := f.(*Object).get("field").(string)
			if !ok {
				return nil, fmt.Errorf(`field %d has no "field" name`, i)
			}
			s.Fields = append(s.Fields, Field{Name: name, Schema: fs})
		}
	default:
		return nil, fmt.Errorf("unknown schema type %q", s.Type)
	}
	return s, nil
}

// json returns s as JsonConverter writes it (key order included).
func (s *Schema) json() *Object {
	o := newObject()
	o.Set("type", s.Type)
	switch s.Type {
	case "array":
		o.Set("items", s.Items.json())
	case "map":
		o.Set("keys", s.Keys.json())
		o.Set("values", s.Values.json())
	case "struct":
		fields := make([]any, 0, len(s.Fields))
		for _, f := range s.Fields {
			fo := f.Schema.json()
			fo.Set("field", f.Name)
			fields = append(fields, fo)
		}
		o.Set("fields", fields)
	}
	o.Set("optional", s.Optional)
	if s.Name != "" {
		o.Set("name", s.Name)
	}
	if s.Version != "" {
		o.Set("version", s.Version)
	}
	if s.Doc != "" {
		o.Set("doc", s.Doc)
	}
	if s.Parameters != nil {
		o.Set("parameters", s.Parameters)
	}
	if s.HasDefault {
		o.Set("default", s.Default)
	}
	return o
}

// record is a decoded key or value.
type record struct {
	schema   *Schema // nil: schemaless
	value    any
	envelope bool // read from (and written as) a JsonConverter envelope
}

// decodeRecord reads b (not nil) as described at the top of this file.
func decodeRecord(b []byte) (record, error) {
	v, err := parseJSON(b)
	if err != nil {
		return record{value: string(b)}, nil
	}
	o, ok := v.(*Object)
	if !ok || o.Len() != 2 {
		return record{value: v}, nil
	}
	sv, hasSchema := o.Get("schema")
	payload, hasPayload := o.Get("payload")
	if !hasSchema || !hasPayload {
		return record{value: v}, nil
	}
	r := record{value: payload, envelope: true}
	if sv != nil {
		if r.schema, err = parseSchema(sv); err != nil {
			return record{}, fmt.Errorf("reading the schema of a JsonConverter envelope: %w", err)
		}
		r.value = withDefaults(r.schema, r.value)
	}
	return r, nil
}

// withDefaults replaces null values that have a schema default by the
// default, as JsonConverter does when it reads (replace.null.with.default,
// true by default). Struct fields absent from the payload count as null.
func withDefaults(s *Schema, v any) any {
	if v == nil {
		if s.HasDefault {
			return s.Default
		}
		return nil
	}
	switch s.Type {
	case "struct":
		o, ok := v.(*Object)
		if !ok {
			return v
		}
		for _, f := range s.Fields {
			fv, present := o.Get(f.Name)
			if nv := withDefaults(f.Schema, fv); nv != nil || present {
				o.Set(f.Name, nv)
			}
		}
	case "array":
		if a, ok := v.([]any); ok {
			for i := range a {
				a[i] = withDefaults(s.Items, a[i])
			}
		}
	case "map":
		if o, ok := v.(*Object); ok {
			for i := range o.vals {
				o.vals[i] = withDefaults(s.Values, o.vals[i])
			}
		}
	}
	return v
}

// encode writes r back; see the top of this file.
func (r record) encode() []byte {
	if r.envelope {
		o := newObject()
		if r.schema == nil {
			o.Set("schema", nil)
		} else {
			o.Set("schema", r.schema.json())
		}
		o.Set("payload", r.value)
		return appendJSON(nil, o)
	}
	switch v := r.value.(type) {
	case nil:
		return nil
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	return appendJSON(nil, r.value)
}

// appendJSON writes v as Jackson would: doubles in Java's notation, bytes
// as base64, non-ASCII text unescaped.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case json.Number:
		return append(b, v...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float32:
		return append(b, javaFloat(float64(v), 32)...)
	case float64:
		return append(b, javaFloat(v, 64)...)
	case string:
		return appendString(b, v)
	case []byte:
		return appendString(b, base64.StdEncoding.EncodeToString(v))
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case *Object:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, v.vals[i])
		}
		return append(b, '}')
	}
	panic(fmt.Sprintf("transform: cannot write %T as JSON", v))
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}

// javaFloat formats f as Java's Double.toString (bits 64) or
// Float.toString (bits 32): 1.0, 0.001, 1.0E7, 1.0E-4, NaN, Infinity.
func javaFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, bits)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}

// jsonKind names the Connect type of a schemaless value, for errors.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if isIntegral(v) {
			return "int64"
		}
		return "float64"
	case int64:
		return "int64"
	case float32:
		return "float32"
	case float64:
		return "float64"
	case []byte:
		return "bytes"
	case []any:
		return "array"
	case *Object:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

// isIntegral tells a JSON integer (Java Long) from a decimal (Double).
func isIntegral(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

// kindOf names what r holds, for errors.
func (r record) kindOf() string {
	if r.schema != nil {
		return r.schema.Type
	}
	return jsonKind(r.value)
}

// requireStruct returns r's struct (with a schema) or map (without), or
// Kafka's error for purpose.
func requireStruct(r record, purpose string) (*Object, error) {
	o, ok := r.value.(*Object)
	if r.schema != nil {
		if r.schema.Type != "struct" || !ok {
			return nil, fmt.Errorf("only struct values are supported for %s, found: %s", purpose, r.kindOf())
		}
		return o, nil
	}
	if !ok {
		return nil, fmt.Errorf("only map values are supported for %s in absence of schema, found: %s", purpose, r.kindOf())
	}
	return o, nil
}

// StringEnvelope returns s as JsonConverter (schemas.enable=true) writes a
// value with Connect's STRING schema, e.g. a FileStreamSource line:
// {"schema":{"type":"string","optional":false},"payload":"..."}. The
// Connect worker wraps values with it before transforms when its converter
// has schemas enabled, so that SMTs keep a schema as Kafka's do.
func StringEnvelope(s []byte) []byte {
	return record{schema: &Schema{Type: "string"}, value: string(s), envelope: true}.encode()
}
