// Package transform holds the event transforms: Flume interceptors and Kafka
// Connect single message transforms (SMTs) with their predicates, each
// registered with the flow registry under its Flume alias or Connect alias
// and its Java class names, so agents and connectors use the same code.
//
// Files: one per interceptor (timestamp.go, host.go, static.go,
// removeheader.go, uuid.go, regexfilter.go, regexextractor.go,
// searchreplace.go) and per SMT family (insertfield.go, replacefield.go,
// maskfield.go, valuetokey.go, extractfield.go, hoistfield.go, cast.go,
// flatten.go, timestampconverter.go, router.go, headers.go), predicate.go;
// connectdata.go and jsonparse.go are the Connect data model on bytes (the
// JsonConverter envelope and schemaless JSON); connect.go reads a
// connector's transforms config into a Chain (FromConnect); transform.go
// has the Fallible error model. docs/transforms.md lists every key.
//
// Errors: flow.Transform.Apply cannot fail, so a transform that can fail
// implements Fallible (ApplyErr). Chain.Apply and Apply return the error;
// Apply of a Fallible transform on its own (a Flume interceptor) counts it,
// logs it (rate-limited) and passes the event on unchanged.
package transform
