package topic

import (
	"testing"

	"go.uber.org/goleak"
)

// The janitor and every log must be stopped by Registry.Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
