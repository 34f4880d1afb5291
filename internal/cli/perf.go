package cli

// runnel perf produce|consume: load generators like kafka-producer-perf-test
// and kafka-consumer-perf-test, with a live progress bar and a final summary.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/progress"
)

func init() { register("perf", newPerfCmd) }

func newPerfCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Measure produce and consume throughput and latency",
	}
	cmd.AddCommand(newPerfProduceCmd(g), newPerfConsumeCmd(g))
	return cmd
}

type perfProduceFlags struct {
	records     int64
	recordSize  int
	throughput  float64
	acks        string
	producers   int
	partitions  int32
	compression string
	lingerMs    int
	batchBytes  int32
	progress    bool
}

func newPerfProduceCmd(g *Globals) *cobra.Command {
	var f perfProduceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records as fast as allowed and report throughput and latency",
		Long: `perf produce sends --records records of --record-size random bytes, from
--producers independent clients, optionally capped at --throughput records
per second in total. The topic is created with --partitions partitions if it
does not exist. Latency is measured per record from the send call to the
broker's acknowledgement. The summary goes to stdout, progress to stderr.`,
		Example: `  runnel perf produce bench --records 1000000 --record-size 100 --acks all --partitions 8
  runnel perf produce bench --records 100000 --record-size 1024 --throughput 5000 --producers 4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := runPerfProduce(cmd.Context(), g, args[0], f, cmd.ErrOrStderr())
			if res != nil {
				res.write(cmd.OutOrStdout())
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.records, "records", 100000, "number of records to send")
	fl.IntVar(&f.recordSize, "record-size", 100, "bytes per record value")
	fl.Float64Var(&f.throughput, "throughput", -1, "cap on records per second in total (-1: no cap)")
	fl.StringVar(&f.acks, "acks", "all", "acknowledgements: 0, 1 or all")
	fl.IntVar(&f.producers, "producers", 1, "number of concurrent producer clients")
	fl.Int32Var(&f.partitions, "partitions", 1, "partitions of the topic when it has to be created")
	fl.StringVar(&f.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4, zstd")
	fl.IntVar(&f.lingerMs, "linger-ms", 0, "wait up to this long to fill batches")
	fl.Int32Var(&f.batchBytes, "batch-max-bytes", 1000012, "largest record batch a producer builds")
	fl.BoolVar(&f.progress, "progress", true, "show a live progress bar on stderr")
	return cmd
}

// produceResult is what perf produce measured.
type produceResult struct {
	Records   int64
	Failed    int64
	FirstErr  error
	Bytes     int64
	Elapsed   time.Duration
	Latencies []time.Duration // of the successful records, sorted
}

func (r *produceResult) write(w io.Writer) {
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "%d records sent in %.2fs, %.1f records/s, %.2f MiB/s",
		r.Records, secs, float64(r.Records)/secs, float64(r.Bytes)/secs/(1<<20))
	if n := len(r.Latencies); n > 0 {
		var sum time.Duration
		for _, l := range r.Latencies {
			sum += l
		}
		fmt.Fprintf(w, ", latency avg %s, p50 %s, p95 %s, p99 %s, p99.9 %s, max %s",
			ms(sum/time.Duration(n)), ms(quantile(r.Latencies, 0.50)), ms(quantile(r.Latencies, 0.95)),
			ms(quantile(r.Latencies, 0.99)), ms(quantile(r.Latencies, 0.999)), ms(r.Latencies[n-1]))
	}
	fmt.Fprintln(w)
	if r.Failed > 0 {
		fmt.Fprintf(w, "%d records failed; first error: %v\n", r.Failed, r.FirstErr)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}

// ensureTopic creates topic with partitions if it does not exist yet.
func ensureTopic(ctx context.Context, g *Globals, topic string, partitions int32, configs map[string]*string) error {
	adm, cl, err := newAdmin(g)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	return nil
}

func runPerfProduce(ctx context.Context, g *Globals, topic string, f perfProduceFlags, errOut io.Writer) (*produceResult, error) {
	if f.records <= 0 || f.recordSize < 0 || f.producers <= 0 {
		return nil, fmt.Errorf("perf produce: want --records > 0, --record-size >= 0, --producers > 0")
	}
	opts, err := producerOpts(f.compression, f.acks, f.lingerMs)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(f.batchBytes))
	if err := ensureTopic(ctx, g, topic, f.partitions, nil); err != nil {
		return nil, err
	}

	// One random printable payload shared by every record, as
	// kafka-producer-perf-test does; the client never modifies it.
	payload := make([]byte, f.recordSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte('A' + rng.IntN(26))
	}

	clients := make([]*kgo.Client, f.producers)
	for i := range clients {
		if clients[i], err = newClient(g, opts...); err != nil {
			for _, c := range clients[:i] {
				c.Close()
			}
			return nil, err
		}
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()

	lat := make([]time.Duration, f.records) // -1 marks a failed record
	var (
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	var bar *progress.Bar
	if f.progress {
		bar = progress.New(errOut, "produce", f.records)
	}
	start := time.Now()
	if bar != nil {
		bar.Start()
	}
	var wg sync.WaitGroup
	for pi, cl := range clients {
		// Producer pi sends records pi, pi+P, pi+2P, ...
		wg.Go(func() {
			perProducerRate := f.throughput / float64(f.producers)
			var sent int64
			for i := int64(pi); i < f.records; i += int64(f.producers) {
				if ctx.Err() != nil {
					return
				}
				if perProducerRate > 0 {
					due := start.Add(time.Duration(float64(sent) / perProducerRate * float64(time.Second)))
					// Sleep only when a millisecond or more ahead: one
					// timer per record would cost more than the send.
					if d := time.Until(due); d >= time.Millisecond {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				sent++
				idx := i
				t0 := time.Now()
				cl.Produce(ctx, &kgo.Record{Value: payload}, func(r *kgo.Record, err error) {
					if err != nil {
						lat[idx] = -1
						failed.Add(1)
						errOnce.Do(func() { firstErr = err })
						return
					}
					lat[idx] = time.Since(t0)
					if bar != nil {
						bar.Add(1, int64(len(r.Value)))
					}
				})
			}
			// Flush waits for every outstanding record; errors were already
			// counted by the promises.
			_ = cl.Flush(context.WithoutCancel(ctx))
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if bar != nil {
		bar.Stop()
	}

	res := &produceResult{Elapsed: elapsed, Failed: failed.Load(), FirstErr: firstErr}
	res.Latencies = make([]time.Duration, 0, len(lat))
	for _, l := range lat {
		if l > 0 {
			res.Latencies = append(res.Latencies, l)
		}
	}
	res.Records = int64(len(res.Latencies))
	res.Bytes = res.Records * int64(f.recordSize)
	slices.Sort(res.Latencies)
	if ctx.Err() != nil {
		return res, nil // interrupted: report what was done
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("perf produce: %d of %d records failed: %w", res.Failed, f.records, firstErr)
	}
	return res, nil
}

type perfConsumeFlags struct {
	records  int64
	group    string
	timeout  time.Duration
	fetchMax int32
	progress bool
}

func newPerfConsumeCmd(g *Globals) *cobra.Command {
	var f perfConsumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Consume records from the beginning and report throughput",
		Long: `perf consume reads a topic from the beginning until it has read --records
records (default: every record present when it starts), then reports records
and bytes per second. It gives up after --timeout without new records.`,
		Example: `  runnel perf consume bench
  runnel perf consume bench --records 1000000 --group perf`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := runPerfConsume(cmd.Context(), g, args[0], f, cmd.ErrOrStderr())
			if res != nil {
				res.write(cmd.OutOrStdout())
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.records, "records", 0, "records to read (0: all records in the topic at start)")
	fl.StringVar(&f.group, "group", "", "consume in this consumer group (default: no group, all partitions)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "give up after this long without a record")
	fl.Int32Var(&f.fetchMax, "fetch-max-bytes", 50<<20, "largest fetch response to ask for")
	fl.BoolVar(&f.progress, "progress", true, "show a live progress bar on stderr")
	return cmd
}

// consumeResult is what perf consume measured.
type consumeResult struct {
	Records int64
	Bytes   int64
	Elapsed time.Duration
	First   time.Duration // time to the first record
}

func (r *consumeResult) write(w io.Writer) {
	secs := r.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(w, "%d records (%.2f MiB) consumed in %.2fs, %.1f records/s, %.2f MiB/s, first record after %s\n",
		r.Records, float64(r.Bytes)/(1<<20), secs, float64(r.Records)/secs, float64(r.Bytes)/secs/(1<<20), ms(r.First))
}

func runPerfConsume(ctx context.Context, g *Globals, topic string, f perfConsumeFlags, errOut io.Writer) (*consumeResult, error) {
	want := f.records
	if want <= 0 {
		adm, cl, err := newAdmin(g)
		if err != nil {
			return nil, err
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err == nil {
			err = starts.Error()
		}
		var ends map[int32]int64
		if err == nil {
			var el kadm.ListedOffsets
			el, err = adm.ListEndOffsets(ctx, topic)
			if err == nil {
				ends, err = listedToMap(el, topic, "end")
			}
		}
		cl.Close()
		if err != nil {
			return nil, fmt.Errorf("counting records in %s: %w", topic, err)
		}
		for p, e := range ends {
			if s, ok := starts.Lookup(topic, p); ok {
				want += e - s.Offset
			}
		}
		if want == 0 {
			return nil, fmt.Errorf("perf consume: topic %s is empty; produce first (runnel perf produce %s)", topic, topic)
		}
	}
	opts := []kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(f.fetchMax),
	}
	if f.group != "" {
		opts = append(opts, kgo.ConsumerGroup(f.group))
	}
	cl, err := newClient(g, opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var bar *progress.Bar
	if f.progress {
		bar = progress.New(errOut, "consume", want)
		bar.Start()
		defer bar.Stop()
	}
	res := &consumeResult{}
	start := time.Now()
	for res.Records < want {
		pctx, cancel := context.WithTimeout(ctx, f.timeout)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			break
		}
		if pctx.Err() != nil && fetches.NumRecords() == 0 {
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("perf consume: no record for %s after %d of %d records", f.timeout, res.Records, want)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if fetchErr == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("fetching %s partition %d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return nil, fetchErr
		}
		var n, size int64
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			size += int64(len(r.Key) + len(r.Value))
		})
		if n > 0 && res.Records == 0 {
			res.First = time.Since(start)
		}
		res.Records += n
		res.Bytes += size
		if bar != nil {
			bar.Add(n, size)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
