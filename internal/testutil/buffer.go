package testutil

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

// SyncBuffer is a bytes.Buffer that a test can read while other goroutines
// (a process's stdout and stderr, a logger, a progress bar) write to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TakeBodies takes every event now in ch in one committed transaction and
// returns their bodies in order.
func TakeBodies(t testing.TB, ch flow.Channel) []string {
	t.Helper()
	tx := ch.Begin()
	defer tx.Commit()
	var out []string
	for {
		e, ok, err := tx.Take(context.Background())
		if err != nil || !ok {
			return out
		}
		out = append(out, string(e.Body))
	}
}
