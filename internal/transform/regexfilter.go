package transform

import (
	"regexp"

	"github.com/runnel/runnel/internal/flow"
)

// Regex filter interceptor config keys (Flume's names).
const (
	RegexFilterRegex         = "regex"
	RegexFilterExcludeEvents = "excludeEvents"
)

// RegexFilterSpec documents Flume's regex_filter interceptor.
var RegexFilterSpec = flow.Spec{
	Names:   []string{"regex_filter", "org.apache.flume.interceptor.RegexFilteringInterceptor$Builder"},
	Summary: "keeps (or drops, with excludeEvents) events whose body, read as UTF-8, contains a match of a regular expression",
	Keys: []flow.Key{
		{Name: RegexFilterRegex, Default: ".*", Doc: "regular expression searched for in the body"},
		{Name: RegexFilterExcludeEvents, Type: flow.Bool, Default: "false", Doc: "drop matching events instead of keeping them"},
	},
}

func init() {
	flow.RegisterTransform(RegexFilterSpec, func(c flow.Config) (flow.Transform, error) {
		re, err := compileJava(RegexFilterRegex, c.String(RegexFilterRegex))
		if err != nil {
			return nil, err
		}
		return &RegexFilter{Regex: re, Exclude: c.Bool(RegexFilterExcludeEvents)}, nil
	})
}

// RegexFilter is Flume's regex_filter interceptor: an event matches when the
// regex is found anywhere in its body (Java's Matcher.find).
type RegexFilter struct {
	Regex   *regexp.Regexp
	Exclude bool
}

// Apply implements flow.Transform.
func (r *RegexFilter) Apply(e flow.Event) (flow.Event, bool) {
	return e, r.Regex.Match(e.Body) != r.Exclude
}
