package connect

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the worker, its tasks and their Kafka clients leave
// no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
