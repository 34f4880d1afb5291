// Package database holds the flow components that talk to databases:
// PostgreSQL and SQLite sinks (Kafka Connect JDBC sink semantics), the
// PostgreSQL change-data-capture source (logical replication, pgoutput) and
// the polling JDBC-style source.
package database
