package source

import (
	"bytes"
	"context"
	"net"
	"strconv"

	"github.com/runnel/runnel/internal/flow"
)

// SyslogUDPSpec documents the syslogudp source.
var SyslogUDPSpec = flow.Spec{
	Names:   []string{"syslogudp", "org.apache.flume.source.SyslogUDPSource", "SyslogUdpSource"},
	Summary: "receives RFC 3164 / RFC 5424 syslog over UDP, one message per datagram",
	Keys: append(syslogCommonKeys(),
		flow.Key{Name: SyslogPort, Type: flow.Int, Required: true, Min: 0, Max: 65535, Doc: "UDP port to listen on"},
		flow.Key{Name: SyslogCharset, Default: "UTF-8", Doc: "character set of messages (bodies are passed through as bytes)"},
	),
}

func init() {
	flow.RegisterSource(SyslogUDPSpec, func(c flow.Config) (flow.Source, error) {
		if err := charsetKeyError(SyslogCharset, c.String(SyslogCharset)); err != nil {
			return nil, err
		}
		return &SyslogUDP{
			Addr:       net.JoinHostPort(c.String(SyslogHost), strconv.FormatInt(c.Int(SyslogPort), 10)),
			cfg:        c,
			eventSize:  max(int(c.Int(SyslogEventSize)), SyslogMinEventSize),
			ipHeader:   c.String(SyslogClientIPHeader),
			nameHeader: c.String(SyslogClientHostnameHeader),
			parser:     NewSyslogParser(c.String(SyslogKeepFields)),
		}, nil
	})
}

// SyslogUDP is Flume's syslogudp source: a datagram, up to its first '\n'
// and at most eventSize bytes (then marked Incomplete), is one message. A
// message the channels refuse is dropped (UDP has no way to push back), as
// in Flume.
type SyslogUDP struct {
	Addr       string
	cfg        flow.Config
	eventSize  int
	ipHeader   string
	nameHeader string
	parser     *SyslogParser
	udp        udpListener
}

// ListenAddr returns the bound address while Run is listening, else nil.
func (s *SyslogUDP) ListenAddr() net.Addr { return s.udp.listenAddr() }

// Run implements flow.Source.
func (s *SyslogUDP) Run(ctx context.Context, out flow.Emitter) error {
	return s.udp.run(ctx, s.Addr, "syslogudp source "+s.cfg.Name, func(pkt []byte, from *net.UDPAddr) {
		msg := bytes.TrimLeft(pkt, "\n")
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		incomplete := false
		if len(msg) >= s.eventSize {
			msg, incomplete = msg[:s.eventSize], true
		}
		e := s.parser.Parse(msg, incomplete)
		for k, v := range clientHeaders(from, s.ipHeader, s.nameHeader) {
			e.Headers[k] = v
		}
		if err := out.Emit(ctx, []flow.Event{e}); err != nil && ctx.Err() == nil {
			s.cfg.Log().Warn("syslogudp source dropped a message the channels refused", "from", from.String(), "err", err)
		}
	})
}
