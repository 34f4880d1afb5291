package connect

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Sink connector offsets use Kafka's partition and offset keys.
const (
	sinkPartTopic  = "kafka_topic"
	sinkPartNumber = "kafka_partition"
	sinkOffset     = "kafka_offset"
)

// GetOffsets returns a connector's offsets: a source's stored offsets, or
// a sink's committed consumer group offsets.
func (w *Worker) GetOffsets(ctx context.Context, name string) (*Offsets, error) {
	cc, err := w.Config(name)
	if err != nil {
		return nil, err
	}
	out := &Offsets{Offsets: []OffsetEntry{}}
	if cc.Type == connectorTypeSource {
		for _, e := range w.offsets.List(name) {
			out.Offsets = append(out.Offsets, OffsetEntry{Partition: e.Partition, Offset: e.Offset})
		}
		return out, nil
	}
	resp, err := kadm.NewClient(w.admin).FetchOffsets(ctx, SinkGroup(name))
	if err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of %s: %w", SinkGroup(name), err)
	}
	for _, o := range resp.Sorted() {
		if o.Err != nil || o.At < 0 {
			continue
		}
		out.Offsets = append(out.Offsets, OffsetEntry{
			Partition: map[string]any{sinkPartTopic: o.Topic, sinkPartNumber: o.Partition},
			Offset:    map[string]any{sinkOffset: o.At},
		})
	}
	return out, nil
}

// mustBeStopped refuses offset changes unless the connector is STOPPED, as
// Kafka does.
func (w *Worker) mustBeStopped(name string) (*ConnectorConfig, error) {
	cc, t, err := w.snapshot(name)
	if err != nil {
		return nil, err
	}
	if t != StateStopped {
		return nil, fmt.Errorf("connectors must be in the STOPPED state before their offsets can be modified; stop %s first (PUT /connectors/%s/stop): %w", name, name, ErrBadState)
	}
	return cc, nil
}

// AlterOffsets writes the given offsets of a stopped connector (a null
// offset removes a source partition's offset).
func (w *Worker) AlterOffsets(ctx context.Context, name string, o Offsets) error {
	cc, err := w.mustBeStopped(name)
	if err != nil {
		return err
	}
	if cc.Type == connectorTypeSource {
		for _, e := range o.Offsets {
			if e.Partition == nil {
				return fmt.Errorf("an offset entry has no partition: %w", errBadRequest)
			}
			w.offsets.Set(name, e.Partition, e.Offset)
		}
		return w.offsets.Flush()
	}
	commit := kadm.Offsets{}
	var del []kadm.TopicsSet
	for _, e := range o.Offsets {
		topic, _ := e.Partition[sinkPartTopic].(string)
		p, ok := e.Partition[sinkPartNumber].(float64)
		if topic == "" || !ok || p < 0 || p > math.MaxInt32 {
			return fmt.Errorf("a sink offset partition needs %q and %q: %w", sinkPartTopic, sinkPartNumber, errBadRequest)
		}
		if e.Offset == nil {
			del = append(del, kadm.TopicsSet{topic: {int32(p): struct{}{}}})
			continue
		}
		at, ok := e.Offset[sinkOffset].(float64)
		if !ok || at < 0 {
			return fmt.Errorf("a sink offset needs a non-negative %q: %w", sinkOffset, errBadRequest)
		}
		commit.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: int64(at), LeaderEpoch: -1})
	}
	adm := kadm.NewClient(w.admin)
	if len(commit) > 0 {
		resp, err := adm.CommitOffsets(ctx, SinkGroup(name), commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("committing offsets of %s: %w", SinkGroup(name), err)
		}
	}
	for _, s := range del {
		if _, err := adm.DeleteOffsets(ctx, SinkGroup(name), s); err != nil {
			return fmt.Errorf("deleting offsets of %s: %w", SinkGroup(name), err)
		}
	}
	return nil
}

// ResetOffsets removes every offset of a stopped connector (a sink's
// consumer group is deleted).
func (w *Worker) ResetOffsets(ctx context.Context, name string) error {
	cc, err := w.mustBeStopped(name)
	if err != nil {
		return err
	}
	if cc.Type == connectorTypeSource {
		w.offsets.Reset(name)
		return w.offsets.Flush()
	}
	resp, err := kadm.NewClient(w.admin).DeleteGroup(ctx, SinkGroup(name))
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("deleting consumer group %s: %w", SinkGroup(name), err)
	}
	return nil
}
