package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestConnectCommands runs `runnel connect standalone` in-process and drives
// it with the connect client subcommands over its REST API.
func TestConnectCommands(t *testing.T) {
	brokers := startBroker(t)
	dir := t.TempDir()
	rest := freeLoopbackPort(t)
	url := "http://" + rest
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte(fmt.Sprintf("bootstrap.servers=%s\noffset.storage.file.filename=%s\nlisteners=%s\n", brokers, filepath.Join(dir, "offsets"), url)), 0o644)
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	os.WriteFile(in, []byte("a\nb\n"), 0o644)
	src := filepath.Join(dir, "src.properties")
	os.WriteFile(src, []byte(fmt.Sprintf("name=src\nconnector.class=FileStreamSource\nfile=%s\ntopic=cli-connect\n", in)), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { // owned by this test: ends on cancel
		root := NewRoot()
		root.SetArgs([]string{"--log-level", "error", "connect", "standalone", worker, src})
		done <- root.ExecuteContext(ctx)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("connect standalone: %v", err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(url + "/connectors"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("REST API did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}

	sink := filepath.Join(dir, "sink.json")
	os.WriteFile(sink, []byte(fmt.Sprintf(`{"name":"sink","config":{"connector.class":"FileStreamSink","topics":"cli-connect","file":%q}}`, out)), 0o644)
	if got := mustRun(t, brokers, "", "connect", "create", sink, "--url", url); !strings.Contains(got, `"name": "sink"`) {
		t.Errorf("create printed %s", got)
	}
	waitUntil := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitUntil("the sink output", func() bool { data, _ := os.ReadFile(out); return string(data) == "a\nb\n" })

	list := mustRun(t, brokers, "", "connect", "list", "--url", url)
	if ls := lines(list); len(ls) != 3 || !strings.HasPrefix(ls[1], "sink") || !strings.Contains(ls[1], "RUNNING") || !strings.HasPrefix(ls[2], "src") {
		t.Errorf("list:\n%s", list)
	}
	mustRun(t, brokers, "", "connect", "pause", "sink", "--url", url)
	if st := mustRun(t, brokers, "", "connect", "status", "sink", "--url", url); !strings.Contains(st, `"state": "PAUSED"`) {
		t.Errorf("status after pause:\n%s", st)
	}
	mustRun(t, brokers, "", "connect", "resume", "sink", "--url", url)
	mustRun(t, brokers, "", "connect", "restart", "sink", "--url", url)
	mustRun(t, brokers, "", "connect", "restart", "sink", "--task", "0", "--url", url)
	if r := runCLI(t, brokers, "", "connect", "restart", "sink", "--task", "5", "--url", url); r.err == nil || !strings.Contains(r.err.Error(), "404") {
		t.Errorf("restarting task 5 of a one-task sink: %v", r.err)
	}
	if o := mustRun(t, brokers, "", "connect", "offsets", "src", "--url", url); !strings.Contains(o, in) {
		t.Errorf("offsets:\n%s", o)
	}
	if r := runCLI(t, brokers, "", "connect", "offsets", "src", "--reset", "--url", url); r.err == nil || !strings.Contains(r.err.Error(), "STOPPED") {
		t.Errorf("resetting a running connector's offsets: %v", r.err)
	}
	mustRun(t, brokers, "", "connect", "delete", "sink", "--url", url)
	if r := runCLI(t, brokers, "", "connect", "status", "sink", "--url", url); r.err == nil || !strings.Contains(r.err.Error(), "404") {
		t.Errorf("status of a deleted connector: %v", r.err)
	}
}

func TestConnectStandaloneErrors(t *testing.T) {
	dir := t.TempDir()
	worker := filepath.Join(dir, "worker.properties")
	noOffsets := filepath.Join(dir, "no-offsets.properties")
	os.WriteFile(worker, []byte("offset.storage.file.filename="+filepath.Join(dir, "offsets")+"\nlisteners=http://"+freeLoopbackPort(t)+"\n"), 0o644)
	os.WriteFile(noOffsets, []byte("bootstrap.servers=127.0.0.1:1\n"), 0o644)
	bad := filepath.Join(dir, "bad.properties")
	os.WriteFile(bad, []byte("name=x\nconnector.class=NoSuchThing\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no offset file", []string{"connect", "standalone", noOffsets}, "offset.storage.file.filename"},
		{"unknown connector class", []string{"connect", "standalone", worker, bad}, "connector.class"},
		{"missing connector file", []string{"connect", "standalone", worker, filepath.Join(dir, "nope.properties")}, "nope.properties"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "127.0.0.1:1", "", tc.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s", r.err, tc.want)
			}
		})
	}
}
