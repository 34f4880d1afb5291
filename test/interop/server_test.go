package interop

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServerConfigAndRestart starts the server with a Kafka-style
// server.properties (--config), lets a producer auto-create a topic with the
// configured partition count, and checks that topics, their configs and
// records survive a clean SIGTERM restart.
func TestServerConfigAndRestart(t *testing.T) {
	srv := startServer(t, withSettings(map[string]string{
		"num.partitions":            "3",
		"auto.create.topics.enable": "true",
	}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cl := newClient(t, srv.Addr, kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("auto-created"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("producing to an auto-created topic: %v", err)
	}
	if ends := endOffsets(t, srv.Addr, "auto-created"); len(ends) != 3 {
		t.Fatalf("auto-created topic has %d partitions, want num.partitions=3", len(ends))
	}
	retention := "3600000"
	createTopic(t, srv.Addr, "configured", 2, map[string]*string{"retention.ms": &retention})

	stopServer(t, srv) // SIGTERM must exit 0
	restart(t, srv)

	if ends := endOffsets(t, srv.Addr, "auto-created"); len(ends) != 3 || ends[0]+ends[1]+ends[2] != 1 {
		t.Errorf("after restart auto-created has end offsets %v, want 3 partitions holding 1 record", ends)
	}
	adm := kadm.NewClient(newClient(t, srv.Addr))
	rcs, err := adm.DescribeTopicConfigs(ctx, "configured")
	if err != nil {
		t.Fatalf("describing configs after restart: %v", err)
	}
	rc, err := rcs.On("configured", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describing configs of configured after restart: %v %v", err, rc.Err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			found = true
			if c.MaybeValue() != retention {
				t.Errorf("retention.ms after restart %q, want %s", c.MaybeValue(), retention)
			}
		}
	}
	if !found {
		t.Errorf("retention.ms missing from configs after restart")
	}
	if !strings.Contains(srv.log.String(), "--config") {
		t.Errorf("server was not started with --config")
	}
}
