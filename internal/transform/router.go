package transform

import (
	"errors"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// TimestampRouter and RegexRouter config keys (Kafka's names).
const (
	TimestampRouterTopicFormat     = "topic.format"
	TimestampRouterTimestampFormat = "timestamp.format"
	RegexRouterRegex               = "regex"
	RegexRouterReplacement         = "replacement"
)

func init() {
	registerSMT("TimestampRouter", "sets the topic from the old topic and the record timestamp, e.g. logs-20240131", []flow.Key{
		{Name: TimestampRouterTopicFormat, Default: "${topic}-${timestamp}", Doc: "new topic; ${topic} and ${timestamp} are replaced"},
		{Name: TimestampRouterTimestampFormat, Default: "yyyyMMdd", Doc: "java.text.SimpleDateFormat pattern for ${timestamp} (UTC)"},
	}, func(c flow.Config) (smtFunc, error) {
		format := c.String(TimestampRouterTopicFormat)
		layout, err := javaLayout(TimestampRouterTimestampFormat, c.String(TimestampRouterTimestampFormat))
		if err != nil {
			return nil, err
		}
		return eventFunc(func(e flow.Event) (flow.Event, bool, error) {
			if e.Timestamp.IsZero() {
				return e, true, errors.New("timestamp missing on record; TimestampRouter needs one")
			}
			t := strings.ReplaceAll(format, "${topic}", e.Topic)
			e.Topic = strings.ReplaceAll(t, "${timestamp}", e.Timestamp.UTC().Format(layout))
			return e, true, nil
		}), nil
	})
	registerSMT("RegexRouter", "renames the topic when the whole topic name matches a regular expression", []flow.Key{
		{Name: RegexRouterRegex, Required: true, Doc: "regular expression the whole topic must match"},
		{Name: RegexRouterReplacement, Required: true, Doc: "new topic; $1 or ${name} insert groups"},
	}, func(c flow.Config) (smtFunc, error) {
		full, err := compileJavaFull(RegexRouterRegex, c.String(RegexRouterRegex))
		if err != nil {
			return nil, err
		}
		re, _ := compileJava(RegexRouterRegex, c.String(RegexRouterRegex))
		tmpl, err := javaReplacement(RegexRouterReplacement, c.String(RegexRouterReplacement), re)
		if err != nil {
			return nil, err
		}
		return eventFunc(func(e flow.Event) (flow.Event, bool, error) {
			// Kafka: Matcher.matches(), then replaceFirst, which searches
			// again from the start (so "a|ab" on "ab" replaces only "a").
			if full.MatchString(e.Topic) {
				e.Topic = replaceFirst(re, e.Topic, tmpl)
			}
			return e, true, nil
		}), nil
	})
	registerSMT("Filter", "drops every record (use it with a predicate)", nil, func(flow.Config) (smtFunc, error) {
		return eventFunc(func(e flow.Event) (flow.Event, bool, error) { return e, false, nil }), nil
	})
}
