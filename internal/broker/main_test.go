package broker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes its brokers and clients; leftover goroutines are leaks.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
