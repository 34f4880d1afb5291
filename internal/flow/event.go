package flow

import "time"

// Event is the unit that flows from sources through channels to sinks.
type Event struct {
	// Headers are string key/value pairs (Flume headers, Kafka record headers).
	Headers map[string]string
	// Body is the payload (Flume body, Kafka record value).
	Body []byte
	// Key is the optional Kafka record key; nil means none.
	Key []byte
	// Timestamp is the optional event time; the zero value means none.
	Timestamp time.Time

	// Topic is the Kafka topic of the record: for an event read from Kafka
	// (a Connect sink, the Flume kafka source) the topic it came from; for a
	// Connect source the topic it is produced to (transforms such as
	// RegexRouter change it). Empty for events that never touch Kafka.
	Topic string
	// Partition and Offset locate an event read from Kafka; Offset is -1 (or
	// the zero value with Topic empty) otherwise.
	Partition int32
	Offset    int64
}

// Size is the number of bytes a channel charges for e: the body, as Flume's
// memory channel counts byteCapacity.
func (e Event) Size() int { return len(e.Body) }

// Header returns the value of header k ("" when absent).
func (e Event) Header(k string) string { return e.Headers[k] }

// WithHeader returns e with header k set to v. The header map is copied, so
// events sharing a map (a batch fanned out to several channels) are not
// changed behind each other's back.
func (e Event) WithHeader(k, v string) Event {
	h := make(map[string]string, len(e.Headers)+1)
	for hk, hv := range e.Headers {
		h[hk] = hv
	}
	h[k] = v
	e.Headers = h
	return e
}
