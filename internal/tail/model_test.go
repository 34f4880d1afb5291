package tail

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logWriter appends numbered lines to a log and rotates it the ways
// logrotate does; it remembers every line it wrote.
type logWriter struct {
	t       *testing.T
	path    string
	fd      *os.File
	next    int
	rot     int
	partial string // the unfinished rest of line next-1, "" if none
	rotName func(n int) string
}

func (w *logWriter) open() {
	fd, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.fd = fd
}

func (w *logWriter) write(s string) {
	if _, err := w.fd.WriteString(s); err != nil {
		w.t.Fatal(err)
	}
}

// lines appends n complete lines (finishing a partial one first).
func (w *logWriter) lines(n int) {
	var b strings.Builder
	b.WriteString(w.partial)
	w.partial = ""
	for range n {
		b.WriteString(numbered("M", w.next, w.next+1))
		w.next++
	}
	w.write(b.String())
}

// half writes the first part of a new line.
func (w *logWriter) half() {
	if w.partial != "" {
		return
	}
	l := numbered("M", w.next, w.next+1)
	w.next++
	cut := len(l) / 2
	w.write(l[:cut])
	w.partial = l[cut:]
}

func (w *logWriter) rename(late int) {
	w.lines(0)
	w.rot++
	if err := os.Rename(w.path, w.rotName(w.rot)); err != nil {
		w.t.Fatal(err)
	}
	w.lines(late) // the writer has not reopened yet
	w.fd.Close()
	w.open()
}

func (w *logWriter) copyTruncate() {
	w.lines(0)
	w.rot++
	b, err := os.ReadFile(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(w.rotName(w.rot), b, 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Truncate(w.path, 0); err != nil {
		w.t.Fatal(err)
	}
}

// TestRandomOperations runs random sequences (with the rotated names
// followed or not) of appends, partial lines,
// rename and copytruncate rotations, reads that are committed or not, and
// restarts from committed positions after a read that is not committed (at
// most one rotation while stopped),
// and checks that every line is committed exactly once.
func TestRandomOperations(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	if n, err := strconv.Atoi(os.Getenv("TAIL_SEEDS")); err == nil {
		seeds = n // a longer search: TAIL_SEEDS=500 go test -run TestRandomOperations
	}
	for i := range 2 * seeds {
		// Odd runs follow the rotated names too (app.log.N matches).
		seed, matchAll := i/2, i%2 == 1
		t.Run(fmt.Sprintf("%d/matchAll=%v", seed, matchAll), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			dir := t.TempDir()
			pattern := `app\.log`
			if matchAll {
				pattern = `app\.log.*`
			}
			g, _ := NewGroup(dir, pattern)
			opts := Options{Groups: []Group{g}, PollInterval: time.Millisecond, IdleTimeout: 30 * time.Millisecond, CopyHold: 30 * time.Millisecond}
			if os.Getenv("TAIL_DEBUG") != "" {
				opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			w := &logWriter{t: t, path: filepath.Join(dir, "app.log"), rotName: func(n int) string { return fmt.Sprintf("%s/app.log.%d", dir, n) }}
			w.open()
			defer func() { w.fd.Close() }()
			f, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { f.Close() }()
			var committed []string
			read := func(commit bool) {
				lines, err := f.Read(context.Background(), 1+rng.IntN(30), time.Duration(rng.IntN(3))*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				if commit {
					f.Commit(lines)
					committed = append(committed, bodies(lines)...)
				}
			}
			// A rotation is only followed when the follower looked at the
			// files at least once since the previous one (two rotations
			// within one poll interval lose the file between them).
			scanNow := func() {
				time.Sleep(2 * time.Millisecond)
				read(true)
			}
			var log []string
			for range 80 {
				op := rng.IntN(20)
				if op >= 10 && op < 14 || op >= 15 && op < 17 {
					scanNow()
				}
				switch {
				case op < 8:
					n := 1 + rng.IntN(40)
					w.lines(n)
					log = append(log, fmt.Sprintf("lines %d", n))
				case op < 10:
					w.half()
					log = append(log, "half")
				case op < 12:
					late := rng.IntN(5)
					w.rename(late)
					log = append(log, fmt.Sprintf("rename (late %d)", late))
				case op < 14:
					w.copyTruncate()
					log = append(log, "copytruncate")
				case op < 15:
					time.Sleep(40 * time.Millisecond) // files go idle
					log = append(log, "idle")
				case op < 17:
					// Restart from committed positions, after an
					// uncommitted read and maybe one rotation.
					read(false)
					opts.Positions = f.Positions()
					f.Close()
					what := "restart"
					switch rng.IntN(3) {
					case 0:
						w.rename(rng.IntN(3))
						what += " across rename"
					case 1:
						w.copyTruncate()
						what += " across copytruncate"
					}
					w.lines(rng.IntN(10))
					if f, err = New(opts); err != nil {
						t.Fatal(err)
					}
					log = append(log, what)
				}
				if len(log) > 0 {
					log[len(log)-1] += fmt.Sprintf(" @%d", w.next)
				}
				for range rng.IntN(4) {
					read(true)
				}
			}
			w.lines(0)
			deadline := time.Now().Add(5 * time.Second)
			for len(committed) < w.next && time.Now().Before(deadline) {
				read(true)
			}
			time.Sleep(50 * time.Millisecond)
			for range 5 {
				read(true)
			}
			if t.Failed() {
				return
			}
			defer func() {
				if t.Failed() {
					t.Logf("operations: %s", strings.Join(log, ", "))
				}
			}()
			exactlyOnce(t, committed, "M", w.next)
		})
	}
}
