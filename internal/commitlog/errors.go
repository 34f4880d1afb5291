package commitlog

import (
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors; wrapped errors carry detail and match with errors.Is.
var (
	ErrCorrupt              = errors.New("corrupt record batch")                       // → CORRUPT_MESSAGE
	ErrUnsupportedMagic     = errors.New("unsupported record batch magic")             // → UNSUPPORTED_FOR_MESSAGE_FORMAT
	ErrTooLarge             = errors.New("record batch larger than max.message.bytes") // → MESSAGE_TOO_LARGE
	ErrOffsetOutOfRange     = errors.New("offset out of range")                        // → OFFSET_OUT_OF_RANGE
	ErrOutOfOrderSequence   = errors.New("out of order sequence number")               // → OUT_OF_ORDER_SEQUENCE_NUMBER
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch")                     // → INVALID_PRODUCER_EPOCH
	ErrStorage              = errors.New("storage error")                              // → KAFKA_STORAGE_ERROR
	ErrClosed               = errors.New("log closed")
)

// CorruptionError reports bytes on disk that failed validation: which segment
// and at which file position. It matches ErrCorrupt.
type CorruptionError struct {
	Segment  string
	Position int64
	Err      error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("corrupt data in %s at position %d: %v", e.Segment, e.Position, e.Err)
}

// Unwrap returns the underlying reason.
func (e *CorruptionError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// storageErr wraps a filesystem error so it matches ErrStorage while keeping
// the original error (and its errno) reachable.
func storageErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, &wrapStorage{err})
}

type wrapStorage struct{ err error }

func (w *wrapStorage) Error() string   { return w.err.Error() }
func (w *wrapStorage) Unwrap() []error { return []error{ErrStorage, w.err} }

// isNoSpace reports whether err is ENOSPC (or EDQUOT).
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
