package broker_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/app"
	"github.com/runnel/runnel/internal/testutil"
)

// frame builds a request frame: size, key, version, correlation id, client id, body.
func frame(key, version int16, corr int32, body []byte) []byte {
	var b []byte
	b = kbin.AppendInt16(b, key)
	b = kbin.AppendInt16(b, version)
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, kmsg.StringPtr("raw-test"))
	b = append(b, body...)
	return append(kbin.AppendInt32(nil, int32(len(b))), b...)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readResponse reads one response frame and returns its correlation id and
// the rest.
func readResponse(t *testing.T, c net.Conn) (int32, []byte) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("reading response size: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:]
}

// expectClosed checks the server closes c without answering.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if err == nil || n > 0 {
		t.Fatalf("connection still open (read %d bytes, err %v)", n, err)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server did not close the connection")
	}
}

func apiVersionsV0() []byte { return frame(18, 0, 7, nil) }

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	addr := testutil.RunBroker(t, func(o *app.BrokerOptions) { o.Settings["socket.request.max.bytes"] = "1048576" })
	// A healthy client that keeps working throughout.
	healthy := dial(t, addr)
	check := func() {
		t.Helper()
		if _, err := healthy.Write(apiVersionsV0()); err != nil {
			t.Fatal(err)
		}
		if corr, _ := readResponse(t, healthy); corr != 7 {
			t.Fatalf("correlation id %d", corr)
		}
	}
	check()
	apiVersionsV4Body := func() []byte {
		r := kmsg.NewPtrApiVersionsRequest()
		r.Version = 3
		r.ClientSoftwareName, r.ClientSoftwareVersion = "x", "1"
		return append([]byte{0}, r.AppendTo(nil)...) // header tags, then body
	}
	tests := []struct {
		name  string
		bytes []byte
		half  bool // close our write side after sending (truncated frame)
	}{
		{"truncated frame", frame(18, 0, 1, nil)[:7], true},
		{"giant size prefix", []byte{0x7f, 0xff, 0xff, 0xff, 0, 18, 0, 0}, false},
		{"negative size", []byte{0xff, 0xff, 0xff, 0xf0}, false},
		{"size over socket.request.max.bytes", binary.BigEndian.AppendUint32(nil, 2<<20), false},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"unknown api key", frame(9999, 0, 1, nil), false},
		{"unsupported version", frame(3, 99, 1, nil), false},
		{"malformed body", frame(19, 4, 1, []byte{0, 0, 0, 5, 0}), false},
		{"flexible header tags truncated", frame(18, 3, 1, []byte{5})[:12], true},
		{"ok then garbage after valid pipelined request", append(frame(18, 3, 1, apiVersionsV4Body()), 0, 0, 0, 9, 1, 2, 3), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			if _, err := c.Write(tt.bytes); err != nil {
				t.Fatal(err)
			}
			if tt.half {
				c.(*net.TCPConn).CloseWrite()
			}
			// A valid request ahead of the garbage is still answered.
			if tt.name == "ok then garbage after valid pipelined request" {
				if corr, _ := readResponse(t, c); corr != 1 {
					t.Fatalf("correlation %d", corr)
				}
			}
			expectClosed(t, c)
			check()
		})
	}
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	addr := testutil.RunBroker(t)
	c := dial(t, addr)
	var buf []byte
	for i := range 50 {
		if i%2 == 0 {
			buf = append(buf, frame(3, 1, int32(i), kbin.AppendArrayLen(nil, -1))...)
		} else {
			buf = append(buf, frame(18, 0, int32(i), nil)...)
		}
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if corr, _ := readResponse(t, c); corr != int32(i) {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
}

func TestApiVersions(t *testing.T) {
	addr := testutil.RunBroker(t)
	// A version newer than we serve gets a v0 body with UNSUPPORTED_VERSION
	// and the key list.
	c := dial(t, addr)
	if _, err := c.Write(frame(18, 99, 3, []byte{0, 1, 'x', 1, '1', 0})); err != nil {
		t.Fatal(err)
	}
	corr, body := readResponse(t, c)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body); err != nil || corr != 3 {
		t.Fatalf("decoding: %v, corr %d", err, corr)
	}
	if resp.ErrorCode != 35 || len(resp.ApiKeys) == 0 {
		t.Fatalf("error code %d with %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	// The advertised ranges are the ones the issue lists.
	want := map[int16][2]int16{0: {0, 11}, 1: {4, 12}, 2: {0, 7}, 3: {0, 12}, 18: {0, 4}, 19: {0, 7}, 20: {0, 6},
		21: {0, 2}, 22: {0, 4}, 23: {0, 4}, 32: {0, 4}, 33: {0, 2}, 35: {0, 4}, 37: {0, 3}, 44: {0, 1}, 60: {0, 1}}
	cl := newClient(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	r, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int16][2]int16{}
	for _, k := range r.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %d: advertised %v, want %v", k, got[k], v)
		}
	}
}
