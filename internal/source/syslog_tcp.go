package source

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Multiport syslog source keys beyond the shared ones (Flume's names).
const (
	SyslogBatchSize      = "batchSize"
	SyslogReadBufferSize = "readBufferSize"
	SyslogDefaultCharset = "charset.default"
)

func syslogCommonKeys() []flow.Key {
	return []flow.Key{
		{Name: SyslogHost, Doc: "host name or IP address to listen on (default: every address)"},
		{Name: SyslogEventSize, Type: flow.Int, Default: strconv.Itoa(SyslogDefaultEventSize), Min: 1, Max: 1 << 30, Doc: "longest message in bytes; longer ones are cut and marked flume.syslog.status=Incomplete (at least 10)"},
		{Name: SyslogKeepFields, Default: "false", Doc: "false/none, true/all, or a list of priority version timestamp hostname to keep in the body"},
		{Name: SyslogClientIPHeader, Doc: "header that gets the sender's IP address (none when unset)"},
		{Name: SyslogClientHostnameHeader, Doc: "header that gets the sender's host name by reverse lookup (none when unset)"},
	}
}

func syslogTLSKeys() []flow.Key {
	var keys []flow.Key
	for _, k := range []string{"ssl", "keystore", "keystore-password", "keystore-type", "exclude-protocols", "include-protocols", "exclude-cipher-suites", "include-cipher-suites"} {
		keys = append(keys, flow.Key{Name: k, NotImplemented: true, Doc: "TLS setting (not supported: plain TCP only)"})
	}
	return keys
}

// SyslogTCPSpec documents the syslogtcp source.
var SyslogTCPSpec = flow.Spec{
	Names:   []string{"syslogtcp", "org.apache.flume.source.SyslogTcpSource", "SyslogTcpSource"},
	Summary: "receives RFC 3164 / RFC 5424 syslog over TCP (newline or octet-counted framing)",
	Keys: append(append(syslogCommonKeys(),
		flow.Key{Name: SyslogPort, Type: flow.Int, Required: true, Min: 0, Max: 65535, Doc: "TCP port to listen on"},
		flow.Key{Name: SyslogCharset, Default: "UTF-8", Doc: "character set of messages (bodies are passed through as bytes)"},
	), syslogTLSKeys()...),
}

// MultiportSyslogTCPSpec documents the multiport_syslogtcp source.
var MultiportSyslogTCPSpec = flow.Spec{
	Names:   []string{"multiport_syslogtcp", "org.apache.flume.source.MultiportSyslogTCPSource", "MultiportSyslogTcpSource"},
	Summary: "receives syslog over TCP on several ports at once",
	Keys: append(append(syslogCommonKeys(),
		flow.Key{Name: SyslogPorts, Required: true, Doc: "space-separated TCP ports to listen on"},
		flow.Key{Name: SyslogPortHeader, Doc: "header that gets the port a message arrived on (none when unset)"},
		flow.Key{Name: SyslogDefaultCharset, Default: "UTF-8", Doc: "character set of messages (bodies are passed through as bytes)"},
		flow.Key{Name: "charset.port.*", Doc: "character set of one port's messages (bodies are passed through as bytes)"},
		flow.Key{Name: SyslogBatchSize, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "most messages per batch put to the channels"},
		flow.Key{Name: SyslogReadBufferSize, Type: flow.Int, Default: "1024", Min: 1, Max: 1 << 26, Doc: "bytes read from a connection at a time"},
		flow.Key{Name: "numProcessors", NotImplemented: true, Doc: "Mina processor threads (runnel serves each connection in its own goroutine)"},
	), syslogTLSKeys()...),
}

func init() {
	flow.RegisterSource(SyslogTCPSpec, func(c flow.Config) (flow.Source, error) {
		if err := charsetKeyError(SyslogCharset, c.String(SyslogCharset)); err != nil {
			return nil, err
		}
		return newSyslogTCP(c, []string{strconv.FormatInt(c.Int(SyslogPort), 10)}, 100, 4096), nil
	})
	flow.RegisterSource(MultiportSyslogTCPSpec, func(c flow.Config) (flow.Source, error) {
		ports := strings.Fields(c.String(SyslogPorts))
		for _, p := range ports {
			if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
				return nil, keyErr(SyslogPorts, c.String(SyslogPorts), fmt.Sprintf("%q is not a port", p), "list TCP ports separated by spaces, e.g. 10001 10002")
			}
		}
		if len(ports) == 0 {
			return nil, keyErr(SyslogPorts, "", "no ports", "list TCP ports separated by spaces, e.g. 10001 10002")
		}
		for _, k := range append([]string{SyslogDefaultCharset}, prefixedKeys(c, "charset.port.")...) {
			if err := charsetKeyError(k, c.String(k)); err != nil {
				return nil, err
			}
		}
		s := newSyslogTCP(c, ports, int(c.Int(SyslogBatchSize)), int(c.Int(SyslogReadBufferSize)))
		s.portHeader = c.String(SyslogPortHeader)
		return s, nil
	})
}

func prefixedKeys(c flow.Config, prefix string) []string {
	var keys []string
	for k := range c.Prefixed(prefix) {
		keys = append(keys, prefix+k)
	}
	return keys
}

// SyslogTCP is Flume's syslogtcp and multiport_syslogtcp source. Each
// connection is read in its own goroutine; the messages of one read are
// put as one batch (at most batchSize). Unlike Flume, which drops a batch
// the channels refuse, the source offers it again with backoff and stops
// reading the connection meanwhile, so TCP pushes back on the sender and no
// message is lost while the source runs.
type SyslogTCP struct {
	cfg        flow.Config
	host       string
	ports      []string
	portHeader string
	batchSize  int
	readSize   int
	eventSize  int
	ipHeader   string
	nameHeader string
	parser     *SyslogParser

	mu    sync.Mutex
	addrs []net.Addr // bound addresses while running; guarded by mu
}

func newSyslogTCP(c flow.Config, ports []string, batchSize, readSize int) *SyslogTCP {
	return &SyslogTCP{
		cfg:        c,
		host:       c.String(SyslogHost),
		ports:      ports,
		batchSize:  batchSize,
		readSize:   readSize,
		eventSize:  max(int(c.Int(SyslogEventSize)), SyslogMinEventSize),
		ipHeader:   c.String(SyslogClientIPHeader),
		nameHeader: c.String(SyslogClientHostnameHeader),
		parser:     NewSyslogParser(c.String(SyslogKeepFields)),
	}
}

// ListenAddrs returns the bound addresses (in the order of the ports) while
// Run is listening, else nil.
func (s *SyslogTCP) ListenAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs
}

// Run implements flow.Source.
func (s *SyslogTCP) Run(ctx context.Context, out flow.Emitter) error {
	var lc net.ListenConfig
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var addrs []net.Addr
	for _, p := range s.ports {
		addr := net.JoinHostPort(s.host, p)
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("syslog source %s: listening on %s: %w", s.cfg.Name, addr, err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr())
	}
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.addrs = nil
		s.mu.Unlock()
	}()

	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		for _, ln := range lns {
			ln.Close()
		}
	})
	defer stop()
	errs := make(chan error, len(lns))
	for i, ln := range lns {
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		if i < len(s.ports) && s.ports[i] != "0" {
			port = s.ports[i]
		}
		wg.Go(func() { errs <- s.accept(ctx, ln, port, out, &wg) })
	}
	var first error
	for range lns {
		if err := <-errs; err != nil && first == nil {
			first = err
			for _, ln := range lns { // one listener failed: stop the others
				ln.Close()
			}
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return first
}

// accept serves one listener; connection goroutines join wg.
func (s *SyslogTCP) accept(ctx context.Context, ln net.Listener, port string, out flow.Emitter, wg *sync.WaitGroup) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("syslog source %s: accepting on %s: %w", s.cfg.Name, ln.Addr(), err)
		}
		s.cfg.Counters.Add("OpenConnectionCount", 1)
		wg.Go(func() {
			defer s.cfg.Counters.Add("OpenConnectionCount", -1)
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			defer conn.Close()
			if err := s.serve(ctx, conn, port, out); err != nil && ctx.Err() == nil {
				s.cfg.Log().Warn("syslog connection ended", "remote", conn.RemoteAddr().String(), "err", err)
			}
		})
	}
}

func (s *SyslogTCP) serve(ctx context.Context, conn net.Conn, port string, out flow.Emitter) error {
	client := clientHeaders(conn.RemoteAddr(), s.ipHeader, s.nameHeader)
	if s.portHeader != "" {
		client[s.portHeader] = port
	}
	f := &syslogFramer{eventSize: s.eventSize}
	buf := make([]byte, s.readSize)
	for {
		n, rerr := conn.Read(buf)
		frames := f.feed(buf[:n])
		if rerr != nil {
			if rest := f.rest(); len(rest) > 0 {
				frames = append(frames, frame{msg: rest})
			}
		}
		for len(frames) > 0 {
			k := min(len(frames), s.batchSize)
			batch := make([]flow.Event, k)
			for i, fr := range frames[:k] {
				e := s.parser.Parse(fr.msg, fr.incomplete)
				for hk, hv := range client {
					e.Headers[hk] = hv
				}
				batch[i] = e
			}
			frames = frames[k:]
			if err := emitRetry(ctx, out, batch, s.cfg, "syslog"); err != nil {
				return nil
			}
		}
		if rerr != nil {
			return nil // EOF or closed
		}
	}
}

// clientHeaders returns the clientIPHeader and clientHostnameHeader values
// for a peer (the host name by reverse lookup, the IP when there is none).
func clientHeaders(addr net.Addr, ipHeader, nameHeader string) map[string]string {
	h := map[string]string{}
	if ipHeader == "" && nameHeader == "" {
		return h
	}
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	if ipHeader != "" {
		h[ipHeader] = ip.String()
	}
	if nameHeader != "" {
		name := ip.String()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if names, err := net.DefaultResolver.LookupAddr(ctx, ip.String()); err == nil && len(names) > 0 {
			name = strings.TrimSuffix(names[0], ".")
		}
		cancel()
		h[nameHeader] = name
	}
	return h
}
