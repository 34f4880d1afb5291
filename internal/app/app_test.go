package app_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/app"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, opts app.BrokerOptions) *app.Broker {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	b, err := app.StartBroker(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	b := start(t, app.BrokerOptions{DataDir: dir})
	cl := client(t, b.Addr(), kgo.DefaultProduceTopic("keep"), kgo.RequiredAcks(kgo.AllISRAcks()))
	adm := kadm.NewClient(cl)
	ms := "123456789"
	if r, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": &ms}, "keep"); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	before, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte{byte(i)}, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pid1, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()

	// A second broker cannot share the data dir.
	if _, err := app.StartBroker(ctx, app.BrokerOptions{DataDir: dir, Listen: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("second broker on the same data dir: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = start(t, app.BrokerOptions{DataDir: dir})
	defer b.Close()
	cl = client(t, b.Addr(), kgo.ConsumeTopics("keep"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	adm = kadm.NewClient(cl)
	after, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after["keep"].ID != before["keep"].ID || len(after["keep"].Partitions) != 3 {
		t.Fatalf("after restart: id %v (was %v), %d partitions", after["keep"].ID, before["keep"].ID, len(after["keep"].Partitions))
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "keep")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("keep", nil)
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() != ms {
			t.Fatalf("retention.ms after restart = %q", c.MaybeValue())
		}
	}
	pid2, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if pid2.ProducerID <= pid1.ProducerID {
		t.Fatalf("producer id after restart %d, before %d: ids must never repeat", pid2.ProducerID, pid1.ProducerID)
	}
	n := 0
	for n < 30 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 30 records after restart", n)
		}
		n += len(fs.Records())
	}
}

func TestSettingsFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "server.properties")
	data := filepath.Join(dir, "data")
	os.WriteFile(cfg, []byte("# test\nlog.dirs="+data+"\nnum.partitions=4\nlog.retention.hours=2\nadvertised.listeners=PLAINTEXT://example.invalid:1234\nauto.create.topics.enable=false\n"), 0o644)
	b := start(t, app.BrokerOptions{ConfigFile: cfg, Settings: map[string]string{"auto.create.topics.enable": "true"}})
	defer b.Close()
	if _, err := os.Stat(filepath.Join(data, "topics.meta")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, ".lock")); err != nil {
		t.Fatalf("log.dirs not used as the data dir: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Talk to the broker directly: its advertised address is fake.
	var d net.Dialer
	cl := client(t, b.Addr(), kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, b.Addr())
	}))
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("auto")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Brokers[0].Host != "example.invalid" || resp.Brokers[0].Port != 1234 {
		t.Fatalf("advertised %s:%d", resp.Brokers[0].Host, resp.Brokers[0].Port)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 4 {
		t.Fatalf("auto-created topic: %+v", resp.Topics)
	}
	dc := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "auto"
	res.ConfigNames = []string{"retention.ms"}
	dc.Resources = append(dc.Resources, res)
	dr, err := dc.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	c := dr.Resources[0].Configs[0]
	if *c.Value != "7200000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("retention.ms = %s from %v, want 7200000 from log.retention.hours", *c.Value, c.Source)
	}
}

func TestCloseAnswersParkedFetch(t *testing.T) {
	b := start(t, app.BrokerOptions{DataDir: t.TempDir()})
	cl := client(t, b.Addr(), kgo.ConsumeTopics("parked"), kgo.AllowAutoTopicCreation(), kgo.FetchMaxWait(time.Minute))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	cl.PollFetches(ctx) // let the consumer park a long-poll fetch
	cancel()
	start := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with a parked fetch", d)
	}
}

// TestUnusedSettingsAreReported: a server.properties brought from Kafka is
// accepted, and the settings runnel does not read are named in a warning
// instead of being dropped silently.
func TestUnusedSettingsAreReported(t *testing.T) {
	var logs strings.Builder
	b := start(t, app.BrokerOptions{
		DataDir: t.TempDir(),
		Settings: map[string]string{
			"zookeeper.connect":    "localhost:2181", // not used: reported
			"num.network.threads":  "3",              // not used: reported
			"num.partitions":       "2",              // read by the broker
			"log.retention.hours":  "1",              // a topic default
			"message.max.bytes":    "2000000",        // a topic default
			"advertised.listeners": "PLAINTEXT://127.0.0.1:9092",
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err := b.Close(); err != nil { // no more log writes after this
		t.Fatal(err)
	}
	var warning string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "does not use") {
			warning = line
		}
	}
	if !strings.Contains(warning, "settings=num.network.threads,zookeeper.connect") {
		t.Errorf("want a warning naming exactly the unused settings, got logs:\n%s", logs.String())
	}
}
