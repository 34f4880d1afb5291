package cli

// runnel connect standalone|distributed runs a Kafka Connect worker;
// runnel connect list|status|create|pause|resume|restart|delete|offsets
// talk to a worker's REST API (--url).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel/runnel/internal/connect"
)

func init() { register("connect", newConnectCmd) }

func newConnectCmd(g *Globals) *cobra.Command {
	var restURL string
	cmd := &cobra.Command{
		Use:   "connect",
		Short: "Run Kafka Connect workers and manage their connectors over the REST API",
		Long: `Run Kafka Connect worker and connector configs unchanged (see docs/connect.md):

  runnel connect standalone WORKER.properties CONNECTOR.properties|CONNECTOR.json ...

and manage a running worker through its REST API (Kafka Connect's paths):

  runnel connect list|status|create|pause|resume|restart|delete|offsets`,
	}
	cmd.PersistentFlags().StringVar(&restURL, "url", connect.DefaultListener, "the worker's REST API")
	c := &restClient{url: &restURL}
	cmd.AddCommand(newConnectStandaloneCmd(g), newConnectDistributedCmd(g),
		c.cmd("list", "List connectors with their state", cobra.NoArgs, func(cmd *cobra.Command, _ []string) error {
			var m map[string]struct {
				Status connect.Status `json:"status"`
			}
			if err := c.do(http.MethodGet, "/connectors?expand=status", nil, &m); err != nil {
				return err
			}
			out := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(out, "NAME\tTYPE\tSTATE\tTASKS")
			for _, n := range sortedKeys(m) {
				s := m[n].Status
				var tasks []string
				for _, t := range s.Tasks {
					tasks = append(tasks, fmt.Sprintf("%d:%s@%s", t.ID, t.State, t.WorkerID))
				}
				fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", n, s.Type, s.Connector.State, strings.Join(tasks, ","))
			}
			return out.Flush()
		}),
		c.cmd("status NAME", "Show a connector's status (JSON, with task traces)", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return c.print(cmd, http.MethodGet, "/connectors/"+url.PathEscape(args[0])+"/status", nil)
		}),
		c.cmd("create FILE", "Create a connector from a .properties or .json config", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			props, err := connect.LoadConnectorFile(args[0])
			if err != nil {
				return err
			}
			name := props["name"]
			if name == "" {
				name = strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0]))
				props["name"] = name
			}
			return c.print(cmd, http.MethodPost, "/connectors", map[string]any{"name": name, "config": props})
		}),
		c.cmd("pause NAME", "Pause a connector", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return c.print(cmd, http.MethodPut, "/connectors/"+url.PathEscape(args[0])+"/pause", nil)
		}),
		c.cmd("resume NAME", "Resume a paused or stopped connector", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return c.print(cmd, http.MethodPut, "/connectors/"+url.PathEscape(args[0])+"/resume", nil)
		}),
		c.cmd("stop NAME", "Stop a connector (needed before changing its offsets)", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return c.print(cmd, http.MethodPut, "/connectors/"+url.PathEscape(args[0])+"/stop", nil)
		}),
		newConnectRestartCmd(c),
		c.cmd("delete NAME", "Delete a connector", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			return c.print(cmd, http.MethodDelete, "/connectors/"+url.PathEscape(args[0]), nil)
		}),
		newConnectOffsetsCmd(c),
	)
	return cmd
}

func newConnectStandaloneCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "standalone WORKER.properties CONNECTOR.properties|CONNECTOR.json ...",
		Short: "Run a standalone Kafka Connect worker (as connect-standalone.sh)",
		Long: `Run a standalone worker with Kafka Connect's worker and connector configs.
Source offsets are kept in offset.storage.file.filename (runnel's JSON
format, see docs/connect.md). The REST API listens on listeners (default
http://127.0.0.1:8083). Runs until Ctrl-C.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connect.RunStandalone(cmd.Context(), args[0], args[1:], g.Logger(), nil)
		},
	}
}

func newConnectDistributedCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "distributed WORKER.properties",
		Short: "Run a distributed Kafka Connect worker (as connect-distributed.sh)",
		Long: `Run a distributed worker: workers with the same group.id share the
connectors' tasks (a sink runs tasks.max of them, a source one) through a consumer group of protocol type
"connect"; configs, target states and source offsets live in the compacted
config.storage.topic and offset.storage.topic (created when missing). Create
connectors over the REST API of any worker. Runs until Ctrl-C.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return connect.RunDistributed(cmd.Context(), args[0], g.Logger(), nil)
		},
	}
}

func newConnectRestartCmd(c *restClient) *cobra.Command {
	var includeTasks, onlyFailed bool
	var task int
	cmd := c.cmd("restart NAME", "Restart a connector's tasks (or, with --task, one of them) and show its status", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		if task >= 0 {
			return c.print(cmd, http.MethodPost, fmt.Sprintf("/connectors/%s/tasks/%d/restart", url.PathEscape(args[0]), task), nil)
		}
		q := url.Values{}
		q.Set("includeTasks", fmt.Sprint(includeTasks))
		q.Set("onlyFailed", fmt.Sprint(onlyFailed))
		return c.print(cmd, http.MethodPost, "/connectors/"+url.PathEscape(args[0])+"/restart?"+q.Encode(), nil)
	})
	cmd.Flags().BoolVar(&includeTasks, "include-tasks", true, "restart the tasks too")
	cmd.Flags().BoolVar(&onlyFailed, "only-failed", false, "restart only failed instances")
	cmd.Flags().IntVar(&task, "task", -1, "restart only the task with this id")
	return cmd
}

func newConnectOffsetsCmd(c *restClient) *cobra.Command {
	var reset bool
	var set string
	cmd := c.cmd("offsets NAME", "Show a connector's offsets; --reset or --set FILE.json change them (the connector must be stopped)", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		path := "/connectors/" + url.PathEscape(args[0]) + "/offsets"
		switch {
		case reset:
			return c.print(cmd, http.MethodDelete, path, nil)
		case set != "":
			data, err := os.ReadFile(set)
			if err != nil {
				return fmt.Errorf("reading offsets: %w", err)
			}
			return c.print(cmd, http.MethodPatch, path, json.RawMessage(data))
		}
		return c.print(cmd, http.MethodGet, path, nil)
	})
	cmd.Flags().BoolVar(&reset, "reset", false, "remove every offset of the connector")
	cmd.Flags().StringVar(&set, "set", "", `JSON file {"offsets":[{"partition":{...},"offset":{...}}]} to write`)
	return cmd
}

// restClient calls a worker's REST API.
type restClient struct{ url *string }

func (c *restClient) cmd(use, short string, args cobra.PositionalArgs, run func(*cobra.Command, []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: args, RunE: run}
}

// do sends a request and decodes the JSON answer into out (when not nil).
// An error answer becomes an error carrying Kafka Connect's message.
func (c *restClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimRight(*c.url, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("calling the REST API: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Timeout: 90 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("calling the REST API at %s: %w", *c.url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the REST answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s %s: %d: %s", method, path, e.Code, e.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// print sends a request and prints the JSON answer indented (or "ok").
func (c *restClient) print(cmd *cobra.Command, method, path string, body any) error {
	var out json.RawMessage
	if err := c.do(method, path, body, &out); err != nil {
		return err
	}
	if len(out) == 0 {
		fmt.Fprintln(cmd.OutOrStdout(), "ok")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := cmd.OutOrStdout().Write(buf.Bytes())
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
