package accesslog

import (
	"strconv"

	"github.com/runnel/runnel/internal/flow"
)

// Transform config keys.
const (
	TransformSchemas = "schemas.enable"
	TransformOnError = "on.error"
)

// ErrorHeader names the header a line that did not parse carries (with
// on.error=keep), saying what was wrong.
const ErrorHeader = "runnel.accesslog.error"

// TransformSpec documents the access-log parsing transform.
var TransformSpec = flow.Spec{
	Names:   []string{"accesslog", "runnel.transforms.AccessLogToJSON"},
	Summary: "parses an Apache/NCSA common or combined log line into a JSON record (time, client_ip, method, path, status, bytes, ...)",
	Keys: []flow.Key{
		{Name: TransformSchemas, Type: flow.Bool, Default: "false", Doc: "wrap the record in Kafka Connect's JsonConverter envelope with its schema"},
		{Name: TransformOnError, Default: "keep", Doc: "a line that does not parse: keep (unchanged, with header " + ErrorHeader + ") or drop"},
	},
}

func init() {
	flow.RegisterTransform(TransformSpec, func(c flow.Config) (flow.Transform, error) {
		onErr := c.String(TransformOnError)
		if onErr != "keep" && onErr != "drop" {
			return nil, &flow.KeyError{Key: TransformOnError, Value: onErr, Problem: "unknown policy", Fix: "use keep or drop"}
		}
		return &Transform{Envelope: c.Bool(TransformSchemas), Drop: onErr == "drop"}, nil
	})
}

// Transform turns access-log lines into JSON records. It sets the event's
// Timestamp to the request time, and its "timestamp" header (milliseconds,
// as Flume's timestamp interceptor) unless one is present.
type Transform struct {
	Envelope bool // JsonConverter envelope with schema
	Drop     bool // drop lines that do not parse instead of keeping them
}

// Apply implements flow.Transform.
func (t *Transform) Apply(e flow.Event) (flow.Event, bool) {
	if e.Body == nil {
		return e, true // a tombstone stays one
	}
	entry, err := Parse(e.Body)
	if err != nil {
		if t.Drop {
			return e, false
		}
		return e.WithHeader(ErrorHeader, err.Error()), true
	}
	e.Body = entry.Record().JSON(t.Envelope)
	e.Timestamp = entry.Time
	if _, ok := e.Headers["timestamp"]; !ok {
		e = e.WithHeader("timestamp", strconv.FormatInt(entry.Time.UnixMilli(), 10))
	}
	return e, true
}
