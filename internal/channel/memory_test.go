package channel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

func ev(s string) flow.Event { return flow.Event{Body: []byte(s)} }

func put(t *testing.T, m *Memory, bodies ...string) error {
	t.Helper()
	tx := m.Begin()
	for _, b := range bodies {
		if err := tx.Put(context.Background(), ev(b)); err != nil {
			return errors.Join(err, tx.Rollback())
		}
	}
	return tx.Commit()
}

// drain takes everything, in as many transactions as transactionCapacity
// needs, committing each.
func drain(t *testing.T, m *Memory) []string {
	t.Helper()
	var out []string
	for {
		tx := m.Begin()
		n, more := 0, false
		for {
			e, ok, err := tx.Take(context.Background())
			if errors.Is(err, flow.ErrTransactionFull) {
				more = true
				break
			}
			if err != nil {
				t.Fatalf("take: %v", err)
			}
			if !ok {
				break
			}
			n++
			out = append(out, string(e.Body))
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if !more || n == 0 {
			return out
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMemoryTransactions(t *testing.T) {
	cases := []struct {
		name            string
		capacity, txCap int
		bytes           int64
		run             func(t *testing.T, m *Memory) error
		wantErr         error
		want            []string // what a final drain sees
	}{
		{name: "commit makes puts visible in order", capacity: 10, txCap: 10,
			run:  func(t *testing.T, m *Memory) error { return put(t, m, "a", "b", "c") },
			want: []string{"a", "b", "c"}},
		{name: "puts are invisible before commit and gone after rollback", capacity: 10, txCap: 10,
			run: func(t *testing.T, m *Memory) error {
				tx := m.Begin()
				if err := tx.Put(context.Background(), ev("x")); err != nil {
					return err
				}
				if m.Len() != 0 {
					t.Errorf("uncommitted put visible: Len = %d", m.Len())
				}
				return tx.Rollback()
			}},
		{name: "rolled back take returns events to the head in order", capacity: 10, txCap: 10,
			run: func(t *testing.T, m *Memory) error {
				if err := put(t, m, "a", "b", "c"); err != nil {
					return err
				}
				tx := m.Begin()
				for range 2 {
					if _, ok, err := tx.Take(context.Background()); !ok || err != nil {
						t.Fatalf("take: %v %v", ok, err)
					}
				}
				if err := put(t, m, "d"); err != nil { // a concurrent producer
					return err
				}
				return tx.Rollback()
			},
			want: []string{"a", "b", "c", "d"}},
		{name: "committed take removes events", capacity: 10, txCap: 10,
			run: func(t *testing.T, m *Memory) error {
				if err := put(t, m, "a", "b"); err != nil {
					return err
				}
				tx := m.Begin()
				tx.Take(context.Background())
				return tx.Commit()
			},
			want: []string{"b"}},
		{name: "full channel fails the put after keep-alive", capacity: 2, txCap: 2,
			run: func(t *testing.T, m *Memory) error {
				if err := put(t, m, "a", "b"); err != nil {
					return err
				}
				return put(t, m, "c")
			},
			wantErr: flow.ErrChannelFull, want: []string{"a", "b"}},
		{name: "uncommitted puts hold room", capacity: 2, txCap: 2,
			run: func(t *testing.T, m *Memory) error {
				tx := m.Begin()
				defer tx.Rollback()
				tx.Put(context.Background(), ev("a"))
				tx.Put(context.Background(), ev("b"))
				return put(t, m, "c")
			},
			wantErr: flow.ErrChannelFull},
		{name: "transaction capacity bounds a put batch", capacity: 10, txCap: 2,
			run:     func(t *testing.T, m *Memory) error { return put(t, m, "a", "b", "c") },
			wantErr: flow.ErrTransactionFull},
		{name: "transaction capacity bounds a take batch", capacity: 10, txCap: 2,
			run: func(t *testing.T, m *Memory) error {
				put(t, m, "a", "b")
				put(t, m, "c")
				tx := m.Begin()
				defer tx.Rollback()
				tx.Take(context.Background())
				tx.Take(context.Background())
				_, _, err := tx.Take(context.Background())
				return err
			},
			wantErr: flow.ErrTransactionFull, want: []string{"a", "b", "c"}},
		{name: "byte capacity counts bodies", capacity: 10, txCap: 10, bytes: 5,
			run: func(t *testing.T, m *Memory) error {
				if err := put(t, m, "abc"); err != nil {
					return err
				}
				return put(t, m, "def")
			},
			wantErr: flow.ErrChannelFull, want: []string{"abc"}},
		{name: "taking frees byte capacity", capacity: 10, txCap: 10, bytes: 5,
			run: func(t *testing.T, m *Memory) error {
				put(t, m, "abc")
				drain(t, m)
				return put(t, m, "def")
			},
			want: []string{"def"}},
		{name: "finished transaction refuses use", capacity: 10, txCap: 10,
			run: func(t *testing.T, m *Memory) error {
				tx := m.Begin()
				tx.Commit()
				return tx.Put(context.Background(), ev("a"))
			},
			wantErr: errTxDone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(tc.capacity, tc.txCap, tc.bytes, 10*time.Millisecond)
			err := tc.run(t, m)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := drain(t, m); !equal(got, tc.want) {
				t.Fatalf("channel holds %q, want %q", got, tc.want)
			}
		})
	}
}

// A put into a full channel waits for a take to commit and then succeeds.
func TestMemoryPutWaitsForRoom(t *testing.T) {
	m := NewMemory(1, 1, 0, 10*time.Second)
	if err := put(t, m, "a"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- put(t, m, "b") }()
	select {
	case err := <-done:
		t.Fatalf("put into a full channel returned early: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if got := drain(t, m); !equal(got, []string{"a"}) {
		t.Fatalf("drained %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiting put: %v", err)
	}
	if got := drain(t, m); !equal(got, []string{"b"}) {
		t.Fatalf("drained %q", got)
	}
}

func TestMemoryPutHonoursContext(t *testing.T) {
	m := NewMemory(1, 1, 0, time.Hour)
	put(t, m, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tx := m.Begin()
	if err := tx.Put(ctx, ev("b")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	tx.Rollback()
}

func TestMemorySpec(t *testing.T) {
	reg, ok := flow.Lookup(flow.KindChannel, "ORG.apache.flume.channel.MemoryChannel")
	if !ok {
		t.Fatal("memory channel not registered under its class name")
	}
	cfg, _, err := reg.Spec.Validate("c1", map[string]string{"capacity": "10", "transactionCapacity": "20"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Build(cfg); err == nil {
		t.Fatal("transactionCapacity > capacity accepted")
	}
	cfg, _, _ = reg.Spec.Validate("c1", map[string]string{"capacity": "10", "transactionCapacity": "5", "byteCapacity": "1000"})
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(*Memory)
	if m.capacity != 10 || m.txCapacity != 5 || m.byteCapacity != 800 || m.keepAlive != 3*time.Second {
		t.Fatalf("built %+v", m)
	}
}

// BenchmarkMemoryPutTake measures a put transaction and a take transaction of
// 100 events of 100 bytes each, per iteration (reported per event).
func BenchmarkMemoryPutTake(b *testing.B) {
	m := NewMemory(1000, 100, 0, time.Second)
	e := flow.Event{Body: make([]byte, 100)}
	ctx := context.Background()
	b.SetBytes(100 * 100)
	for b.Loop() {
		tx := m.Begin()
		for range 100 {
			if err := tx.Put(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		tx.Commit()
		tx = m.Begin()
		for range 100 {
			if _, ok, err := tx.Take(ctx); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		tx.Commit()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
}
