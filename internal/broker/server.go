// Package broker serves the Kafka wire protocol over the topic registry.
//
// server.go accepts connections; conn.go reads framed requests and writes
// responses in request order; frame.go decodes a request frame with kmsg;
// every Kafka API lives in its own file named by API key (00_produce.go,
// 01_fetch.go, ...), registering its version range in the table that
// ApiVersions is built from (versions.go). Handlers return responses and
// never touch sockets.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/topic"
)

// GroupHandler serves the consumer-group APIs. Handle may block
// (JoinGroup/SyncGroup wait for the rebalance).
type GroupHandler interface {
	// Versions lists the API keys it serves and their [min, max] versions,
	// merged into ApiVersions.
	Versions() map[int16][2]int16
	// Handle answers one decoded request (already at its version) with a
	// response of the same version. A returned error closes the connection.
	Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

// Config configures a Server.
type Config struct {
	NodeID int32
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients.
	AdvertisedHost string
	AdvertisedPort int32
	ClusterID      string
	// MaxRequestBytes is socket.request.max.bytes (default 100 MiB).
	MaxRequestBytes int32
	// AutoCreateTopics is auto.create.topics.enable.
	AutoCreateTopics bool
	// NumPartitions is num.partitions, the default for new topics.
	NumPartitions int32
	// DataDir is reported by DescribeLogDirs.
	DataDir string
	// BrokerSettings are the effective broker settings, reported by
	// DescribeConfigs for the BROKER resource.
	BrokerSettings map[string]string
	// Groups serves the group APIs; nil leaves them unadvertised.
	Groups GroupHandler
	// OnTopicDeleted is called after a topic is deleted (the group
	// coordinator drops its committed offsets).
	OnTopicDeleted func(topic string)
	Logger         *slog.Logger
}

// Server is a Kafka-protocol server over one topic registry.
type Server struct {
	cfg           Config
	topics        *topic.Registry
	logger        *slog.Logger
	groupVersions map[int16][2]int16

	// ctx is cancelled by Close: long-polling fetches answer at once.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards ln, conns, closed
	ln     net.Listener
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup // accept loop and connections
}

// New returns a server; call Serve to accept connections.
func New(cfg Config, topics *topic.Registry) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	if cfg.NumPartitions <= 0 {
		cfg.NumPartitions = 1
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID = "runnel"
	}
	s := &Server{cfg: cfg, topics: topics, logger: cfg.Logger, conns: map[*conn]struct{}{}}
	if cfg.Groups != nil {
		s.groupVersions = cfg.Groups.Versions()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = ln
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accepting connections: %w", err)
			}
			// EMFILE, ECONNABORTED and friends: back off and keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logger.Warn("accepting connection failed; retrying", "err", err, "backoff", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops accepting, lets every connection finish the request it is
// handling (long-polling fetches answer at once), closes the connections
// and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing listener: %w", err)
	}
	return nil
}
