package transform

import (
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// ReplaceField config keys (Kafka's names; blacklist and whitelist are the
// old names of exclude and include).
const (
	ReplaceFieldExclude   = "exclude"
	ReplaceFieldInclude   = "include"
	ReplaceFieldRenames   = "renames"
	ReplaceFieldBlacklist = "blacklist"
	ReplaceFieldWhitelist = "whitelist"
)

func init() {
	registerKV("ReplaceField", "drops, keeps and renames fields of the record {side}", []flow.Key{
		{Name: ReplaceFieldExclude, Doc: "fields to drop (they win over include)"},
		{Name: ReplaceFieldInclude, Doc: "fields to keep; empty keeps all"},
		{Name: ReplaceFieldRenames, Doc: "renames as old:new, comma-separated"},
		{Name: ReplaceFieldBlacklist, Doc: "old name of exclude"},
		{Name: ReplaceFieldWhitelist, Doc: "old name of include"},
		replaceNullKey,
	}, newReplaceField)
}

func newReplaceField(c flow.Config, s side) (smtFunc, error) {
	set := func(keys ...string) map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			for _, f := range listKey(c, k) {
				m[f] = true
			}
		}
		return m
	}
	exclude := set(ReplaceFieldExclude, ReplaceFieldBlacklist)
	include := set(ReplaceFieldInclude, ReplaceFieldWhitelist)
	renames := map[string]string{}
	for _, r := range listKey(c, ReplaceFieldRenames) {
		from, to, ok := strings.Cut(r, ":")
		if !ok || from == "" || to == "" || strings.Contains(to, ":") {
			return nil, keyErr(ReplaceFieldRenames, c.String(ReplaceFieldRenames), "invalid rename mapping "+r, "write renames as old:new,old2:new2")
		}
		renames[from] = to
	}
	keep := func(f string) bool { return !exclude[f] && (len(include) == 0 || include[f]) }
	rename := func(f string) string {
		if to, ok := renames[f]; ok {
			return to
		}
		return f
	}
	return onRecord(s, func(r record, _ flow.Event) (record, error) {
		o, err := requireStruct(r, "field replacement")
		if err != nil {
			return r, err
		}
		out := newObject()
		if r.schema != nil {
			ns := r.schema.basics("struct")
			for _, f := range r.schema.Fields {
				if keep(f.Name) {
					ns.Fields = append(ns.Fields, Field{Name: rename(f.Name), Schema: f.Schema})
					v, _ := o.Get(f.Name)
					out.Set(rename(f.Name), v)
				}
			}
			r.schema = ns
		} else {
			for _, k := range o.Keys() {
				if keep(k) {
					v, _ := o.Get(k)
					out.Set(rename(k), v)
				}
			}
		}
		r.value = out
		return r, nil
	}), nil
}
