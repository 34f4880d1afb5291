package connect

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/properties"
	"github.com/runnel/runnel/internal/transform"
)

// Connector config keys the worker reads itself (Kafka Connect's names).
const (
	KeyName           = "name"
	KeyConnectorClass = "connector.class"
	KeyTasksMax       = "tasks.max"
	KeyTopics         = "topics"
	KeyTopicsRegex    = "topics.regex"
	KeyTopic          = "topic"

	KeyErrTolerance       = "errors.tolerance"
	KeyErrRetryTimeout    = "errors.retry.timeout"
	KeyErrRetryDelayMax   = "errors.retry.delay.max.ms"
	KeyErrLogEnable       = "errors.log.enable"
	KeyErrLogMessages     = "errors.log.include.messages"
	KeyDLQTopic           = "errors.deadletterqueue.topic.name"
	KeyDLQReplication     = "errors.deadletterqueue.topic.replication.factor"
	KeyDLQContextHeaders  = "errors.deadletterqueue.context.headers.enable"
	connectorTypeSource   = "source"
	connectorTypeSink     = "sink"
	defaultRetryDelayMax  = time.Minute
	defaultDLQReplication = 3
)

// workerLevel reports whether connector key k is read by the worker rather
// than the component.
func workerLevel(k string) bool {
	switch k {
	case KeyName, KeyConnectorClass, KeyTasksMax, KeyTopics, KeyTopicsRegex, "header.converter":
		return true
	}
	for _, p := range []string{"key.converter", "value.converter", "transforms", "predicates", "errors.", "producer.override.", "consumer.override.", "offsets.storage.topic", "topic.creation."} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// ErrorPolicy is a connector's errors.* configuration.
type ErrorPolicy struct {
	// All is errors.tolerance=all: failed records are skipped (and
	// dead-lettered) instead of failing the task.
	All            bool
	RetryTimeout   time.Duration
	RetryDelayMax  time.Duration
	LogEnable      bool
	LogMessages    bool
	DLQTopic       string
	DLQReplication int16
	DLQHeaders     bool
}

// ConnectorConfig is a validated connector configuration.
type ConnectorConfig struct {
	Name  string
	Props map[string]string
	// Type is "source" or "sink".
	Type string
	Reg  *flow.Registration
	// Component is the validated config of the source or sink.
	Component flow.Config
	Chain     transform.Chain
	Key       Converter
	Value     Converter
	// Topics / TopicsRegex are what a sink subscribes to.
	Topics      []string
	TopicsRegex string
	// Topic is a source's default topic (its "topic" key).
	Topic    string
	Errors   ErrorPolicy
	Producer map[string]string
	Consumer map[string]string
	Warnings []flow.Warning
	// Tasks is how many tasks run: tasks.max for a sink (each a consumer
	// in the connector's group), 1 for a source.
	Tasks int
}

// LoadConnectorFile reads a connector config from a .properties file or a
// .json file ({"name":..., "config":{...}} as the REST API takes, or a flat
// object of strings).
func LoadConnectorFile(path string) (map[string]string, error) {
	if strings.EqualFold(filepath.Ext(path), ".json") {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading connector config: %w", err)
		}
		props, err := parseConnectorJSON(data)
		if err != nil {
			return nil, fmt.Errorf("reading connector config %s: %w", path, err)
		}
		return props, nil
	}
	props, err := properties.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading connector config: %w", err)
	}
	return props, nil
}

func parseConnectorJSON(data []byte) (map[string]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	if cfg, ok := top["config"]; ok {
		props, err := stringMap(cfg)
		if err != nil {
			return nil, fmt.Errorf("\"config\": %w", err)
		}
		if n, ok := top["name"]; ok {
			var name string
			if err := json.Unmarshal(n, &name); err != nil {
				return nil, fmt.Errorf("\"name\" is not a string")
			}
			if props[KeyName] == "" {
				props[KeyName] = name
			}
		}
		return props, nil
	}
	return stringMap(data)
}

// stringMap decodes a JSON object whose values are strings (numbers and
// booleans are accepted and written as Java would).
func stringMap(data []byte) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		case nil:
		default:
			return nil, fmt.Errorf("value of %q is %T, not a string", k, v)
		}
	}
	return out, nil
}

// ParseConnector validates a connector config against the worker config.
// Errors are *flow.KeyError where a key is at fault.
func ParseConnector(w *WorkerConfig, props map[string]string) (*ConnectorConfig, error) {
	c := &ConnectorConfig{Props: props, Name: strings.TrimSpace(props[KeyName]), Producer: map[string]string{}, Consumer: map[string]string{}, Tasks: 1}
	if c.Name == "" {
		return nil, &flow.KeyError{Key: KeyName, Problem: "connector has no name", Fix: "set name"}
	}
	class := strings.TrimSpace(props[KeyConnectorClass])
	if class == "" {
		return nil, &flow.KeyError{Key: KeyConnectorClass, Problem: "required key is missing", Fix: "set connector.class, e.g. FileStreamSource"}
	}
	if r, ok := flow.Lookup(flow.KindSource, class); ok {
		c.Type, c.Reg = connectorTypeSource, r
	} else if r, ok := flow.Lookup(flow.KindSink, class); ok {
		c.Type, c.Reg = connectorTypeSink, r
	} else {
		return nil, &flow.KeyError{Key: KeyConnectorClass, Value: class, Problem: "no such connector",
			Fix: "use a source (" + strings.Join(flow.Names(flow.KindSource), ", ") + ") or a sink (" + strings.Join(flow.Names(flow.KindSink), ", ") + ")"}
	}
	if v := strings.TrimSpace(props[KeyTasksMax]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, &flow.KeyError{Key: KeyTasksMax, Value: v, Problem: "not a positive number", Fix: "set tasks.max to 1 or more"}
		}
		c.Tasks = n
		if n > 1 && c.Type == connectorTypeSource {
			c.Tasks = 1
			c.Warnings = append(c.Warnings, flow.Warning{Key: KeyTasksMax, Message: "source connectors run one task (a source cannot split its input); tasks.max above 1 has no effect"})
		}
	}
	var err error
	if c.Key, err = ConverterFromProps(KeyKeyConverter, props, w.Key); err != nil {
		return nil, err
	}
	if c.Value, err = ConverterFromProps(KeyValueConverter, props, w.Value); err != nil {
		return nil, err
	}
	if c.Errors, err = parseErrorPolicy(props, c.Type); err != nil {
		return nil, err
	}
	declared := func(k string) bool {
		for _, sk := range c.Reg.Spec.Keys {
			if sk.Name == k {
				return true
			}
		}
		return false
	}
	compProps := map[string]string{}
	for k, v := range props {
		if !workerLevel(k) || declared(k) {
			compProps[k] = v
		}
		if rest, ok := strings.CutPrefix(k, "producer.override."); ok {
			c.Producer[rest] = strings.TrimSpace(v)
		}
		if rest, ok := strings.CutPrefix(k, "consumer.override."); ok {
			c.Consumer[rest] = strings.TrimSpace(v)
		}
	}
	cfg, warns, err := c.Reg.Spec.Validate(c.Name, compProps)
	c.Warnings = append(c.Warnings, warns...)
	if err != nil {
		return nil, err
	}
	c.Component = cfg
	chain, warns, err := transform.FromConnect(props)
	c.Warnings = append(c.Warnings, warns...)
	if err != nil {
		return nil, err
	}
	c.Chain = chain
	c.Topic = strings.TrimSpace(props[KeyTopic])
	if c.Type == connectorTypeSink {
		for _, t := range strings.Split(props[KeyTopics], ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Topics = append(c.Topics, t)
			}
		}
		c.TopicsRegex = strings.TrimSpace(props[KeyTopicsRegex])
		switch {
		case len(c.Topics) == 0 && c.TopicsRegex == "":
			return nil, &flow.KeyError{Key: KeyTopics, Problem: "a sink connector needs topics or topics.regex", Fix: "set topics=a,b or topics.regex=..."}
		case len(c.Topics) > 0 && c.TopicsRegex != "":
			return nil, &flow.KeyError{Key: KeyTopicsRegex, Value: c.TopicsRegex, Problem: "topics and topics.regex are both set", Fix: "set only one of them"}
		case c.TopicsRegex != "":
			if _, err := regexp.Compile(c.TopicsRegex); err != nil {
				return nil, &flow.KeyError{Key: KeyTopicsRegex, Value: c.TopicsRegex, Problem: err.Error(), Fix: "give a valid regular expression"}
			}
		}
		if c.Errors.DLQTopic != "" {
			for _, t := range c.Topics {
				if t == c.Errors.DLQTopic {
					return nil, &flow.KeyError{Key: KeyDLQTopic, Value: t, Problem: "the dead letter queue topic is one the connector reads", Fix: "name another topic"}
				}
			}
		}
	}
	return c, nil
}

func parseErrorPolicy(props map[string]string, typ string) (ErrorPolicy, error) {
	p := ErrorPolicy{RetryDelayMax: defaultRetryDelayMax, DLQReplication: defaultDLQReplication}
	get := func(k string) string { return strings.TrimSpace(props[k]) }
	switch strings.ToLower(get(KeyErrTolerance)) {
	case "", "none":
	case "all":
		p.All = true
	default:
		return p, &flow.KeyError{Key: KeyErrTolerance, Value: get(KeyErrTolerance), Problem: "not none or all", Fix: "set it to none or all"}
	}
	var err error
	if v := get(KeyErrRetryTimeout); v != "" {
		if v == "-1" {
			p.RetryTimeout = 1<<63 - 1
		} else if p.RetryTimeout, err = millis(KeyErrRetryTimeout, v); err != nil {
			return p, err
		}
	}
	if v := get(KeyErrRetryDelayMax); v != "" {
		if p.RetryDelayMax, err = millis(KeyErrRetryDelayMax, v); err != nil {
			return p, err
		}
	}
	bools := []struct {
		key string
		dst *bool
	}{{KeyErrLogEnable, &p.LogEnable}, {KeyErrLogMessages, &p.LogMessages}, {KeyDLQContextHeaders, &p.DLQHeaders}}
	for _, b := range bools {
		switch strings.ToLower(get(b.key)) {
		case "", "false":
		case "true":
			*b.dst = true
		default:
			return p, &flow.KeyError{Key: b.key, Value: get(b.key), Problem: "not a boolean", Fix: "set it to true or false"}
		}
	}
	p.DLQTopic = get(KeyDLQTopic)
	if p.DLQTopic != "" && typ == connectorTypeSource {
		return p, &flow.KeyError{Key: KeyDLQTopic, Value: p.DLQTopic, Problem: "a dead letter queue is for sink connectors only", Fix: "remove it"}
	}
	if v := get(KeyDLQReplication); v != "" {
		n, err := strconv.ParseInt(v, 10, 16)
		if err != nil || (n < 1 && n != -1) {
			return p, &flow.KeyError{Key: KeyDLQReplication, Value: v, Problem: "not a replication factor", Fix: "set it to 1 or more (or -1 for the broker default)"}
		}
		p.DLQReplication = int16(n)
	}
	return p, nil
}

// wantsText reports whether the sink writes record values as text, so the
// worker decodes them with the value converter first (FileStreamSink
// writes a JsonConverter payload string, as Kafka's does). Every other sink
// gets the record bytes as they are, envelope included.
func (c *ConnectorConfig) wantsText() bool {
	for _, n := range c.Reg.Spec.Names {
		if strings.EqualFold(n, "FileStreamSink") {
			return true
		}
	}
	return false
}
