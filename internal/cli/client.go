package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newClient opens a franz-go client on the root's --brokers. Client-side
// logging goes to the root logger at warn level and above unless --log-level
// asks for more.
func newClient(g *Globals, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(g.Brokers...),
		kgo.WithLogger(kgoLogger{g.Logger()}),
		kgo.ClientID("runnel-cli"),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating client for %s: %w", strings.Join(g.Brokers, ","), err)
	}
	return cl, nil
}

// newAdmin opens an admin client. Close the returned kgo.Client when done.
func newAdmin(g *Globals) (*kadm.Client, *kgo.Client, error) {
	cl, err := newClient(g)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

// kgoLogger adapts a *slog.Logger to kgo.Logger. franz-go is chatty at info
// level (every connection and metadata refresh), so its info maps to slog's
// debug.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	default:
		return kgo.LogLevelError
	}
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var l slog.Level
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	default:
		l = slog.LevelDebug
	}
	k.l.Log(context.Background(), l, msg, keyvals...)
}

// parseKV splits "k=v" flag values into a map, in order; it refuses entries
// without "=" or with an empty key.
func parseKV(flag string, kvs []string) ([][2]string, error) {
	out := make([][2]string, 0, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("parsing --%s %q: want key=value", flag, kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}
