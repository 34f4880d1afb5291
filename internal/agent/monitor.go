package agent

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/runnel/runnel/internal/flow"
)

// Flume's counter names per component type, always reported (0 until
// counted). Components add their own (ConnectionFailedCount, ...) to
// cfg.Counters; those are reported too.
var (
	sourceCounters = []string{"EventReceivedCount", "EventAcceptedCount", "AppendReceivedCount", "AppendAcceptedCount",
		"AppendBatchReceivedCount", "AppendBatchAcceptedCount", "OpenConnectionCount", "StartTime", "StopTime",
		"EventReadFail", "ChannelWriteFail", "GenericProcessingFail"}
	channelCounters = []string{"ChannelSize", "ChannelFillPercentage", "ChannelCapacity", "EventPutAttemptCount",
		"EventPutSuccessCount", "EventTakeAttemptCount", "EventTakeSuccessCount", "StartTime", "StopTime"}
	sinkCounters = []string{"BatchCompleteCount", "BatchEmptyCount", "BatchUnderflowCount", "ConnectionCreatedCount",
		"ConnectionClosedCount", "ConnectionFailedCount", "EventDrainAttemptCount", "EventDrainSuccessCount",
		"StartTime", "StopTime", "EventWriteFail", "ChannelReadFail"}
	// gauges are the names exported to Prometheus as gauges; every other
	// name is a counter.
	gauges = map[string]bool{"ChannelSize": true, "ChannelFillPercentage": true, "ChannelCapacity": true,
		"OpenConnectionCount": true, "StartTime": true, "StopTime": true}
)

// monitor holds the running graph's counters for the HTTP endpoints.
type monitor struct {
	agent string
	// mu guards comps.
	mu    sync.Mutex
	comps []monComp
}

// monComp is one component's counters: Type is SOURCE, CHANNEL or SINK
// (Flume's JSON "Type"); ch is set for channels.
type monComp struct {
	typ, name string
	counters  *flow.Counters
	ch        *channelNode
}

// stats is one component's values at a point in time.
type stats struct {
	typ, name string
	values    map[string]float64
}

func newMonitor(agent string) *monitor { return &monitor{agent: agent} }

// set makes g's components the reported ones.
func (m *monitor) set(g *graph) {
	var comps []monComp
	for _, s := range g.sources {
		comps = append(comps, monComp{typ: "SOURCE", name: s.name, counters: s.counters})
	}
	for _, n := range g.chanOrder {
		ch := g.channels[n]
		comps = append(comps, monComp{typ: "CHANNEL", name: n, counters: ch.counters, ch: ch})
	}
	for _, n := range g.sinkOrder {
		s := g.sinks[n]
		comps = append(comps, monComp{typ: "SINK", name: n, counters: s.counters})
	}
	m.mu.Lock()
	m.comps = comps
	m.mu.Unlock()
}

// snapshot returns every component's values, Flume's defaults included.
func (m *monitor) snapshot() []stats {
	m.mu.Lock()
	comps := m.comps
	m.mu.Unlock()
	out := make([]stats, 0, len(comps))
	for _, c := range comps {
		v := map[string]float64{}
		var defaults []string
		switch c.typ {
		case "SOURCE":
			defaults = sourceCounters
		case "CHANNEL":
			defaults = channelCounters
		default:
			defaults = sinkCounters
		}
		for _, k := range defaults {
			v[k] = 0
		}
		snap := c.counters.Snapshot()
		for k, n := range snap {
			v[k] = float64(n)
		}
		if ch := c.ch; ch != nil {
			raw := flow.Unwrap(ch.raw)
			size := float64(snap["EventPutSuccessCount"] - snap["EventTakeSuccessCount"])
			capacity := float64(ch.capacity)
			if s, ok := raw.(flow.Sizer); ok {
				size, capacity = float64(s.Len()), float64(s.Cap())
			} else if l, ok := raw.(interface{ Len() int }); ok {
				size = float64(l.Len())
			}
			v["ChannelSize"], v["ChannelCapacity"] = size, capacity
			if capacity > 0 {
				v["ChannelFillPercentage"] = size * 100 / capacity
			}
		}
		out = append(out, stats{typ: c.typ, name: c.name, values: v})
	}
	return out
}

// Handler serves the agent's counters:
//
//	/metrics             Flume's JSON ({"CHANNEL.c1":{"Type":"CHANNEL","ChannelSize":"0",...}}),
//	                     or Prometheus text when the Accept header asks for
//	                     text/plain or OpenMetrics (as Prometheus scrapers do)
//	/metrics/prometheus  Prometheus text always
//	/metrics/json        Flume's JSON always
func (a *Agent) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&promCollector{m: a.mon})
	prom := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		accept := r.Header.Get("Accept")
		if strings.Contains(accept, "openmetrics") || strings.Contains(accept, "text/plain") {
			prom.ServeHTTP(w, r)
			return
		}
		a.mon.serveJSON(w)
	})
	mux.Handle("/metrics/prometheus", prom)
	mux.HandleFunc("/metrics/json", func(w http.ResponseWriter, _ *http.Request) { a.mon.serveJSON(w) })
	return mux
}

// serveJSON writes Flume's JSON: every value a string, keyed TYPE.name.
func (m *monitor) serveJSON(w http.ResponseWriter) {
	out := map[string]map[string]string{}
	for _, s := range m.snapshot() {
		o := map[string]string{"Type": s.typ}
		for k, v := range s.values {
			o[k] = formatValue(k, v)
		}
		out[s.typ+"."+s.name] = o
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// formatValue prints a value as Flume does: whole numbers for counters, a
// Java double (always with a decimal point) for ChannelFillPercentage.
func formatValue(name string, v float64) string {
	if name != "ChannelFillPercentage" {
		return strconv.FormatInt(int64(v), 10)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") && !math.IsInf(v, 0) && !math.IsNaN(v) {
		s += ".0"
	}
	return s
}

// promCollector exports the monitor's values as runnel_agent_* metrics with
// agent and component labels, e.g. runnel_agent_channel_size and
// runnel_agent_source_event_received_total.
type promCollector struct{ m *monitor }

// Describe sends nothing: the metric set follows the running config, so the
// collector is unchecked.
func (c *promCollector) Describe(chan<- *prometheus.Desc) {}

func (c *promCollector) Collect(out chan<- prometheus.Metric) {
	descs := map[string]*prometheus.Desc{}
	for _, s := range c.m.snapshot() {
		names := make([]string, 0, len(s.values))
		for k := range s.values {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			name, kind := promName(s.typ, k)
			d := descs[name]
			if d == nil {
				d = prometheus.NewDesc(name, "Flume counter "+k+" of agent "+strings.ToLower(s.typ)+"s", []string{"agent", "component"}, nil)
				descs[name] = d
			}
			m, err := prometheus.NewConstMetric(d, kind, s.values[k], c.m.agent, s.name)
			if err == nil {
				out <- m
			}
		}
	}
}

// promName maps a Flume counter name to a Prometheus name and type:
// EventReceivedCount of a source → runnel_agent_source_event_received_total
// (counter), ChannelSize → runnel_agent_channel_size (gauge), StartTime →
// runnel_agent_sink_start_time_milliseconds.
func promName(typ, counter string) (string, prometheus.ValueType) {
	kind := strings.ToLower(typ)
	snake := snakeCase(strings.TrimSuffix(counter, "Count"))
	if !strings.HasPrefix(snake, kind+"_") {
		snake = kind + "_" + snake
	}
	name := "runnel_agent_" + snake
	switch {
	case counter == "StartTime" || counter == "StopTime":
		return name + "_milliseconds", prometheus.GaugeValue
	case counter == "OpenConnectionCount":
		return "runnel_agent_" + kind + "_open_connections", prometheus.GaugeValue
	case gauges[counter]:
		return name, prometheus.GaugeValue
	}
	return name + "_total", prometheus.CounterValue
}

func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
