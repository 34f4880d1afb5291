package accesslog

import (
	"encoding/json"
	"time"
)

// Record is an Entry as a structured record, the shape the access-log
// transform publishes and the demo stores in the access_log table. "-"
// fields become empty strings; a "-" size becomes 0.
type Record struct {
	Time      string `json:"time"` // RFC 3339 with the log's UTC offset
	ClientIP  string `json:"client_ip"`
	User      string `json:"user"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	Status    int    `json:"status"`
	Bytes     int64  `json:"bytes"`
	Referer   string `json:"referer"`
	UserAgent string `json:"user_agent"`
}

// Record returns e as a Record.
func (e Entry) Record() Record {
	return Record{
		Time:      e.Time.Format(time.RFC3339),
		ClientIP:  dashless(e.ClientIP),
		User:      dashless(e.User),
		Method:    e.Method,
		Path:      e.Path,
		Protocol:  e.Proto,
		Status:    e.Status,
		Bytes:     e.Size,
		Referer:   dashless(e.Referer),
		UserAgent: dashless(e.UserAgent),
	}
}

// recordSchema is the Kafka Connect JsonConverter schema of Record, for
// consumers that want typed columns (e.g. a JDBC sink with auto.create).
var recordSchema = json.RawMessage(`{"type":"struct","name":"runnel.accesslog.Record","optional":false,"fields":[` +
	`{"field":"time","type":"string","optional":false},` +
	`{"field":"client_ip","type":"string","optional":false},` +
	`{"field":"user","type":"string","optional":false},` +
	`{"field":"method","type":"string","optional":false},` +
	`{"field":"path","type":"string","optional":false},` +
	`{"field":"protocol","type":"string","optional":false},` +
	`{"field":"status","type":"int32","optional":false},` +
	`{"field":"bytes","type":"int64","optional":false},` +
	`{"field":"referer","type":"string","optional":false},` +
	`{"field":"user_agent","type":"string","optional":false}]}`)

// JSON encodes r as a JSON object; with envelope it is wrapped in Kafka
// Connect's JsonConverter envelope {"schema":...,"payload":...}.
func (r Record) JSON(envelope bool) []byte {
	var v any = r
	if envelope {
		v = struct {
			Schema  json.RawMessage `json:"schema"`
			Payload Record          `json:"payload"`
		}{recordSchema, r}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("accesslog: encoding a Record cannot fail: " + err.Error())
	}
	return b
}

func dashless(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
