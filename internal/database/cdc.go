package database

// The PostgreSQL change-data-capture source lives in cdc*.go; the integrator
// is writing it (logical replication with pgoutput, Debezium-shaped
// envelopes).
