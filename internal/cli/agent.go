package cli

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnel/runnel/internal/agent"
)

func init() { register("agent", newAgentCmd) }

func newAgentCmd(g *Globals) *cobra.Command {
	var confFile, name, confDir string
	var javaProps []string
	cmd := &cobra.Command{
		Use:   "agent --conf-file FILE --name AGENT",
		Short: "Run an Apache Flume agent configuration (sources → channels → sinks)",
		Long: `Run one agent of an Apache Flume .properties file, unchanged: the same
command line as flume-ng agent (-f/--conf-file, -n/--name; -c/--conf and
-Dkey=value are accepted and ignored). The config is validated before
anything starts; errors name the file, line and key. Runs until Ctrl-C.
Supported so far: netcat source, memory channel, logger sink, replicating
selector (see docs/agent.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if confFile == "" || name == "" {
				return errors.New("both --conf-file (-f) and --name (-n) are required, as for flume-ng agent")
			}
			log := g.Logger()
			if confDir != "" {
				log.Debug("--conf is accepted for flume-ng compatibility; flume-env.sh and log4j files in it are not read", "conf", confDir)
			}
			if len(javaProps) > 0 {
				log.Warn("-D Java system properties are accepted for flume-ng compatibility and ignored; use --log-level for logging", "properties", strings.Join(javaProps, " "))
			}
			a, err := agent.Load(confFile, name, log)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&confFile, "conf-file", "f", "", "Flume agent .properties file")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the agent in the file (the key prefix, e.g. a1)")
	cmd.Flags().StringVarP(&confDir, "conf", "c", "", "Flume conf directory (accepted for compatibility; not read)")
	cmd.Flags().StringArrayVarP(&javaProps, "define", "D", nil, "Java system property key=value (accepted for compatibility; ignored)")
	return cmd
}
