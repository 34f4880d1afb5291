package transform

import (
	"fmt"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// InsertField config keys (Kafka's names). A field name ending in "!" is a
// required field, "?" (or nothing) an optional one.
const (
	InsertFieldTopic       = "topic.field"
	InsertFieldPartition   = "partition.field"
	InsertFieldOffset      = "offset.field"
	InsertFieldTimestamp   = "timestamp.field"
	InsertFieldStaticField = "static.field"
	InsertFieldStaticValue = "static.value"
)

func init() {
	registerKV("InsertField", "inserts the topic, partition, offset, timestamp or a static value as fields of the record {side}", []flow.Key{
		{Name: InsertFieldTopic, Doc: "field for the topic name"},
		{Name: InsertFieldPartition, Doc: "field for the partition"},
		{Name: InsertFieldOffset, Doc: "field for the offset (records read from Kafka only)"},
		{Name: InsertFieldTimestamp, Doc: "field for the record timestamp"},
		{Name: InsertFieldStaticField, Doc: "field for static.value"},
		{Name: InsertFieldStaticValue, Doc: "the static value"},
		replaceNullKey,
	}, newInsertField)
}

type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(s string) *insertSpec {
	if s == "" {
		return nil
	}
	if n, ok := strings.CutSuffix(s, "!"); ok {
		return &insertSpec{name: n}
	}
	return &insertSpec{name: strings.TrimSuffix(s, "?"), optional: true}
}

func newInsertField(c flow.Config, s side) (smtFunc, error) {
	topic := parseInsertSpec(c.String(InsertFieldTopic))
	partition := parseInsertSpec(c.String(InsertFieldPartition))
	offset := parseInsertSpec(c.String(InsertFieldOffset))
	ts := parseInsertSpec(c.String(InsertFieldTimestamp))
	static := parseInsertSpec(c.String(InsertFieldStaticField))
	staticValue, hasStatic := c.Raw(InsertFieldStaticValue)
	if topic == nil && partition == nil && offset == nil && ts == nil && static == nil {
		return nil, keyErr(InsertFieldTopic, "", "no field insertion configured", "set at least one of %s, %s, %s, %s, %s",
			InsertFieldTopic, InsertFieldPartition, InsertFieldOffset, InsertFieldTimestamp, InsertFieldStaticField)
	}
	if static != nil && !hasStatic {
		return nil, keyErr(InsertFieldStaticValue, "", "no value given for static field "+static.name, "set %s", InsertFieldStaticValue)
	}
	const purpose = "field insertion"
	return onRecord(s, func(r record, e flow.Event) (record, error) {
		o, err := requireStruct(r, purpose)
		if err != nil {
			return r, err
		}
		type ins struct {
			spec   *insertSpec
			schema *Schema
			value  any
		}
		var list []ins
		if topic != nil {
			list = append(list, ins{topic, &Schema{Type: "string"}, e.Topic})
		}
		if partition != nil {
			var v any
			if e.Partition >= 0 && e.Topic != "" {
				v = int64(e.Partition)
			}
			list = append(list, ins{partition, &Schema{Type: "int32"}, v})
		}
		if offset != nil {
			if e.Offset < 0 || e.Topic == "" {
				return r, fmt.Errorf("%s of %s needs a record read from Kafka (a sink connector's record)", InsertFieldOffset, purpose)
			}
			list = append(list, ins{offset, &Schema{Type: "int64"}, e.Offset})
		}
		if ts != nil {
			var v any
			if !e.Timestamp.IsZero() {
				v = e.Timestamp.UnixMilli()
			}
			list = append(list, ins{ts, &Schema{Type: "int64", Name: logicalTimestamp, Version: "1"}, v})
		}
		if static != nil {
			list = append(list, ins{static, &Schema{Type: "string"}, staticValue})
		}
		out := copyObject(o)
		if r.schema != nil {
			ns := r.schema.basics("struct")
			ns.Fields = append([]Field(nil), r.schema.Fields...)
			for _, in := range list {
				if in.value == nil && !in.spec.optional {
					return r, fmt.Errorf("cannot insert required field %q: the record has no value for it", in.spec.name)
				}
				fs := *in.schema
				fs.Optional = in.spec.optional
				if f := ns.Field(in.spec.name); f != nil {
					f.Schema = &fs // an existing field is replaced in place, as Kafka 3.8+ does
				} else {
					ns.Fields = append(ns.Fields, Field{Name: in.spec.name, Schema: &fs})
				}
			}
			r.schema = ns
		}
		for _, in := range list {
			out.Set(in.spec.name, in.value)
		}
		r.value = out
		return r, nil
	}), nil
}
