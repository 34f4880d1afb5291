// Package cli holds runnel's command-line interface: one file per subcommand.
//
// Each subcommand file registers a constructor in init with register; the
// root command built by Main adds every registered subcommand. Shared flags
// (--brokers, logging) live on the root command in Globals.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// DefaultBrokers is where client commands connect when neither --brokers nor
// RUNNEL_BROKERS says otherwise.
const DefaultBrokers = "127.0.0.1:9092"

// Globals are the flags every subcommand sees.
type Globals struct {
	// Brokers is the seed broker list for client commands (--brokers, env RUNNEL_BROKERS).
	Brokers []string
	// LogLevel is the slog level name given by --log-level.
	LogLevel string
	// LogFormat is "text" or "json" (--log-format).
	LogFormat string
}

// Logger builds the structured logger the flags ask for, writing to stderr.
func (g *Globals) Logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

type constructor struct {
	name string
	make func(*Globals) *cobra.Command
}

var constructors []constructor

// register adds a subcommand constructor; call it from an init function in the
// subcommand's own file.
func register(name string, make func(*Globals) *cobra.Command) {
	constructors = append(constructors, constructor{name, make})
}

// NewRoot builds the root command with every registered subcommand.
func NewRoot() *cobra.Command {
	g := &Globals{}
	root := &cobra.Command{
		Use:           "runnel",
		Short:         "Kafka-protocol broker, connectors, agents and stream processing in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	brokers := os.Getenv("RUNNEL_BROKERS")
	if brokers == "" {
		brokers = DefaultBrokers
	}
	root.PersistentFlags().StringSliceVar(&g.Brokers, "brokers", strings.Split(brokers, ","),
		"comma-separated seed brokers (env RUNNEL_BROKERS)")
	root.PersistentFlags().StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.LogFormat, "log-format", "text", "log format: text or json")

	sorted := append([]constructor(nil), constructors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		root.AddCommand(c.make(g))
	}
	return root
}

// Main runs the CLI with args and returns the process exit code. SIGINT and
// SIGTERM cancel the command's context.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "runnel:", err)
		return 1
	}
	return 0
}
