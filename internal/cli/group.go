package cli

// runnel group list|describe|reset-offsets|delete: consumer-group
// administration through kadm (ListGroups, DescribeGroups, OffsetFetch,
// ListOffsets, OffsetCommit, DeleteGroups), so it works against runnel or
// any Kafka cluster.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func init() { register("group", newGroupCmd) }

func newGroupCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe, reset offsets of and delete consumer groups",
	}
	cmd.AddCommand(newGroupListCmd(g), newGroupDescribeCmd(g), newGroupResetCmd(g), newGroupDeleteCmd(g))
	return cmd
}

func newGroupListCmd(g *Globals) *cobra.Command {
	var states []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups with their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			groups, err := adm.ListGroups(cmd.Context(), states...)
			if err != nil {
				return fmt.Errorf("listing groups: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE")
			for _, name := range groups.Groups() {
				lg := groups[name]
				fmt.Fprintf(tw, "%s\t%s\t%s\n", name, lg.State, dash(lg.ProtocolType))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (Empty, Stable, PreparingRebalance, CompletingRebalance)")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupDescribeCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Show a group's state, members and assignments, and per partition its committed offset, log end offset and lag",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			lags, err := adm.Lag(cmd.Context(), args...)
			if err != nil {
				return fmt.Errorf("describing groups: %w", err)
			}
			for i, name := range args {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				if err := printGroup(cmd.OutOrStdout(), lags[name]); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func printGroup(w io.Writer, l kadm.DescribedGroupLag) error {
	if l.DescribeErr != nil {
		return fmt.Errorf("describing group %s: %w", l.Group, l.DescribeErr)
	}
	if l.FetchErr != nil {
		return fmt.Errorf("fetching offsets of group %s: %w", l.Group, l.FetchErr)
	}
	if l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0 {
		return fmt.Errorf("consumer group %s does not exist", l.Group)
	}
	proto := dash(l.ProtocolType)
	if l.Protocol != "" {
		proto += "/" + l.Protocol
	}
	fmt.Fprintf(w, "GROUP %s  STATE %s  PROTOCOL %s  MEMBERS %d\n", l.Group, l.State, proto, len(l.Members))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(l.Members) > 0 {
		fmt.Fprintln(tw, "\nMEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\tASSIGNMENT")
		for _, m := range l.Members {
			inst := "-"
			if m.InstanceID != nil {
				inst = *m.InstanceID
			}
			var parts []string
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range a.Topics {
					ps := make([]string, len(t.Partitions))
					for i, p := range t.Partitions {
						ps[i] = strconv.Itoa(int(p))
					}
					parts = append(parts, t.Topic+":"+strings.Join(ps, ","))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, inst, m.ClientID, m.ClientHost, dash(strings.Join(parts, " ")))
		}
	}
	fmt.Fprintln(tw, "\nTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID\tCLIENT-ID\tHOST")
	for _, p := range l.Lag.Sorted() {
		cur, lag := "-", "-"
		if p.Commit.At >= 0 {
			cur = strconv.FormatInt(p.Commit.At, 10)
		}
		if p.Lag >= 0 && p.Err == nil {
			lag = strconv.FormatInt(p.Lag, 10)
		}
		end := "-"
		if p.End.Err == nil {
			end = strconv.FormatInt(p.End.Offset, 10)
		}
		mid, cid, host := "-", "-", "-"
		if p.Member != nil {
			mid, cid, host = p.Member.MemberID, p.Member.ClientID, p.Member.ClientHost
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Topic, p.Partition, cur, end, lag, mid, cid, host)
	}
	return tw.Flush()
}

type resetSpec struct {
	toEarliest, toLatest bool
	toOffset             int64
	toDatetime           string
	shiftBy              int64
	set                  []string // which flags were given
}

func newGroupResetCmd(g *Globals) *cobra.Command {
	var (
		topics  []string
		execute bool
		spec    resetSpec
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP --topic T (--to-earliest|--to-latest|--to-offset N|--to-datetime T|--shift-by N) [--execute]",
		Short: "Plan (and with --execute apply) new committed offsets for a group without members",
		Example: `  runnel group reset-offsets billing --topic orders --to-earliest
  runnel group reset-offsets billing --topic orders --to-datetime 2026-01-02T15:04:05Z --execute
  runnel group reset-offsets billing --topic orders:0,1 --shift-by -100 --execute`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range []string{"to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"} {
				if cmd.Flags().Changed(f) {
					spec.set = append(spec.set, f)
				}
			}
			if len(spec.set) != 1 {
				return errors.New("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by")
			}
			if len(topics) == 0 {
				return errors.New("give at least one --topic")
			}
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			return resetOffsets(cmd.Context(), cmd.OutOrStdout(), adm, args[0], topics, spec, execute)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&topics, "topic", nil, "topic to reset, optionally with partitions: orders or orders:0,2")
	f.BoolVar(&spec.toEarliest, "to-earliest", false, "reset to the log start offset")
	f.BoolVar(&spec.toLatest, "to-latest", false, "reset to the log end offset")
	f.Int64Var(&spec.toOffset, "to-offset", 0, "reset to this offset (clamped to the log)")
	f.StringVar(&spec.toDatetime, "to-datetime", "", "reset to the first offset at or after this time (RFC 3339, e.g. 2026-01-02T15:04:05Z)")
	f.Int64Var(&spec.shiftBy, "shift-by", 0, "move the committed offset by N (negative moves back)")
	f.BoolVar(&execute, "execute", false, "commit the planned offsets (without it, only print the plan)")
	return cmd
}

func parseTopicArg(arg string) (string, []int32, error) {
	name, parts, ok := strings.Cut(arg, ":")
	if !ok {
		return name, nil, nil
	}
	var out []int32
	for _, p := range strings.Split(parts, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		if err != nil {
			return "", nil, fmt.Errorf("parsing --topic %q: bad partition %q", arg, p)
		}
		out = append(out, int32(n))
	}
	return name, out, nil
}

func resetOffsets(ctx context.Context, w io.Writer, adm *kadm.Client, group string, topicArgs []string, spec resetSpec, execute bool) error {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("describing group %s: %w", group, err)
	}
	if d, ok := described[group]; ok {
		if d.Err != nil {
			return fmt.Errorf("describing group %s: %w", group, d.Err)
		}
		if len(d.Members) > 0 || (d.State != "Empty" && d.State != "Dead") {
			return fmt.Errorf("group %s has %d active members (state %s): stop its consumers before resetting offsets", group, len(d.Members), d.State)
		}
	}
	want := map[string][]int32{}
	var names []string
	for _, a := range topicArgs {
		name, parts, err := parseTopicArg(a)
		if err != nil {
			return err
		}
		want[name] = append(want[name], parts...)
		names = append(names, name)
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("listing start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("listing end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if spec.toDatetime != "" {
		ts, err := time.Parse(time.RFC3339, spec.toDatetime)
		if err != nil {
			return fmt.Errorf("parsing --to-datetime: %w", err)
		}
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, ts.UnixMilli(), names...); err != nil {
			return fmt.Errorf("listing offsets by time: %w", err)
		}
	}
	current, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("fetching committed offsets of %s: %w", group, err)
	}
	plan := kadm.Offsets{}
	type row struct {
		topic         string
		part          int32
		cur, new, end int64
	}
	var rows []row
	for _, name := range names {
		tps, ok := ends[name]
		if !ok || len(tps) == 0 {
			return fmt.Errorf("topic %s does not exist", name)
		}
		parts := want[name]
		if len(parts) == 0 {
			for p := range tps {
				parts = append(parts, p)
			}
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		for _, p := range parts {
			e, ok := tps[p]
			if !ok || e.Err != nil {
				return fmt.Errorf("partition %s-%d does not exist", name, p)
			}
			s := starts[name][p]
			cur := int64(-1)
			if o, ok := current.Lookup(name, p); ok && o.Err == nil {
				cur = o.At
			}
			var n int64
			switch {
			case spec.toEarliest:
				n = s.Offset
			case spec.toLatest:
				n = e.Offset
			case spec.toDatetime != "":
				n = e.Offset
				if bt, ok := byTime[name][p]; ok && bt.Err == nil && bt.Offset >= 0 {
					n = bt.Offset
				}
			case len(spec.set) == 1 && spec.set[0] == "to-offset":
				n = spec.toOffset
			default: // shift-by
				base := cur
				if base < 0 {
					base = e.Offset
				}
				n = base + spec.shiftBy
			}
			n = min(max(n, s.Offset), e.Offset)
			rows = append(rows, row{name, p, cur, n, e.Offset})
			plan.AddOffset(name, p, n, -1)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET\tLOG-END-OFFSET")
	for _, r := range rows {
		cur := "-"
		if r.cur >= 0 {
			cur = strconv.FormatInt(r.cur, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\n", group, r.topic, r.part, cur, r.new, r.end)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !execute {
		fmt.Fprintln(w, "\nPlan only; add --execute to commit these offsets.")
		return nil
	}
	if err := adm.CommitAllOffsets(ctx, group, plan); err != nil {
		return fmt.Errorf("committing offsets of %s: %w", group, err)
	}
	fmt.Fprintf(w, "\nCommitted %d offsets for group %s.\n", len(rows), group)
	return nil
}

func newGroupDeleteCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete groups without members, with their committed offsets",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			resps, err := adm.DeleteGroups(cmd.Context(), args...)
			if err != nil {
				return fmt.Errorf("deleting groups: %w", err)
			}
			var errs []error
			for _, name := range args {
				r, ok := resps[name]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("deleting group %s: no answer", name))
				case r.Err != nil:
					errs = append(errs, fmt.Errorf("deleting group %s: %w", name, r.Err))
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "Deleted group %s\n", name)
				}
			}
			return errors.Join(errs...)
		},
	}
}
