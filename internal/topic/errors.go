package topic

import "errors"

// Errors returned by the registry; the broker maps them to Kafka error codes.
var (
	ErrUnknownTopic       = errors.New("unknown topic")           // UNKNOWN_TOPIC_OR_PARTITION
	ErrTopicExists        = errors.New("topic already exists")    // TOPIC_ALREADY_EXISTS
	ErrInvalidTopic       = errors.New("invalid topic")           // INVALID_TOPIC_EXCEPTION
	ErrInvalidPartitions  = errors.New("invalid partition count") // INVALID_PARTITIONS
	ErrInvalidReplication = errors.New("invalid replication factor")
	ErrInvalidConfig      = errors.New("invalid config") // INVALID_CONFIG
	ErrClosed             = errors.New("topic registry closed")
	ErrCorruptMeta        = errors.New("corrupt topic metadata file")
)
