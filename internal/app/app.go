// Package app wires runnel's parts together and owns their start and stop
// order. StartBroker: settings → data dir lock → topic registry (opens every
// partition log) → listener → protocol server. Close runs it backwards:
// stop accepting, finish in-flight requests, flush and close the logs,
// release the lock.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runnel/runnel/internal/broker"
	"github.com/runnel/runnel/internal/group"
	"github.com/runnel/runnel/internal/topic"
)

// BrokerOptions configures StartBroker.
type BrokerOptions struct {
	// DataDir holds topics.meta and one directory per partition; default
	// log.dirs from the settings, else "./runnel-data".
	DataDir string
	// Listen is the address to bind; default the listeners setting, else
	// "127.0.0.1:9092". "127.0.0.1:0" picks a free port.
	Listen string
	// ConfigFile is an optional Kafka-style server.properties.
	ConfigFile string
	// Settings are Kafka-named broker settings overriding the file.
	Settings map[string]string
	// Logger receives start/stop and error logs; nil discards them.
	Logger *slog.Logger
}

// BrokerOption edits BrokerOptions (used by testutil.RunBroker).
type BrokerOption func(*BrokerOptions)

// Broker is a running broker.
type Broker struct {
	addr     string
	logger   *slog.Logger
	server   *broker.Server
	topics   *topic.Registry
	groups   *group.Coordinator
	lockFile *os.File

	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
	stopCtx   func() bool
}

// StartBroker starts a broker and returns once it is listening. Cancelling
// ctx closes the broker.
func StartBroker(ctx context.Context, opts BrokerOptions) (*Broker, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	set, err := loadSettings(opts.ConfigFile, opts.Settings)
	if err != nil {
		return nil, err
	}
	if unused := set.unused(); len(unused) > 0 {
		logger.Warn("ignoring broker settings runnel does not use", "settings", strings.Join(unused, ","))
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		if v := set[settingLogDirs]; v != "" {
			dataDir = filepath.SplitList(v)[0]
		} else if v := set[settingLogDir]; v != "" {
			dataDir = v
		} else {
			dataDir = "./runnel-data"
		}
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:9092"
		if v := set[settingListeners]; v != "" {
			h, p, err := firstListener(v)
			if err != nil {
				return nil, err
			}
			listen = net.JoinHostPort(h, p)
		}
	}

	cfg := broker.Config{DataDir: dataDir, Logger: logger, ClusterID: set[settingClusterID]}
	nodeID, err := set.int(settingNodeID)
	if err != nil {
		return nil, err
	}
	if v, ok := set[settingBrokerID]; ok && v != "-1" {
		if nodeID, err = set.int(settingBrokerID); err != nil {
			return nil, err
		}
	}
	cfg.NodeID = int32(nodeID)
	np, err := set.int(settingNumPartitions)
	if err != nil {
		return nil, err
	}
	if np < 1 {
		return nil, fmt.Errorf("broker setting %s must be at least 1, got %d", settingNumPartitions, np)
	}
	cfg.NumPartitions = int32(np)
	if cfg.AutoCreateTopics, err = set.bool(settingAutoCreate); err != nil {
		return nil, err
	}
	mrb, err := set.int(settingMaxRequestBytes)
	if err != nil {
		return nil, err
	}
	if mrb < 1024 || mrb > 1<<31-1 {
		return nil, fmt.Errorf("broker setting %s out of range: %d", settingMaxRequestBytes, mrb)
	}
	cfg.MaxRequestBytes = int32(mrb)
	janitor, err := set.millis(settingRetentionCheckMs)
	if err != nil {
		return nil, err
	}
	defaults, err := topic.BrokerDefaults(set)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	b := &Broker{logger: logger, lockFile: lock, serveErr: make(chan error, 1), done: make(chan struct{})}
	b.topics, err = topic.Open(dataDir, topic.Options{Defaults: defaults, JanitorInterval: janitor, Logger: logger})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("opening topics: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		b.topics.Close()
		lock.Close()
		return nil, fmt.Errorf("listening: %w", err)
	}
	b.addr = ln.Addr().String()
	tcp := ln.Addr().(*net.TCPAddr)
	cfg.AdvertisedHost, cfg.AdvertisedPort = tcp.IP.String(), int32(tcp.Port)
	if tcp.IP.IsUnspecified() {
		cfg.AdvertisedHost = "127.0.0.1"
		if h, err := os.Hostname(); err == nil && h != "" {
			cfg.AdvertisedHost = h
		}
	}
	if v := set[settingAdvertised]; v != "" {
		h, p, err := firstListener(v)
		if err != nil {
			ln.Close()
			b.topics.Close()
			lock.Close()
			return nil, err
		}
		port, err := strconv.Atoi(p)
		if err != nil {
			ln.Close()
			b.topics.Close()
			lock.Close()
			return nil, fmt.Errorf("parsing %s: bad port %q", settingAdvertised, p)
		}
		if h != "" {
			cfg.AdvertisedHost = h
		}
		cfg.AdvertisedPort = int32(port)
	}
	cfg.BrokerSettings = set.withDefaults()
	cfg.BrokerSettings[settingLogDirs] = dataDir
	cfg.BrokerSettings[settingListeners] = "PLAINTEXT://" + b.addr
	if b.groups, err = openGroups(set, cfg, b.topics, logger); err != nil {
		ln.Close()
		b.topics.Close()
		lock.Close()
		return nil, err
	}
	cfg.Groups, cfg.OnTopicDeleted = b.groups, b.groups.TopicDeleted
	b.server = broker.New(cfg, b.topics)
	go func() {
		err := b.server.Serve(ln)
		b.serveErr <- err
		if err != nil {
			// The listener failed for good: shut down rather than
			// run without accepting clients.
			logger.Error("broker stopped accepting connections", "err", err)
			go b.Close()
		}
	}()
	b.stopCtx = context.AfterFunc(ctx, func() { b.Close() })
	logger.Info("broker started", "addr", b.addr, "data_dir", dataDir, "advertised", net.JoinHostPort(cfg.AdvertisedHost, strconv.Itoa(int(cfg.AdvertisedPort))))
	return b, nil
}

// openGroups creates the internal compacted topic __consumer_offsets if
// needed and opens the group coordinator over its one partition.
func openGroups(set settings, cfg broker.Config, topics *topic.Registry, logger *slog.Logger) (*group.Coordinator, error) {
	const name = "__consumer_offsets"
	t, ok := topics.Get(name)
	if !ok {
		var err error
		t, err = topics.Create(topic.CreateRequest{Name: name, Partitions: 1, Internal: true,
			Configs: map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600"}})
		if err != nil {
			return nil, fmt.Errorf("creating %s: %w", name, err)
		}
	}
	gc := group.Config{NodeID: cfg.NodeID, Host: cfg.AdvertisedHost, Port: cfg.AdvertisedPort}
	var err error
	if gc.InitialRebalanceDelay, err = set.millis(settingInitialRebalance); err != nil {
		return nil, err
	}
	if gc.MinSessionTimeout, err = set.millis(settingMinSessionTimeout); err != nil {
		return nil, err
	}
	if gc.MaxSessionTimeout, err = set.millis(settingMaxSessionTimeout); err != nil {
		return nil, err
	}
	mins, err := set.int(settingOffsetsRetention)
	if err != nil {
		return nil, err
	}
	gc.OffsetsRetention = time.Duration(mins) * time.Minute
	if _, ok := set["offsets.retention.check.interval.ms"]; ok {
		if gc.RetentionCheckInterval, err = set.millis("offsets.retention.check.interval.ms"); err != nil {
			return nil, err
		}
	}
	coord, err := group.New(gc, t.Partitions[0], topics.Partitions, logger)
	if err != nil {
		return nil, fmt.Errorf("opening group coordinator: %w", err)
	}
	return coord, nil
}

// lockDataDir takes an exclusive flock on <dir>/.lock so two brokers never
// share a data dir.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking data dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking data dir %s (is another broker using it?): %w", dir, err)
	}
	return f, nil
}

// Addr is the address actually bound, "127.0.0.1:PORT".
func (b *Broker) Addr() string { return b.addr }

// Topics is the broker's topic registry (for in-process wiring and tests).
func (b *Broker) Topics() *topic.Registry { return b.topics }

// Close stops accepting, finishes in-flight requests, flushes and closes the
// logs and releases the data dir. It is safe to call more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		if b.stopCtx != nil {
			b.stopCtx()
		}
		var errs []error
		if err := b.server.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := <-b.serveErr; err != nil {
			errs = append(errs, err)
		}
		if err := b.groups.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing group coordinator: %w", err))
		}
		if err := b.topics.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing topics: %w", err))
		}
		if err := b.lockFile.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unlocking data dir: %w", err))
		}
		b.closeErr = errors.Join(errs...)
		b.logger.Info("broker stopped", "addr", b.addr)
		close(b.done)
	})
	<-b.done
	return b.closeErr
}

// Wait blocks until the broker is closed and returns Close's error.
func (b *Broker) Wait() error {
	<-b.done
	return b.closeErr
}
