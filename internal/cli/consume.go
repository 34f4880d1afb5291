package cli

// runnel consume TOPIC: print records, like kafka-console-consumer and kcat -C.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() { register("consume", newConsumeCmd) }

type consumeFlags struct {
	fromBeginning bool
	offset        string
	fromTime      string
	group         string
	n             int
	format        string
	json          bool
	partitions    []int32
	exitAtEnd     bool
}

func newConsumeCmd(g *Globals) *cobra.Command {
	var f consumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records from a topic",
		Long: `Consume prints the records of a topic, one per line by default (the value),
until interrupted, until -n records were printed, or, with --exit-at-end,
until it has caught up with the end offsets seen at start.

Without --group it reads every partition (or those given by --partition)
from the start position and commits nothing. With --group it joins the
consumer group, starts where the group's committed offsets say (falling
back to the start position), and commits the offsets of the records it
printed before it exits.

Start positions: the end of each partition (default, only new records),
--from-beginning, --offset start|end|N|-N (N from the end), or --from-time
(RFC 3339, Unix milliseconds, or a duration ago like 10m).

` + formatHelp,
		Example: `  runnel consume fred --from-beginning
  runnel consume fred --from-beginning -n 10 --format '%p/%o %k=%v\n'
  runnel consume fred --group readers --json
  runnel consume fred --from-time 15m --exit-at-end`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConsume(cmd.Context(), g, args[0], f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.fromBeginning, "from-beginning", "b", false, "start at the earliest record")
	fl.StringVarP(&f.offset, "offset", "o", "", "start offset: start, end, N (absolute) or -N (N before the end)")
	fl.StringVar(&f.fromTime, "from-time", "", "start at the first record at or after this time: RFC 3339, Unix ms, or a duration ago (10m)")
	fl.StringVarP(&f.group, "group", "g", "", "consume as a member of this consumer group and commit offsets")
	fl.IntVarP(&f.n, "num", "n", 0, "exit after this many records (0: no limit)")
	fl.StringVarP(&f.format, "format", "f", `%v\n`, formatHelp)
	fl.BoolVar(&f.json, "json", false, "print each record as one JSON object per line (topic, partition, offset, timestamp, key, value, headers)")
	fl.Int32SliceVarP(&f.partitions, "partition", "p", nil, "only these partitions (not with --group)")
	fl.BoolVarP(&f.exitAtEnd, "exit-at-end", "e", false, "exit once every partition is read up to its end offset at start")
	cmd.MarkFlagsMutuallyExclusive("from-beginning", "offset", "from-time")
	cmd.MarkFlagsMutuallyExclusive("format", "json")
	cmd.MarkFlagsMutuallyExclusive("group", "partition")
	return cmd
}

// startSpec is where consumption starts in each partition.
type startSpec struct {
	kind startKind
	n    int64 // offset for startExact, count for startFromEnd, ms for startTime
}

type startKind int

const (
	startEnd startKind = iota
	startBeginning
	startExact
	startFromEnd
	startTime
)

func parseStart(f consumeFlags, now time.Time) (startSpec, error) {
	switch {
	case f.fromBeginning:
		return startSpec{kind: startBeginning}, nil
	case f.fromTime != "":
		t, err := parseFromTime(f.fromTime, now)
		if err != nil {
			return startSpec{}, err
		}
		return startSpec{kind: startTime, n: t.UnixMilli()}, nil
	case f.offset != "":
		switch strings.ToLower(f.offset) {
		case "start", "beginning", "earliest", "oldest":
			return startSpec{kind: startBeginning}, nil
		case "end", "latest", "newest":
			return startSpec{kind: startEnd}, nil
		}
		n, err := strconv.ParseInt(f.offset, 10, 64)
		if err != nil {
			return startSpec{}, fmt.Errorf("parsing --offset %q: want start, end, N or -N", f.offset)
		}
		if n < 0 {
			return startSpec{kind: startFromEnd, n: -n}, nil
		}
		return startSpec{kind: startExact, n: n}, nil
	}
	return startSpec{kind: startEnd}, nil
}

// kgoOffset is the spec as a franz-go offset, for consumer-group resets.
func (s startSpec) kgoOffset() kgo.Offset {
	switch s.kind {
	case startBeginning:
		return kgo.NewOffset().AtStart()
	case startExact:
		return kgo.NewOffset().At(s.n)
	case startFromEnd:
		return kgo.NewOffset().AtEnd().Relative(-s.n)
	case startTime:
		return kgo.NewOffset().AfterMilli(s.n)
	}
	return kgo.NewOffset().AtEnd()
}

// resolve turns the spec into an exact offset per partition, given the
// partitions' log start and end offsets.
func (s startSpec) resolve(ctx context.Context, adm *kadm.Client, topic string, parts []int32, starts, ends map[int32]int64) (map[int32]int64, error) {
	var times kadm.ListedOffsets
	if s.kind == startTime {
		var err error
		times, err = adm.ListOffsetsAfterMilli(ctx, s.n, topic)
		if err != nil {
			return nil, fmt.Errorf("listing offsets of %s after %d ms: %w", topic, s.n, err)
		}
		if err := times.Error(); err != nil {
			return nil, fmt.Errorf("listing offsets of %s after %d ms: %w", topic, s.n, err)
		}
	}
	pos := make(map[int32]int64, len(parts))
	for _, p := range parts {
		lo, hi := starts[p], ends[p]
		var at int64
		switch s.kind {
		case startBeginning:
			at = lo
		case startEnd:
			at = hi
		case startExact:
			at = min(max(s.n, lo), hi)
		case startFromEnd:
			at = max(hi-s.n, lo)
		case startTime:
			at = hi
			if o, ok := times.Lookup(topic, p); ok && o.Offset >= 0 {
				at = o.Offset
			}
		}
		pos[p] = at
	}
	return pos, nil
}

func listedToMap(lo kadm.ListedOffsets, topic, what string) (map[int32]int64, error) {
	if err := lo.Error(); err != nil {
		return nil, fmt.Errorf("listing %s offsets of %s: %w", what, topic, err)
	}
	m := make(map[int32]int64)
	for p, o := range lo[topic] {
		m[p] = o.Offset
	}
	return m, nil
}

func runConsume(ctx context.Context, g *Globals, topic string, f consumeFlags, out, errOut io.Writer) error {
	var tmpl *recordFormat
	if !f.json {
		var err error
		if tmpl, err = parseFormat(f.format); err != nil {
			return err
		}
	}
	spec, err := parseStart(f, time.Now())
	if err != nil {
		return err
	}
	if f.n < 0 {
		return fmt.Errorf("parsing -n %d: want a count >= 0", f.n)
	}

	// Learn the partitions and their offsets first: it gives a clear error
	// for a missing topic and the end offsets --exit-at-end stops at.
	adm, admCl, err := newAdmin(g)
	if err != nil {
		return err
	}
	defer admCl.Close()
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("looking up topic %s: %w", topic, err)
	}
	td, ok := topics[topic]
	if !ok || td.Err != nil {
		cause := errors.New("not found")
		if ok {
			cause = td.Err
		}
		return fmt.Errorf("looking up topic %s: %w", topic, cause)
	}
	parts := td.Partitions.Numbers()
	if len(f.partitions) > 0 {
		for _, p := range f.partitions {
			if _, ok := td.Partitions[p]; !ok {
				return fmt.Errorf("consuming %s: partition %d does not exist (the topic has %d)", topic, p, len(parts))
			}
		}
		parts = f.partitions
	}
	startList, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing start offsets of %s: %w", topic, err)
	}
	endList, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	starts, err := listedToMap(startList, topic, "start")
	if err != nil {
		return err
	}
	ends, err := listedToMap(endList, topic, "end")
	if err != nil {
		return err
	}
	pos, err := spec.resolve(ctx, adm, topic, parts, starts, ends)
	if err != nil {
		return err
	}

	var opts []kgo.Opt
	if f.group != "" {
		committed, err := adm.FetchOffsetsForTopics(ctx, f.group, topic)
		if errors.Is(err, kerr.GroupIDNotFound) {
			err = nil // a new group: nothing committed yet
		}
		if err != nil {
			return fmt.Errorf("fetching committed offsets of group %s: %w", f.group, err)
		}
		for _, p := range parts {
			if c, ok := committed.Lookup(topic, p); ok && c.Err == nil && c.At >= 0 {
				pos[p] = c.At
			}
		}
		opts = append(opts,
			kgo.ConsumerGroup(f.group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(spec.kgoOffset()),
			kgo.AutoCommitMarks(),
		)
	} else {
		offsets := make(map[int32]kgo.Offset, len(parts))
		for _, p := range parts {
			offsets[p] = kgo.NewOffset().At(pos[p])
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	}
	admCl.Close()

	caughtUp := func() bool {
		for _, p := range parts {
			if pos[p] < ends[p] {
				return false
			}
		}
		return true
	}
	if f.exitAtEnd && caughtUp() {
		return nil
	}

	cl, err := newClient(g, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if f.group != "" {
		defer func() {
			// Commit what was printed even when interrupted: the command's
			// context may be done already.
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cl.CommitMarkedOffsets(cctx); err != nil {
				fmt.Fprintf(errOut, "committing offsets of group %s: %v\n", f.group, err)
			}
		}()
	}

	w := bufio.NewWriterSize(out, 64<<10)
	defer w.Flush()
	var (
		buf     []byte
		printed int
	)
	for {
		max := 0
		if f.n > 0 {
			max = f.n - printed
		}
		fetches := cl.PollRecords(ctx, max)
		if ctx.Err() != nil {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("fetching %s partition %d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			buf = buf[:0]
			if f.json {
				if buf, err = appendJSON(buf, r); err != nil {
					return err
				}
			} else {
				buf = tmpl.Append(buf, r)
			}
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("writing record: %w", err)
			}
			if f.group != "" {
				cl.MarkCommitRecords(r)
			}
			pos[r.Partition] = r.Offset + 1
			printed++
			if f.n > 0 && printed >= f.n {
				return nil
			}
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("writing records: %w", err)
		}
		if f.exitAtEnd && caughtUp() {
			return nil
		}
	}
}
