package source

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

func TestExec(t *testing.T) {
	cases := []struct {
		name      string
		keys      map[string]string
		failFirst int
		want      []string
	}{
		{name: "lines split and CR LF trimmed, last line without newline kept",
			keys: map[string]string{"command": `printf 'a\nb\r\n\nc'`, "shell": "/bin/sh -c"},
			want: []string{"a", "b", "", "c"}},
		{name: "without shell the command is split on white space",
			keys: map[string]string{"command": "echo  one   two"},
			want: []string{"one two"}},
		{name: "refused batches offered again in order",
			keys:      map[string]string{"command": "seq 1 50", "batchSize": "7"},
			failFirst: 3,
			want:      seqStrings(1, 50)},
		{name: "restart after exit",
			keys: map[string]string{"command": "echo again", "restart": "true", "restartThrottle": "20"},
			want: []string{"again", "again", "again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(tc.failFirst)
			startSource(t, buildSrc(t, "EXEC", tc.keys), rec)
			got := rec.waitEvents(t, len(tc.want))
			var bodies []string
			for _, e := range got[:len(tc.want)] {
				bodies = append(bodies, string(e.Body))
			}
			if strings.Join(bodies, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("events %q, want %q", bodies, tc.want)
			}
		})
	}
}

func seqStrings(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func TestExecBatchTimeout(t *testing.T) {
	rec := newRecorder(0)
	start := time.Now()
	startSource(t, buildSrc(t, "exec", map[string]string{"command": "echo early; sleep 30", "shell": "/bin/sh -c", "batchTimeout": "200"}), rec)
	rec.waitEvents(t, 1)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("a partial batch was put after %v, before batchTimeout", d)
	}
}

// processGone reports whether pid no longer runs (absent or a zombie
// waiting for a reaper other than us).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}

func TestExecStopKillsProcessGroup(t *testing.T) {
	rec := newRecorder(0)
	// The shell prints its pid and its background child's, then waits; a
	// shell that ignores SIGTERM must still be gone (SIGKILL after grace).
	stop := startSource(t, buildSrc(t, "exec", map[string]string{
		"command": `trap '' TERM; sleep 1000 & echo $$; echo $!; wait`, "shell": "/bin/sh -c", "batchSize": "2"}), rec)
	got := rec.waitEvents(t, 2)
	var pids []int
	for _, e := range got {
		pid, err := strconv.Atoi(string(e.Body))
		if err != nil {
			t.Fatalf("pid line %q", e.Body)
		}
		pids = append(pids, pid)
	}
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still runs after the source stopped", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The shell is our child: it must be reaped, not left a zombie.
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pids[0])); err == nil {
		t.Fatalf("shell %d not reaped", pids[0])
	}
}

func TestExecConfigErrors(t *testing.T) {
	reg := buildErr(t, "exec", map[string]string{"command": "true", "charset": "no-such-set"})
	if reg == nil || !strings.Contains(reg.Error(), "charset") {
		t.Fatalf("bad charset: %v", reg)
	}
}

// execWithLog builds an exec source whose log goes to logs.
func execWithLog(t *testing.T, keys map[string]string, logs *testutil.SyncBuffer) flow.Source {
	t.Helper()
	reg, _ := flow.Lookup(flow.KindSource, "exec")
	cfg, _, err := reg.Spec.Validate("r1", keys)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v.(flow.Source)
}

func TestExecLogStdErrAndMissingCommand(t *testing.T) {
	t.Run("stderr lines logged, stdout lines are events", func(t *testing.T) {
		var logs testutil.SyncBuffer
		rec := newRecorder(0)
		startSource(t, execWithLog(t, map[string]string{"command": "echo to-stderr >&2; echo out", "shell": "/bin/sh -c", "logStdErr": "true"}, &logs), rec)
		if got := rec.waitEvents(t, 1); string(got[0].Body) != "out" {
			t.Fatalf("event %q", got[0].Body)
		}
		waitFor(t, "stderr in the log", func() bool { return strings.Contains(logs.String(), "to-stderr") })
	})
	t.Run("a command that cannot start is retried when restart is set", func(t *testing.T) {
		var logs testutil.SyncBuffer
		startSource(t, execWithLog(t, map[string]string{"command": "/no/such/program", "restart": "true", "restartThrottle": "10"}, &logs), newRecorder(0))
		waitFor(t, "two failed starts", func() bool { return strings.Count(logs.String(), "/no/such/program") >= 2 })
	})
}
