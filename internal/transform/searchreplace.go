package transform

import (
	"regexp"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// Search-and-replace interceptor config keys (Flume's names).
const (
	SearchReplaceSearchPattern = "searchPattern"
	SearchReplaceReplaceString = "replaceString"
	SearchReplaceCharset       = "charset"
)

// SearchReplaceSpec documents Flume's search_replace interceptor.
var SearchReplaceSpec = flow.Spec{
	Names:   []string{"search_replace", "org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder"},
	Summary: "replaces every match of a regular expression in the body",
	Keys: []flow.Key{
		{Name: SearchReplaceSearchPattern, Required: true, Doc: "regular expression to replace"},
		{Name: SearchReplaceReplaceString, Doc: "replacement; $1 or ${name} insert groups, \\$ is a dollar sign"},
		{Name: SearchReplaceCharset, Default: "UTF-8", Doc: "character set of the body (only UTF-8 and its subset US-ASCII are supported)"},
	},
}

func init() {
	flow.RegisterTransform(SearchReplaceSpec, func(c flow.Config) (flow.Transform, error) {
		switch cs := strings.ToUpper(c.String(SearchReplaceCharset)); cs {
		case "UTF-8", "UTF8", "US-ASCII", "ASCII":
		default:
			return nil, keyErr(SearchReplaceCharset, cs, "only UTF-8 (and its subset US-ASCII) bodies are supported", "remove %s or set it to UTF-8", SearchReplaceCharset)
		}
		re, err := compileJava(SearchReplaceSearchPattern, c.String(SearchReplaceSearchPattern))
		if err != nil {
			return nil, err
		}
		tmpl, err := javaReplacement(SearchReplaceReplaceString, c.String(SearchReplaceReplaceString), re)
		if err != nil {
			return nil, err
		}
		return &SearchReplace{Regex: re, Template: tmpl}, nil
	})
}

// SearchReplace is Flume's search_replace interceptor (Java's
// Matcher.replaceAll on the body).
type SearchReplace struct {
	Regex    *regexp.Regexp
	Template string // a Regexp.Expand template
}

// Apply implements flow.Transform.
func (s *SearchReplace) Apply(e flow.Event) (flow.Event, bool) {
	e.Body = []byte(replaceAll(s.Regex, string(e.Body), s.Template))
	return e, true
}
