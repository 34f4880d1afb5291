package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/transform"
)

// ConverterKind is which Kafka Connect converter a Converter is.
type ConverterKind int

const (
	// ConvString is org.apache.kafka.connect.storage.StringConverter.
	ConvString ConverterKind = iota + 1
	// ConvByteArray is org.apache.kafka.connect.converters.ByteArrayConverter.
	ConvByteArray
	// ConvJSON is org.apache.kafka.connect.json.JsonConverter.
	ConvJSON
)

// Converter is a key or value converter. Runnel's components exchange
// bytes, so a converter only decides how a source's text is framed on the
// topic and how a sink that wants text reads a record back.
type Converter struct {
	Kind          ConverterKind
	SchemasEnable bool
}

var converterClasses = map[string]ConverterKind{
	"org.apache.kafka.connect.storage.stringconverter": ConvString,
	"stringconverter": ConvString,
	"org.apache.kafka.connect.converters.bytearrayconverter": ConvByteArray,
	"bytearrayconverter":                          ConvByteArray,
	"org.apache.kafka.connect.json.jsonconverter": ConvJSON,
	"jsonconverter":                               ConvJSON,
}

// ConverterFromProps reads key (e.g. "value.converter") and
// key+".schemas.enable" from props; def is used when key is absent.
func ConverterFromProps(key string, props map[string]string, def Converter) (Converter, error) {
	c := def
	if v := strings.TrimSpace(props[key]); v != "" {
		k, ok := converterClasses[strings.ToLower(v)]
		if !ok {
			return c, &flow.KeyError{Key: key, Value: v, Problem: "unknown converter",
				Fix: "use org.apache.kafka.connect.storage.StringConverter, org.apache.kafka.connect.converters.ByteArrayConverter or org.apache.kafka.connect.json.JsonConverter"}
		}
		c = Converter{Kind: k, SchemasEnable: true}
	}
	if v, ok := props[key+".schemas.enable"]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			c.SchemasEnable = true
		case "false":
			c.SchemasEnable = false
		default:
			return c, &flow.KeyError{Key: key + ".schemas.enable", Value: v, Problem: "not a boolean", Fix: "set it to true or false"}
		}
	}
	return c, nil
}

// Encode frames a source's value as the converter writes it.
// StringConverter and ByteArrayConverter keep the bytes. JsonConverter:
//
//   - a body that is already a JSON object or array (a CDC change event, a
//     parsed access-log record, a JDBC source row) is a structured value:
//     kept as it is when it is already an envelope or schemas are off,
//     else wrapped as {"schema":null,"payload":...}, what Kafka's
//     JsonConverter writes for schemaless structured values;
//   - any other body is text (a line of a file): a Connect STRING, written
//     as {"schema":{"type":"string","optional":false},"payload":"..."}
//     with schemas enabled, or a JSON string without.
//
// nil stays nil (a null key or tombstone).
func (c Converter) Encode(b []byte) []byte {
	if b == nil || c.Kind != ConvJSON {
		return b
	}
	if isJSONStructure(b) {
		if !c.SchemasEnable || isEnvelope(b) {
			return b
		}
		out := make([]byte, 0, len(b)+30)
		out = append(out, `{"schema":null,"payload":`...)
		out = append(out, bytes.TrimSpace(b)...)
		return append(out, '}')
	}
	if c.SchemasEnable {
		return transform.StringEnvelope(b)
	}
	out, _ := json.Marshal(string(b))
	return out
}

// isJSONStructure reports whether b is a JSON object or array.
func isJSONStructure(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// isEnvelope reports whether b is a JsonConverter envelope
// {"schema":...,"payload":...}.
func isEnvelope(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || len(m) != 2 {
		return false
	}
	_, s := m["schema"]
	_, p := m["payload"]
	return s && p
}

// DecodeText reads a record's bytes as the text a text sink (FileStreamSink)
// writes, as Kafka's sink would print the converted value: the bytes
// themselves for String/ByteArray; for JsonConverter the payload (with
// schemas enabled) or the whole JSON, a JSON string unquoted and anything
// else as compact JSON. A JSON value that does not parse is an error.
func (c Converter) DecodeText(b []byte) ([]byte, error) {
	if b == nil || c.Kind != ConvJSON {
		return b, nil
	}
	var payload json.RawMessage = b
	if c.SchemasEnable {
		var env struct {
			Schema  json.RawMessage `json:"schema"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, fmt.Errorf("JsonConverter with schemas.enable=true: value is not JSON: %w", err)
		}
		if env.Schema == nil && env.Payload == nil {
			return nil, fmt.Errorf("JsonConverter with schemas.enable=true requires \"schema\" and \"payload\" fields; set the converter's schemas.enable=false for plain JSON")
		}
		payload = env.Payload
	}
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || string(payload) == "null" {
		return []byte("null"), nil
	}
	if payload[0] == '"' {
		var s string
		if err := json.Unmarshal(payload, &s); err != nil {
			return nil, fmt.Errorf("JsonConverter: decoding a string value: %w", err)
		}
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, payload); err != nil {
		return nil, fmt.Errorf("JsonConverter: value is not JSON: %w", err)
	}
	return buf.Bytes(), nil
}
