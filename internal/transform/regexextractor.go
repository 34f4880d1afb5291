package transform

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Regex extractor interceptor config keys (Flume's names); serializer keys
// are serializers.<name>.type, .name and .pattern.
const (
	RegexExtractorRegex       = "regex"
	RegexExtractorSerializers = "serializers"
)

// Flume's serializer class names.
const (
	passThroughSerializer = "org.apache.flume.interceptor.RegexExtractorInterceptorPassThroughSerializer"
	millisSerializer      = "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer"
)

// RegexExtractorSpec documents Flume's regex_extractor interceptor.
var RegexExtractorSpec = flow.Spec{
	Names:   []string{"regex_extractor", "org.apache.flume.interceptor.RegexExtractorInterceptor$Builder"},
	Summary: "finds a regular expression in the body and puts its groups into headers",
	Keys: []flow.Key{
		{Name: RegexExtractorRegex, Required: true, Doc: "regular expression searched for in the body; group n goes to the n-th serializer"},
		{Name: RegexExtractorSerializers, Required: true, Doc: "space-separated serializer names, one per group, in group order"},
		{Name: "serializers.*", Doc: "serializers.<s>.name (header, required), serializers.<s>.type (" + passThroughSerializer + " by default, or " + millisSerializer + "), serializers.<s>.pattern (date pattern for the millis serializer)"},
	},
}

func init() {
	flow.RegisterTransform(RegexExtractorSpec, func(c flow.Config) (flow.Transform, error) {
		re, err := compileJava(RegexExtractorRegex, c.String(RegexExtractorRegex))
		if err != nil {
			return nil, err
		}
		x := &RegexExtractor{Regex: re}
		for _, s := range strings.Fields(c.String(RegexExtractorSerializers)) {
			ser, err := extractorSerializer(c, s)
			if err != nil {
				return nil, err
			}
			x.Serializers = append(x.Serializers, ser)
		}
		return newFallible(c, x.ApplyErr), nil
	})
}

func extractorSerializer(c flow.Config, s string) (ExtractorSerializer, error) {
	p := RegexExtractorSerializers + "." + s + "."
	ser := ExtractorSerializer{Header: c.String(p + "name")}
	if ser.Header == "" {
		return ser, keyErr(p+"name", "", "serializer has no header name", "set %sname to the header that gets the group", p)
	}
	typ := c.String(p + "type")
	switch {
	case typ == "" || strings.EqualFold(typ, passThroughSerializer) || strings.EqualFold(typ, "RegexExtractorInterceptorPassThroughSerializer"):
	case strings.EqualFold(typ, millisSerializer) || strings.EqualFold(typ, "RegexExtractorInterceptorMillisSerializer"):
		pattern := c.String(p + "pattern")
		if pattern == "" {
			return ser, keyErr(p+"pattern", "", "the millis serializer needs a date pattern", "set %spattern, e.g. yyyy-MM-dd HH:mm", p)
		}
		layout, err := javaLayout(p+"pattern", pattern)
		if err != nil {
			return ser, err
		}
		ser.Layout = layout
	default:
		return ser, keyErr(p+"type", typ, "unknown serializer type", "use %s or %s", passThroughSerializer, millisSerializer)
	}
	return ser, nil
}

// ExtractorSerializer puts one regex group into Header: as matched, or, with
// Layout set, parsed as a local time and written as milliseconds since the
// epoch.
type ExtractorSerializer struct {
	Header string
	Layout string
}

// RegexExtractor is Flume's regex_extractor interceptor: on the first match
// in the body, group i goes through Serializers[i-1]; groups beyond the
// serializers are ignored; a group that took no part in the match sets no
// header. A date that does not parse fails the event.
type RegexExtractor struct {
	Regex       *regexp.Regexp
	Serializers []ExtractorSerializer
}

// ApplyErr implements Fallible.
func (x *RegexExtractor) ApplyErr(e flow.Event) (flow.Event, bool, error) {
	body := string(e.Body)
	m := x.Regex.FindStringSubmatchIndex(body)
	if m == nil {
		return e, true, nil
	}
	for g := 1; g <= x.Regex.NumSubexp() && g <= len(x.Serializers); g++ {
		s := x.Serializers[g-1]
		if m[2*g] < 0 {
			continue // an optional group that took no part: no header (Flume would put null)
		}
		v := body[m[2*g]:m[2*g+1]]
		if s.Layout != "" {
			t, err := time.ParseInLocation(s.Layout, v, time.Local)
			if err != nil {
				return e, true, fmt.Errorf("reading regex group %d %q as a date for header %s: %w", g, v, s.Header, err)
			}
			v = strconv.FormatInt(t.UnixMilli(), 10)
		}
		e = e.WithHeader(s.Header, v)
	}
	return e, true, nil
}
