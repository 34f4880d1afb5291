package interop

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn is a bare TCP connection speaking Kafka framing by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// request writes req framed with correlation id corr and returns the
// response body after the correlation id (header tags are not stripped).
func (c *rawConn) request(t testing.TB, req kmsg.Request, corr int32) []byte {
	t.Helper()
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("interop-raw")).AppendRequest(nil, req, corr)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(frame); err != nil {
		t.Fatalf("writing request key %d: %v", req.Key(), err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		t.Fatalf("reading response size (key %d): %v", req.Key(), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, body); err != nil {
		t.Fatalf("reading response body (key %d): %v", req.Key(), err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		t.Fatalf("response correlation id %d, want %d", got, corr)
	}
	return body[4:]
}

// apiVersions sends ApiVersions at version v and decodes the answer.
func (c *rawConn) apiVersions(t testing.TB, v int16, corr int32) *kmsg.ApiVersionsResponse {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(v)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "interop", "1"
	body := c.request(t, req, corr)
	resp := kmsg.NewPtrApiVersionsResponse()
	// ApiVersions responses never carry header tags, and an unsupported
	// version is answered at v0.
	resp.SetVersion(v)
	if v > 4 {
		resp.SetVersion(0)
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decoding ApiVersions v%d response: %v", resp.GetVersion(), err)
	}
	return resp
}

// expectClosed requires the server to close c within 10 s.
func expectClosed(t testing.TB, c *rawConn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		n, err := c.r.Read(buf)
		if err == nil {
			t.Logf("server sent %d bytes before closing", n)
			continue
		}
		var ne net.Error
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
			return
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("server kept the connection open 10s after bad input")
		default:
			t.Fatalf("reading from the bad connection: %v (want EOF)", err)
		}
	}
}

// header builds a v1 request header (size prefix filled in by frame).
func header(key, version int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 3)
	return append(b, "bad"...)
}

// frame prefixes body with its 4-byte size.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// TestBadInput sends malformed bytes on raw sockets. Each case must close
// only its own connection: a connection opened before keeps being served,
// the process stays up, and a real client works at the end.
func TestBadInput(t *testing.T) {
	srv := startServer(t)
	cases := []struct {
		name      string
		send      []byte
		halfClose bool // close our write side after sending (truncated frames)
	}{
		{name: "truncated_frame", send: append(binary.BigEndian.AppendUint32(nil, 100), header(18, 3, 1)...), halfClose: true},
		{name: "truncated_size_prefix", send: []byte{0, 0}, halfClose: true},
		{name: "giant_size_prefix", send: append(binary.BigEndian.AppendUint32(nil, 0x7fffffff), header(18, 3, 1)...)},
		{name: "size_over_socket_request_max_bytes", send: append(binary.BigEndian.AppendUint32(nil, 100<<20+1), header(18, 3, 1)...)},
		{name: "negative_size_prefix", send: append(binary.BigEndian.AppendUint32(nil, 0xffffffff), header(18, 3, 1)...)},
		{name: "garbage_http", send: []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")},
		{name: "garbage_in_a_valid_frame", send: frame([]byte{0xde, 0xad, 0xbe, 0xef, 0x01})},
		{name: "metadata_v12_garbage_body", send: frame(append(header(3, 12, 7), 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01))},
		{name: "produce_v9_truncated_body", send: frame(append(header(0, 9, 7), 0x00, 0x01, 0x00))},
		{name: "unknown_api_key", send: frame(header(9999, 0, 1))},
		{name: "negative_api_key", send: frame(header(-1, 0, 1))},
		{name: "unsupported_metadata_version", send: frame(append(header(3, 999, 1), 0, 0, 0, 0))},
	}
	good := dialRaw(t, srv.Addr)
	corr := int32(100)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := dialRaw(t, srv.Addr)
			if _, err := bad.Write(tc.send); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("writing bad input: %v", err)
			}
			if tc.halfClose {
				bad.Conn.(*net.TCPConn).CloseWrite()
			}
			expectClosed(t, bad)

			corr++
			if resp := good.apiVersions(t, 3, corr); resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
				t.Fatalf("the other connection got ApiVersions error %d with %d keys", resp.ErrorCode, len(resp.ApiKeys))
			}
			if !srv.running() {
				t.Fatalf("runnel server exited after %s", tc.name)
			}
		})
	}

	t.Run("unsupported_api_versions_version_gets_v0_answer", func(t *testing.T) {
		c := dialRaw(t, srv.Addr)
		resp := c.apiVersions(t, 99, 5)
		if resp.ErrorCode != 35 { // UNSUPPORTED_VERSION
			t.Errorf("ApiVersions v99: error code %d, want 35 (UNSUPPORTED_VERSION)", resp.ErrorCode)
		}
		if len(resp.ApiKeys) == 0 {
			t.Errorf("ApiVersions v99: no api keys listed for the client to pick from")
		}
	})

	// A real client still produces and consumes.
	const topic = "after-bad-input"
	createTopic(t, srv.Addr, topic, 1, nil)
	cl := newClient(t, srv.Addr, kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("still here")}).FirstErr(); err != nil {
		t.Fatalf("producing after bad input: %v", err)
	}
	if recs := consumeAll(t, srv.Addr, topic, 1, 30*time.Second); string(recs[0].Value) != "still here" {
		t.Fatalf("consumed %q", recs[0].Value)
	}
}
