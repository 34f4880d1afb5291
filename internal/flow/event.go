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
}

// Size is the number of bytes a channel charges for e: the body, as Flume's
// memory channel counts byteCapacity.
func (e Event) Size() int { return len(e.Body) }
