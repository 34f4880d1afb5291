// Package transform holds the event transforms: Flume interceptors and Kafka
// Connect single message transforms (SMTs) with their predicates, each
// registered with the flow registry under its Flume alias and Java class
// names.
package transform
