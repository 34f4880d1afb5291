package flow

import "context"

// CountChannel returns ch wrapped so that its transactions add Flume's
// channel counters to c: EventPutAttemptCount and EventTakeAttemptCount for
// every Put and Take call, EventPutSuccessCount and EventTakeSuccessCount
// for the events of each committed transaction (as Flume counts them, at
// commit). The wrapper keeps ch's Notifier; Unwrap returns ch for the other
// optional interfaces. A nil c returns ch unchanged.
func CountChannel(ch Channel, c *Counters) Channel {
	if c == nil {
		return ch
	}
	cc := &countingChannel{Channel: ch, c: c}
	if n, ok := ch.(Notifier); ok {
		return &notifyingCountingChannel{countingChannel: cc, n: n}
	}
	return cc
}

// Unwrapper is implemented by channel wrappers such as CountChannel's.
type Unwrapper interface {
	Unwrap() Channel
}

// Unwrap returns the channel under every wrapper that implements Unwrapper.
func Unwrap(ch Channel) Channel {
	for {
		u, ok := ch.(Unwrapper)
		if !ok {
			return ch
		}
		ch = u.Unwrap()
	}
}

type countingChannel struct {
	Channel
	c *Counters
}

func (cc *countingChannel) Unwrap() Channel { return cc.Channel }

func (cc *countingChannel) Begin() Transaction {
	return &countingTx{tx: cc.Channel.Begin(), c: cc.c}
}

type notifyingCountingChannel struct {
	*countingChannel
	n Notifier
}

func (nc *notifyingCountingChannel) Ready() <-chan struct{} { return nc.n.Ready() }

// countingTx counts locally and adds to the shared counters once, when the
// transaction ends; used by one goroutine like any Transaction.
type countingTx struct {
	tx                  Transaction
	c                   *Counters
	putTries, takeTries int64
	puts, takes         int64
}

func (t *countingTx) Put(ctx context.Context, e Event) error {
	t.putTries++
	err := t.tx.Put(ctx, e)
	if err == nil {
		t.puts++
	}
	return err
}

func (t *countingTx) Take(ctx context.Context) (Event, bool, error) {
	t.takeTries++
	e, ok, err := t.tx.Take(ctx)
	if ok && err == nil {
		t.takes++
	}
	return e, ok, err
}

func (t *countingTx) Commit() error {
	err := t.tx.Commit()
	t.flush(err == nil)
	return err
}

func (t *countingTx) Rollback() error {
	err := t.tx.Rollback()
	t.flush(false)
	return err
}

func (t *countingTx) flush(committed bool) {
	if t.putTries > 0 {
		t.c.Add("EventPutAttemptCount", t.putTries)
	}
	if t.takeTries > 0 {
		t.c.Add("EventTakeAttemptCount", t.takeTries)
	}
	if committed && t.puts > 0 {
		t.c.Add("EventPutSuccessCount", t.puts)
	}
	if committed && t.takes > 0 {
		t.c.Add("EventTakeSuccessCount", t.takes)
	}
	t.putTries, t.takeTries, t.puts, t.takes = 0, 0, 0, 0
}
