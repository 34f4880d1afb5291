package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// HTTP sink config keys (Flume's names).
const (
	HTTPEndpoint                = "endpoint"
	HTTPConnectTimeout          = "connectTimeout"
	HTTPRequestTimeout          = "requestTimeout"
	HTTPContentType             = "contentTypeHeader"
	HTTPAccept                  = "acceptHeader"
	HTTPDefaultBackoff          = "defaultBackoff"
	HTTPDefaultRollback         = "defaultRollback"
	HTTPDefaultIncrementMetrics = "defaultIncrementMetrics"
	httpBackoffPrefix           = "backoff."
	httpRollbackPrefix          = "rollback."
	httpIncrementMetricsPrefix  = "incrementMetrics."
)

// HTTPSpec documents the http sink.
var HTTPSpec = flow.Spec{
	Names:   []string{"http", "org.apache.flume.sink.http.HttpSink"},
	Summary: "POSTs the body of every event to an HTTP endpoint, one request per event",
	Keys: []flow.Key{
		{Name: HTTPEndpoint, Required: true, Doc: "URL events are POSTed to (http:// or https://)"},
		{Name: HTTPConnectTimeout, Type: flow.Int, Default: "5000", Min: 1, Max: 1 << 31, Doc: "milliseconds allowed to connect"},
		{Name: HTTPRequestTimeout, Type: flow.Int, Default: "5000", Min: 1, Max: 1 << 31, Doc: "milliseconds allowed for the response"},
		{Name: HTTPContentType, Default: "text/plain", Doc: "Content-Type header of every request"},
		{Name: HTTPAccept, Default: "text/plain", Doc: "Accept header of every request"},
		{Name: HTTPDefaultBackoff, Type: flow.Bool, Default: "true", Doc: "back off after a response whose code has no backoff.<code> key"},
		{Name: HTTPDefaultRollback, Type: flow.Bool, Default: "true", Doc: "roll the event back (and send it again) after a response whose code has no rollback.<code> key; as in Flume this includes 2XX"},
		{Name: HTTPDefaultIncrementMetrics, Type: flow.Bool, Default: "false", Doc: "count the event as sent (HttpEventDrainSuccessCount) for a code without incrementMetrics.<code>"},
		{Name: httpBackoffPrefix + "*", Type: flow.Bool, Doc: "backoff.<code> or backoff.<d>XX: back off after that response"},
		{Name: httpRollbackPrefix + "*", Type: flow.Bool, Doc: "rollback.<code> or rollback.<d>XX: roll back after that response"},
		{Name: httpIncrementMetricsPrefix + "*", Type: flow.Bool, Doc: "incrementMetrics.<code> or incrementMetrics.<d>XX: count that response as sent"},
	},
}

func init() {
	flow.RegisterSink(HTTPSpec, func(c flow.Config) (flow.Sink, error) { return NewHTTP(c) })
}

// statusPolicy is one of backoff/rollback/incrementMetrics: a default and
// overrides by exact code ("503") or class ("5XX").
type statusPolicy struct {
	def       bool
	overrides map[string]bool
}

func newStatusPolicy(c flow.Config, defKey, prefix string) (statusPolicy, error) {
	p := statusPolicy{def: c.Bool(defKey), overrides: map[string]bool{}}
	for code, v := range c.Prefixed(prefix) {
		if !validStatusKey(code) {
			return p, &flow.KeyError{Key: prefix + code, Value: v, Problem: "not an HTTP status code or class",
				Fix: fmt.Sprintf("use a code such as %s503 or a class such as %s5XX", prefix, prefix)}
		}
		p.overrides[strings.ToUpper(code)] = strings.EqualFold(v, "true")
	}
	return p, nil
}

func validStatusKey(code string) bool {
	if len(code) != 3 || code[0] < '1' || code[0] > '5' {
		return false
	}
	if strings.EqualFold(code[1:], "XX") {
		return true
	}
	_, err := strconv.Atoi(code)
	return err == nil
}

// decide returns the most specific setting for a status code: the exact
// code, then its class, then the default (Flume's findOverrideValue).
func (p statusPolicy) decide(code int) bool {
	s := strconv.Itoa(code)
	if v, ok := p.overrides[s]; ok {
		return v
	}
	if v, ok := p.overrides[s[:1]+"XX"]; ok {
		return v
	}
	return p.def
}

// HTTP is Flume's HttpSink: every event's body is POSTed to Endpoint, one
// request per event, one event per transaction (BatchSize 1, as Flume takes
// one event per process call). The response code decides, per the
// rollback / backoff / incrementMetrics settings, whether the event is sent
// again (Deliver fails), whether the sink pauses before the next request
// (1 s growing to 5 s, Flume's backoff), and whether it is counted. An
// event with an empty body is dropped without a request, as in Flume. A
// connection error or timeout rolls back and backs off.
type HTTP struct {
	endpoint    string
	contentType string
	accept      string
	client      *http.Client
	transport   *http.Transport
	backoff     statusPolicy
	rollback    statusPolicy
	metrics     statusPolicy
	cfg         flow.Config

	mu      sync.Mutex // guards pause
	pause   time.Duration
	maxWait time.Duration
}

// NewHTTP builds an http sink from a validated config.
func NewHTTP(c flow.Config) (*HTTP, error) {
	ep := c.String(HTTPEndpoint)
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &flow.KeyError{Key: HTTPEndpoint, Value: ep, Problem: "not an http:// or https:// URL", Fix: "give a URL such as http://127.0.0.1:8080/events"}
	}
	connect := time.Duration(c.Int(HTTPConnectTimeout)) * time.Millisecond
	request := time.Duration(c.Int(HTTPRequestTimeout)) * time.Millisecond
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: connect}).DialContext,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: request,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	h := &HTTP{
		endpoint: ep, contentType: c.String(HTTPContentType), accept: c.String(HTTPAccept),
		transport: tr, client: &http.Client{Transport: tr, Timeout: connect + request},
		cfg: c, maxWait: 5 * time.Second,
	}
	if h.backoff, err = newStatusPolicy(c, HTTPDefaultBackoff, httpBackoffPrefix); err != nil {
		return nil, err
	}
	if h.rollback, err = newStatusPolicy(c, HTTPDefaultRollback, httpRollbackPrefix); err != nil {
		return nil, err
	}
	if h.metrics, err = newStatusPolicy(c, HTTPDefaultIncrementMetrics, httpIncrementMetricsPrefix); err != nil {
		return nil, err
	}
	if h.rollback.decide(200) {
		c.Log().Warn("http sink rolls back on 200 OK (defaultRollback = true and no rollback.200 or rollback.2XX = false), as Flume does: every event is posted again and again; set rollback.2XX = false", "sink", c.Name)
	}
	return h, nil
}

// BatchSize implements flow.BatchSizer: one event per transaction, as Flume.
func (h *HTTP) BatchSize() int { return 1 }

// Deliver implements flow.Sink. Events are posted in order; the first one
// the policy rolls back fails the call (with a batch of several, the events
// before it are posted again on redelivery).
func (h *HTTP) Deliver(ctx context.Context, batch []flow.Event) error {
	if err := h.wait(ctx); err != nil {
		return err
	}
	for i, e := range batch {
		if len(e.Body) == 0 {
			continue
		}
		code, err := h.post(ctx, e.Body)
		if err != nil {
			h.cfg.Counters.Add("ConnectionFailedCount", 1)
			h.backOff(true)
			return fmt.Errorf("posting event %d of %d to %s: %w", i+1, len(batch), h.endpoint, err)
		}
		h.cfg.Counters.Add("HttpResponse"+strconv.Itoa(code/100)+"XXCount", 1)
		if h.metrics.decide(code) {
			h.cfg.Counters.Add("HttpEventDrainSuccessCount", 1)
		}
		h.backOff(h.backoff.decide(code))
		if h.rollback.decide(code) {
			return fmt.Errorf("posting event %d of %d to %s: status %d rolls the event back (rollback.%d / rollback.%dXX / defaultRollback)", i+1, len(batch), h.endpoint, code, code, code/100)
		}
	}
	return nil
}

// post sends one request and returns the status code.
func (h *HTTP) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", h.contentType)
	req.Header.Set("Accept", h.accept)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// backOff grows the pause before the next request by 1 s up to 5 s, or
// clears it.
func (h *HTTP) backOff(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !on {
		h.pause = 0
		return
	}
	h.pause = min(h.pause+time.Second, h.maxWait)
}

// wait sleeps for the current pause, or until ctx is done.
func (h *HTTP) wait(ctx context.Context) error {
	h.mu.Lock()
	d := h.pause
	h.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Close implements flow.Sink.
func (h *HTTP) Close() error {
	h.transport.CloseIdleConnections()
	return nil
}
