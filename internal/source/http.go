package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// HTTP source config keys (Flume's names).
const (
	HTTPBind    = "bind"
	HTTPPort    = "port"
	HTTPHandler = "handler"

	// HTTPJSONHandler is Flume's default (and runnel's only) handler.
	HTTPJSONHandler = "org.apache.flume.source.http.JSONHandler"
	// httpMaxBody bounds a request body (Flume has no bound).
	httpMaxBody = 64 << 20
)

// HTTPSpec documents the http source.
var HTTPSpec = flow.Spec{
	Names:   []string{"http", "org.apache.flume.source.http.HTTPSource", "HttpSource"},
	Summary: `accepts POSTed JSON arrays of {"headers":{...},"body":"..."} events; 200 once committed`,
	Keys: []flow.Key{
		{Name: HTTPBind, Required: true, Doc: "host name or IP address to listen on"},
		{Name: HTTPPort, Type: flow.Int, Required: true, Min: 0, Max: 65535, Doc: "TCP port to listen on"},
		{Name: HTTPHandler, Default: HTTPJSONHandler, Doc: "request handler class; only " + HTTPJSONHandler + " is supported"},
		{Name: "handler.*", NotImplemented: true, Doc: "settings passed to the handler (the JSON handler takes none)"},
		{Name: "enableSSL", Type: flow.Bool, Default: "false", NotImplemented: true, Doc: "serve HTTPS (not supported: plain HTTP only)"},
		{Name: "ssl", Type: flow.Bool, Default: "false", NotImplemented: true, Doc: "serve HTTPS (not supported: plain HTTP only)"},
		{Name: "keystore", NotImplemented: true, Doc: "Java key store for HTTPS"},
		{Name: "keystorePassword", NotImplemented: true, Doc: "Java key store password"},
		{Name: "keystore-type", NotImplemented: true, Doc: "Java key store type"},
		{Name: "exclude-protocols", NotImplemented: true, Doc: "TLS protocols to refuse"},
		{Name: "include-cipher-suites", NotImplemented: true, Doc: "TLS cipher suites to allow"},
		{Name: "exclude-cipher-suites", NotImplemented: true, Doc: "TLS cipher suites to refuse"},
		{Name: "QueuedThreadPool.*", NotImplemented: true, Doc: "Jetty thread pool settings"},
		{Name: "HttpConfiguration.*", NotImplemented: true, Doc: "Jetty HTTP settings"},
		{Name: "SslContextFactory.*", NotImplemented: true, Doc: "Jetty TLS settings"},
		{Name: "ServerConnector.*", NotImplemented: true, Doc: "Jetty connector settings"},
	},
}

func init() {
	flow.RegisterSource(HTTPSpec, func(c flow.Config) (flow.Source, error) {
		if h := c.String(HTTPHandler); h != HTTPJSONHandler && h != "JSONHandler" {
			return nil, keyErr(HTTPHandler, h, "unsupported handler", "use "+HTTPJSONHandler+" (the default)")
		}
		return &HTTP{Addr: net.JoinHostPort(c.String(HTTPBind), strconv.FormatInt(c.Int(HTTPPort), 10)), cfg: c}, nil
	})
}

// HTTP is Flume's http source with the JSON handler. A POST (or PUT, or
// GET, as Flume's servlet serves them alike) carries a JSON array of
// events; they are committed as one batch and answered 200 with an empty
// body. A body that is not such an array is answered 400, and a batch the
// channels refused 503, each with a one-line reason. TRACE and OPTIONS are
// refused with 405 as in Flume.
type HTTP struct {
	Addr string
	cfg  flow.Config

	mu   sync.Mutex
	addr net.Addr // bound address while running; guarded by mu
}

// ListenAddr returns the bound address while Run is listening, else nil.
func (h *HTTP) ListenAddr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// Run implements flow.Source: it serves until ctx is done, then shuts the
// server down, waiting up to 5s for requests in flight.
func (h *HTTP) Run(ctx context.Context, out flow.Emitter) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", h.Addr)
	if err != nil {
		return fmt.Errorf("http source %s: listening on %s: %w", h.cfg.Name, h.Addr, err)
	}
	h.mu.Lock()
	h.addr = ln.Addr()
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.addr = nil
		h.mu.Unlock()
	}()
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(ctx, w, r, out) }),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          nil,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http source %s: serving on %s: %w", h.cfg.Name, h.Addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-served
	return nil
}

func (h *HTTP) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, out flow.Emitter) {
	if r.Method == http.MethodTrace || r.Method == http.MethodOptions {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, httpMaxBody))
	if err != nil {
		http.Error(w, "Bad request from client. reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	charset := "UTF-8"
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && params["charset"] != "" {
		charset = params["charset"]
	}
	events, err := ParseJSONEvents(body, charset)
	if err != nil {
		h.cfg.Log().Warn("http source refused a request", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "Bad request from client. "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(events) > 0 {
		if err := out.Emit(ctx, events); err != nil {
			h.cfg.Log().Warn("http source could not commit a request's events", "events", len(events), "err", err)
			http.Error(w, "Error appending event to channel. Channel might be full. "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// ParseJSONEvents reads a JSON handler body: an array of objects with an
// optional "headers" object (string, number or boolean values, kept as
// their text) and an optional "body" string, encoded to charset.
func ParseJSONEvents(data []byte, charset string) ([]flow.Event, error) {
	enc, err := lookupCharset(charset)
	if err != nil {
		return nil, err
	}
	var raw []struct {
		Headers map[string]json.RawMessage `json:"headers"`
		Body    *string                    `json:"body"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, fmt.Errorf("request has invalid JSON syntax: expected an array of {\"headers\":{...},\"body\":\"...\"} objects: %w", err)
		}
		return nil, fmt.Errorf("request has invalid JSON syntax: %w", err)
	}
	if dec.More() {
		return nil, errors.New("request has invalid JSON syntax: data after the event array")
	}
	events := make([]flow.Event, 0, len(raw))
	for i, r := range raw {
		e := flow.Event{Headers: make(map[string]string, len(r.Headers))}
		for k, v := range r.Headers {
			s, err := jsonScalarText(v)
			if err != nil {
				return nil, fmt.Errorf("event %d header %q: %w", i, k, err)
			}
			if s != nil {
				e.Headers[k] = *s
			}
		}
		if r.Body != nil {
			e.Body = []byte(*r.Body)
			if enc != nil {
				b, err := enc.NewEncoder().Bytes(e.Body)
				if err != nil {
					return nil, fmt.Errorf("event %d body: encoding to %s: %w", i, charset, err)
				}
				e.Body = b
			}
		} else {
			e.Body = []byte{}
		}
		events = append(events, e)
	}
	return events, nil
}

// jsonScalarText returns a JSON string, number or boolean as text, nil for
// null, and an error for objects and arrays.
func jsonScalarText(v json.RawMessage) (*string, error) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, err
		}
		return &s, nil
	case '{', '[':
		return nil, errors.New("header values must be strings")
	}
	s := string(t)
	return &s, nil
}
