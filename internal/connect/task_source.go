package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/kafkaopts"
)

// runSource runs a source task once: the source's Run with an Emitter that
// converts, transforms and produces every event (acks=all, idempotent).
func (w *Worker) runSource(ctx context.Context, cc *ConnectorConfig) error {
	log := w.log.With("connector", cc.Name, "task", 0)
	if err := w.offsets.Reload(ctx, cc.Name); err != nil {
		return err
	}
	v, err := w.buildComponent(cc, log)
	if err != nil {
		return err
	}
	src := v.(flow.Source)
	opts, err := clientOpts(log, kafkaopts.Producer, w.cfg.Producer, cc.Producer)
	if err != nil {
		return err
	}
	opts = append([]kgo.Opt{kgo.SeedBrokers(w.cfg.Brokers...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation()}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the producer of %s: %w", cc.Name, err)
	}
	defer cl.Close()
	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	em := &sourceEmitter{cc: cc, cl: cl, log: log, fail: fail}
	err = src.Run(runCtx, em)
	if cause := context.Cause(runCtx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("source %s: %w", cc.Name, err)
	}
	return nil
}

// sourceEmitter is the flow.Emitter of a source task.
type sourceEmitter struct {
	cc   *ConnectorConfig
	cl   *kgo.Client
	log  *slog.Logger
	fail context.CancelCauseFunc
}

// Emit converts and transforms batch, produces it and returns once every
// record is acknowledged by the broker. A transform error fails the task
// under errors.tolerance=none (the batch is not produced); under all the
// record is skipped and logged when errors.log.enable is set.
func (s *sourceEmitter) Emit(ctx context.Context, batch []flow.Event) error {
	recs := make([]*kgo.Record, 0, len(batch))
	for _, e := range batch {
		e.Body = s.cc.Value.Encode(e.Body)
		e.Key = s.cc.Key.Encode(e.Key)
		if e.Topic == "" {
			e.Topic = s.cc.Topic
		}
		out, keep, err := s.cc.Chain.Apply(e)
		if err != nil {
			if !s.cc.Errors.All {
				err = fmt.Errorf("transforming a record of %s (errors.tolerance=none): %w", s.cc.Name, err)
				s.fail(err)
				return err
			}
			if s.cc.Errors.LogEnable {
				logRecordError(s.log, s.cc, "transformation", err, e)
			}
			continue
		}
		if !keep {
			continue
		}
		if out.Topic == "" {
			err := fmt.Errorf("source %s: a record has no topic; set the connector's topic", s.cc.Name)
			s.fail(err)
			return err
		}
		recs = append(recs, toRecord(out))
	}
	if len(recs) == 0 {
		return nil
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing %d records of %s: %w", len(recs), s.cc.Name, err)
	}
	return nil
}

func toRecord(e flow.Event) *kgo.Record {
	r := &kgo.Record{Topic: e.Topic, Key: e.Key, Value: e.Body, Timestamp: e.Timestamp}
	for k, v := range e.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return r
}

// logRecordError logs a failed record as errors.log.enable asks, with the
// record's bytes when errors.log.include.messages is set.
func logRecordError(log *slog.Logger, cc *ConnectorConfig, stage string, err error, e flow.Event) {
	args := []any{"stage", stage, "topic", e.Topic, "err", err}
	if e.Offset >= 0 && e.Topic != "" && cc.Type == connectorTypeSink {
		args = append(args, "partition", e.Partition, "offset", e.Offset)
	}
	if cc.Errors.LogMessages {
		args = append(args, "key", string(e.Key), "value", string(e.Body))
	}
	log.Error("error handling a record; skipped (errors.tolerance=all)", args...)
}
