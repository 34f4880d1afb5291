// Package interop is the black-box acceptance suite: it builds cmd/runnel,
// starts `runnel server` as a real process on a free loopback port and drives
// it with clients nobody here wrote — franz-go, IBM/sarama, segmentio/kafka-go,
// kcat (librdkafka), kafkajs and Kafka's own Java tools — plus kill -9
// durability and raw-socket bad-input checks.
//
// The third-party tools are installed by `make deps` (scripts/install-*.sh).
// With RUNNEL_INTEROP=1 (set by `make test` and `make interop`) a missing tool
// fails the test and names the make step that installs it; without it the
// test is skipped with that reason.
//
// The package holds only tests; harness_test.go has the helpers (startServer,
// kill9, restart, needKcat, nodePath, javaClasspath, runJava, ...) that every
// *_test.go file here shares.
package interop
