package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/kafkaopts"
)

// Error stages as Kafka Connect names them in __connect.errors.stage.
const (
	stageKeyConverter   = "KEY_CONVERTER"
	stageValueConverter = "VALUE_CONVERTER"
	stageTransformation = "TRANSFORMATION"
	stageTaskPut        = "TASK_PUT"
)

// SinkGroup is the consumer group of sink connector name, as Kafka names it.
func SinkGroup(name string) string { return "connect-" + name }

// runSink runs a sink task once: a consumer group on the connector's
// topics, auto-commit off; each polled batch is converted, transformed and
// delivered, then its offsets are committed.
func (w *Worker) runSink(ctx context.Context, cc *ConnectorConfig, id int) error {
	log := w.log.With("connector", cc.Name, "task", id)
	v, err := w.buildComponent(cc, log)
	if err != nil {
		return err
	}
	sink := v.(flow.Sink)
	defer func() {
		if err := sink.Close(); err != nil {
			log.Error("closing the sink", "err", err)
		}
	}()
	opts, err := clientOpts(log, kafkaopts.Consumer, w.cfg.Consumer, cc.Consumer)
	if err != nil {
		return err
	}
	base := []kgo.Opt{kgo.SeedBrokers(w.cfg.Brokers...), kgo.ConsumerGroup(SinkGroup(cc.Name)), kgo.DisableAutoCommit(),
		kgo.ClientID(fmt.Sprintf("connector-consumer-%s-%d", cc.Name, id)),
		kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if cc.TopicsRegex != "" {
		base = append(base, kgo.ConsumeRegex(), kgo.ConsumeTopics(cc.TopicsRegex))
	} else {
		base = append(base, kgo.ConsumeTopics(cc.Topics...))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return fmt.Errorf("creating the consumer of %s: %w", cc.Name, err)
	}
	defer func() {
		cl.AllowRebalance()
		cl.Close()
	}()
	d := &sinkDelivery{w: w, cc: cc, sink: sink, log: log}
	defer d.close()
	maxRecs := kafkaopts.MaxPollRecords(w.cfg.Consumer, cc.Consumer)
	for {
		fs := cl.PollRecords(ctx, maxRecs)
		if ctx.Err() != nil {
			return nil
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, kgo.ErrClientClosed) {
				fetchErr = err
			}
			log.Debug("fetching", "topic", t, "partition", p, "err", err)
		})
		if fetchErr != nil {
			return fmt.Errorf("consuming for %s: %w", cc.Name, fetchErr)
		}
		recs := fs.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			if fs.NumRecords() == 0 && len(fs.Errors()) > 0 {
				sleepCtx(ctx, 200*time.Millisecond)
			}
			continue
		}
		if err := d.deliver(ctx, recs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("committing offsets of %s: %w", cc.Name, err)
		}
		cl.AllowRebalance()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// sinkDelivery is one sink task's conversion, transforms, delivery and
// dead-letter queue; used by the task's goroutine only.
type sinkDelivery struct {
	w    *Worker
	cc   *ConnectorConfig
	sink flow.Sink
	log  *slog.Logger
	dlq  *kgo.Client // created on first use
}

func (d *sinkDelivery) close() {
	if d.dlq != nil {
		d.dlq.Close()
	}
}

// deliver converts, transforms and delivers recs. It returns nil when every
// record was delivered, or skipped under errors.tolerance=all.
func (d *sinkDelivery) deliver(ctx context.Context, recs []*kgo.Record) error {
	events := make([]flow.Event, 0, len(recs))
	origin := make([]*kgo.Record, 0, len(recs))
	for _, r := range recs {
		e := flow.Event{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Body: r.Value, Timestamp: r.Timestamp}
		if len(r.Headers) > 0 {
			e.Headers = make(map[string]string, len(r.Headers))
			for _, h := range r.Headers {
				e.Headers[h.Key] = string(h.Value)
			}
		}
		if d.cc.wantsText() {
			var err error
			if e.Key, err = d.cc.Key.DecodeText(r.Key); err != nil {
				if err := d.failed(ctx, r, e, stageKeyConverter, err); err != nil {
					return err
				}
				continue
			}
			if e.Body, err = d.cc.Value.DecodeText(r.Value); err != nil {
				if err := d.failed(ctx, r, e, stageValueConverter, err); err != nil {
					return err
				}
				continue
			}
		}
		out, keep, err := d.cc.Chain.Apply(e)
		if err != nil {
			if err := d.failed(ctx, r, e, stageTransformation, err); err != nil {
				return err
			}
			continue
		}
		if keep {
			events = append(events, out)
			origin = append(origin, r)
		}
	}
	deadline := time.Now().Add(d.cc.Errors.RetryTimeout)
	delay := 100 * time.Millisecond
	for len(events) > 0 {
		err := d.sink.Deliver(ctx, events)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var rej *flow.RejectedError
		if errors.As(err, &rej) {
			if !d.cc.Errors.All {
				return fmt.Errorf("sink %s (errors.tolerance=none): %w", d.cc.Name, err)
			}
			drop := map[int]bool{}
			for _, rj := range rej.Rejected {
				if rj.Index < 0 || rj.Index >= len(events) || drop[rj.Index] {
					continue
				}
				drop[rj.Index] = true
				if err := d.failed(ctx, origin[rj.Index], events[rj.Index], stageTaskPut, errors.New(rj.Reason)); err != nil {
					return err
				}
			}
			if len(drop) == 0 {
				return fmt.Errorf("sink %s rejected events it did not name: %w", d.cc.Name, err)
			}
			keptE, keptO := events[:0:0], origin[:0:0]
			for i := range events {
				if !drop[i] {
					keptE = append(keptE, events[i])
					keptO = append(keptO, origin[i])
				}
			}
			events, origin = keptE, keptO
			continue
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("delivering %d records to sink %s: %w", len(events), d.cc.Name, err)
		}
		wait := min(delay, d.cc.Errors.RetryDelayMax, time.Until(deadline))
		d.log.Warn("sink could not take a batch; retrying", "records", len(events), "retry_in", wait, "err", err)
		sleepCtx(ctx, wait)
		delay *= 2
	}
	return nil
}

// failed handles one record that failed at stage: under
// errors.tolerance=none it returns the error (failing the task); under all
// it logs the record (errors.log.enable) and sends it to the dead letter
// queue when one is configured.
func (d *sinkDelivery) failed(ctx context.Context, r *kgo.Record, e flow.Event, stage string, err error) error {
	if !d.cc.Errors.All {
		return fmt.Errorf("record %s-%d@%d of %s failed at %s (errors.tolerance=none): %w", r.Topic, r.Partition, r.Offset, d.cc.Name, stage, err)
	}
	if d.cc.Errors.LogEnable {
		logRecordError(d.log, d.cc, stage, err, e)
	}
	if d.cc.Errors.DLQTopic == "" {
		return nil
	}
	if err := d.deadLetter(ctx, r, stage, err); err != nil {
		return fmt.Errorf("sending record %s-%d@%d of %s to the dead letter queue %s: %w", r.Topic, r.Partition, r.Offset, d.cc.Name, d.cc.Errors.DLQTopic, err)
	}
	return nil
}

// exceptionClass names the Kafka exception class nearest to a failure at
// stage, for __connect.errors.exception.class.name.
func exceptionClass(stage string) string {
	switch stage {
	case stageKeyConverter, stageValueConverter, stageTransformation:
		return "org.apache.kafka.connect.errors.DataException"
	}
	return "org.apache.kafka.connect.errors.ConnectException"
}

// deadLetter produces the original record to the dead letter topic
// (created on first use), with Kafka's __connect.errors.* headers when
// errors.deadletterqueue.context.headers.enable is set.
func (d *sinkDelivery) deadLetter(ctx context.Context, r *kgo.Record, stage string, cause error) error {
	topic := d.cc.Errors.DLQTopic
	if d.dlq == nil {
		cl, err := kgo.NewClient(kgo.SeedBrokers(d.w.cfg.Brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			return err
		}
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, d.cc.Errors.DLQReplication, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			cl.Close()
			return fmt.Errorf("creating topic %s: %w", topic, err)
		}
		d.dlq = cl
	}
	out := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	out.Headers = append(out.Headers, r.Headers...)
	if d.cc.Errors.DLQHeaders {
		h := func(k, v string) {
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: "__connect.errors." + k, Value: []byte(v)})
		}
		h("topic", r.Topic)
		h("partition", strconv.Itoa(int(r.Partition)))
		h("offset", strconv.FormatInt(r.Offset, 10))
		h("connector.name", d.cc.Name)
		h("task.id", "0")
		h("stage", stage)
		h("class.name", d.cc.Props[KeyConnectorClass])
		h("exception.class.name", exceptionClass(stage))
		h("exception.message", cause.Error())
		h("exception.stacktrace", traceOf(cause, 0))
	}
	return d.dlq.ProduceSync(ctx, out).FirstErr()
}
