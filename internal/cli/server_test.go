package cli

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServerProcessSIGTERM runs `runnel server` as a real process, produces
// to it, sends SIGTERM and expects a clean exit 0 with the data kept.
func TestServerProcessSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the runnel binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "runnel")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/runnel")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building runnel: %v", err)
	}
	data := filepath.Join(dir, "data")
	run := func() (*exec.Cmd, string, *bufio.Scanner) {
		cmd := exec.Command(bin, "server", "--data-dir", data, "--listen", "127.0.0.1:0", "--set", "num.partitions=2")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill the server if it never reports its address.
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		defer timer.Stop()
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`msg="broker started" addr=(\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				return cmd, m[1], sc
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("server exited before logging its address")
		return nil, "", nil
	}
	cmd, addr, sc := run()
	go func() {
		for sc.Scan() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("sig"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := cl.ProduceSync(ctx, kgo.SliceRecord([]byte{byte(i)})).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v (want exit 0)", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not exit within 10s of SIGTERM")
	}

	// The data survives: restart and read the 10 records back.
	cmd, addr, sc = run()
	go func() {
		for sc.Scan() {
		}
	}()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	cl, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("sig"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for n < 10 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 10 records after restart", n)
		}
		n += len(fs.Records())
	}
}
