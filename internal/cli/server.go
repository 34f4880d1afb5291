package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnel/runnel/internal/app"
)

func init() { register("server", newServerCmd) }

func newServerCmd(g *Globals) *cobra.Command {
	var opts app.BrokerOptions
	var sets []string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Kafka-protocol broker",
		Long: `Run the Kafka-protocol broker: any Kafka client or tool can produce to and
consume from it. Topics, configs and data live in --data-dir and survive
restarts. Broker settings use Kafka's names (num.partitions,
auto.create.topics.enable, log.retention.hours, log.segment.bytes,
message.max.bytes, socket.request.max.bytes, advertised.listeners, ...) and
come from --config (a server.properties file) and --set, which wins.
SIGINT/SIGTERM stop accepting, finish in-flight requests, flush and exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Settings = map[string]string{}
			for _, kv := range sets {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--set %q: want key=value", kv)
				}
				opts.Settings[strings.TrimSpace(k)] = v
			}
			if !cmd.Flags().Changed("data-dir") {
				opts.DataDir = ""
			}
			if !cmd.Flags().Changed("listen") {
				opts.Listen = ""
			}
			opts.Logger = g.Logger()
			b, err := app.StartBroker(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return b.Wait()
		},
	}
	cmd.Flags().StringVar(&opts.DataDir, "data-dir", "./runnel-data", "directory for topics and their logs (default: log.dirs from --config, else ./runnel-data)")
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:9092", "address to listen on (default: listeners from --config, else 127.0.0.1:9092)")
	cmd.Flags().StringVar(&opts.ConfigFile, "config", "", "Kafka-style server.properties file")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "broker setting key=value overriding --config (repeatable)")
	return cmd
}
