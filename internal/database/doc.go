// Package database holds the flow components that talk to databases:
// PostgreSQL and SQLite sinks (Kafka Connect JDBC sink semantics), the
// PostgreSQL change-data-capture source (logical replication, pgoutput) and
// the polling JDBC-style source.
package database

import "github.com/runnel/runnel/internal/flow"

// flumeTopic adds Flume's "topic" header to hdr when the source runs under
// a Flume agent (no Connect offset store), so the agent's Kafka sink routes
// each event to its table's topic as under Connect; Connect records carry
// the topic in the record itself and get no extra header.
func flumeTopic(cfg flow.Config, topic string, hdr map[string]string) map[string]string {
	if cfg.Offsets != nil {
		return hdr
	}
	if hdr == nil {
		hdr = map[string]string{}
	}
	hdr["topic"] = topic
	return hdr
}
