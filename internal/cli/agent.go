package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel/runnel/internal/agent"
)

func init() { register("agent", newAgentCmd) }

func newAgentCmd(g *Globals) *cobra.Command {
	var confFile, name, confDir, httpAddr string
	var javaProps []string
	var noReload bool
	var reloadEvery time.Duration
	cmd := &cobra.Command{
		Use:   "agent --conf-file FILE --name AGENT",
		Short: "Run an Apache Flume agent configuration (sources → channels → sinks)",
		Long: `Run one agent of an Apache Flume .properties file, unchanged: the same
command line as flume-ng agent (-f/--conf-file, -n/--name; -c/--conf and
-Dkey=value are accepted). The config is validated before anything starts;
errors name the file, line and key. Runs until Ctrl-C.

The config file is read again every --reload-interval; when it changed and
is valid, only the components whose config (or bindings) changed are
restarted, and unchanged channels keep their events. An invalid change is
logged and the running config kept. --no-reload (flume-ng's
--no-reload-conf) turns this off.

Counters (Flume's names) are served over HTTP with --http ADDR, or
Flume's -Dflume.monitoring.type=http -Dflume.monitoring.port=PORT (on
127.0.0.1): GET /metrics is Flume's JSON, or Prometheus text when the
Accept header asks for it (as Prometheus does); /metrics/prometheus and
/metrics/json always answer in one format. See docs/agent.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if confFile == "" || name == "" {
				return errors.New("both --conf-file (-f) and --name (-n) are required, as for flume-ng agent")
			}
			log := g.Logger()
			if confDir != "" {
				log.Debug("--conf is accepted for flume-ng compatibility; flume-env.sh and log4j files in it are not read", "conf", confDir)
			}
			monitoring, ignored, err := flumeMonitoring(javaProps)
			if err != nil {
				return err
			}
			if httpAddr == "" {
				httpAddr = monitoring
			}
			if len(ignored) > 0 {
				log.Warn("-D Java system properties are accepted for flume-ng compatibility and ignored; use --log-level for logging", "properties", strings.Join(ignored, " "))
			}
			a, err := agent.Load(confFile, name, log)
			if err != nil {
				return err
			}
			a.MetricsAddr = httpAddr
			if !noReload {
				a.ReloadInterval = reloadEvery
			}
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&confFile, "conf-file", "f", "", "Flume agent .properties file")
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the agent in the file (the key prefix, e.g. a1)")
	cmd.Flags().StringVarP(&confDir, "conf", "c", "", "Flume conf directory (accepted for compatibility; not read)")
	cmd.Flags().StringArrayVarP(&javaProps, "define", "D", nil, "Java system property key=value (flume.monitoring.type/port are read; others accepted and ignored)")
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve counters on this address (e.g. 127.0.0.1:34545): /metrics (Flume JSON, or Prometheus on Accept), /metrics/prometheus")
	cmd.Flags().BoolVar(&noReload, "no-reload", false, "do not reload the config file when it changes")
	cmd.Flags().BoolVar(&noReload, "no-reload-conf", false, "same as --no-reload (flume-ng's spelling)")
	cmd.Flags().DurationVar(&reloadEvery, "reload-interval", 3*time.Second, "how often the config file is checked for changes")
	return cmd
}

// flumeMonitoring reads flume-ng's -Dflume.monitoring.type=http and
// -Dflume.monitoring.port=N into a listen address on 127.0.0.1 ("" when
// not asked for) and returns the other properties, which are ignored.
func flumeMonitoring(props []string) (addr string, ignored []string, err error) {
	var typ, port string
	for _, p := range props {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "flume.monitoring.type":
			typ = v
		case "flume.monitoring.port":
			port = v
		default:
			ignored = append(ignored, p)
		}
	}
	switch {
	case typ == "" && port == "":
		return "", ignored, nil
	case !strings.EqualFold(typ, "http"):
		return "", nil, fmt.Errorf("-Dflume.monitoring.type=%s: only http monitoring is supported (JSON and Prometheus at /metrics); use -Dflume.monitoring.type=http or --http ADDR", typ)
	case port == "":
		return "", nil, errors.New("-Dflume.monitoring.type=http needs -Dflume.monitoring.port=PORT (or use --http ADDR)")
	}
	return net.JoinHostPort("127.0.0.1", port), ignored, nil
}
