package cli

// runnel topic create|list|describe|delete|alter-config: topic administration
// through kadm (CreateTopics, Metadata, ListOffsets, DescribeLogDirs,
// DescribeConfigs, IncrementalAlterConfigs, DeleteTopics), so it works against
// runnel or any Kafka cluster.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register("topic", newTopicCmd) }

func newTopicCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, delete topics and change their configs",
	}
	cmd.AddCommand(
		newTopicCreateCmd(g),
		newTopicListCmd(g),
		newTopicDescribeCmd(g),
		newTopicDeleteCmd(g),
		newTopicAlterConfigCmd(g),
	)
	return cmd
}

func newTopicCreateCmd(g *Globals) *cobra.Command {
	var (
		partitions  int32
		replication int16
		configs     []string
		ifNotExists bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create topics",
		Example: `  runnel topic create fred
  runnel topic create clicks --partitions 8 --config retention.ms=3600000 --config cleanup.policy=delete`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kvs, err := parseKV("config", configs)
			if err != nil {
				return err
			}
			cfg := make(map[string]*string, len(kvs))
			for _, kv := range kvs {
				cfg[kv[0]] = kadm.StringPtr(kv[1])
			}
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			resps, err := adm.CreateTopics(cmd.Context(), partitions, replication, cfg, args...)
			if err != nil {
				return fmt.Errorf("creating topics: %w", err)
			}
			var failed []error
			for _, name := range args {
				r := resps[name]
				if r.Err != nil {
					if ifNotExists && errors.Is(r.Err, kerr.TopicAlreadyExists) {
						fmt.Fprintf(cmd.OutOrStdout(), "topic %s already exists\n", name)
						continue
					}
					failed = append(failed, fmt.Errorf("creating topic %s: %w%s", name, r.Err, detail(r.ErrMessage)))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created topic %s (%d partitions, replication factor %d)\n", name, r.NumPartitions, r.ReplicationFactor)
			}
			return errors.Join(failed...)
		},
	}
	cmd.Flags().Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: the broker's num.partitions)")
	cmd.Flags().Int16VarP(&replication, "replication-factor", "r", -1, "replication factor (-1: the broker's default)")
	cmd.Flags().StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable)")
	cmd.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the topic already exists")
	return cmd
}

func detail(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

func newTopicListCmd(g *Globals) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their partition counts",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			var topics kadm.TopicDetails
			if internal {
				topics, err = adm.ListTopicsWithInternal(cmd.Context())
			} else {
				topics, err = adm.ListTopics(cmd.Context())
			}
			if err != nil {
				return fmt.Errorf("listing topics: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICAS")
			for _, t := range topics.Sorted() {
				if t.Err != nil {
					fmt.Fprintf(tw, "%s\t-\t-\t%v\n", t.Topic, t.Err)
					continue
				}
				replicas := 0
				for _, p := range t.Partitions {
					replicas = max(replicas, len(p.Replicas))
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Topic, len(t.Partitions), replicas)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics such as __consumer_offsets")
	return cmd
}

func newTopicDescribeCmd(g *Globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "describe NAME...",
		Short: "Show a topic's partitions (leader, offsets, size) and configs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := cmd.Context()
			topics, err := adm.ListTopicsWithInternal(ctx, args...)
			if err != nil {
				return fmt.Errorf("describing topics: %w", err)
			}
			for _, name := range args {
				if t, ok := topics[name]; !ok || t.Err != nil {
					terr := errors.New("not found")
					if ok {
						terr = t.Err
					}
					return fmt.Errorf("describing topic %s: %w", name, terr)
				}
			}
			starts, err := adm.ListStartOffsets(ctx, args...)
			if err != nil {
				return fmt.Errorf("listing start offsets: %w", err)
			}
			ends, err := adm.ListEndOffsets(ctx, args...)
			if err != nil {
				return fmt.Errorf("listing end offsets: %w", err)
			}
			// Sizes are best effort: not every cluster lets us describe log dirs.
			var set kadm.TopicsSet
			for _, name := range args {
				for p := range topics[name].Partitions {
					set.Add(name, p)
				}
			}
			dirs, dirsErr := adm.DescribeAllLogDirs(ctx, set)
			configs, cfgErr := adm.DescribeTopicConfigs(ctx, args...)

			out := cmd.OutOrStdout()
			for i, name := range args {
				if i > 0 {
					fmt.Fprintln(out)
				}
				t := topics[name]
				writeTopicSummary(out, t, ends, dirs, dirsErr)
				writePartitions(out, t, starts, ends, dirs, dirsErr)
				fmt.Fprintln(out)
				if cfgErr != nil {
					fmt.Fprintf(out, "CONFIGS: unavailable: %v\n", cfgErr)
					continue
				}
				rc, err := configs.On(name, nil)
				if err != nil || rc.Err != nil {
					fmt.Fprintf(out, "CONFIGS: unavailable: %v\n", errors.Join(err, rc.Err))
					continue
				}
				writeConfigs(out, rc.Configs, all)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all-configs", "a", false, "show every config, not only those set on the topic")
	return cmd
}

func writeTopicSummary(out io.Writer, t kadm.TopicDetail, ends kadm.ListedOffsets, dirs kadm.DescribedAllLogDirs, dirsErr error) {
	var records int64
	for p := range t.Partitions {
		if o, ok := ends.Lookup(t.Topic, p); ok && o.Err == nil {
			records += o.Offset
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\t%s\n", t.Topic)
	if t.ID != (kadm.TopicID{}) {
		fmt.Fprintf(tw, "ID\t%s\n", kafkaUUID(t.ID))
	}
	fmt.Fprintf(tw, "INTERNAL\t%v\n", t.IsInternal)
	fmt.Fprintf(tw, "PARTITIONS\t%d\n", len(t.Partitions))
	if len(t.Partitions) > 0 {
		fmt.Fprintf(tw, "REPLICAS\t%d\n", len(t.Partitions[0].Replicas))
	}
	if dirsErr == nil {
		var size int64
		dirs.Each(func(d kadm.DescribedLogDir) {
			for _, p := range d.Topics[t.Topic] {
				size += p.Size
			}
		})
		fmt.Fprintf(tw, "SIZE\t%d\n", size)
	}
	tw.Flush()
	fmt.Fprintln(out)
}

func writePartitions(out io.Writer, t kadm.TopicDetail, starts, ends kadm.ListedOffsets, dirs kadm.DescribedAllLogDirs, dirsErr error) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tEPOCH\tREPLICAS\tLOG-START\tHIGH-WATERMARK\tSIZE")
	for _, p := range t.Partitions.Sorted() {
		start, end, size := "-", "-", "-"
		if o, ok := starts.Lookup(t.Topic, p.Partition); ok && o.Err == nil {
			start = strconv.FormatInt(o.Offset, 10)
		}
		if o, ok := ends.Lookup(t.Topic, p.Partition); ok && o.Err == nil {
			end = strconv.FormatInt(o.Offset, 10)
		}
		if dirsErr == nil {
			var sz int64
			found := false
			dirs.Each(func(d kadm.DescribedLogDir) {
				if dp, ok := d.Topics.Lookup(t.Topic, p.Partition); ok {
					sz += dp.Size
					found = true
				}
			})
			if found {
				size = strconv.FormatInt(sz, 10)
			}
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%v\t%s\t%s\t%s\n", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, start, end, size)
	}
	tw.Flush()
}

func writeConfigs(out io.Writer, configs []kadm.Config, all bool) {
	sort.Slice(configs, func(i, j int) bool { return configs[i].Key < configs[j].Key })
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, c := range configs {
		if !all && c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := c.MaybeValue()
		if c.Sensitive {
			v = "(sensitive)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, v, strings.ToLower(c.Source.String()))
	}
	tw.Flush()
}

func newTopicDeleteCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete topics and all their data",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			resps, err := adm.DeleteTopics(cmd.Context(), args...)
			if err != nil {
				return fmt.Errorf("deleting topics: %w", err)
			}
			var failed []error
			for _, name := range args {
				r, ok := resps[name]
				if !ok {
					failed = append(failed, fmt.Errorf("deleting topic %s: no answer from the broker", name))
					continue
				}
				if r.Err != nil {
					failed = append(failed, fmt.Errorf("deleting topic %s: %w%s", name, r.Err, detail(r.ErrMessage)))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s\n", name)
			}
			return errors.Join(failed...)
		},
	}
	return cmd
}

func newTopicAlterConfigCmd(g *Globals) *cobra.Command {
	var sets, deletes []string
	cmd := &cobra.Command{
		Use:     "alter-config NAME...",
		Short:   "Set or delete topic configs (incrementally; others are kept)",
		Example: `  runnel topic alter-config fred --set retention.ms=86400000 --delete cleanup.policy`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kvs, err := parseKV("set", sets)
			if err != nil {
				return err
			}
			if len(kvs) == 0 && len(deletes) == 0 {
				return errors.New("altering topic configs: nothing to do, give --set k=v or --delete k")
			}
			var alters []kadm.AlterConfig
			for _, kv := range kvs {
				alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: kadm.StringPtr(kv[1])})
			}
			for _, k := range deletes {
				alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			adm, cl, err := newAdmin(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			resps, err := adm.AlterTopicConfigs(cmd.Context(), alters, args...)
			if err != nil {
				return fmt.Errorf("altering topic configs: %w", err)
			}
			var failed []error
			for _, name := range args {
				r, err := resps.On(name, nil)
				if err == nil {
					err = r.Err
				}
				if err != nil {
					failed = append(failed, fmt.Errorf("altering configs of topic %s: %w%s", name, err, detail(r.ErrMessage)))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "altered configs of topic %s\n", name)
			}
			return errors.Join(failed...)
		},
	}
	cmd.Flags().StringArrayVarP(&sets, "set", "s", nil, "config key=value to set (repeatable)")
	cmd.Flags().StringArrayVarP(&deletes, "delete", "d", nil, "config key to delete, reverting to the default (repeatable)")
	return cmd
}

// kafkaUUID prints a topic id the way Kafka's own tools do (Uuid.toString):
// URL-safe base64 without padding.
func kafkaUUID(id kadm.TopicID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
