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

// TestAgentSpoolDir runs a Flume config through `runnel agent`'s loader:
// spooldir → memory channel → file_roll. Files dropped in the spool
// directory land in the output, each line at least once and at most one
// batch again across a stop and start while files are spooled, and every
// spooled file ends renamed .COMPLETED.
func TestAgentSpoolDir(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	outDir := filepath.Join(dir, "out")
	os.Mkdir(spool, 0o755)
	os.Mkdir(outDir, 0o755)
	conf := fmt.Sprintf(`
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = spooldir
a1.sources.r1.channels = c1
a1.sources.r1.spoolDir = %s
a1.sources.r1.fileHeader = true
a1.sources.r1.batchSize = 50
a1.sources.r1.pollDelay = 20
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = %s
a1.sinks.k1.sink.rollInterval = 0
`, spool, outDir)
	confPath := agenttest.WriteConf(t, dir, conf)
	start := func() func() { return agenttest.Start(t, confPath) }
	output := func() string {
		var all strings.Builder
		entries, _ := os.ReadDir(outDir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(outDir, e.Name()))
			all.Write(b)
		}
		return all.String()
	}
	waitLines := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if got := strings.Count(output(), "\n"); got >= n {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%d lines in the output, want %d", got, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	drop := func(name string, n int) {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s line %05d\n", name, i)
		}
		// Written aside and renamed in, as files must be complete when they
		// appear in a spool directory.
		tmp := filepath.Join(dir, name)
		if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(spool, name)); err != nil {
			t.Fatal(err)
		}
	}

	stop := start()
	drop("a.log", 300)
	waitLines(300)
	drop("b.log", 20000)
	waitLines(400) // stop while b.log is being read
	stop()
	stop = start()
	drop("c.log", 10)
	waitLines(20310)
	stop()

	got := output()
	counts := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		counts[l]++
	}
	dups := 0
	for _, f := range []struct {
		name string
		n    int
	}{{"a.log", 300}, {"b.log", 20000}, {"c.log", 10}} {
		for i := range f.n {
			c := counts[fmt.Sprintf("%s line %05d", f.name, i)]
			if c == 0 {
				t.Fatalf("%s line %d lost", f.name, i)
			}
			dups += c - 1
		}
		if _, err := os.Stat(filepath.Join(spool, f.name+".COMPLETED")); err != nil {
			t.Errorf("%s not completed: %v", f.name, err)
		}
	}
	if dups > 50 {
		t.Fatalf("%d lines delivered twice, more than one batch", dups)
	}
}
