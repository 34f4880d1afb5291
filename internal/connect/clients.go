package connect

import (
	"log/slog"
	"maps"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/kafkaopts"
)

// workerFixed are the client properties the worker reads or fixes itself
// (acks=all with idempotence on, auto-commit off, group connect-<name>,
// converters instead of (de)serializers): accepted without a warning.
var workerFixed = []string{"max.poll.records", "acks", "enable.idempotence", "enable.auto.commit", "group.id",
	"key.serializer", "value.serializer", "key.deserializer", "value.deserializer"}

// clientOpts turns Kafka producer or consumer properties (producer.* or
// consumer.* of the worker, then the connector's *.override.*, later ones
// winning) into franz-go options; see kafkaopts.Map.
func clientOpts(log *slog.Logger, role kafkaopts.Role, props ...map[string]string) ([]kgo.Opt, error) {
	merged := map[string]string{}
	for _, p := range props {
		maps.Copy(merged, p)
	}
	return kafkaopts.Map(merged, kafkaopts.Options{Role: role, Prefix: role.String() + ".", Fixed: workerFixed, Log: log})
}
