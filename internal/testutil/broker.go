// Package testutil holds helpers for tests across runnel: an in-process
// broker on a free loopback port.
package testutil

import (
	"context"
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
