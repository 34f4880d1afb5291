package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Selector decides which channels an event goes to (Flume's channel
// selector). Required channels must all accept the event or the batch fails;
// optional channels are tried after the required ones commit and their
// failures are only logged.
type Selector interface {
	Select(e Event) (required, optional []NamedChannel)
}

// NamedChannel is a channel with the name it has in the config, for errors.
type NamedChannel struct {
	Name    string
	Channel Channel
}

// Replicating sends every event to every channel (Flume's default
// selector); channels listed in Optional are optional.
type Replicating struct {
	Required []NamedChannel
	Optional []NamedChannel
}

// Select implements Selector.
func (r *Replicating) Select(Event) (required, optional []NamedChannel) {
	return r.Required, r.Optional
}

// DefaultSelectorHeader is the header a Multiplexing selector reads when
// selector.header is not set (Flume's default).
const DefaultSelectorHeader = "flume.selector.header"

// Multiplexing routes each event by the value of one header (Flume's
// multiplexing channel selector): Mapping[value] are its required channels,
// or Default when the value is absent, empty or unmapped; Optional[value]
// are its optional channels (none when unmapped).
type Multiplexing struct {
	Header   string
	Mapping  map[string][]NamedChannel
	Optional map[string][]NamedChannel
	Default  []NamedChannel
}

// Select implements Selector.
func (m *Multiplexing) Select(e Event) (required, optional []NamedChannel) {
	v, ok := e.Headers[m.Header]
	if !ok {
		return m.Default, nil
	}
	required, ok = m.Mapping[v]
	if !ok || strings.TrimSpace(v) == "" {
		required = m.Default
	}
	return required, m.Optional[v]
}

// ChannelProcessor is the Emitter a source writes to: it applies transforms
// in order, then commits the batch to every channel the Selector names.
type ChannelProcessor struct {
	Transforms []Transform
	Selector   Selector
	Logger     *slog.Logger
	// Counters, when set, get Flume's source counters for every Emit:
	// AppendBatchReceivedCount, EventReceivedCount (events handed in),
	// AppendBatchAcceptedCount, EventAcceptedCount (events committed) and
	// ChannelWriteFail (batches refused).
	Counters *Counters
}

// Emit implements Emitter. Required channels get the batch all-or-none:
// one transaction per channel, every Put staged first, then every Commit;
// any Put failure rolls all of them back. Because channels reserve room at
// Put (see Transaction), Commit does not fail for lack of room.
func (p *ChannelProcessor) Emit(ctx context.Context, batch []Event) error {
	p.Counters.Add("AppendBatchReceivedCount", 1)
	p.Counters.Add("EventReceivedCount", int64(len(batch)))
	if err := p.emit(ctx, batch); err != nil {
		p.Counters.Add("ChannelWriteFail", 1)
		return err
	}
	p.Counters.Add("AppendBatchAcceptedCount", 1)
	p.Counters.Add("EventAcceptedCount", int64(len(batch)))
	return nil
}

func (p *ChannelProcessor) emit(ctx context.Context, batch []Event) error {
	type plan struct {
		ch     NamedChannel
		events []Event
	}
	var required, optional []*plan
	byReq := map[Channel]*plan{}
	byOpt := map[Channel]*plan{}
	add := func(m map[Channel]*plan, list *[]*plan, ch NamedChannel, e Event) {
		pl := m[ch.Channel]
		if pl == nil {
			pl = &plan{ch: ch}
			m[ch.Channel] = pl
			*list = append(*list, pl)
		}
		pl.events = append(pl.events, e)
	}
	for _, e := range batch {
		keep := true
		for _, t := range p.Transforms {
			if e, keep = t.Apply(e); !keep {
				break
			}
		}
		if !keep {
			continue
		}
		req, opt := p.Selector.Select(e)
		for _, ch := range req {
			add(byReq, &required, ch, e)
		}
		for _, ch := range opt {
			add(byOpt, &optional, ch, e)
		}
	}

	txs := make([]Transaction, 0, len(required))
	rollback := func(cause error) error {
		var errs []error
		errs = append(errs, cause)
		for _, tx := range txs {
			if err := tx.Rollback(); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, pl := range required {
		tx := pl.ch.Channel.Begin()
		txs = append(txs, tx)
		for _, e := range pl.events {
			if err := tx.Put(ctx, e); err != nil {
				return rollback(fmt.Errorf("putting %d events to channel %s: %w", len(pl.events), pl.ch.Name, err))
			}
		}
	}
	for i, tx := range txs {
		if err := tx.Commit(); err != nil {
			// Commits before i are done and cannot be undone; the
			// Transaction contract makes this unreachable for channels that
			// reserve at Put.
			txs = txs[i+1:]
			return rollback(fmt.Errorf("committing to channel %s: %w", required[i].ch.Name, err))
		}
	}

	for _, pl := range optional {
		if err := putAll(ctx, pl.ch.Channel, pl.events); err != nil && p.Logger != nil {
			p.Logger.Warn("optional channel did not take the batch", "channel", pl.ch.Name, "err", err)
		}
	}
	return nil
}

func putAll(ctx context.Context, ch Channel, events []Event) error {
	tx := ch.Begin()
	for _, e := range events {
		if err := tx.Put(ctx, e); err != nil {
			return errors.Join(err, tx.Rollback())
		}
	}
	return tx.Commit()
}
