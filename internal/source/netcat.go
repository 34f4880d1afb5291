// Package source holds the flow engine's sources, one per file.
package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/runnel/runnel/internal/flow"
)

// Netcat source config keys (Flume's names).
const (
	NetcatBind          = "bind"
	NetcatPort          = "port"
	NetcatMaxLineLength = "max-line-length"
	NetcatAckEveryEvent = "ack-every-event"
)

// NetcatSpec documents the netcat source.
var NetcatSpec = flow.Spec{
	Names:   []string{"netcat", "org.apache.flume.source.NetcatSource"},
	Summary: "listens on a TCP port; every newline-terminated line is one event",
	Keys: []flow.Key{
		{Name: NetcatBind, Required: true, Doc: "host name or IP address to listen on"},
		{Name: NetcatPort, Type: flow.Int, Required: true, Min: 0, Max: 65535, Doc: "TCP port to listen on"},
		{Name: NetcatMaxLineLength, Type: flow.Int, Default: "512", Min: 1, Max: 1 << 30, Doc: "longest line in bytes, including the newline; longer lines are refused"},
		{Name: NetcatAckEveryEvent, Type: flow.Bool, Default: "true", Doc: `reply "OK" to every line once it is committed`},
		{Name: "encoding", Default: "utf-8", NotImplemented: true, Doc: "character set of the input (bytes are passed through unchanged)"},
	},
}

func init() {
	flow.RegisterSource(NetcatSpec, func(c flow.Config) (flow.Source, error) {
		return &Netcat{
			Addr:          net.JoinHostPort(c.String(NetcatBind), strconv.FormatInt(c.Int(NetcatPort), 10)),
			MaxLineLength: int(c.Int(NetcatMaxLineLength)),
			AckEveryEvent: c.Bool(NetcatAckEveryEvent),
			cfg:           c,
		}, nil
	})
}

// Netcat is Flume's netcat source: each line (without its '\n'; a '\r'
// before it is kept, as in Flume) becomes one event committed in its own
// transaction, then answered "OK" when AckEveryEvent, or
// "FAILED: <reason>" when the channels refused it. A partial line at end of
// stream is dropped, as in Flume.
type Netcat struct {
	Addr          string
	MaxLineLength int
	AckEveryEvent bool
	cfg           flow.Config

	mu   sync.Mutex
	addr net.Addr // bound address once listening; guarded by mu
}

// ListenAddr returns the bound address while Run is listening, else nil.
func (n *Netcat) ListenAddr() net.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// Run implements flow.Source: it listens until ctx is done, then closes the
// listener and every connection and waits for their goroutines.
func (n *Netcat) Run(ctx context.Context, out flow.Emitter) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", n.Addr)
	if err != nil {
		return fmt.Errorf("netcat source %s: listening on %s: %w", n.cfg.Name, n.Addr, err)
	}
	n.mu.Lock()
	n.addr = ln.Addr()
	n.mu.Unlock()
	log := n.cfg.Log()
	log.Info("netcat source listening", "addr", ln.Addr().String())

	var wg sync.WaitGroup
	stopAccept := context.AfterFunc(ctx, func() { ln.Close() })
	defer func() {
		stopAccept()
		ln.Close()
		wg.Wait()
		n.mu.Lock()
		n.addr = nil
		n.mu.Unlock()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("netcat source %s: accepting on %s: %w", n.cfg.Name, n.Addr, err)
		}
		wg.Add(1)
		n.cfg.Counters.Add("OpenConnectionCount", 1)
		go func() {
			defer wg.Done()
			defer n.cfg.Counters.Add("OpenConnectionCount", -1)
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			defer conn.Close()
			if err := n.serve(ctx, conn, out); err != nil && ctx.Err() == nil {
				log.Warn("netcat connection ended", "remote", conn.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// serve reads lines from one connection until EOF.
func (n *Netcat) serve(ctx context.Context, conn net.Conn, out flow.Emitter) error {
	r := bufio.NewReaderSize(conn, 4096)
	w := bufio.NewWriter(conn)
	for {
		line, tooLong, err := readLine(r, n.MaxLineLength)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading: %w", err)
		}
		var reply string
		if tooLong {
			reply = fmt.Sprintf("FAILED: Event exceeds the maximum length (%d chars, including newline)\n", n.MaxLineLength)
		} else if err := out.Emit(ctx, []flow.Event{{Headers: map[string]string{}, Body: line}}); err != nil {
			n.cfg.Log().Warn("netcat source could not commit an event", "err", err)
			reply = "FAILED: " + err.Error() + "\n"
		} else if n.AckEveryEvent {
			reply = "OK\n"
		}
		if reply != "" {
			if _, err := w.WriteString(reply); err != nil {
				return fmt.Errorf("replying: %w", err)
			}
			if err := w.Flush(); err != nil {
				return fmt.Errorf("replying: %w", err)
			}
		}
	}
}

// readLine returns the next line without its '\n'. A line longer than max
// bytes including the newline is read to its end and reported tooLong.
// io.EOF is returned when the stream ends, including mid-line.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > max {
				tooLong = true
				line = nil
			} else {
				line = append(line, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, nil
			}
			return line[:len(line)-1], false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, false, err
		}
	}
}
