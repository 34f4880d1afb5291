package source

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/channel"
	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startNetcat builds a netcat source from keys (bind and port filled in) and
// runs it into ch until the test ends.
func startNetcat(t *testing.T, ch flow.Channel, keys map[string]string) string {
	t.Helper()
	return startNetcatCounted(t, ch, keys, nil)
}

// startNetcatCounted is startNetcat with the source's counters.
func startNetcatCounted(t *testing.T, ch flow.Channel, keys map[string]string, counters *flow.Counters) string {
	t.Helper()
	reg, ok := flow.Lookup(flow.KindSource, "NetCat")
	if !ok {
		t.Fatal("netcat not registered")
	}
	raw := map[string]string{"bind": "127.0.0.1", "port": "0"}
	for k, v := range keys {
		raw[k] = v
	}
	cfg, _, err := reg.Spec.Validate("r1", raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Counters = counters
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := v.(*Netcat)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	proc := &flow.ChannelProcessor{Selector: &flow.Replicating{Required: []flow.NamedChannel{{Name: "c1", Channel: ch}}}}
	wg.Go(func() {
		if err := src.Run(ctx, proc); err != nil {
			t.Errorf("netcat Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for src.ListenAddr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("netcat source did not start listening")
		}
		time.Sleep(time.Millisecond)
	}
	return src.ListenAddr().String()
}

func TestNetcat(t *testing.T) {
	cases := []struct {
		name       string
		keys       map[string]string
		capacity   int
		send       string
		wantReply  []string
		wantEvents []string
	}{
		{name: "every line acknowledged and committed", capacity: 100,
			send:       "hello\nworld\r\n\nlast line without newline",
			wantReply:  []string{"OK", "OK", "OK"},
			wantEvents: []string{"hello", "world\r", ""}},
		{name: "line longer than max-line-length refused", capacity: 100,
			keys:       map[string]string{"max-line-length": "6"},
			send:       "12345\n123456\nabc\n",
			wantReply:  []string{"OK", "FAILED: Event exceeds the maximum length (6 chars, including newline)", "OK"},
			wantEvents: []string{"12345", "abc"}},
		{name: "ack-every-event false stays silent", capacity: 100,
			keys:       map[string]string{"ack-every-event": "false"},
			send:       "a\nb\n",
			wantEvents: []string{"a", "b"}},
		{name: "full channel answers FAILED", capacity: 1,
			send:       "a\nb\n",
			wantReply:  []string{"OK", "FAILED: putting 1 events to channel c1: no room within keep-alive 0s (capacity 1 events, byteCapacity 0): channel is full"},
			wantEvents: []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := channel.NewMemory(tc.capacity, tc.capacity, 0, 0)
			addr := startNetcat(t, ch, tc.keys)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			var replies []string
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				replies = append(replies, sc.Text())
			}
			if err := sc.Err(); err != nil {
				t.Fatalf("reading replies: %v", err)
			}
			if strings.Join(replies, "|") != strings.Join(tc.wantReply, "|") {
				t.Errorf("replies %q, want %q", replies, tc.wantReply)
			}
			if got := testutil.TakeBodies(t, ch); strings.Join(got, "|") != strings.Join(tc.wantEvents, "|") {
				t.Errorf("channel holds %q, want %q", got, tc.wantEvents)
			}
		})
	}
}

// Run returns, closing open connections, when its context is cancelled.
func TestNetcatStopsWithOpenConnection(t *testing.T) {
	ch := channel.NewMemory(10, 10, 0, 0)
	reg, _ := flow.Lookup(flow.KindSource, "netcat")
	cfg, _, _ := reg.Spec.Validate("r1", map[string]string{"bind": "127.0.0.1", "port": "0"})
	v, _ := reg.Build(cfg)
	src := v.(*Netcat)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, &flow.ChannelProcessor{Selector: &flow.Replicating{Required: []flow.NamedChannel{{Name: "c1", Channel: ch}}}})
	}()
	for src.ListenAddr() == nil {
		time.Sleep(time.Millisecond)
	}
	conn, err := net.Dial("tcp", src.ListenAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	conn.Write([]byte("x\n"))
	if line, _ := r.ReadString('\n'); line != "OK\n" {
		t.Fatalf("reply %q", line)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel with a connection open")
	}
}

// FuzzReadLine checks the netcat line splitter on arbitrary input: every line
// it returns is a complete '\n'-terminated line of the input that fits in
// max bytes with its newline, in input order, and too-long lines are skipped
// whole.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("hello\nworld\r\n"), 6)
	f.Add([]byte("123456789\nab\n"), 4)
	f.Add([]byte("no newline"), 3)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		var want []string
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if strings.HasSuffix(l, "\n") {
				want = append(want, l)
			}
		}
		for i := 0; ; i++ {
			line, tooLong, err := readLine(r, max)
			if err != nil {
				if i != len(want) {
					t.Fatalf("stopped after %d lines, input has %d complete lines", i, len(want))
				}
				return
			}
			if i >= len(want) {
				t.Fatalf("line %d returned beyond the %d complete lines", i, len(want))
			}
			if fits := len(want[i]) <= max; fits == tooLong {
				t.Fatalf("line %d (%d bytes with newline, max %d): tooLong = %v", i, len(want[i]), max, tooLong)
			}
			if !tooLong && string(line)+"\n" != want[i] {
				t.Fatalf("line %d = %q, want %q", i, line, want[i])
			}
		}
	})
}

// BenchmarkNetcat measures 100-byte lines through one TCP connection into a
// memory channel (each line its own transaction, answered OK), with a taker
// draining the channel.
func BenchmarkNetcat(b *testing.B) {
	ch := channel.NewMemory(10000, 1000, 0, time.Second)
	reg, _ := flow.Lookup(flow.KindSource, "netcat")
	cfg, _, _ := reg.Spec.Validate("r1", map[string]string{"bind": "127.0.0.1", "port": "0"})
	v, _ := reg.Build(cfg)
	src := v.(*Netcat)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	proc := &flow.ChannelProcessor{Selector: &flow.Replicating{Required: []flow.NamedChannel{{Name: "c1", Channel: ch}}}}
	wg.Go(func() { src.Run(ctx, proc) })
	wg.Go(func() {
		sink := &flow.SinkRunner{Channel: ch, Sink: discard{}, BatchSize: 1000}
		sink.Run(ctx)
	})
	for src.ListenAddr() == nil {
		time.Sleep(time.Millisecond)
	}
	conn, err := net.Dial("tcp", src.ListenAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	line := []byte(strings.Repeat("x", 99) + "\n")
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(conn)
		for range b.N {
			w.Write(line)
		}
		errc <- w.Flush()
	}()
	r := bufio.NewReader(conn)
	for i := range b.N {
		if reply, err := r.ReadString('\n'); reply != "OK\n" {
			b.Fatalf("reply %d: %q %v", i, reply, err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

type discard struct{}

func (discard) Deliver(context.Context, []flow.Event) error { return nil }
func (discard) Close() error                                { return nil }

// OpenConnectionCount follows the connections the source holds open.
func TestNetcatOpenConnectionCount(t *testing.T) {
	counters := flow.NewCounters()
	addr := startNetcatCounted(t, channel.NewMemory(10, 10, 0, 0), nil, counters)
	open := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			got := counters.Snapshot()["OpenConnectionCount"]
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("OpenConnectionCount %d, want %d", got, want)
			}
		}
	}
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("x\n")) // answered only once the source serves it
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	open(2)
	conns[0].Close()
	open(1)
	conns[1].Close()
	open(0)
}
