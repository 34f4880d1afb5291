package transform

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// TimestampConverter config keys (Kafka's names).
const (
	TimestampConverterField         = "field"
	TimestampConverterTargetType    = "target.type"
	TimestampConverterFormat        = "format"
	TimestampConverterUnixPrecision = "unix.precision"
)

var tsTargets = []string{"string", "unix", "Date", "Time", "Timestamp"}

func init() {
	registerKV("TimestampConverter", "converts a timestamp field of the record {side} (or the whole {side}) between string, unix, Date, Time and Timestamp", []flow.Key{
		{Name: TimestampConverterField, Doc: "field holding the timestamp; empty means the whole value"},
		{Name: TimestampConverterTargetType, Required: true, Doc: "string, unix, Date, Time or Timestamp"},
		{Name: TimestampConverterFormat, Doc: "java.text.SimpleDateFormat pattern for string timestamps (UTC)"},
		{Name: TimestampConverterUnixPrecision, Default: "milliseconds", Doc: "unit of unix timestamps: seconds, milliseconds, microseconds or nanoseconds"},
		replaceNullKey,
	}, newTimestampConverter)
}

type tsConverter struct {
	target string
	layout string // "" when no format is set
	unit   time.Duration
}

func newTimestampConverter(c flow.Config, s side) (smtFunc, error) {
	tc := &tsConverter{}
	raw := c.String(TimestampConverterTargetType)
	for _, t := range tsTargets {
		if strings.EqualFold(t, raw) {
			tc.target = t
		}
	}
	if tc.target == "" {
		return nil, keyErr(TimestampConverterTargetType, raw, "unknown target type", "use one of %s", strings.Join(tsTargets, ", "))
	}
	if f := c.String(TimestampConverterFormat); f != "" {
		l, err := javaLayout(TimestampConverterFormat, f)
		if err != nil {
			return nil, err
		}
		tc.layout = l
	} else if tc.target == "string" {
		return nil, keyErr(TimestampConverterFormat, "", "a string target needs a format", "set %s, e.g. yyyy-MM-dd'T'HH:mm:ss.SSSXXX", TimestampConverterFormat)
	}
	units := map[string]time.Duration{"seconds": time.Second, "milliseconds": time.Millisecond, "microseconds": time.Microsecond, "nanoseconds": time.Nanosecond}
	p := c.String(TimestampConverterUnixPrecision)
	if tc.unit = units[p]; tc.unit == 0 {
		return nil, keyErr(TimestampConverterUnixPrecision, p, "unknown precision", "use seconds, milliseconds, microseconds or nanoseconds")
	}
	field := c.String(TimestampConverterField)
	return onRecord(s, func(r record, _ flow.Event) (record, error) {
		if field == "" {
			if r.value == nil {
				return r, nil
			}
			v, sch, err := tc.convert(r.schema, r.value)
			if err != nil {
				return r, err
			}
			r.value = v
			if r.schema != nil {
				r.schema = sch
			}
			return r, nil
		}
		o, err := requireStruct(r, "converting timestamp formats")
		if err != nil {
			return r, err
		}
		out := copyObject(o)
		var fs *Schema
		if r.schema != nil {
			f := r.schema.Field(field)
			if f == nil {
				return r, fmt.Errorf("unknown field: %s", field)
			}
			fs = f.Schema
		}
		v, _ := o.Get(field)
		if v == nil {
			if r.schema != nil {
				r.schema = replaceField(r.schema, field, tc.schemaFor(fs.Optional))
			}
			return r, nil
		}
		cv, sch, err := tc.convert(fs, v)
		if err != nil {
			return r, fmt.Errorf("converting field %q: %w", field, err)
		}
		out.Set(field, cv)
		if r.schema != nil {
			r.schema = replaceField(r.schema, field, sch)
		}
		r.value = out
		return r, nil
	}), nil
}

// replaceField returns a copy of struct schema s with field name's schema
// replaced.
func replaceField(s *Schema, name string, fs *Schema) *Schema {
	n := s.basics("struct")
	for _, f := range s.Fields {
		if f.Name == name {
			f.Schema = fs
		}
		n.Fields = append(n.Fields, f)
	}
	return n
}

func (tc *tsConverter) schemaFor(optional bool) *Schema {
	switch tc.target {
	case "string":
		return &Schema{Type: "string", Optional: optional}
	case "unix":
		return &Schema{Type: "int64", Optional: optional}
	case "Date":
		return &Schema{Type: "int32", Optional: optional, Name: logicalDate, Version: "1"}
	case "Time":
		return &Schema{Type: "int32", Optional: optional, Name: logicalTime, Version: "1"}
	}
	return &Schema{Type: "int64", Optional: optional, Name: logicalTimestamp, Version: "1"}
}

// convert reads v (of schema s, or schemaless) as a time and writes it as
// the target type. Schemaless Date, Time and Timestamp results are written
// as milliseconds since the epoch (Kafka would hold a java.util.Date, which
// JsonConverter cannot write without a schema).
func (tc *tsConverter) convert(s *Schema, v any) (any, *Schema, error) {
	t, err := tc.read(s, v)
	if err != nil {
		return nil, nil, err
	}
	t = t.UTC()
	optional := s != nil && s.Optional
	var out any
	switch tc.target {
	case "string":
		out = t.Format(tc.layout)
	case "unix":
		// Kafka goes through java.util.Date: millisecond precision.
		if ms := t.UnixMilli(); tc.unit >= time.Millisecond {
			out = ms / int64(tc.unit/time.Millisecond)
		} else {
			out = ms * int64(time.Millisecond/tc.unit)
		}
	case "Date":
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		out = day.UnixMilli()
		if s != nil {
			out = day.Unix() / 86400
		}
	case "Time":
		out = int64(t.Hour()*3600000 + t.Minute()*60000 + t.Second()*1000 + t.Nanosecond()/1e6)
	case "Timestamp":
		out = t.UnixMilli()
	}
	return out, tc.schemaFor(optional), nil
}

func (tc *tsConverter) read(s *Schema, v any) (time.Time, error) {
	kind := ""
	if s != nil {
		switch {
		case s.Name == logicalTimestamp:
			kind = "Timestamp"
		case s.Name == logicalDate:
			kind = "Date"
		case s.Name == logicalTime:
			kind = "Time"
		case s.Type == "int64":
			kind = "unix"
		case s.Type == "string":
			kind = "string"
		default:
			return time.Time{}, fmt.Errorf("schema type %s does not correspond to a known timestamp type", s.Type)
		}
	} else {
		switch v := v.(type) {
		case string:
			kind = "string"
		case json.Number:
			if isIntegral(v) {
				kind = "unix"
			}
		case int64:
			kind = "unix"
		}
		if kind == "" {
			return time.Time{}, fmt.Errorf("cannot read a %s value as a timestamp", jsonKind(v))
		}
	}
	if kind == "string" {
		str, ok := v.(string)
		if !ok {
			return time.Time{}, fmt.Errorf("expected a string timestamp, found %s", jsonKind(v))
		}
		if tc.layout == "" {
			return time.Time{}, fmt.Errorf("a string timestamp needs %s to be set", TimestampConverterFormat)
		}
		t, err := time.ParseInLocation(tc.layout, str, time.UTC)
		if err != nil {
			return time.Time{}, fmt.Errorf("reading timestamp %q with format %s: %w", str, tc.layout, err)
		}
		return t, nil
	}
	n, err := toInt64(v)
	if err != nil {
		return time.Time{}, err
	}
	switch kind {
	case "unix":
		if tc.unit >= time.Millisecond {
			return time.UnixMilli(n * int64(tc.unit/time.Millisecond)), nil
		}
		return time.UnixMilli(n / int64(time.Millisecond/tc.unit)), nil
	case "Date":
		return time.Unix(n*86400, 0), nil
	}
	return time.UnixMilli(n), nil // Time is milliseconds of day 0
}

func toInt64(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading %s as a whole number: %w", v, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("expected a number, found %s", jsonKind(v))
}
