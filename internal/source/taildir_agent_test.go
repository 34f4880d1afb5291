package source_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/testutil/agenttest"
)

// TestAgentTaildir runs a Flume config through `runnel agent`'s loader:
// taildir → memory channel → FileStreamSink. A log is appended to,
// rename-rotated and copytruncate-rotated while the agent runs and while it
// is stopped; every line lands in the output file exactly once.
func TestAgentTaildir(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	out := filepath.Join(dir, "out.txt")
	app := filepath.Join(logs, "app.log")
	conf := fmt.Sprintf(`
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = %s/app\\.log
a1.sources.r1.positionFile = %s/taildir_position.json
a1.sources.r1.pollInterval = 10
a1.sources.r1.writePosInterval = 100
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = FileStreamSink
a1.sinks.k1.channel = c1
a1.sinks.k1.file = %s
`, logs, dir, out)
	confPath := agenttest.WriteConf(t, dir, conf)
	start := func() func() { return agenttest.Start(t, confPath) }
	write := func(path string, from, to int) {
		fd, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		for i := from; i < to; i++ {
			fmt.Fprintf(fd, "line %05d of the application log\n", i)
		}
	}
	waitLines := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(out)
			if got := strings.Count(string(b), "\n"); got >= n {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%d lines in the output, want %d", got, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	copyTruncate := func() {
		b, err := os.ReadFile(app)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(app+".2", b, 0o644)
		if err := os.Truncate(app, 0); err != nil {
			t.Fatal(err)
		}
	}

	write(app, 0, 300)
	stop := start()
	waitLines(300)
	write(app, 300, 350)
	if err := os.Rename(app, app+".1"); err != nil {
		t.Fatal(err)
	}
	write(app+".1", 350, 360)
	write(app, 360, 400)
	waitLines(400)
	write(app, 400, 450)
	copyTruncate()
	write(app, 450, 500)
	waitLines(500)
	stop()

	write(app, 500, 550)
	if err := os.Rename(app, app+".3"); err != nil {
		t.Fatal(err)
	}
	write(app, 550, 600)
	stop = start()
	waitLines(600)
	stop()
	write(app, 600, 650)
	copyTruncate()
	write(app, 650, 700)
	stop = start()
	waitLines(700)
	time.Sleep(150 * time.Millisecond) // nothing more may come
	stop()

	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	for i := range 700 {
		if l := fmt.Sprintf("line %05d of the application log", i); seen[l] != 1 {
			t.Errorf("%q delivered %d times", l, seen[l])
		}
	}
	if len(lines) != 700 {
		t.Errorf("%d lines in the output, want 700", len(lines))
	}
}
