package transform

import "github.com/runnel/runnel/internal/flow"

// Static interceptor config keys (Flume's names).
const (
	StaticKey              = "key"
	StaticValue            = "value"
	StaticPreserveExisting = "preserveExisting"
)

// StaticSpec documents Flume's static interceptor.
var StaticSpec = flow.Spec{
	Names:   []string{"static", "org.apache.flume.interceptor.StaticInterceptor$Builder"},
	Summary: "sets one header to a fixed value",
	Keys: []flow.Key{
		{Name: StaticKey, Default: "key", Doc: "header to set"},
		{Name: StaticValue, Default: "value", Doc: "value to set it to"},
		{Name: StaticPreserveExisting, Type: flow.Bool, Default: "true", Doc: "keep the header when the event already has it"},
	},
}

func init() {
	flow.RegisterTransform(StaticSpec, func(c flow.Config) (flow.Transform, error) {
		return &Static{Key: c.String(StaticKey), Value: c.String(StaticValue), PreserveExisting: c.Bool(StaticPreserveExisting)}, nil
	})
}

// Static is Flume's static interceptor.
type Static struct {
	Key, Value       string
	PreserveExisting bool
}

// Apply implements flow.Transform.
func (s *Static) Apply(e flow.Event) (flow.Event, bool) {
	return setHeader(e, s.Key, s.PreserveExisting, func() string { return s.Value }), true
}
