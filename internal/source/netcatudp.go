package source

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/runnel/runnel/internal/flow"
)

// Netcat UDP source config keys (Flume's names).
const (
	NetcatUDPBind                = "bind"
	NetcatUDPPort                = "port"
	NetcatUDPRemoteAddressHeader = "remoteAddressHeader"
)

// NetcatUDPSpec documents the netcatudp source.
var NetcatUDPSpec = flow.Spec{
	Names:   []string{"netcatudp", "org.apache.flume.source.NetcatUdpSource"},
	Summary: "listens on a UDP port; every line of every datagram is one event",
	Keys: []flow.Key{
		{Name: NetcatUDPBind, Required: true, Doc: "host name or IP address to listen on"},
		{Name: NetcatUDPPort, Type: flow.Int, Required: true, Min: 0, Max: 65535, Doc: "UDP port to listen on"},
		{Name: NetcatUDPRemoteAddressHeader, Doc: "header that gets the sender's address as /ip:port (none when unset)"},
	},
}

func init() {
	flow.RegisterSource(NetcatUDPSpec, func(c flow.Config) (flow.Source, error) {
		return &NetcatUDP{
			Addr:                net.JoinHostPort(c.String(NetcatUDPBind), strconv.FormatInt(c.Int(NetcatUDPPort), 10)),
			RemoteAddressHeader: c.String(NetcatUDPRemoteAddressHeader),
			cfg:                 c,
		}, nil
	})
}

// NetcatUDP is Flume's netcatudp source. Every '\n'-terminated line of a
// datagram (and a last line without '\n') is one event; the events of one
// datagram are committed together. UDP has no reply, so a datagram the
// channels refuse is dropped (logged and counted as ChannelWriteFail by the
// channel processor), as in Flume.
type NetcatUDP struct {
	Addr                string
	RemoteAddressHeader string
	cfg                 flow.Config
	udp                 udpListener
}

// ListenAddr returns the bound address while Run is listening, else nil.
func (n *NetcatUDP) ListenAddr() net.Addr { return n.udp.listenAddr() }

// Run implements flow.Source.
func (n *NetcatUDP) Run(ctx context.Context, out flow.Emitter) error {
	return n.udp.run(ctx, n.Addr, "netcatudp source "+n.cfg.Name, func(pkt []byte, from *net.UDPAddr) {
		var batch []flow.Event
		for len(pkt) > 0 {
			line, rest, _ := bytes.Cut(pkt, []byte{'\n'})
			pkt = rest
			e := flow.Event{Headers: map[string]string{}, Body: bytes.Clone(line)}
			if n.RemoteAddressHeader != "" {
				e.Headers[n.RemoteAddressHeader] = javaSocketAddress(from)
			}
			batch = append(batch, e)
		}
		if len(batch) == 0 {
			return
		}
		if err := emitSplit(ctx, out, batch); err != nil && ctx.Err() == nil {
			n.cfg.Log().Warn("netcatudp source dropped a datagram the channels refused", "from", from.String(), "events", len(batch), "err", err)
		}
	})
}

// javaSocketAddress formats a as Java's InetSocketAddress.toString does for
// an address without a host name: "/ip:port".
func javaSocketAddress(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		return "/" + a.IP.String() + ":" + strconv.Itoa(a.Port)
	case *net.TCPAddr:
		return "/" + a.IP.String() + ":" + strconv.Itoa(a.Port)
	}
	return "/" + a.String()
}

// udpListener runs a UDP read loop for a source and remembers the bound
// address.
type udpListener struct {
	mu   sync.Mutex
	addr net.Addr // bound address while running; guarded by mu
}

func (u *udpListener) listenAddr() net.Addr {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.addr
}

// run listens on addr and calls handle for every datagram, one at a time in
// the calling goroutine, until ctx is done. pkt is only valid during the
// call.
func (u *udpListener) run(ctx context.Context, addr, what string, handle func(pkt []byte, from *net.UDPAddr)) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("%s: listening on udp %s: %w", what, addr, err)
	}
	conn := pc.(*net.UDPConn)
	u.mu.Lock()
	u.addr = conn.LocalAddr()
	u.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		stop()
		conn.Close()
		u.mu.Lock()
		u.addr = nil
		u.mu.Unlock()
	}()
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: reading from udp %s: %w", what, addr, err)
		}
		handle(buf[:n], from)
	}
}
