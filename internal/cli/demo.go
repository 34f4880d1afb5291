package cli

// runnel demo: the whole product in one command. It starts an embedded broker
// in a temporary data directory, publishes a generated web access log in real
// time, consumes it back and shows live counts per HTTP status and rates, and
// runs an in-process Kafka Connect JDBC sink that parses every line into a
// row of the SQLite table access_log, until Ctrl-C or --duration.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/accesslog"
	"github.com/runnel/runnel/internal/app"
	"github.com/runnel/runnel/internal/connect"
	"github.com/runnel/runnel/internal/progress"
)

func init() { register("demo", newDemoCmd) }

type demoFlags struct {
	rate       float64
	duration   time.Duration
	topic      string
	partitions int32
	dataDir    string
	database   string
	external   bool
	seed       uint64
	interval   time.Duration
}

func newDemoCmd(g *Globals) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an embedded broker, stream a generated access log through it, show live counts",
		Long: `demo starts a broker inside this process (temporary data directory, free
loopback port), creates a topic, publishes a realistic Apache combined-format
web access log into it in real time, consumes it back from every partition,
and prints live counts per HTTP status and rates until Ctrl-C or --duration.
It removes the temporary data directory on exit.

While it runs, any Kafka client can connect to the printed address, e.g.
runnel --brokers ADDR consume access-log --format '%p/%o %v\n'.`,
		Example: `  go run ./cmd/runnel demo
  runnel demo --rate 1000 --duration 30s
  runnel demo --external --brokers 127.0.0.1:9092   # use a running broker instead`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g, f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.Float64Var(&f.rate, "rate", 300, "access-log lines published per second")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	fl.StringVar(&f.topic, "topic", "access-log", "topic to publish to")
	fl.Int32Var(&f.partitions, "partitions", 3, "partitions of the topic")
	fl.StringVar(&f.dataDir, "data-dir", "", "keep the embedded broker's data here instead of a temporary directory")
	fl.StringVar(&f.database, "database", "", "SQLite file (or jdbc:postgresql:// URL) the parsed requests land in, table access_log (default: access.db in the data directory)")
	fl.BoolVar(&f.external, "external", false, "do not embed a broker; use --brokers")
	fl.Uint64Var(&f.seed, "seed", uint64(time.Now().UnixNano()), "random seed of the log generator")
	fl.DurationVar(&f.interval, "interval", time.Second, "how often to print the live counts")
	return cmd
}

// demoStats are the consumer's running counts.
type demoStats struct {
	produced atomic.Int64
	failed   atomic.Int64
	consumed atomic.Int64
	bytes    atomic.Int64

	mu       sync.Mutex // guards statuses and last
	statuses map[string]int64
	last     string
}

func (s *demoStats) record(line []byte) {
	s.consumed.Add(1)
	s.bytes.Add(int64(len(line)))
	st := statusOf(line)
	s.mu.Lock()
	s.statuses[st]++
	s.last = string(line)
	s.mu.Unlock()
}

// statusOf extracts the status code from a combined-format line: the field
// after the quoted request line.
func statusOf(line []byte) string {
	s := string(line)
	i := strings.Index(s, "\" ")
	if i < 0 || len(s) < i+5 {
		return "???"
	}
	return s[i+2 : i+5]
}

func runDemo(ctx context.Context, g *Globals, f demoFlags, out io.Writer) error {
	if f.rate <= 0 {
		return fmt.Errorf("demo: --rate must be > 0, got %v", f.rate)
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}

	brokers := g.Brokers
	dir := f.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "runnel-demo-*")
		if err != nil {
			return fmt.Errorf("demo: creating a temporary data directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if !f.external {
		b, err := app.StartBroker(context.WithoutCancel(ctx), app.BrokerOptions{
			DataDir: dir,
			Listen:  "127.0.0.1:0",
			Logger:  demoLogger(g),
		})
		if err != nil {
			return fmt.Errorf("demo: starting the embedded broker: %w", err)
		}
		defer b.Close()
		brokers = []string{b.Addr()}
		fmt.Fprintf(out, "runnel demo: embedded broker listening on %s, data in %s\n", b.Addr(), dir)
	} else {
		fmt.Fprintf(out, "runnel demo: using brokers %s\n", strings.Join(brokers, ","))
	}
	dg := *g
	dg.Brokers = brokers
	if err := ensureTopic(ctx, &dg, f.topic, f.partitions, nil); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "publishing ~%.0f access-log lines/s to topic %q (%d partitions) and consuming them back; Ctrl-C stops.\n", f.rate, f.topic, f.partitions)
	fmt.Fprintf(out, "watch the raw stream from another terminal:  runnel --brokers %s consume %s --format '%%p/%%o %%v\\n'\n\n", brokers[0], f.topic)

	db := f.database
	if db == "" {
		db = filepath.Join(dir, "access.db")
	}
	worker, err := startDemoSink(brokers, f.topic, db, demoLogger(g))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer worker.Close()
	fmt.Fprintf(out, "parsed requests land in %s, table access_log:  sqlite3 %s 'SELECT status, count(*) FROM access_log GROUP BY 1'\n\n", db, db)

	producer, err := newClient(&dg, kgo.DefaultProduceTopic(f.topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer producer.Close()
	// A plain (group-less) consumer of every partition: the demo shows the
	// data path and does not depend on group coordination.
	consumer, err := newClient(&dg,
		kgo.ConsumeTopics(f.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return err
	}
	defer consumer.Close()

	stats := &demoStats{statuses: map[string]int64{}}
	prodCtx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	consCtx, stopConsuming := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsuming()

	var wg sync.WaitGroup
	wg.Go(func() { demoProduce(prodCtx, producer, f, stats) })
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		demoConsume(consCtx, consumer, stats)
	}()

	tty, width := progress.IsTerminal(out)
	view := &demoView{out: out, tty: tty, width: width, start: time.Now()}
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			view.draw(stats, false)
		}
	}

	// Stop producing, then give the consumer a moment to read everything
	// that was acknowledged, so the final counts add up.
	stopProducing()
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for stats.consumed.Load() < stats.produced.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopConsuming()
	<-consumed
	view.draw(stats, true)
	if rows, err := waitDemoRows(db, stats.produced.Load(), 15*time.Second); err != nil {
		fmt.Fprintf(out, "database: %v\n", err)
	} else if rows >= 0 {
		fmt.Fprintf(out, "database: %d rows in access_log (%s)\n", rows, db)
	}
	if c, p := stats.consumed.Load(), stats.produced.Load(); c < p {
		return fmt.Errorf("demo: consumed %d of %d produced lines", c, p)
	}
	return nil
}

// waitDemoRows waits until the SQLite table access_log holds want rows (or
// timeout) and returns its row count; -1 for a non-SQLite database.
func waitDemoRows(db string, want int64, timeout time.Duration) (int64, error) {
	if strings.Contains(db, "://") || (strings.HasPrefix(db, "jdbc:") && !strings.HasPrefix(db, "jdbc:sqlite:")) {
		return -1, nil
	}
	conn, err := sql.Open("sqlite", strings.TrimPrefix(db, "jdbc:sqlite:")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int64
	deadline := time.Now().Add(timeout)
	for {
		err = conn.QueryRow(`SELECT count(*) FROM access_log`).Scan(&n)
		if (err == nil && n >= want) || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startDemoSink runs an in-process Kafka Connect worker with one JDBC sink
// connector: topic → accesslog transform (lines parsed into records) →
// table access_log, upserted by topic/partition/offset.
func startDemoSink(brokers []string, topic, db string, log *slog.Logger) (*connect.Worker, error) {
	wcfg, _, err := connect.ParseWorkerConfig(map[string]string{
		"bootstrap.servers": strings.Join(brokers, ","),
		"key.converter":     "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":   "org.apache.kafka.connect.storage.StringConverter",
	})
	if err != nil {
		return nil, err
	}
	w, err := connect.NewWorker(wcfg, log)
	if err != nil {
		return nil, err
	}
	url := db
	if !strings.Contains(db, "://") && !strings.HasPrefix(db, "jdbc:") {
		url = "jdbc:sqlite:" + db
	}
	_, err = w.Create(map[string]string{
		"name": "demo-access-log-db", "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
		"topics": topic, "connection.url": url, "table.name.format": "access_log",
		"auto.create": "true", "pk.mode": "kafka", "insert.mode": "upsert",
		"transforms": "parse", "transforms.parse.type": "accesslog",
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the database sink: %w", err)
	}
	return w, nil
}

// demoProduce publishes generated lines at f.rate until ctx is done, then
// flushes. Keys are client IPs, so one client's requests stay in order.
func demoProduce(ctx context.Context, cl *kgo.Client, f demoFlags, stats *demoStats) {
	gen := accesslog.NewGenerator(f.seed)
	start := time.Now()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var sent int64
	for {
		select {
		case <-ctx.Done():
			_ = cl.Flush(context.WithoutCancel(ctx))
			return
		case now := <-t.C:
			due := int64(now.Sub(start).Seconds() * f.rate)
			for ; sent < due; sent++ {
				e := gen.Next(now)
				// Records already generated are delivered even if ctx ends
				// now; Flush above waits for them.
				cl.Produce(context.WithoutCancel(ctx), &kgo.Record{Key: []byte(e.ClientIP), Value: e.Append(nil)}, func(_ *kgo.Record, err error) {
					if err != nil {
						stats.failed.Add(1)
						return
					}
					stats.produced.Add(1)
				})
			}
		}
	}
}

// demoConsume counts every consumed line until ctx is done.
func demoConsume(ctx context.Context, cl *kgo.Client, stats *demoStats) {
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachRecord(func(r *kgo.Record) { stats.record(r.Value) })
	}
}

// demoView prints the live counts: a redrawn block on a terminal, one line
// per interval otherwise.
type demoView struct {
	out       io.Writer
	tty       bool
	width     int
	start     time.Time
	lines     int // lines drawn last time, to move the cursor back over
	lastAt    time.Time
	lastCount int64
}

func (v *demoView) draw(s *demoStats, final bool) {
	now := time.Now()
	elapsed := now.Sub(v.start)
	consumed := s.consumed.Load()
	rate := 0.0
	if final {
		rate = float64(consumed) / elapsed.Seconds()
	} else if !v.lastAt.IsZero() {
		rate = float64(consumed-v.lastCount) / now.Sub(v.lastAt).Seconds()
	} else {
		rate = float64(consumed) / elapsed.Seconds()
	}
	v.lastAt, v.lastCount = now, consumed

	s.mu.Lock()
	statuses := maps.Clone(s.statuses)
	last := s.last
	s.mu.Unlock()
	codes := slices.Sorted(maps.Keys(statuses))
	var counts []string
	for _, c := range codes {
		counts = append(counts, fmt.Sprintf("%s:%d", c, statuses[c]))
	}
	head := fmt.Sprintf("%6s  produced %d  consumed %d  lag %d  %.0f lines/s  %s/s",
		elapsed.Round(time.Second), s.produced.Load(), consumed, max(0, s.produced.Load()-consumed),
		rate, progress.Bytes(float64(s.bytes.Load())/elapsed.Seconds()))
	if f := s.failed.Load(); f > 0 {
		head += fmt.Sprintf("  failed %d", f)
	}

	if !v.tty {
		prefix := ""
		if final {
			prefix = "final: "
		}
		fmt.Fprintf(v.out, "%s%s  status %s\n", prefix, strings.TrimSpace(head), strings.Join(counts, " "))
		return
	}
	var b strings.Builder
	if v.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.lines)
	}
	lines := []string{head, ""}
	var total int64
	for _, c := range codes {
		total += statuses[c]
	}
	for _, c := range codes {
		bar := 0
		if total > 0 {
			bar = int(40 * statuses[c] / total)
		}
		lines = append(lines, fmt.Sprintf("  %s %8d %5.1f%% %s", c, statuses[c], 100*float64(statuses[c])/float64(max(total, 1)), strings.Repeat("#", bar)))
	}
	if w := max(v.width-10, 40); len(last) > w {
		last = last[:w-3] + "..."
	}
	lines = append(lines, "", "  last: "+last)
	for _, l := range lines {
		b.WriteString("\x1b[2K" + l + "\n")
	}
	v.lines = len(lines)
	if final {
		b.WriteString("stopped.\n")
	}
	fmt.Fprint(v.out, b.String())
}

// demoLogger keeps the embedded broker quiet (warnings and errors only) unless
// --log-level asks for more detail than the default.
func demoLogger(g *Globals) *slog.Logger {
	if g.LogLevel == "" || strings.EqualFold(g.LogLevel, "info") {
		lg := *g
		lg.LogLevel = "warn"
		return lg.Logger()
	}
	return g.Logger()
}
