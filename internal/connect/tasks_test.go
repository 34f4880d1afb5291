package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// A sink with tasks.max=3 on a 6-partition topic runs three tasks, each a
// consumer in group connect-<name>: every record is delivered once, the
// status lists three RUNNING tasks, and restarting one task leaves the
// others running.
func TestSinkTasksMax(t *testing.T) {
	brokers := testutil.RunBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("many"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(context.Background(), 6, 1, nil, "many"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[string(b)]++
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() (distinct, total int) {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range got {
			total += n
		}
		return len(got), total
	}
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			cl.Produce(context.Background(), &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "record %d", i)}, nil)
		}
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	w := startWorker(t, brokers, "key.converter", "org.apache.kafka.connect.storage.StringConverter",
		"value.converter", "org.apache.kafka.connect.storage.StringConverter")
	w.create(t, "s", map[string]string{"connector.class": "org.apache.flume.sink.http.HttpSink", "tasks.max": "3", "topics": "many", "endpoint": srv.URL,
		"backoff.2XX": "false", "rollback.2XX": "false"})
	produce(0, 600)
	waitFor(t, "600 records over HTTP", 30*time.Second, func() bool { d, _ := received(); return d == 600 })

	var st Status
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/s/status", nil, http.StatusOK), &st)
	if len(st.Tasks) != 3 {
		t.Fatalf("status lists %d tasks, want 3: %+v", len(st.Tasks), st)
	}
	for i, ts := range st.Tasks {
		if ts.ID != i || ts.State != StateRunning {
			t.Errorf("task %d: %+v", i, ts)
		}
	}
	var tasks []struct {
		ID TaskID `json:"id"`
	}
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/s/tasks", nil, http.StatusOK), &tasks)
	if len(tasks) != 3 || tasks[2].ID.Task != 2 {
		t.Errorf("GET tasks = %+v", tasks)
	}
	members := func() []string {
		groups, err := adm.DescribeGroups(context.Background(), SinkGroup("s"))
		if err != nil {
			return nil
		}
		var ids []string
		for _, m := range groups[SinkGroup("s")].Members {
			ids = append(ids, m.ClientID)
		}
		slices.Sort(ids)
		return ids
	}
	want := []string{"connector-consumer-s-0", "connector-consumer-s-1", "connector-consumer-s-2"}
	waitFor(t, "three consumers in the group", 30*time.Second, func() bool { return slices.Equal(members(), want) })

	// Restarting task 1 leaves tasks 0 and 2 as they were.
	w.mu.Lock()
	before := slices.Clone(w.conns["s"].tasks)
	w.mu.Unlock()
	w.mustCall(t, http.MethodPost, "/connectors/s/tasks/1/restart", nil, http.StatusNoContent)
	w.mustCall(t, http.MethodPost, "/connectors/s/tasks/3/restart", nil, http.StatusNotFound)
	w.mu.Lock()
	after := slices.Clone(w.conns["s"].tasks)
	w.mu.Unlock()
	if after[0] != before[0] || after[2] != before[2] || after[1] == before[1] {
		t.Errorf("restarting task 1 replaced tasks %v → %v", before, after)
	}
	produce(600, 900)
	waitFor(t, "900 records after the restart", 60*time.Second, func() bool { d, _ := received(); return d == 900 })
	waitFor(t, "three consumers again", 30*time.Second, func() bool { return slices.Equal(members(), want) })
	time.Sleep(500 * time.Millisecond)
	if d, total := received(); total != d {
		t.Errorf("%d deliveries of %d records: some delivered twice", total, d)
	}
}

// A source connector keeps one task, and says so.
func TestSourceTasksMaxWarns(t *testing.T) {
	cfg, _, err := ParseWorkerConfig(map[string]string{KeyBootstrapServers: "127.0.0.1:1", KeyOffsetFile: t.TempDir() + "/o"})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := ParseConnector(cfg, map[string]string{"name": "src", "connector.class": "FileStreamSource", "file": "/x", "topic": "t", "tasks.max": "4"})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Tasks != 1 || len(cc.Warnings) == 0 {
		t.Errorf("tasks %d, warnings %v", cc.Tasks, cc.Warnings)
	}
}
