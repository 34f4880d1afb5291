package sink

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

// statusServer answers each POST with the code in its X-Want body prefix
// ("503:payload") and records what it received.
type statusServer struct {
	mu     sync.Mutex
	bodies []string
	ctypes []string
}

func (s *statusServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.ctypes = append(s.ctypes, r.Header.Get("Content-Type")+"|"+r.Header.Get("Accept")+"|"+r.Method)
	s.mu.Unlock()
	code, _ := strconv.Atoi(string(b[:3]))
	w.WriteHeader(code)
}

func (s *statusServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func TestHTTPSinkStatusPolicies(t *testing.T) {
	srv := &statusServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	base := map[string]string{"endpoint": ts.URL + "/in", "contentTypeHeader": "application/json", "acceptHeader": "application/json"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name        string
		raw         map[string]string
		body        string
		wantErr     bool
		wantBackoff bool
		wantCounted bool
	}{
		{"2XX committed as configured in Flume's example", with("rollback.2XX", "false", "backoff.2XX", "false", "incrementMetrics.2XX", "true"), "200:a", false, false, true},
		{"defaults roll back even 200, as Flume", base, "200:b", true, true, false},
		{"503 by default: roll back and back off", with("rollback.2XX", "false"), "503:c", true, true, false},
		{"4XX dropped without backoff", with("rollback.4XX", "false", "backoff.4XX", "false"), "404:d", false, false, false},
		{"exact code beats class", with("rollback.5XX", "false", "rollback.503", "true", "backoff.5XX", "false"), "503:e", true, false, false},
		{"class applies to other codes", with("rollback.5XX", "false", "rollback.503", "true", "backoff.5XX", "false"), "500:f", false, false, false},
		{"default increment metrics", with("rollback.2XX", "false", "defaultIncrementMetrics", "true", "defaultBackoff", "false"), "201:g", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg, _ := flow.Lookup(flow.KindSink, "org.apache.flume.sink.http.HttpSink")
			cfg, _, err := reg.Spec.Validate("k1", tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Counters = flow.NewCounters()
			v, err := reg.Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := v.(*HTTP)
			defer h.Close()
			if h.BatchSize() != 1 {
				t.Fatal("Flume's http sink takes one event per transaction")
			}
			err = h.Deliver(context.Background(), []flow.Event{{Body: []byte(tc.body)}})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Deliver err = %v, want error %v", err, tc.wantErr)
			}
			if got := h.pause > 0; got != tc.wantBackoff {
				t.Fatalf("backoff %v, want %v", h.pause, tc.wantBackoff)
			}
			if got := cfg.Counters.Snapshot()["HttpEventDrainSuccessCount"] == 1; got != tc.wantCounted {
				t.Fatalf("counters %v", cfg.Counters.Snapshot())
			}
			got := srv.received()
			if got[len(got)-1] != tc.body {
				t.Fatalf("server got %q", got[len(got)-1])
			}
		})
	}
	if srv.ctypes[0] != "application/json|application/json|POST" {
		t.Fatalf("request headers %q", srv.ctypes[0])
	}
}

func TestHTTPSinkEmptyBodyAndDown(t *testing.T) {
	srv := &statusServer{}
	ts := httptest.NewServer(srv)
	s := mustBuildSink(t, "http", map[string]string{"endpoint": ts.URL, "rollback.2XX": "false", "backoff.2XX": "false"})
	if err := s.Deliver(context.Background(), []flow.Event{{}, {Body: []byte("200:x")}}); err != nil {
		t.Fatal(err)
	}
	if got := srv.received(); len(got) != 1 {
		t.Fatalf("an empty body is dropped without a request; server got %q", got)
	}
	ts.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	reg, _ := flow.Lookup(flow.KindSink, "http")
	cfg, _, _ := reg.Spec.Validate("k1", map[string]string{"endpoint": "http://" + addr + "/", "connectTimeout": "500"})
	cfg.Counters = flow.NewCounters()
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := v.(*HTTP)
	if err := h.Deliver(context.Background(), []flow.Event{{Body: []byte("x")}}); err == nil {
		t.Fatal("Deliver to a closed port succeeded")
	}
	if cfg.Counters.Snapshot()["ConnectionFailedCount"] != 1 || h.pause == 0 {
		t.Fatalf("counters %v pause %v", cfg.Counters.Snapshot(), h.pause)
	}
	// The pause is honoured, but a cancelled context ends it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Deliver(ctx, []flow.Event{{Body: []byte("x")}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPSinkConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		raw map[string]string
		key string
	}{
		{map[string]string{"endpoint": "ftp://x/"}, "endpoint"},
		{map[string]string{"endpoint": "http://127.0.0.1:1/", "rollback.abc": "false"}, "rollback.abc"},
		{map[string]string{"endpoint": "http://127.0.0.1:1/", "backoff.5XX": "maybe"}, "backoff.5XX"},
		{map[string]string{"endpoint": "http://127.0.0.1:1/", "connectTimeout": "0"}, "connectTimeout"},
	} {
		_, err := buildSinkFrom("http", tc.raw)
		var ke *flow.KeyError
		if !errors.As(err, &ke) || ke.Key != tc.key {
			t.Errorf("%v: err = %v, want a KeyError on %s", tc.raw, err, tc.key)
		}
	}
}
