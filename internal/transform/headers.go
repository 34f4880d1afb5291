package transform

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// HeaderFrom, InsertHeader and DropHeaders config keys (Kafka's names).
const (
	HeaderFromFields       = "fields"
	HeaderFromHeaders      = "headers"
	HeaderFromOperation    = "operation"
	InsertHeaderHeader     = "header"
	InsertHeaderValue      = "value.literal"
	DropHeadersHeaders     = "headers"
	headerFromPurpose      = "header from field"
	headerOperationMove    = "move"
	headerOperationCopy    = "copy"
	headerOperationChoices = "move or copy"
)

func init() {
	registerKV("HeaderFrom", "copies or moves fields of the record {side} into headers", []flow.Key{
		{Name: HeaderFromFields, Required: true, Doc: "fields to read, comma-separated"},
		{Name: HeaderFromHeaders, Required: true, Doc: "headers to write, one per field, in the same order"},
		{Name: HeaderFromOperation, Required: true, Doc: "move (remove the fields) or copy"},
		replaceNullKey,
	}, newHeaderFrom)
	registerSMT("InsertHeader", "sets a header to a literal value", []flow.Key{
		{Name: InsertHeaderHeader, Required: true, Doc: "header to set"},
		{Name: InsertHeaderValue, Required: true, Doc: "its value"},
	}, func(c flow.Config) (smtFunc, error) {
		h, v := c.String(InsertHeaderHeader), c.String(InsertHeaderValue)
		return eventFunc(func(e flow.Event) (flow.Event, bool, error) { return e.WithHeader(h, v), true, nil }), nil
	})
	registerSMT("DropHeaders", "removes headers by name", []flow.Key{
		{Name: DropHeadersHeaders, Required: true, Doc: "headers to remove, comma-separated"},
	}, func(c flow.Config) (smtFunc, error) {
		drop := map[string]bool{}
		for _, h := range listKey(c, DropHeadersHeaders) {
			drop[h] = true
		}
		return eventFunc(func(e flow.Event) (flow.Event, bool, error) {
			return withoutHeaders(e, func(k string) bool { return drop[k] }), true, nil
		}), nil
	})
}

func newHeaderFrom(c flow.Config, s side) (smtFunc, error) {
	fields, headers := listKey(c, HeaderFromFields), listKey(c, HeaderFromHeaders)
	if len(fields) != len(headers) {
		return nil, keyErr(HeaderFromHeaders, c.String(HeaderFromHeaders), fmt.Sprintf("%d headers for %d fields", len(headers), len(fields)), "name one header per field of %s", HeaderFromFields)
	}
	op := strings.ToLower(c.String(HeaderFromOperation))
	if op != headerOperationMove && op != headerOperationCopy {
		return nil, keyErr(HeaderFromOperation, op, "unknown operation", "use "+headerOperationChoices)
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
		o, err := requireStruct(r, headerFromPurpose)
		if err != nil {
			return e, true, err
		}
		for i, f := range fields {
			if r.schema != nil && r.schema.Field(f) == nil {
				return e, true, fmt.Errorf("unknown field: %s", f)
			}
			v, _ := o.Get(f)
			e = e.WithHeader(headers[i], headerText(v))
		}
		if op == headerOperationCopy {
			return e, true, nil
		}
		out := copyObject(o)
		for _, f := range fields {
			out.Delete(f)
		}
		if r.schema != nil {
			ns := r.schema.basics("struct")
			for _, f := range r.schema.Fields {
				if !contains(fields, f.Name) {
					ns.Fields = append(ns.Fields, f)
				}
			}
			r.schema = ns
		}
		r.value = out
		return s.with(e, r.encode()), true, nil
	}), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// headerText is how a field value becomes a (string) header: a string as
// is, null as "", anything else as JSON.
func headerText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return string(appendJSON(nil, v))
}
