package source

import (
	"net"
	"strings"
	"testing"
	"time"
)

// waitListening waits until addr returns a bound address.
func waitListening(t testing.TB, addr func() net.Addr) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for addr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("source did not start listening")
		}
		time.Sleep(time.Millisecond)
	}
	return addr().String()
}

func TestNetcatUDP(t *testing.T) {
	rec := newRecorder(1) // the first datagram is refused and dropped, as Flume drops it
	rec.maxBatch = 1      // and a datagram of several lines is committed line by line
	src := buildSrc(t, "NETCATUDP", map[string]string{"bind": "127.0.0.1", "port": "0", "remoteAddressHeader": "from"}).(*NetcatUDP)
	startSource(t, src, rec)
	addr := waitListening(t, src.ListenAddr)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range []string{"dropped\n", "one\n", "two\nthree", "\n"} {
		if _, err := conn.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.waitEvents(t, 4)
	var bodies []string
	for _, e := range got {
		bodies = append(bodies, string(e.Body))
		if want := "/" + conn.LocalAddr().String(); e.Headers["from"] != want {
			t.Errorf("from header %q, want %q", e.Headers["from"], want)
		}
	}
	if strings.Join(bodies, "|") != "one|two|three|" {
		t.Fatalf("events %q", bodies)
	}
}
