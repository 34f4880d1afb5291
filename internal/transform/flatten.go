package transform

import (
	"fmt"

	"github.com/runnel/runnel/internal/flow"
)

// Flatten config keys (Kafka's names).
const FlattenDelimiter = "delimiter"

func init() {
	registerKV("Flatten", "flattens nested structs (maps) of the record {side} into top-level fields named by their path", []flow.Key{
		{Name: FlattenDelimiter, Default: ".", Doc: "joins the names along a path"},
	}, newFlatten)
}

func newFlatten(c flow.Config, s side) (smtFunc, error) {
	delim, ok := c.Raw(FlattenDelimiter)
	if !ok {
		delim = "."
	}
	name := func(prefix, f string) string {
		if prefix == "" {
			return f
		}
		return prefix + delim + f
	}
	return onRecord(s, func(r record, _ flow.Event) (record, error) {
		o, err := requireStruct(r, "flattening")
		if err != nil {
			return r, err
		}
		out := newObject()
		if r.schema == nil {
			var walk func(prefix string, o *Object)
			walk = func(prefix string, o *Object) {
				for _, k := range o.Keys() {
					v, _ := o.Get(k)
					if sub, ok := v.(*Object); ok {
						walk(name(prefix, k), sub)
					} else {
						out.Set(name(prefix, k), v)
					}
				}
			}
			walk("", o)
			r.value = out
			return r, nil
		}
		ns := r.schema.basics("struct")
		var walk func(prefix string, s *Schema, o *Object, optional bool) error
		walk = func(prefix string, s *Schema, o *Object, optional bool) error {
			for _, f := range s.Fields {
				n := name(prefix, f.Name)
				var v any
				if o != nil {
					v, _ = o.Get(f.Name)
				}
				if f.Schema.Type == "struct" {
					sub, _ := v.(*Object)
					if err := walk(n, f.Schema, sub, optional || f.Schema.Optional); err != nil {
						return err
					}
					continue
				}
				if ns.Field(n) != nil {
					return fmt.Errorf("flattening makes two fields named %q", n)
				}
				fs := *f.Schema
				fs.Optional = optional || fs.Optional
				ns.Fields = append(ns.Fields, Field{Name: n, Schema: &fs})
				out.Set(n, v)
			}
			return nil
		}
		if err := walk("", r.schema, o, false); err != nil {
			return r, err
		}
		r.schema, r.value = ns, out
		return r, nil
	}), nil
}
