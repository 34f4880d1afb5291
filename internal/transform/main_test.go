package transform

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves goroutines behind (the agent
// tests start and stop a whole agent).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
