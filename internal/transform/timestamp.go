package transform

import (
	"strconv"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Timestamp interceptor config keys (Flume's names).
const (
	TimestampHeaderName       = "headerName"
	TimestampPreserveExisting = "preserveExisting"
)

// TimestampSpec documents Flume's timestamp interceptor.
var TimestampSpec = flow.Spec{
	Names:   []string{"timestamp", "org.apache.flume.interceptor.TimestampInterceptor$Builder"},
	Summary: "sets a header to the time the event passed, in milliseconds since the epoch",
	Keys: []flow.Key{
		{Name: TimestampHeaderName, Default: "timestamp", Doc: "header to set"},
		{Name: TimestampPreserveExisting, Type: flow.Bool, Default: "false", Doc: "keep the header when the event already has it"},
	},
}

func init() {
	flow.RegisterTransform(TimestampSpec, func(c flow.Config) (flow.Transform, error) {
		return &Timestamp{Header: c.String(TimestampHeaderName), PreserveExisting: c.Bool(TimestampPreserveExisting), Now: time.Now}, nil
	})
}

// Timestamp is Flume's timestamp interceptor.
type Timestamp struct {
	Header           string
	PreserveExisting bool
	Now              func() time.Time
}

// Apply implements flow.Transform.
func (t *Timestamp) Apply(e flow.Event) (flow.Event, bool) {
	return setHeader(e, t.Header, t.PreserveExisting, func() string { return strconv.FormatInt(t.Now().UnixMilli(), 10) }), true
}
