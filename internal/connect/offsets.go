package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/fsutil"
)

// offsetFileVersion is the version of the standalone offset file format;
// frozen. See docs/connect.md:
//
//	{"version":1,"offsets":[{"connector":"c","partition":{...},"offset":{...}}, ...]}
//
// The file is replaced atomically (write to FILE.tmp, fsync, rename, fsync
// the directory), so a crash leaves either the old or the new content.
const offsetFileVersion = 1

type offsetEntry struct {
	Connector string         `json:"connector"`
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

type offsetFile struct {
	Version int           `json:"version"`
	Offsets []offsetEntry `json:"offsets"`
}

// FileOffsets is the standalone worker's source offset store: in memory,
// written to one file by Flush (without a file name, memory only).
//
// In distributed mode (NewTopicOffsets) the store is backed by the
// offset.storage.topic instead, in Kafka Connect's own record format: key
// ["connector",{partition}], value the offset as JSON (null deletes).
type FileOffsets struct {
	path  string
	kafka *kgo.Client // distributed mode: the offset topic's client
	topic string

	mu sync.Mutex // guards m, dirty and changed
	// m maps connector → canonical partition JSON → entry.
	m     map[string]map[string]offsetEntry
	dirty bool
	// changed holds the entries put since the last flush (topic mode).
	changed map[string]offsetEntry
}

// NewTopicOffsets returns a store on the offset topic (distributed mode).
func NewTopicOffsets(cl *kgo.Client, topic string) *FileOffsets {
	return &FileOffsets{kafka: cl, topic: topic, m: map[string]map[string]offsetEntry{}, changed: map[string]offsetEntry{}}
}

func topicKey(connector string, partition map[string]any) []byte {
	b, _ := json.Marshal([]any{connector, partition})
	return b
}

// Reload reads connector's offsets from the offset topic up to its end
// (topic mode; a no-op for a file), so a task moved from another worker
// resumes where that worker flushed.
func (s *FileOffsets) Reload(ctx context.Context, connector string) error {
	if s.kafka == nil {
		return nil
	}
	recs, err := readTopic(ctx, s.kafka, s.topic)
	if err != nil {
		return fmt.Errorf("reading offsets from %s: %w", s.topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, connector)
	for _, r := range recs {
		var key []json.RawMessage
		var name string
		var part map[string]any
		if json.Unmarshal(r.Key, &key) != nil || len(key) != 2 || json.Unmarshal(key[0], &name) != nil || name != connector || json.Unmarshal(key[1], &part) != nil {
			continue
		}
		var off map[string]any
		if r.Value != nil && json.Unmarshal(r.Value, &off) != nil {
			continue
		}
		m := s.m[connector]
		if m == nil {
			m = map[string]offsetEntry{}
			s.m[connector] = m
		}
		if off == nil {
			delete(m, partitionKey(part))
		} else {
			m[partitionKey(part)] = offsetEntry{Connector: connector, Partition: part, Offset: off}
		}
	}
	return nil
}

// readTopic returns every record of topic from its start to the end
// offsets it has now.
func readTopic(ctx context.Context, cl *kgo.Client, topic string) ([]*kgo.Record, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	parts := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			parts[o.Partition] = kgo.NewOffset().AtStart()
			want[o.Partition] = o.Offset
		}
	})
	if len(parts) == 0 {
		return nil, nil
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out, nil
}

// OpenFileOffsets reads path (absent: empty store).
func OpenFileOffsets(path string) (*FileOffsets, error) {
	s := &FileOffsets{path: path, m: map[string]map[string]offsetEntry{}}
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the offset file: %w", err)
	}
	var f offsetFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("reading the offset file %s: %w (Kafka's Java-serialized offset files are not read; start with a new file)", path, err)
	}
	if f.Version != offsetFileVersion {
		return nil, fmt.Errorf("reading the offset file %s: version %d, this runnel reads version %d", path, f.Version, offsetFileVersion)
	}
	for _, e := range f.Offsets {
		s.put(e)
	}
	s.dirty = false
	return s, nil
}

func partitionKey(p map[string]any) string {
	b, _ := json.Marshal(p) // map keys are sorted: canonical
	return string(b)
}

// put stores e; s.mu must be held (or s unshared).
func (s *FileOffsets) put(e offsetEntry) {
	m := s.m[e.Connector]
	if m == nil {
		m = map[string]offsetEntry{}
		s.m[e.Connector] = m
	}
	k := partitionKey(e.Partition)
	if s.changed != nil {
		s.changed[e.Connector+"\x00"+k] = e
	}
	if e.Offset == nil {
		delete(m, k)
	} else {
		m[k] = e
	}
	s.dirty = true
}

// For returns the OffsetStore of one connector.
func (s *FileOffsets) For(connector string) *ConnectorOffsets {
	return &ConnectorOffsets{s: s, connector: connector}
}

// List returns a connector's offsets sorted by partition.
func (s *FileOffsets) List(connector string) []offsetEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []offsetEntry
	for _, e := range s.m[connector] {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return partitionKey(out[i].Partition) < partitionKey(out[j].Partition) })
	return out
}

// Set stores (or with a nil offset, removes) one offset of connector.
func (s *FileOffsets) Set(connector string, partition, offset map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(offsetEntry{Connector: connector, Partition: partition, Offset: offset})
}

// Reset removes every offset of connector.
func (s *FileOffsets) Reset(connector string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.m[connector] {
		s.put(offsetEntry{Connector: connector, Partition: e.Partition}) // a tombstone in topic mode
	}
	delete(s.m, connector)
	s.dirty = true
}

// Flush writes the store to its file when it changed since the last flush
// (topic mode: produces the changed offsets).
func (s *FileOffsets) Flush() error {
	if s.kafka != nil {
		return s.flushTopic()
	}
	s.mu.Lock()
	if !s.dirty || s.path == "" {
		s.mu.Unlock()
		return nil
	}
	f := offsetFile{Version: offsetFileVersion, Offsets: []offsetEntry{}}
	conns := make([]string, 0, len(s.m))
	for c := range s.m {
		conns = append(conns, c)
	}
	sort.Strings(conns)
	for _, c := range conns {
		keys := make([]string, 0, len(s.m[c]))
		for k := range s.m[c] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f.Offsets = append(f.Offsets, s.m[c][k])
		}
	}
	data, err := json.Marshal(f)
	s.dirty = false
	s.mu.Unlock()
	if err == nil {
		err = fsutil.WriteFileAtomic(s.path, data, 0o644)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return fmt.Errorf("flushing source offsets to %s: %w", s.path, err)
	}
	return nil
}

func (s *FileOffsets) flushTopic() error {
	s.mu.Lock()
	changed := s.changed
	s.changed = map[string]offsetEntry{}
	s.mu.Unlock()
	if len(changed) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, 0, len(changed))
	for _, e := range changed {
		r := &kgo.Record{Topic: s.topic, Key: topicKey(e.Connector, e.Partition)}
		if e.Offset != nil {
			r.Value, _ = json.Marshal(e.Offset)
		}
		recs = append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.kafka.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		s.mu.Lock()
		for k, e := range changed {
			if _, newer := s.changed[k]; !newer {
				s.changed[k] = e
			}
		}
		s.mu.Unlock()
		return fmt.Errorf("flushing source offsets to %s: %w", s.topic, err)
	}
	return nil
}

// ConnectorOffsets is one connector's view of a FileOffsets; it implements
// flow.OffsetStore.
type ConnectorOffsets struct {
	s         *FileOffsets
	connector string
}

// Get implements flow.OffsetStore.
func (c *ConnectorOffsets) Get(_ context.Context, partition map[string]any) (map[string]any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	e, ok := c.s.m[c.connector][partitionKey(partition)]
	if !ok {
		return nil, nil
	}
	return e.Offset, nil
}

// Put implements flow.OffsetStore; the offset is written at the next Flush.
func (c *ConnectorOffsets) Put(_ context.Context, partition, offset map[string]any) error {
	c.s.Set(c.connector, partition, offset)
	return nil
}
