package source

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/channel"
	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

func TestSyslogParse(t *testing.T) {
	now := time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	ms := func(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }
	cases := []struct {
		name       string
		keep       string
		msg        string
		incomplete bool
		headers    map[string]string
		body       string
	}{
		{name: "RFC 5424 with zone and fraction",
			msg: "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 - hello",
			headers: map[string]string{"Facility": "20", "Severity": "5", "priority": "165", "version": "1", "host": "mymachine.example.com",
				"timestamp": ms(time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC))},
			body: "evntslog - ID47 - hello"},
		{name: "RFC 5424 offset zone, no fraction",
			msg: "<34>1 2003-08-24T05:14:15-07:00 host1 app 1 - - msg",
			headers: map[string]string{"Facility": "4", "Severity": "2", "priority": "34", "version": "1", "host": "host1",
				"timestamp": ms(time.Date(2003, 8, 24, 12, 14, 15, 0, time.UTC))},
			body: "app 1 - - msg"},
		{name: "RFC 5424 without zone is local time",
			msg: "<13>1 2024-03-04T05:06:07 h app - - - x",
			headers: map[string]string{"Facility": "1", "Severity": "5", "priority": "13", "version": "1", "host": "h",
				"timestamp": ms(time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC))},
			body: "app - - - x"},
		{name: "RFC 5424 half a second",
			msg: "<13>1 2024-03-04T05:06:07.5+01:00 h app - - - x",
			headers: map[string]string{"Facility": "1", "Severity": "5", "priority": "13", "version": "1", "host": "h",
				"timestamp": ms(time.Date(2024, 3, 4, 4, 6, 7, 5e8, time.UTC))},
			body: "app - - - x"},
		{name: "RFC 5424 microseconds, nil stamp and host",
			msg:     "<13>1 - - app - - - x",
			headers: map[string]string{"Facility": "1", "Severity": "5", "priority": "13", "version": "1"},
			body:    "app - - - x"},
		{name: "RFC 3164 in the current year",
			msg: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
			headers: map[string]string{"Facility": "4", "Severity": "2", "priority": "34", "host": "mymachine",
				"timestamp": ms(time.Date(2023, 10, 11, 22, 14, 15, 0, time.UTC))}, // more than a month ahead: last year
			body: "su: 'su root' failed"},
		{name: "RFC 3164 single-digit day",
			msg: "<13>Jun  1 08:00:00 h app: x",
			headers: map[string]string{"Facility": "1", "Severity": "5", "priority": "13", "host": "h",
				"timestamp": ms(time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC))},
			body: "app: x"},
		{name: "keepFields all keeps the whole message", keep: "true",
			msg: "<13>Jun  1 08:00:00 h app: x",
			headers: map[string]string{"Facility": "1", "Severity": "5", "priority": "13", "host": "h",
				"timestamp": ms(time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC))},
			body: "<13>Jun  1 08:00:00 h app: x"},
		{name: "keepFields list", keep: "hostname priority",
			msg:     "<13>1 - h app - - - x",
			headers: map[string]string{"Facility": "1", "Severity": "5", "priority": "13", "version": "1", "host": "h"},
			body:    "<13>h app - - - x"},
		{name: "valid priority, unknown format: whole message, no status",
			msg:     "<13>hello world",
			headers: map[string]string{"Facility": "1", "Severity": "5"},
			body:    "<13>hello world"},
		{name: "no priority is Invalid",
			msg:     "hello",
			headers: map[string]string{"Facility": "0", "Severity": "0", "flume.syslog.status": "Invalid"},
			body:    "hello"},
		{name: "empty priority is Invalid",
			msg:     "<>1 - - x",
			headers: map[string]string{"Facility": "0", "Severity": "0", "flume.syslog.status": "Invalid"},
			body:    "<>1 - - x"},
		{name: "four-digit priority is Invalid",
			msg:     "<1234>x",
			headers: map[string]string{"Facility": "0", "Severity": "0", "flume.syslog.status": "Invalid"},
			body:    "<1234>x"},
		{name: "cut message is Incomplete", incomplete: true,
			msg:     "<13>1 - h app",
			headers: map[string]string{"Facility": "1", "Severity": "5", "priority": "13", "version": "1", "host": "h", "flume.syslog.status": "Incomplete"},
			body:    "app"},
		{name: "carriage return defeats the format, as Java's '.'",
			msg:     "<13>1 - h x\r",
			headers: map[string]string{"Facility": "1", "Severity": "5"},
			body:    "<13>1 - h x\r"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewSyslogParser(tc.keep)
			p.Now = func() time.Time { return now }
			p.Loc = time.UTC
			e := p.Parse([]byte(tc.msg), tc.incomplete)
			if !maps.Equal(e.Headers, tc.headers) {
				t.Errorf("headers %v, want %v", e.Headers, tc.headers)
			}
			if string(e.Body) != tc.body {
				t.Errorf("body %q, want %q", e.Body, tc.body)
			}
		})
	}
}

func TestSyslogFramer(t *testing.T) {
	cases := []struct {
		name      string
		eventSize int
		stream    string
		want      []string // "!" prefix: incomplete
		rest      string
	}{
		{name: "newline framing skips empty lines", eventSize: 100,
			stream: "<1>a\n\n<2>b\n<3>c", want: []string{"<1>a", "<2>b"}, rest: "<3>c"},
		{name: "octet counting", eventSize: 100,
			stream: "4 <1>a5 <2>bc\n<3>d\n", want: []string{"<1>a", "<2>bc", "<3>d"}},
		{name: "long line cut, rest is the next message", eventSize: 10,
			stream: "<1>abcdefghijk\n", want: []string{"!<1>abcdefg", "hijk"}},
		{name: "line of exactly eventSize is incomplete", eventSize: 10,
			stream: "<1>abcdefg\n<2>x\n", want: []string{"!<1>abcdefg", "<2>x"}},
		{name: "long octet frame cut, rest discarded", eventSize: 10,
			stream: "14 <1>abcdefghijk<2>x\n", want: []string{"!<1>abcdefg", "<2>x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and one byte at a time: the same frames.
			for _, step := range []int{len(tc.stream), 1} {
				f := &syslogFramer{eventSize: tc.eventSize}
				var got []string
				for i := 0; i < len(tc.stream); i += step {
					for _, fr := range f.feed([]byte(tc.stream[i:min(i+step, len(tc.stream))])) {
						s := string(fr.msg)
						if fr.incomplete {
							s = "!" + s
						}
						got = append(got, s)
					}
				}
				if strings.Join(got, "|") != strings.Join(tc.want, "|") || string(f.rest()) != tc.rest {
					t.Fatalf("step %d: frames %q rest %q, want %q rest %q", step, got, f.rest(), tc.want, tc.rest)
				}
			}
		})
	}
}

func TestSyslogTCP(t *testing.T) {
	rec := newRecorder(2) // two refusals: the source retries, nothing lost
	rec.maxBatch = 3      // and a channel that takes 3 events per transaction
	src := buildSrc(t, "syslogtcp", map[string]string{"host": "127.0.0.1", "port": "0", "clientIPHeader": "ip", "clientHostnameHeader": "hn"}).(*SyslogTCP)
	startSource(t, src, rec)
	waitListening(t, func() net.Addr {
		if a := src.ListenAddrs(); len(a) > 0 {
			return a[0]
		}
		return nil
	})
	conn, err := net.Dial("tcp", src.ListenAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var stream bytes.Buffer
	for i := range 50 {
		body := fmt.Sprintf("app - - - message %d", i)
		want = append(want, body)
		msg := "<14>1 2024-01-02T03:04:05Z web01 " + body
		if i%2 == 0 {
			fmt.Fprintf(&stream, "%d %s", len(msg), msg)
		} else {
			stream.WriteString(msg + "\n")
		}
	}
	conn.Write(stream.Bytes())
	conn.Close()
	got := rec.waitEvents(t, 50)
	for i, e := range got {
		if string(e.Body) != want[i] || e.Headers["host"] != "web01" || e.Headers["Severity"] != "6" || e.Headers["ip"] != "127.0.0.1" || e.Headers["hn"] == "" {
			t.Fatalf("event %d: %q %v", i, e.Body, e.Headers)
		}
	}
}

func TestMultiportSyslogTCP(t *testing.T) {
	// Two free ports, named explicitly as Flume's multiport source needs.
	var ports []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
		ln.Close()
	}
	rec := newRecorder(0)
	src := buildSrc(t, "MULTIPORT_SYSLOGTCP", map[string]string{"host": "127.0.0.1", "ports": strings.Join(ports, " "), "portHeader": "port", "batchSize": "2"}).(*SyslogTCP)
	startSource(t, src, rec)
	waitListening(t, func() net.Addr {
		if a := src.ListenAddrs(); len(a) == 2 {
			return a[1]
		}
		return nil
	})
	for i, p := range ports {
		conn, err := net.Dial("tcp", "127.0.0.1:"+p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "<13>Jan  2 03:04:05 h m%d\n<13>Jan  2 03:04:05 h n%d\n<13>Jan  2 03:04:05 h o%d\n", i, i, i)
		conn.Close()
	}
	got := rec.waitEvents(t, 6)
	byPort := map[string][]string{}
	for _, e := range got {
		byPort[e.Headers["port"]] = append(byPort[e.Headers["port"]], string(e.Body))
	}
	for i, p := range ports {
		if w := fmt.Sprintf("m%d|n%d|o%d", i, i, i); strings.Join(byPort[p], "|") != w {
			t.Fatalf("port %s: %q, want %q", p, byPort[p], w)
		}
	}
}

func TestSyslogUDP(t *testing.T) {
	rec := newRecorder(0)
	src := buildSrc(t, "syslogudp", map[string]string{"host": "127.0.0.1", "port": "0", "eventSize": "30"}).(*SyslogUDP)
	startSource(t, src, rec)
	conn, err := net.Dial("udp", waitListening(t, src.ListenAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("<13>Jan  2 03:04:05 h x\nignored"))
	conn.Write([]byte("<13>1 - h 0123456789abcdefghijklmnop"))
	got := rec.waitEvents(t, 2)
	if string(got[0].Body) != "x" || got[0].Headers["host"] != "h" {
		t.Fatalf("first: %q %v", got[0].Body, got[0].Headers)
	}
	if got[1].Headers["flume.syslog.status"] != "Incomplete" || string(got[1].Body) != "0123456789abcdefghij" {
		t.Fatalf("second: %q %v", got[1].Body, got[1].Headers)
	}
}

// FuzzSyslog feeds arbitrary bytes through the framer (whole and in two
// pieces) and the parser: same frames either way, no frame longer than
// eventSize, and Facility/Severity always set.
func FuzzSyslog(f *testing.F) {
	for _, s := range []string{"<165>1 2003-10-11T22:14:15.003Z host app - - - msg\n", "<34>Oct 11 22:14:15 m su: x\n", "12 <1>abcdefghi", "<>\n", "\n\n<1", "99999999999999999999 x"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		const size = 16
		var whole, split []frame
		f1 := &syslogFramer{eventSize: size}
		whole = f1.feed(data)
		f2 := &syslogFramer{eventSize: size}
		c := min(int(cut), len(data))
		split = append(f2.feed(data[:c]), f2.feed(data[c:])...)
		if len(whole) != len(split) {
			t.Fatalf("%d frames whole, %d split at %d", len(whole), len(split), c)
		}
		p := NewSyslogParser("false")
		for i := range whole {
			if !bytes.Equal(whole[i].msg, split[i].msg) || whole[i].incomplete != split[i].incomplete {
				t.Fatalf("frame %d differs: %q vs %q", i, whole[i].msg, split[i].msg)
			}
			if len(whole[i].msg) > size {
				t.Fatalf("frame of %d bytes > eventSize", len(whole[i].msg))
			}
			e := p.Parse(whole[i].msg, whole[i].incomplete)
			if e.Headers["Facility"] == "" || e.Headers["Severity"] == "" {
				t.Fatalf("headers %v", e.Headers)
			}
		}
		p.Parse(data, false)
	})
}

// TestSyslogTCPSmallTransactions: one read holds more messages than the
// memory channel takes per transaction; the source commits them in parts.
func TestSyslogTCPSmallTransactions(t *testing.T) {
	ch := channel.NewMemory(1000, 5, 0, 0)
	proc := &flow.ChannelProcessor{Selector: &flow.Replicating{Required: []flow.NamedChannel{{Name: "c1", Channel: ch}}}}
	src := buildSrc(t, "syslogtcp", map[string]string{"host": "127.0.0.1", "port": "0"}).(*SyslogTCP)
	startSource(t, src, proc)
	addr := waitListening(t, func() net.Addr {
		if a := src.ListenAddrs(); len(a) > 0 {
			return a[0]
		}
		return nil
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	for i := range 40 {
		fmt.Fprintf(&stream, "<13>1 - h m%d\n", i)
	}
	conn.Write(stream.Bytes())
	conn.Close()
	var got []string
	waitFor(t, "40 events in the channel", func() bool {
		got = append(got, testutil.TakeBodies(t, ch)...)
		return len(got) >= 40
	})
	for i, b := range got {
		if b != fmt.Sprintf("m%d", i) {
			t.Fatalf("event %d is %q", i, b)
		}
	}
}
