// Package agenttest runs Flume agent configs in-process for component
// tests. It is its own package because the agent links every component:
// only external test packages (source_test, sink_test, ...) may import it.
package agenttest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/runnel/runnel/internal/agent"
)

// WriteConf writes conf as agent.conf in dir and returns its path.
func WriteConf(t testing.TB, dir, conf string) string {
	t.Helper()
	path := filepath.Join(dir, "agent.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Start loads agent a1 from the config file and runs it until the returned
// stop is called (stop waits for the agent to end; calling it again does
// nothing). t's cleanup stops it too.
func Start(t testing.TB, confPath string) (stop func()) {
	t.Helper()
	a, err := agent.Load(confPath, "a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}
