package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/runnel/runnel/internal/flow"
)

// Version is what GET / reports: the Kafka Connect REST version runnel's
// API follows, marked as runnel's.
const Version = "4.1.0-runnel"

// restError is Kafka Connect's error body.
type restError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

// ConnectorInfo is GET /connectors/{name}.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   string            `json:"type"`
}

// TaskID names a task.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// OffsetEntry is one offset in the /offsets answers.
type OffsetEntry struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// Offsets is the body of GET and PATCH /connectors/{name}/offsets.
type Offsets struct {
	Offsets []OffsetEntry `json:"offsets"`
}

// Handler returns the worker's REST API.
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f func(r *http.Request) (int, any, error)) {
		mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
			code, body, err := f(r)
			if err != nil {
				code = errorCode(err)
				body = restError{Code: code, Message: err.Error()}
				w.log.Debug("REST request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
			}
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(code)
			if body != nil && code != http.StatusNoContent {
				json.NewEncoder(rw).Encode(body)
			}
		})
	}
	h("GET /{$}", w.restRoot)
	h("GET /connectors", w.restList)
	h("POST /connectors", w.restCreate)
	h("GET /connectors/{name}", w.restInfo)
	h("DELETE /connectors/{name}", func(r *http.Request) (int, any, error) {
		return http.StatusNoContent, nil, w.Delete(r.PathValue("name"))
	})
	h("GET /connectors/{name}/config", func(r *http.Request) (int, any, error) {
		cc, err := w.Config(r.PathValue("name"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, cc.Props, nil
	})
	h("PUT /connectors/{name}/config", w.restPutConfig)
	h("PATCH /connectors/{name}/config", w.restPatchConfig)
	h("GET /connectors/{name}/status", func(r *http.Request) (int, any, error) {
		s, err := w.Status(r.PathValue("name"))
		return http.StatusOK, s, err
	})
	h("GET /connectors/{name}/tasks", w.restTasks)
	h("GET /connectors/{name}/tasks/{id}/status", w.restTaskStatus)
	h("POST /connectors/{name}/tasks/{id}/restart", func(r *http.Request) (int, any, error) {
		t, err := w.taskStatus(r)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, w.RestartTask(r.PathValue("name"), t.ID)
	})
	h("PUT /connectors/{name}/pause", func(r *http.Request) (int, any, error) {
		return http.StatusAccepted, nil, w.SetTarget(r.PathValue("name"), StatePaused)
	})
	h("PUT /connectors/{name}/resume", func(r *http.Request) (int, any, error) {
		return http.StatusAccepted, nil, w.SetTarget(r.PathValue("name"), StateRunning)
	})
	h("PUT /connectors/{name}/stop", func(r *http.Request) (int, any, error) {
		return http.StatusNoContent, nil, w.SetTarget(r.PathValue("name"), StateStopped)
	})
	h("POST /connectors/{name}/restart", w.restRestart)
	h("GET /connectors/{name}/topics", w.restTopics)
	h("PUT /connectors/{name}/topics/reset", func(r *http.Request) (int, any, error) {
		_, err := w.lookup(r.PathValue("name"))
		return http.StatusOK, nil, err
	})
	h("GET /connectors/{name}/offsets", func(r *http.Request) (int, any, error) {
		o, err := w.GetOffsets(r.Context(), r.PathValue("name"))
		return http.StatusOK, o, err
	})
	h("PATCH /connectors/{name}/offsets", w.restPatchOffsets)
	h("DELETE /connectors/{name}/offsets", func(r *http.Request) (int, any, error) {
		if err := w.ResetOffsets(r.Context(), r.PathValue("name")); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]string{"message": "The offsets for this connector have been reset successfully"}, nil
	})
	h("GET /connector-plugins", w.restPlugins)
	h("PUT /connector-plugins/{type}/config/validate", w.restValidate)
	if w.dist != nil {
		return w.dist.proxy(mux)
	}
	return mux
}

func errorCode(err error) int {
	var ke *flow.KeyError
	var se *json.SyntaxError
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrBadState), errors.As(err, &ke), errors.As(err, &se), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

var errBadRequest = errors.New("bad request")

func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading the request body: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding the request body: %v: %w", err, errBadRequest)
	}
	return nil
}

func (w *Worker) restRoot(r *http.Request) (int, any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	id := ""
	if m, err := kadm.NewClient(w.admin).BrokerMetadata(ctx); err == nil {
		id = m.Cluster
	}
	return http.StatusOK, map[string]string{"version": Version, "commit": "runnel", "kafka_cluster_id": id}, nil
}

func (w *Worker) info(cc *ConnectorConfig) ConnectorInfo {
	ids := make([]TaskID, cc.Tasks)
	for id := range ids {
		ids[id] = TaskID{Connector: cc.Name, Task: id}
	}
	return ConnectorInfo{Name: cc.Name, Config: cc.Props, Tasks: ids, Type: cc.Type}
}

func (w *Worker) restList(r *http.Request) (int, any, error) {
	names := w.Names()
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		return http.StatusOK, names, nil
	}
	out := map[string]map[string]any{}
	for _, n := range names {
		m := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				if s, err := w.Status(n); err == nil {
					m["status"] = s
				}
			case "info":
				if cc, err := w.Config(n); err == nil {
					m["info"] = w.info(cc)
				}
			}
		}
		out[n] = m
	}
	return http.StatusOK, out, nil
}

func (w *Worker) restCreate(r *http.Request) (int, any, error) {
	var req struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	if req.Name == "" {
		req.Name = req.Config[KeyName]
	}
	if req.Name == "" {
		return 0, nil, fmt.Errorf("connector name is missing: %w", errBadRequest)
	}
	if n := req.Config[KeyName]; n != "" && n != req.Name {
		return 0, nil, fmt.Errorf("connector name %q in the config does not match %q: %w", n, req.Name, errBadRequest)
	}
	req.Config[KeyName] = req.Name
	cc, err := w.Create(req.Config)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, w.info(cc), nil
}

func (w *Worker) restInfo(r *http.Request) (int, any, error) {
	cc, err := w.Config(r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, w.info(cc), nil
}

func (w *Worker) restPutConfig(r *http.Request) (int, any, error) {
	var props map[string]string
	if err := decodeBody(r, &props); err != nil {
		return 0, nil, err
	}
	if props == nil {
		props = map[string]string{}
	}
	cc, created, err := w.Put(r.PathValue("name"), props)
	if err != nil {
		return 0, nil, err
	}
	if created {
		return http.StatusCreated, w.info(cc), nil
	}
	return http.StatusOK, w.info(cc), nil
}

func (w *Worker) restPatchConfig(r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	var patch map[string]*string
	if err := decodeBody(r, &patch); err != nil {
		return 0, nil, err
	}
	cc, err := w.Config(name)
	if err != nil {
		return 0, nil, err
	}
	props := make(map[string]string, len(cc.Props))
	for k, v := range cc.Props {
		props[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(props, k)
		} else {
			props[k] = *v
		}
	}
	cc, _, err = w.Put(name, props)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, w.info(cc), nil
}

func (w *Worker) restTasks(r *http.Request) (int, any, error) {
	cc, err := w.Config(r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	type task struct {
		ID     TaskID            `json:"id"`
		Config map[string]string `json:"config"`
	}
	tasks := make([]task, cc.Tasks)
	for id := range tasks {
		tasks[id] = task{ID: TaskID{Connector: cc.Name, Task: id}, Config: cc.Props}
	}
	return http.StatusOK, tasks, nil
}

func (w *Worker) taskStatus(r *http.Request) (*TaskStatus, error) {
	// Calls about one task are proxied to the worker running it, which
	// answers for itself; it does not ask the others.
	var s *Status
	var err error
	if w.dist != nil {
		s, err = w.dist.status(r.PathValue("name"), false)
	} else {
		s, err = w.localStatus(r.PathValue("name"))
	}
	if err != nil {
		return nil, err
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err == nil {
		for i := range s.Tasks {
			if s.Tasks[i].ID == id {
				return &s.Tasks[i], nil
			}
		}
	}
	return nil, fmt.Errorf("task %s of connector %s not found: %w", r.PathValue("id"), s.Name, ErrNotFound)
}

func (w *Worker) restTaskStatus(r *http.Request) (int, any, error) {
	t, err := w.taskStatus(r)
	return http.StatusOK, t, err
}

func (w *Worker) restRestart(r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	q := r.URL.Query()
	includeTasks := strings.EqualFold(q.Get("includeTasks"), "true")
	onlyFailed := strings.EqualFold(q.Get("onlyFailed"), "true")
	if r.Header.Get("X-Runnel-Forwarded") != "" {
		// Another worker asks for the tasks run here (and answers the
		// client itself); none left here (they moved in a rebalance) is
		// not an error.
		err := w.restartLocal(name, onlyFailed)
		if errors.Is(err, ErrNotFound) && w.dist != nil {
			_, _, err = w.dist.snapshot(name)
		}
		return http.StatusNoContent, nil, err
	}
	if err := w.Restart(name, onlyFailed); err != nil {
		return 0, nil, err
	}
	if !includeTasks && !onlyFailed {
		return http.StatusNoContent, nil, nil
	}
	s, err := w.Status(name)
	return http.StatusAccepted, s, err
}

func (w *Worker) restTopics(r *http.Request) (int, any, error) {
	cc, err := w.Config(r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	topics := []string{}
	if cc.Type == connectorTypeSink {
		topics = append(topics, cc.Topics...)
	} else if cc.Topic != "" {
		topics = append(topics, cc.Topic)
	}
	return http.StatusOK, map[string]map[string][]string{cc.Name: {"topics": topics}}, nil
}

func (w *Worker) restPatchOffsets(r *http.Request) (int, any, error) {
	var o Offsets
	if err := decodeBody(r, &o); err != nil {
		return 0, nil, err
	}
	if err := w.AlterOffsets(r.Context(), r.PathValue("name"), o); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"message": "The offsets for this connector have been altered successfully"}, nil
}

// pluginClass is the class name a component is listed under: its Java
// class name when it has one, else its first name.
func pluginClass(s flow.Spec) string {
	for _, n := range s.Names {
		if strings.Contains(n, ".") {
			return n
		}
	}
	return s.Names[0]
}

func (w *Worker) restPlugins(*http.Request) (int, any, error) {
	type plugin struct {
		Class   string `json:"class"`
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	var out []plugin
	for _, kind := range []flow.Kind{flow.KindSource, flow.KindSink} {
		typ := connectorTypeSource
		if kind == flow.KindSink {
			typ = connectorTypeSink
		}
		for _, n := range flow.Names(kind) {
			r, _ := flow.Lookup(kind, n)
			out = append(out, plugin{Class: pluginClass(r.Spec), Type: typ, Version: Version})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	return http.StatusOK, out, nil
}

func (w *Worker) restValidate(r *http.Request) (int, any, error) {
	var props map[string]string
	if err := decodeBody(r, &props); err != nil {
		return 0, nil, err
	}
	if props[KeyConnectorClass] == "" {
		props[KeyConnectorClass] = r.PathValue("type")
	}
	if props[KeyName] == "" {
		props[KeyName] = "validate"
	}
	type value struct {
		Name   string   `json:"name"`
		Value  *string  `json:"value"`
		Errors []string `json:"errors"`
	}
	type cfgEntry struct {
		Definition map[string]any `json:"definition"`
		Value      value          `json:"value"`
	}
	resp := struct {
		Name       string     `json:"name"`
		ErrorCount int        `json:"error_count"`
		Groups     []string   `json:"groups"`
		Configs    []cfgEntry `json:"configs"`
	}{Name: props[KeyConnectorClass], Groups: []string{"Common"}, Configs: []cfgEntry{}}
	_, err := ParseConnector(w.cfg, props)
	var ke *flow.KeyError
	if err != nil && !errors.As(err, &ke) {
		return 0, nil, err
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	if ke != nil {
		if _, ok := props[ke.Key]; !ok {
			keys = append(keys, ke.Key)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := props[k]
		e := cfgEntry{Definition: map[string]any{"name": k, "group": "Common"}, Value: value{Name: k, Errors: []string{}}}
		if ok {
			e.Value.Value = &v
		}
		if ke != nil && ke.Key == k {
			e.Value.Errors = append(e.Value.Errors, ke.Problem+"; fix: "+ke.Fix)
			resp.ErrorCount++
		}
		resp.Configs = append(resp.Configs, e)
	}
	return http.StatusOK, resp, nil
}

// Serve answers the REST API on ln until ctx is done.
func (w *Worker) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(w.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		return fmt.Errorf("serving the REST API: %w", err)
	}
}
