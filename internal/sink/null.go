package sink

import (
	"context"

	"github.com/runnel/runnel/internal/flow"
)

// Null sink config keys (Flume's names).
const (
	NullBatchSize = "batchSize"
)

// NullSpec documents the null sink.
var NullSpec = flow.Spec{
	Names:   []string{"null", "org.apache.flume.sink.NullSink"},
	Summary: "discards every event (for testing and benchmarks)",
	Keys: []flow.Key{
		{Name: NullBatchSize, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "most events taken per transaction"},
	},
}

func init() {
	flow.RegisterSink(NullSpec, func(c flow.Config) (flow.Sink, error) {
		return &Null{Batch: int(c.Int(NullBatchSize))}, nil
	})
}

// Null is Flume's NullSink: it takes events and drops them.
type Null struct {
	Batch int
}

// Deliver implements flow.Sink.
func (n *Null) Deliver(context.Context, []flow.Event) error { return nil }

// BatchSize implements flow.BatchSizer.
func (n *Null) BatchSize() int { return n.Batch }

// Close implements flow.Sink.
func (n *Null) Close() error { return nil }
