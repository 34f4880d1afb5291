package cli

// runnel produce TOPIC: one record per stdin line, like kafka-console-producer.

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() { register("produce", newProduceCmd) }

type produceFlags struct {
	keySep          string
	headers         []string
	compression     string
	acks            string
	partition       int32
	maxLine         int
	lingerMs        int
	deliveryTimeout time.Duration
}

func newProduceCmd(g *Globals) *cobra.Command {
	var f produceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce one record per line read from stdin",
		Long: `Produce reads stdin line by line and sends each line as one record's value.
With --key-separator, each line is split at the first separator into key and
value; a line without the separator fails. Every failed record is reported
on stderr with its line number and error, and the command exits non-zero if
any record failed.`,
		Example: `  echo hello | runnel produce fred
  printf 'user1:login\nuser2:logout\n' | runnel produce events --key-separator : --header source=cli --acks all --compression zstd`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProduce(cmd.Context(), g, args[0], f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.keySep, "key-separator", "K", "", "split each line into key and value at the first occurrence of this string")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "record header key=value added to every record (repeatable)")
	fl.StringVarP(&f.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4, zstd")
	fl.StringVar(&f.acks, "acks", "all", "acknowledgements to wait for: 0, 1 or all (-1)")
	fl.Int32VarP(&f.partition, "partition", "p", -1, "send every record to this partition (-1: hash the key, or spread keyless records)")
	fl.IntVar(&f.maxLine, "max-line-bytes", 16<<20, "longest line accepted")
	fl.IntVar(&f.lingerMs, "linger-ms", 0, "wait up to this long to fill batches")
	fl.DurationVar(&f.deliveryTimeout, "delivery-timeout", 2*time.Minute, "fail a record not acknowledged within this long, e.g. while no broker is reachable (Kafka's delivery.timeout.ms)")
	return cmd
}

// producerOpts turns the shared producer flags into client options.
func producerOpts(compression, acks string, lingerMs int) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	codec, err := parseCompression(compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	switch acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	default:
		return nil, fmt.Errorf("parsing --acks %q: want 0, 1 or all", acks)
	}
	if lingerMs > 0 {
		opts = append(opts, kgo.ProducerLinger(timeMs(lingerMs)))
	}
	return opts, nil
}

func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(s) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("parsing --compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// recordFailure is one record that could not be produced.
type recordFailure struct {
	line int
	err  error
}

func runProduce(ctx context.Context, g *Globals, topic string, f produceFlags, in io.Reader, out, errOut io.Writer) error {
	headerKVs, err := parseKV("header", f.headers)
	if err != nil {
		return err
	}
	headers := make([]kgo.RecordHeader, 0, len(headerKVs))
	for _, kv := range headerKVs {
		headers = append(headers, kgo.RecordHeader{Key: kv[0], Value: []byte(kv[1])})
	}
	opts, err := producerOpts(f.compression, f.acks, f.lingerMs)
	if f.deliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(f.deliveryTimeout))
	}
	if err != nil {
		return err
	}
	opts = append(opts, kgo.DefaultProduceTopic(topic))
	if f.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := newClient(g, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	var (
		mu       sync.Mutex
		failures []recordFailure
	)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), f.maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		r := &kgo.Record{Value: []byte(text), Headers: headers}
		if f.keySep != "" {
			k, v, ok := strings.Cut(text, f.keySep)
			if !ok {
				mu.Lock()
				failures = append(failures, recordFailure{line, fmt.Errorf("no key separator %q in line", f.keySep)})
				mu.Unlock()
				continue
			}
			r.Key, r.Value = []byte(k), []byte(v)
		}
		if f.partition >= 0 {
			r.Partition = f.partition
		}
		n := line
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failures = append(failures, recordFailure{n, err})
				mu.Unlock()
			}
		})
	}
	scanErr := sc.Err()
	if scanErr != nil {
		scanErr = fmt.Errorf("reading stdin after line %d: %w", line, scanErr)
	}
	if err := cl.Flush(ctx); err != nil {
		return errors.Join(scanErr, fmt.Errorf("flushing records: %w", err))
	}

	sortFailures(failures)
	for _, fl := range failures {
		fmt.Fprintf(errOut, "line %d: %v\n", fl.line, fl.err)
	}
	if len(failures) > 0 {
		return errors.Join(scanErr, fmt.Errorf("producing to %s: %d of %d records failed", topic, len(failures), line))
	}
	return scanErr
}

func sortFailures(fs []recordFailure) {
	slices.SortStableFunc(fs, func(a, b recordFailure) int { return cmp.Compare(a.line, b.line) })
}

func timeMs(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
