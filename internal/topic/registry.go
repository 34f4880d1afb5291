// Package topic is the broker's topic registry: topics, their partitions
// (each a *commitlog.Log in <data-dir>/<topic>-<partition>), topic UUIDs and
// topic configs, persisted in <data-dir>/topics.meta (docs/format/topics.md).
// It also hands out producer ids that stay unique across restarts, and owns
// the janitor goroutine that runs each log's retention and compaction.
//
// Lock order: Registry.mu is taken before any commitlog lock; a Topic value
// is immutable once published (changes publish a new *Topic), so readers hold
// no lock while using one.
package topic

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/commitlog"
)

// producerIDBlock is how many producer ids are reserved per metadata write.
const producerIDBlock = 1000

// Topic is an immutable snapshot of one topic. Registry methods that change a
// topic publish a new *Topic; the partition logs are shared between snapshots.
type Topic struct {
	Name       string
	ID         [16]byte
	Internal   bool
	Configs    map[string]string // overrides set on this topic
	Partitions []*commitlog.Log
}

// Options configures a Registry.
type Options struct {
	// Defaults are the broker-wide topic config defaults (see BrokerDefaults).
	Defaults map[string]string
	// JanitorInterval is how often every log's Maintain runs
	// (log.retention.check.interval.ms); 0 means 5 minutes.
	JanitorInterval time.Duration
	Logger          *slog.Logger
	// LogOptions are passed to every commitlog.Open.
	LogOptions []commitlog.Option
}

// Registry holds every topic of one data dir. All methods are safe for
// concurrent use.
type Registry struct {
	dir      string
	defaults map[string]string
	logger   *slog.Logger
	logOpts  []commitlog.Option

	mu      sync.RWMutex // guards everything below
	topics  map[string]*Topic
	nextPID int64
	pidEnd  int64 // first id not reserved in topics.meta
	closed  bool

	stop chan struct{}
	done chan struct{}
}

var partitionDir = regexp.MustCompile(`^(.+)-([0-9]+)$`)

// Open loads the registry in dir, opening every partition log, removes
// partition directories that no topic owns (left by a crash during create or
// delete), and starts the janitor.
func Open(dir string, opts Options) (*Registry, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	m, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		dir:      dir,
		defaults: maps.Clone(opts.Defaults),
		logger:   logger,
		logOpts:  opts.LogOptions,
		topics:   map[string]*Topic{},
		nextPID:  m.ProducerIDBlockEnd,
		pidEnd:   m.ProducerIDBlockEnd,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if r.defaults == nil {
		r.defaults = map[string]string{}
	}
	for _, mt := range m.Topics {
		id, _ := parseID(mt.ID)
		t := &Topic{Name: mt.Name, ID: id, Internal: mt.Internal, Configs: mt.Configs}
		if t.Configs == nil {
			t.Configs = map[string]string{}
		}
		cfg := LogConfig(effective(r.defaults, t.Configs))
		for p := int32(0); p < mt.Partitions; p++ {
			l, err := commitlog.Open(r.partitionPath(mt.Name, p), cfg, r.logOpts...)
			if err != nil {
				r.closeLogs()
				return nil, fmt.Errorf("opening partition %s-%d: %w", mt.Name, p, err)
			}
			t.Partitions = append(t.Partitions, l)
		}
		r.topics[mt.Name] = t
	}
	if err := r.removeOrphans(); err != nil {
		r.closeLogs()
		return nil, err
	}
	interval := opts.JanitorInterval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	go r.janitor(interval)
	return r, nil
}

func (r *Registry) partitionPath(name string, p int32) string {
	return filepath.Join(r.dir, name+"-"+strconv.Itoa(int(p)))
}

// removeOrphans deletes partition directories no topic owns.
func (r *Registry) removeOrphans() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("listing data dir: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m := partitionDir.FindStringSubmatch(e.Name())
		if m == nil || ValidateName(m[1]) != nil {
			continue
		}
		p, err := strconv.Atoi(m[2])
		if err != nil {
			continue
		}
		if t, ok := r.topics[m[1]]; ok && p < len(t.Partitions) {
			continue
		}
		r.logger.Warn("removing partition directory no topic owns", "dir", e.Name())
		if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
			return fmt.Errorf("removing orphan partition %s: %w", e.Name(), err)
		}
	}
	return nil
}

// janitor runs Maintain on every log until Close. Owned by the Registry.
func (r *Registry) janitor(interval time.Duration) {
	defer close(r.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-tick.C:
			for _, t := range r.List() {
				for p, l := range t.Partitions {
					if err := l.Maintain(now); err != nil && !errors.Is(err, commitlog.ErrClosed) {
						r.logger.Warn("log maintenance failed", "topic", t.Name, "partition", p, "err", err)
					}
				}
			}
		}
	}
}

// Get returns the topic snapshot for name.
func (r *Registry) Get(name string) (*Topic, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.topics[name]
	return t, ok
}

// Partitions reports how many partitions a topic has (0, false if it does not exist).
func (r *Registry) Partitions(name string) (int32, bool) {
	t, ok := r.Get(name)
	if !ok {
		return 0, false
	}
	return int32(len(t.Partitions)), true
}

// Partition returns one partition's log.
func (r *Registry) Partition(name string, p int32) (*commitlog.Log, bool) {
	t, ok := r.Get(name)
	if !ok || p < 0 || int(p) >= len(t.Partitions) {
		return nil, false
	}
	return t.Partitions[p], true
}

// List returns every topic sorted by name.
func (r *Registry) List() []*Topic {
	r.mu.RLock()
	out := make([]*Topic, 0, len(r.topics))
	for _, t := range r.topics {
		out = append(out, t)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Topic) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// ByID finds a topic by UUID.
func (r *Registry) ByID(id [16]byte) (*Topic, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.topics {
		if t.ID == id {
			return t, true
		}
	}
	return nil, false
}

// CreateRequest describes a topic to create.
type CreateRequest struct {
	Name       string
	Partitions int32
	Configs    map[string]string
	Internal   bool
	// ValidateOnly checks the request without creating anything.
	ValidateOnly bool
}

// Validate checks a create request against the registry without changing it.
func (r *Registry) Validate(req CreateRequest) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.validateLocked(req)
}

// validateLocked expects r.mu held (read or write).
func (r *Registry) validateLocked(req CreateRequest) error {
	if err := ValidateName(req.Name); err != nil {
		return err
	}
	if _, ok := r.topics[req.Name]; ok {
		return fmt.Errorf("%w: %q", ErrTopicExists, req.Name)
	}
	if hasCollisionChars(req.Name) {
		key := collisionKey(req.Name)
		for name := range r.topics {
			if collisionKey(name) == key {
				return fmt.Errorf("%w: topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", ErrInvalidTopic, req.Name, name)
			}
		}
	}
	if req.Partitions < 1 {
		return fmt.Errorf("%w: number of partitions must be at least 1, got %d", ErrInvalidPartitions, req.Partitions)
	}
	if req.Partitions > 100000 {
		return fmt.Errorf("%w: %d partitions is more than this broker allows (100000)", ErrInvalidPartitions, req.Partitions)
	}
	for k, v := range req.Configs {
		if err := ValidateConfig(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Create creates a topic and its partition logs, and persists it.
func (r *Registry) Create(req CreateRequest) (*Topic, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if err := r.validateLocked(req); err != nil {
		return nil, err
	}
	if req.ValidateOnly {
		return nil, nil
	}
	if hasCollisionChars(req.Name) && !req.Internal {
		r.logger.Warn("topic name contains '.' or '_', which collide in metric names", "topic", req.Name)
	}
	t := &Topic{Name: req.Name, Internal: req.Internal, Configs: maps.Clone(req.Configs)}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	if _, err := rand.Read(t.ID[:]); err != nil {
		return nil, fmt.Errorf("generating topic id: %w", err)
	}
	cfg := LogConfig(effective(r.defaults, t.Configs))
	for p := int32(0); p < req.Partitions; p++ {
		dir := r.partitionPath(req.Name, p)
		os.RemoveAll(dir) // a stale directory from a crash must not resurrect data
		l, err := commitlog.Open(dir, cfg, r.logOpts...)
		if err != nil {
			for _, l := range t.Partitions {
				l.Delete()
			}
			return nil, fmt.Errorf("creating partition %s-%d: %w", req.Name, p, err)
		}
		t.Partitions = append(t.Partitions, l)
	}
	r.topics[req.Name] = t
	if err := r.persistLocked(); err != nil {
		delete(r.topics, req.Name)
		for _, l := range t.Partitions {
			l.Delete()
		}
		return nil, err
	}
	return t, nil
}

// Delete removes a topic: first from topics.meta, then its partition logs.
func (r *Registry) Delete(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	t, ok := r.topics[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	delete(r.topics, name)
	if err := r.persistLocked(); err != nil {
		r.topics[name] = t
		return err
	}
	var errs []error
	for _, l := range t.Partitions {
		if err := l.Delete(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deleting partitions of %s: %w", name, err)
	}
	return nil
}

// AddPartitions grows a topic to total partitions.
func (r *Registry) AddPartitions(name string, total int32, validateOnly bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	t, ok := r.topics[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	have := int32(len(t.Partitions))
	if total <= have {
		return fmt.Errorf("%w: topic %q has %d partitions, cannot change to %d (only increases are allowed)", ErrInvalidPartitions, name, have, total)
	}
	if total > 100000 {
		return fmt.Errorf("%w: %d partitions is more than this broker allows (100000)", ErrInvalidPartitions, total)
	}
	if validateOnly {
		return nil
	}
	nt := *t
	nt.Partitions = slices.Clone(t.Partitions)
	cfg := LogConfig(effective(r.defaults, t.Configs))
	for p := have; p < total; p++ {
		dir := r.partitionPath(name, p)
		os.RemoveAll(dir)
		l, err := commitlog.Open(dir, cfg, r.logOpts...)
		if err != nil {
			for _, l := range nt.Partitions[have:] {
				l.Delete()
			}
			return fmt.Errorf("creating partition %s-%d: %w", name, p, err)
		}
		nt.Partitions = append(nt.Partitions, l)
	}
	r.topics[name] = &nt
	if err := r.persistLocked(); err != nil {
		r.topics[name] = t
		for _, l := range nt.Partitions[have:] {
			l.Delete()
		}
		return err
	}
	return nil
}

// ConfigChange is one change to a topic's configs: Value nil removes the
// override (back to the broker default).
type ConfigChange struct {
	Name  string
	Value *string
}

// AlterConfigs applies changes to a topic's configs. replace=true makes the
// changes the complete set of overrides (AlterConfigs); false edits the
// existing set (IncrementalAlterConfigs).
func (r *Registry) AlterConfigs(name string, changes []ConfigChange, replace, validateOnly bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	t, ok := r.topics[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	configs := maps.Clone(t.Configs)
	if replace {
		configs = map[string]string{}
	}
	for _, c := range changes {
		if c.Value == nil {
			if _, known := specs[c.Name]; !known {
				return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, c.Name)
			}
			delete(configs, c.Name)
			continue
		}
		if err := ValidateConfig(c.Name, *c.Value); err != nil {
			return err
		}
		configs[c.Name] = *c.Value
	}
	if validateOnly {
		return nil
	}
	nt := *t
	nt.Configs = configs
	r.topics[name] = &nt
	if err := r.persistLocked(); err != nil {
		r.topics[name] = t
		return err
	}
	cfg := LogConfig(effective(r.defaults, configs))
	for _, l := range nt.Partitions {
		l.SetConfig(cfg)
	}
	return nil
}

// DescribeConfigs returns every config of a topic with its source.
func (r *Registry) DescribeConfigs(name string) ([]ConfigEntry, error) {
	t, ok := r.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	return describe(r.defaults, t.Configs), nil
}

// EffectiveConfigs returns a topic's effective config values.
func (r *Registry) EffectiveConfigs(name string) (map[string]string, error) {
	t, ok := r.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	return effective(r.defaults, t.Configs), nil
}

// NextProducerID hands out a producer id never handed out before in this
// data dir. Ids are reserved in blocks persisted in topics.meta, so a crash
// skips at most the rest of a block.
func (r *Registry) NextProducerID() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	if r.nextPID >= r.pidEnd {
		old := r.pidEnd
		r.pidEnd = r.nextPID + producerIDBlock
		if err := r.persistLocked(); err != nil {
			r.pidEnd = old
			return 0, err
		}
	}
	id := r.nextPID
	r.nextPID++
	return id, nil
}

// persistLocked writes topics.meta. It expects r.mu held for writing.
func (r *Registry) persistLocked() error {
	m := &metaFile{ProducerIDBlockEnd: r.pidEnd}
	for _, t := range r.topics {
		m.Topics = append(m.Topics, metaTopic{
			Name:       t.Name,
			ID:         hex.EncodeToString(t.ID[:]),
			Partitions: int32(len(t.Partitions)),
			Internal:   t.Internal,
			Configs:    t.Configs,
		})
	}
	slices.SortFunc(m.Topics, func(a, b metaTopic) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return writeMeta(r.dir, m)
}

// Flush fsyncs every partition log.
func (r *Registry) Flush() error {
	var errs []error
	for _, t := range r.List() {
		for _, l := range t.Partitions {
			if err := l.Flush(); err != nil && !errors.Is(err, commitlog.ErrClosed) {
				errs = append(errs, fmt.Errorf("flushing %s: %w", t.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (r *Registry) closeLogs() error {
	var errs []error
	for _, t := range r.topics {
		for p, l := range t.Partitions {
			if err := l.Close(); err != nil && !errors.Is(err, commitlog.ErrClosed) {
				errs = append(errs, fmt.Errorf("closing %s-%d: %w", t.Name, p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops the janitor and closes every log (which flushes it).
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closeLogs()
}
