// Package sink holds the flow engine's sinks, one per file.
package sink

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// Logger sink config keys (Flume's names).
const (
	LoggerMaxBytesToLog = "maxBytesToLog"
)

// LoggerSpec documents the logger sink.
var LoggerSpec = flow.Spec{
	Names:   []string{"logger", "org.apache.flume.sink.LoggerSink"},
	Summary: "logs every event at info level in Flume's format (for testing and debugging)",
	Keys: []flow.Key{
		{Name: LoggerMaxBytesToLog, Type: flow.Int, Default: "16", Min: 0, Max: 1 << 31, Doc: "most body bytes shown per event"},
	},
}

func init() {
	flow.RegisterSink(LoggerSpec, func(c flow.Config) (flow.Sink, error) {
		return &Logger{Name: c.Name, MaxBytes: int(c.Int(LoggerMaxBytesToLog)), Log: c.Log()}, nil
	})
}

// Logger logs each event as Flume's LoggerSink does:
//
//	Event: { headers:{k=v} body: 48 65 6C 6C 6F  Hello }
type Logger struct {
	Name     string
	MaxBytes int
	Log      *slog.Logger
}

// Deliver implements flow.Sink. It logs one record per event, with batch
// sizes of one like Flume's LoggerSink (which takes one event per
// transaction), but accepts any batch.
func (l *Logger) Deliver(_ context.Context, batch []flow.Event) error {
	for _, e := range batch {
		l.Log.Info("Event: " + DumpEvent(e, l.MaxBytes))
	}
	return nil
}

// BatchSize implements flow.BatchSizer: Flume's LoggerSink has no batchSize
// and takes 1 event per transaction; we take up to 100 for throughput.
func (l *Logger) BatchSize() int { return 100 }

// Close implements flow.Sink.
func (l *Logger) Close() error { return nil }

// DumpEvent formats e as Flume's EventHelper.dumpEvent: headers as Java's
// Map.toString (sorted here, Java's order is hash order) and at most
// maxBytes of the body as Apache Commons IO HexDump lines without the first
// offset.
func DumpEvent(e flow.Event, maxBytes int) string {
	var b strings.Builder
	b.WriteString("{ headers:{")
	keys := make([]string, 0, len(e.Headers))
	for k := range e.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + e.Headers[k])
	}
	b.WriteString("} body:")
	body := e.Body
	if len(body) > maxBytes {
		body = body[:maxBytes]
	}
	b.WriteString(hexDump(body))
	b.WriteString(" }")
	return b.String()
}

// hexDump is Commons IO HexDump.dump(data, 0, out, 0) with the leading
// "00000000" removed and the last line ending dropped, as Flume prints it.
func hexDump(data []byte) string {
	var b strings.Builder
	for off := 0; off < len(data); off += 16 {
		if off > 0 {
			b.WriteString("\n")
			fmt.Fprintf(&b, "%08X", off)
		}
		line := data[off:min(off+16, len(data))]
		for j := range 16 {
			if j < len(line) {
				fmt.Fprintf(&b, " %02X", line[j])
			} else {
				b.WriteString("   ")
			}
		}
		b.WriteByte(' ')
		for _, c := range line {
			if c >= ' ' && c < 127 {
				b.WriteByte(c)
			} else {
				b.WriteByte('.')
			}
		}
	}
	return b.String()
}
