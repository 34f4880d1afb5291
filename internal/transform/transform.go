package transform

import (
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Fallible is implemented by every transform that can fail on an event (the
// Connect SMTs: a value that is not a struct, a field that does not exist, a
// string that does not parse). ApplyErr is Apply with the failure reported:
// on error the returned event and keep are meaningless.
//
// flow.Transform.Apply cannot return an error, so Apply of a Fallible
// transform logs the failure at warn level, adds 1 to the component's
// TransformFailedCount counter and passes the event on unchanged (a Flume
// agent keeps flowing). The Connect worker calls ApplyErr through Chain (or
// Apply below) and routes failures per errors.tolerance.
type Fallible interface {
	flow.Transform
	ApplyErr(e flow.Event) (out flow.Event, keep bool, err error)
}

// Apply runs t on e, returning t's failure when t is Fallible.
func Apply(t flow.Transform, e flow.Event) (flow.Event, bool, error) {
	if f, ok := t.(Fallible); ok {
		return f.ApplyErr(e)
	}
	out, keep := t.Apply(e)
	return out, keep, nil
}

// FailedCounter is the counter a Fallible transform adds to when Apply
// passes an event on unchanged because the transform failed.
const FailedCounter = "TransformFailedCount"

// failureLogEvery is how often Apply logs failures after the first one; the
// ones in between are only counted.
const failureLogEvery = time.Minute

// fallible adapts a function that can fail to Fallible.
type fallible struct {
	name     string // the type name, for logs
	fn       func(flow.Event) (flow.Event, bool, error)
	log      *slog.Logger
	counters *flow.Counters
	rec      *recordSMT // set when the transform only rewrites a decoded key or value

	mu         sync.Mutex
	lastLog    time.Time // guarded by mu
	suppressed int64     // failures not logged since lastLog; guarded by mu
}

func newFallible(c flow.Config, fn func(flow.Event) (flow.Event, bool, error)) *fallible {
	name := c.Name
	if c.Spec != nil && len(c.Spec.Names) > 0 {
		name = c.Spec.Names[0]
	}
	return &fallible{name: name, fn: fn, log: c.Log(), counters: c.Counters}
}

// ApplyErr implements Fallible.
func (f *fallible) ApplyErr(e flow.Event) (flow.Event, bool, error) { return f.fn(e) }

// Apply implements flow.Transform; see Fallible for what happens on failure.
func (f *fallible) Apply(e flow.Event) (flow.Event, bool) {
	out, keep, err := f.fn(e)
	if err != nil {
		f.counters.Add(FailedCounter, 1)
		f.logFailure(err)
		return e, true
	}
	return out, keep
}

// logFailure logs err, at most once per failureLogEvery with the number of
// failures not logged in between, so a transform failing on every event
// does not flood the log. It takes f.mu.
func (f *fallible) logFailure(err error) {
	f.mu.Lock()
	now := time.Now()
	if !f.lastLog.IsZero() && now.Sub(f.lastLog) < failureLogEvery {
		f.suppressed++
		f.mu.Unlock()
		return
	}
	n := f.suppressed
	f.lastLog, f.suppressed = now, 0
	f.mu.Unlock()
	f.log.Warn("transform failed; event passed on unchanged", "transform", f.name, "err", err, "failures_not_logged", n)
}

// withoutHeaders returns e with the named headers removed; the header map is
// copied (never changed in place) because one event may be fanned out to
// several channels.
func withoutHeaders(e flow.Event, drop func(k string) bool) flow.Event {
	var h map[string]string
	for k := range e.Headers {
		if drop(k) {
			if h == nil {
				h = maps.Clone(e.Headers)
			}
			delete(h, k)
		}
	}
	if h != nil {
		e.Headers = h
	}
	return e
}

// setHeader sets header k to value() unless preserve is set and e already
// has k (Flume's preserveExisting).
func setHeader(e flow.Event, k string, preserve bool, value func() string) flow.Event {
	if _, ok := e.Headers[k]; ok && preserve {
		return e
	}
	return e.WithHeader(k, value())
}

// keyErr is a *flow.KeyError for key.
func keyErr(key, value, problem, fix string, args ...any) error {
	return &flow.KeyError{Key: key, Value: value, Problem: problem, Fix: fmt.Sprintf(fix, args...)}
}
