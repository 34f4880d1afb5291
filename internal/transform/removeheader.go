package transform

import (
	"regexp"

	"github.com/runnel/runnel/internal/flow"
)

// Remove-header interceptor config keys (Flume's names).
const (
	RemoveHeaderWithName          = "withName"
	RemoveHeaderFromList          = "fromList"
	RemoveHeaderFromListSeparator = "fromListSeparator"
	RemoveHeaderMatching          = "matching"
)

// RemoveHeaderSpec documents Flume's remove_header interceptor.
var RemoveHeaderSpec = flow.Spec{
	Names:   []string{"remove_header", "org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder"},
	Summary: "removes headers by name, by list or by regular expression",
	Keys: []flow.Key{
		{Name: RemoveHeaderWithName, Doc: "name of one header to remove"},
		{Name: RemoveHeaderFromList, Doc: "list of headers to remove, split by fromListSeparator"},
		{Name: RemoveHeaderFromListSeparator, Default: `\s*,\s*`, Doc: "regular expression separating the names in fromList"},
		{Name: RemoveHeaderMatching, Doc: "every header whose whole name matches this regular expression is removed"},
	},
}

func init() {
	flow.RegisterTransform(RemoveHeaderSpec, func(c flow.Config) (flow.Transform, error) {
		r := &RemoveHeader{Names: map[string]bool{}}
		if n, ok := c.Raw(RemoveHeaderWithName); ok && n != "" {
			r.Names[n] = true
		}
		if list, ok := c.Raw(RemoveHeaderFromList); ok && list != "" {
			sep, err := compileJava(RemoveHeaderFromListSeparator, c.String(RemoveHeaderFromListSeparator))
			if err != nil {
				return nil, err
			}
			for _, n := range sep.Split(list, -1) {
				r.Names[n] = true
			}
		}
		if m, ok := c.Raw(RemoveHeaderMatching); ok && m != "" {
			re, err := compileJavaFull(RemoveHeaderMatching, m)
			if err != nil {
				return nil, err
			}
			r.Matching = re
		}
		return r, nil
	})
}

// RemoveHeader is Flume's remove_header interceptor: a header goes when its
// name is in Names or wholly matches Matching.
type RemoveHeader struct {
	Names    map[string]bool
	Matching *regexp.Regexp
}

// Apply implements flow.Transform.
func (r *RemoveHeader) Apply(e flow.Event) (flow.Event, bool) {
	return withoutHeaders(e, func(k string) bool {
		return r.Names[k] || r.Matching != nil && r.Matching.MatchString(k)
	}), true
}
