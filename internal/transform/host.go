package transform

import (
	"net"
	"os"

	"github.com/runnel/runnel/internal/flow"
)

// Host interceptor config keys (Flume's names).
const (
	HostUseIP            = "useIP"
	HostHeader           = "hostHeader"
	HostPreserveExisting = "preserveExisting"
)

// HostSpec documents Flume's host interceptor.
var HostSpec = flow.Spec{
	Names:   []string{"host", "org.apache.flume.interceptor.HostInterceptor$Builder"},
	Summary: "sets a header to this machine's IP address or host name",
	Keys: []flow.Key{
		{Name: HostUseIP, Type: flow.Bool, Default: "true", Doc: "use the IP address; false uses the host name"},
		{Name: HostHeader, Default: "host", Doc: "header to set"},
		{Name: HostPreserveExisting, Type: flow.Bool, Default: "false", Doc: "keep the header when the event already has it"},
	},
}

func init() {
	flow.RegisterTransform(HostSpec, func(c flow.Config) (flow.Transform, error) {
		h := &Host{Header: c.String(HostHeader), PreserveExisting: c.Bool(HostPreserveExisting)}
		name, err := os.Hostname()
		if err != nil {
			c.Log().Warn("host interceptor cannot learn the host name; the header will not be set", "err", err)
			return h, nil
		}
		h.Value = name
		if c.Bool(HostUseIP) {
			h.Value = hostIP(name)
		}
		return h, nil
	})
}

// hostIP is the address name resolves to, preferring IPv4, as Java's
// InetAddress.getLocalHost().getHostAddress(); 127.0.0.1 when it does not
// resolve.
func hostIP(name string) string {
	addrs, err := net.LookupHost(name)
	if err != nil || len(addrs) == 0 {
		return "127.0.0.1"
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
			return a
		}
	}
	return addrs[0]
}

// Host is Flume's host interceptor; Value is looked up once when it is
// built (empty: the header is not set).
type Host struct {
	Header           string
	Value            string
	PreserveExisting bool
}

// Apply implements flow.Transform.
func (h *Host) Apply(e flow.Event) (flow.Event, bool) {
	if h.Value == "" {
		return e, true
	}
	return setHeader(e, h.Header, h.PreserveExisting, func() string { return h.Value }), true
}
