package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startBroker runs a real in-process broker on a loopback port for one test.
func startBroker(t *testing.T) string {
	t.Helper()
	return testutil.RunBroker(t)
}

// cliResult is what one CLI invocation printed and returned.
type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs the runnel root command with args against brokers, feeding
// stdin, the way a user at a shell would.
func runCLI(t *testing.T, brokers, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	root := NewRoot()
	root.SetArgs(append([]string{"--brokers", brokers, "--log-level", "error"}, args...))
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil {
		t.Fatalf("runnel %s: timed out; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errOut.String())
	}
	return cliResult{out.String(), errOut.String(), err}
}

// mustRun is runCLI failing the test on an error.
func mustRun(t *testing.T, brokers, stdin string, args ...string) string {
	t.Helper()
	r := runCLI(t, brokers, stdin, args...)
	if r.err != nil {
		t.Fatalf("runnel %s: %v\nstderr:\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r.stdout
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
