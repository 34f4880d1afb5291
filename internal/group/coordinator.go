// Package group is runnel's consumer-group coordinator: the classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup and the admin APIs)
// and committed offsets, stored as Kafka-format records in the internal
// compacted topic __consumer_offsets (docs/format/group-offsets.md).
//
// Files: coordinator.go (construction, dispatch, janitor), group.go (the
// state machine's types and rebalance core), group_join.go, group_sync.go,
// group_heartbeat.go (heartbeat and leave), offsets.go (commit, fetch,
// delete), admin.go (find coordinator, list, describe, delete groups),
// storage.go (record encoding and loading).
//
// Locking: one mutex, Coordinator.mu, guards every group and member. Timer
// callbacks take it. Handlers never wait while holding it: JoinGroup and
// SyncGroup park on a channel the rebalance completes. Durable offset
// appends (fsync) run without the lock; group metadata records are appended
// under it without fsync, so they reach the log in state order.
package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/commitlog"
)

// Config configures a Coordinator.
type Config struct {
	// NodeID, Host and Port are this broker, answered by FindCoordinator.
	NodeID int32
	Host   string
	Port   int32
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long
	// the first rebalance of an empty group waits for more members.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound a member's session
	// timeout (group.min/max.session.timeout.ms; defaults 6s and 30m).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// OffsetsRetention is offsets.retention.minutes (default 7 days): the
	// committed offsets of a group that has been empty this long are dropped.
	OffsetsRetention time.Duration
	// RetentionCheckInterval is offsets.retention.check.interval.ms
	// (default 10 minutes).
	RetentionCheckInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = 10 * time.Minute
	}
	if c.InitialRebalanceDelay < 0 {
		c.InitialRebalanceDelay = 0
	}
	return c
}

// TopicLookup reports how many partitions a topic has (0, false if it does
// not exist).
type TopicLookup func(topic string) (partitions int32, ok bool)

// maxMetadataBytes is offset.metadata.max.bytes.
const maxMetadataBytes = 4096

// Coordinator serves the group APIs of one broker.
type Coordinator struct {
	cfg    Config
	log    *commitlog.Log
	topics TopicLookup
	logger *slog.Logger
	now    func() time.Time // tests replace it before use

	mu     sync.Mutex // guards groups, closed and everything reachable from them
	groups map[string]*group
	closed bool

	stop chan struct{} // closed by Close; ends the janitor and parked handlers
	done chan struct{} // closed when the janitor has returned
}

// New opens a coordinator over the __consumer_offsets log, loading committed
// offsets and group metadata from it.
func New(cfg Config, offsets *commitlog.Log, topics TopicLookup, logger *slog.Logger) (*Coordinator, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if offsets == nil {
		return nil, errors.New("creating group coordinator: no offsets log")
	}
	if topics == nil {
		topics = func(string) (int32, bool) { return 0, false }
	}
	c := &Coordinator{
		cfg:    cfg.withDefaults(),
		log:    offsets,
		topics: topics,
		logger: logger,
		now:    time.Now,
		groups: map[string]*group{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("loading groups from %s: %w", "__consumer_offsets", err)
	}
	go c.janitor()
	return c, nil
}

// Versions lists the API keys the coordinator serves and their versions.
func (c *Coordinator) Versions() map[int16][2]int16 {
	return map[int16][2]int16{
		8:  {0, 9}, // OffsetCommit
		9:  {0, 9}, // OffsetFetch
		10: {0, 4}, // FindCoordinator
		11: {0, 9}, // JoinGroup
		12: {0, 4}, // Heartbeat
		13: {0, 5}, // LeaveGroup
		14: {0, 5}, // SyncGroup
		15: {0, 5}, // DescribeGroups
		16: {0, 5}, // ListGroups
		42: {0, 2}, // DeleteGroups
		47: {0, 0}, // OffsetDelete
	}
}

// Handle answers one group request with a response of the same version.
// JoinGroup and SyncGroup block until the rebalance reaches them, ctx is
// done or the coordinator closes.
func (c *Coordinator) Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	var resp kmsg.Response
	var err error
	switch r := req.(type) {
	case *kmsg.FindCoordinatorRequest:
		resp = c.findCoordinator(r)
	case *kmsg.JoinGroupRequest:
		resp, err = c.joinGroup(ctx, r)
	case *kmsg.SyncGroupRequest:
		resp, err = c.syncGroup(ctx, r)
	case *kmsg.HeartbeatRequest:
		resp = c.heartbeat(r)
	case *kmsg.LeaveGroupRequest:
		resp = c.leaveGroup(r)
	case *kmsg.OffsetCommitRequest:
		resp = c.offsetCommit(r)
	case *kmsg.OffsetFetchRequest:
		resp = c.offsetFetch(r)
	case *kmsg.ListGroupsRequest:
		resp = c.listGroups(r)
	case *kmsg.DescribeGroupsRequest:
		resp = c.describeGroups(r)
	case *kmsg.DeleteGroupsRequest:
		resp = c.deleteGroups(r)
	case *kmsg.OffsetDeleteRequest:
		resp = c.offsetDelete(r)
	default:
		return nil, fmt.Errorf("group coordinator does not serve %s", kmsg.NameForKey(req.Key()))
	}
	if err != nil {
		return nil, err
	}
	resp.SetVersion(req.GetVersion())
	return resp, nil
}

// TopicDeleted drops the committed offsets of a deleted topic.
func (c *Coordinator) TopicDeleted(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	var tombs []storedRecord
	for _, g := range c.groups {
		for tp := range g.offsets {
			if tp.topic == topic {
				delete(g.offsets, tp)
				tombs = append(tombs, offsetTombstone(g.name, tp))
			}
		}
	}
	if err := c.appendLocked(tombs, false); err != nil {
		c.logger.Warn("writing offset tombstones for deleted topic", "topic", topic, "err", err)
	}
}

// Close stops every timer and the janitor, and answers parked JoinGroup and
// SyncGroup requests with an error. It does not close the offsets log.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for _, g := range c.groups {
		g.stopTimers()
	}
	close(c.stop)
	c.mu.Unlock()
	<-c.done
	return nil
}

// janitor expires offsets and empty groups every RetentionCheckInterval.
func (c *Coordinator) janitor() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.expireOffsets()
		}
	}
}

// expireOffsets drops offsets past retention: all offsets of a consumer group
// that has been Empty for OffsetsRetention, and, for groups without a
// protocol (standalone commits), each offset committed longer ago than that.
// Empty groups left without offsets are removed.
func (c *Coordinator) expireOffsets() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	now := c.now()
	ret := c.cfg.OffsetsRetention
	var tombs []storedRecord
	for name, g := range c.groups {
		if g.state != stateEmpty {
			continue
		}
		all := g.protocolType != "" && now.Sub(g.stateTime) >= ret
		for tp, o := range g.offsets {
			if all || now.Sub(time.UnixMilli(o.commitTime)) >= ret {
				delete(g.offsets, tp)
				tombs = append(tombs, offsetTombstone(name, tp))
			}
		}
		if len(g.offsets) == 0 && (g.protocolType == "" || now.Sub(g.stateTime) >= ret) {
			g.state = stateDead
			delete(c.groups, name)
			tombs = append(tombs, groupTombstone(name))
			c.logger.Debug("removed expired group", "group", name)
		}
	}
	if err := c.appendLocked(tombs, false); err != nil {
		c.logger.Warn("writing tombstones for expired offsets", "err", err)
	}
}

// clientKey is the context key for the requesting client's identity.
type clientKey struct{}

// ClientInfo is who sent a request, shown by DescribeGroups.
type ClientInfo struct {
	ID   string // client.id from the request header
	Host string // remote address, "/127.0.0.1" as Kafka prints it
}

// WithClient returns ctx carrying the requesting client's id and host; the
// broker passes it to Handle so DescribeGroups can show them.
func WithClient(ctx context.Context, clientID, host string) context.Context {
	return context.WithValue(ctx, clientKey{}, ClientInfo{ID: clientID, Host: host})
}

func clientFrom(ctx context.Context) ClientInfo {
	ci, _ := ctx.Value(clientKey{}).(ClientInfo)
	if ci.Host == "" {
		ci.Host = "/127.0.0.1"
	}
	return ci
}

func newMemberID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	if prefix == "" {
		prefix = "member"
	}
	return prefix + "-" + hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" +
		hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:])
}
