package source

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/runnel/runnel/internal/channel"
	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

func startHTTP(t *testing.T, out flow.Emitter) string {
	t.Helper()
	src := buildSrc(t, "HTTP", map[string]string{"bind": "127.0.0.1", "port": "0"}).(*HTTP)
	startSource(t, src, out)
	return "http://" + waitListening(t, src.ListenAddr)
}

func post(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPSource(t *testing.T) {
	// A real memory channel of 3 events behind Flume's channel processor.
	ch := channel.NewMemory(3, 3, 0, 0)
	proc := &flow.ChannelProcessor{Selector: &flow.Replicating{Required: []flow.NamedChannel{{Name: "c1", Channel: ch}}}}
	url := startHTTP(t, proc)

	cases := []struct {
		name        string
		contentType string
		body        string
		wantCode    int
		wantMsg     string
		wantBodies  []string
	}{
		{name: "two events committed", contentType: "application/json",
			body:     `[{"headers":{"a":"1","n":2,"b":true},"body":"hello"},{"body":"world"}]`,
			wantCode: 200, wantBodies: []string{"hello", "world"}},
		{name: "empty array", body: `[]`, wantCode: 200},
		{name: "not JSON", body: `[{"body":`, wantCode: 400, wantMsg: "Bad request from client. request has invalid JSON syntax"},
		{name: "not an array", body: `{"body":"x"}`, wantCode: 400, wantMsg: "expected an array"},
		{name: "object header value", body: `[{"headers":{"a":{}},"body":"x"}]`, wantCode: 400, wantMsg: "header values must be strings"},
		{name: "latin-1 body", contentType: "application/json; charset=ISO-8859-1", body: `[{"body":"é"}]`, wantCode: 200, wantBodies: []string{"\xe9"}},
		{name: "channel full", body: `[{"body":"1"},{"body":"2"},{"body":"3"},{"body":"4"}]`, wantCode: 503, wantMsg: "Channel might be full"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			code, msg := post(t, url, ct, tc.body)
			if code != tc.wantCode || !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("got %d %q, want %d containing %q", code, msg, tc.wantCode, tc.wantMsg)
			}
			if got := testutil.TakeBodies(t, ch); strings.Join(got, "|") != strings.Join(tc.wantBodies, "|") {
				t.Fatalf("channel holds %q, want %q", got, tc.wantBodies)
			}
		})
	}
}

func TestHTTPSourceHeadersAndRetry(t *testing.T) {
	rec := newRecorder(1)
	url := startHTTP(t, rec)
	body := `[{"headers":{"host":"h1","n":7},"body":"x"}]`
	if code, msg := post(t, url, "application/json", body); code != 503 {
		t.Fatalf("refused batch answered %d %q", code, msg)
	}
	if code, msg := post(t, url, "application/json", body); code != 200 {
		t.Fatalf("retry answered %d %q", code, msg)
	}
	ev := rec.events()
	if len(ev) != 1 || ev[0].Headers["host"] != "h1" || ev[0].Headers["n"] != "7" || string(ev[0].Body) != "x" {
		t.Fatalf("events %+v", ev)
	}
	req, _ := http.NewRequest(http.MethodTrace, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("TRACE answered %d", resp.StatusCode)
	}
}

func FuzzParseJSONEvents(f *testing.F) {
	for _, s := range []string{`[{"headers":{"a":"b"},"body":"c"}]`, `[]`, `[{}]`, `[{"headers":{"a":1.5e3}}]`, `{`, `[null]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := ParseJSONEvents(data, "UTF-8")
		if err != nil {
			return
		}
		for _, e := range events {
			if e.Headers == nil || e.Body == nil {
				t.Fatalf("event without header map or body: %+v", e)
			}
		}
	})
}
