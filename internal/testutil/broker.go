// Package testutil holds helpers for tests across runnel: an in-process
// broker on a free loopback port.
package testutil

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/runnel/runnel/internal/app"
)

// RunBroker starts an in-process broker on 127.0.0.1:0 with its data in
// t.TempDir(), closes it in t.Cleanup, and returns its "host:port". Options
// edit the BrokerOptions first, e.g.
//
//	testutil.RunBroker(t, func(o *app.BrokerOptions) { o.Settings["num.partitions"] = "3" })
func RunBroker(t testing.TB, opts ...app.BrokerOption) string {
	t.Helper()
	b := StartBroker(t, opts...)
	return b.Addr()
}

// StartBroker is RunBroker returning the *app.Broker, for tests that restart
// it (Close it, then start another on the same DataDir).
func StartBroker(t testing.TB, opts ...app.BrokerOption) *app.Broker {
	t.Helper()
	o := app.BrokerOptions{
		DataDir:  t.TempDir(),
		Listen:   "127.0.0.1:0",
		Settings: map[string]string{},
	}
	for _, opt := range opts {
		opt(&o)
	}
	b, err := app.StartBroker(context.Background(), o)
	if err != nil {
		t.Fatalf("starting broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing broker: %v", err)
		}
	})
	return b
}

// WithSettings sets Kafka-named broker settings, e.g.
// testutil.RunBroker(t, testutil.WithSettings("num.partitions", "3")).
func WithSettings(kv ...string) app.BrokerOption {
	return func(o *app.BrokerOptions) {
		for i := 0; i+1 < len(kv); i += 2 {
			o.Settings[kv[i]] = kv[i+1]
		}
	}
}

// WithLogger sends the broker's logs to t.Log (at debug level).
func WithLogger(t testing.TB) app.BrokerOption {
	return func(o *app.BrokerOptions) {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
