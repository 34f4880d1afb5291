package source

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Stress source config keys (Flume's names).
const (
	StressSize                = "size"
	StressMaxTotalEvents      = "maxTotalEvents"
	StressMaxSuccessfulEvents = "maxSuccessfulEvents"
	StressBatchSize           = "batchSize"
	StressMaxEventsPerSecond  = "maxEventsPerSecond"
)

// StressSpec documents the stress source (Flume has no alias for it).
var StressSpec = flow.Spec{
	Names:   []string{"org.apache.flume.source.StressSource"},
	Summary: "emits events of one random body of a fixed size as fast as allowed, for load tests",
	Keys: []flow.Key{
		{Name: StressSize, Type: flow.Int, Default: "500", Min: 0, Max: 1 << 30, Doc: "body size in bytes"},
		{Name: StressMaxTotalEvents, Type: flow.Int, Default: "-1", Min: -1, Max: 1 << 62, Doc: "stop after this many events were attempted (-1: no limit)"},
		{Name: StressMaxSuccessfulEvents, Type: flow.Int, Default: "-1", Min: -1, Max: 1 << 62, Doc: "stop after this many events were committed (-1: no limit)"},
		{Name: StressBatchSize, Type: flow.Int, Default: "1", Min: 1, Max: 1 << 20, Doc: "events per batch put to the channels"},
		{Name: StressMaxEventsPerSecond, Type: flow.Int, Default: "0", Min: 0, Max: 1 << 40, Doc: "rate limit in events per second (0: none)"},
	},
}

func init() {
	flow.RegisterSource(StressSpec, func(c flow.Config) (flow.Source, error) {
		return &Stress{
			Size:                int(c.Int(StressSize)),
			MaxTotalEvents:      c.Int(StressMaxTotalEvents),
			MaxSuccessfulEvents: c.Int(StressMaxSuccessfulEvents),
			BatchSize:           int(c.Int(StressBatchSize)),
			MaxEventsPerSecond:  c.Int(StressMaxEventsPerSecond),
			cfg:                 c,
		}, nil
	})
}

// Stress is Flume's StressSource: every event carries the same random body
// of Size bytes. Like Flume's, a batch the channels refuse is counted as
// attempted and not offered again; the source stops emitting when
// MaxTotalEvents were attempted or MaxSuccessfulEvents committed.
type Stress struct {
	Size                int
	MaxTotalEvents      int64 // <0: no limit
	MaxSuccessfulEvents int64 // <0: no limit
	BatchSize           int
	MaxEventsPerSecond  int64 // 0: no limit
	cfg                 flow.Config
}

// Run implements flow.Source; once a limit is reached it idles until ctx is
// done.
func (s *Stress) Run(ctx context.Context, out flow.Emitter) error {
	body := make([]byte, s.Size)
	rand.Read(body)
	var total, ok int64
	start := time.Now()
	wait := retryBackoffMin
	for {
		if (s.MaxTotalEvents >= 0 && total >= s.MaxTotalEvents) || (s.MaxSuccessfulEvents >= 0 && ok >= s.MaxSuccessfulEvents) {
			<-ctx.Done()
			return nil
		}
		n := int64(max(s.BatchSize, 1))
		if s.MaxTotalEvents >= 0 {
			n = min(n, s.MaxTotalEvents-total)
		}
		if s.MaxEventsPerSecond > 0 {
			// Pace so that total+n events are not sent before their time.
			due := start.Add(time.Duration(float64(total+n) / float64(s.MaxEventsPerSecond) * float64(time.Second)))
			if d := time.Until(due); d > 0 && !sleepCtx(ctx, d) {
				return nil
			}
		}
		batch := make([]flow.Event, n)
		for i := range batch {
			batch[i] = flow.Event{Headers: map[string]string{}, Body: body}
		}
		err := out.Emit(ctx, batch)
		total += n
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.cfg.Log().Debug("stress source batch refused", "err", err)
			if !sleepCtx(ctx, wait) {
				return nil
			}
			wait = min(wait*2, retryBackoffMax)
			continue
		}
		wait = retryBackoffMin
		ok += n
	}
}
