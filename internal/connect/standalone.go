package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/runnel/runnel/internal/properties"
)

// LoadWorkerFile reads and parses a worker .properties file, logging its
// warnings.
func LoadWorkerFile(path string, log *slog.Logger) (*WorkerConfig, error) {
	raw, err := properties.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading worker config: %w", err)
	}
	cfg, warns, err := ParseWorkerConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("worker config %s: %w", path, err)
	}
	for _, w := range warns {
		log.Warn(w.Message, "file", path, "key", w.Key)
	}
	return cfg, nil
}

// RunStandalone runs a standalone worker until ctx is done: the REST API on
// the worker's listener and every connector of connFiles (.properties or
// .json). ready, when not nil, is called with the REST address once
// everything started.
func RunStandalone(ctx context.Context, workerFile string, connFiles []string, log *slog.Logger, ready func(addr string)) (err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := LoadWorkerFile(workerFile, log)
	if err != nil {
		return err
	}
	if cfg.OffsetFile == "" {
		return fmt.Errorf("worker config %s: %s is required in standalone mode", workerFile, KeyOffsetFile)
	}
	var conns []map[string]string
	for _, f := range connFiles {
		props, err := LoadConnectorFile(f)
		if err != nil {
			return err
		}
		if _, err := ParseConnector(cfg, props); err != nil {
			return fmt.Errorf("connector config %s: %w", f, err)
		}
		conns = append(conns, props)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening for the REST API: %w", err)
	}
	w, err := NewWorker(cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	w.SetID(ln.Addr().String())
	defer func() {
		if cerr := w.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	for i, props := range conns {
		if _, err := w.Create(props); err != nil {
			ln.Close()
			return fmt.Errorf("connector config %s: %w", connFiles[i], err)
		}
	}
	log.Info("Kafka Connect standalone worker started", "rest", "http://"+ln.Addr().String(), "connectors", len(conns), "brokers", cfg.Brokers)
	if ready != nil {
		ready(ln.Addr().String())
	}
	return w.Serve(ctx, ln)
}
