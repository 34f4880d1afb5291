package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
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
type FileOffsets struct {
	path string

	mu sync.Mutex // guards m and dirty
	// m maps connector → canonical partition JSON → entry.
	m     map[string]map[string]offsetEntry
	dirty bool
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
	delete(s.m, connector)
	s.dirty = true
}

// Flush writes the store to its file when it changed since the last flush.
func (s *FileOffsets) Flush() error {
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
		err = writeFileAtomic(s.path, data)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return fmt.Errorf("flushing source offsets to %s: %w", s.path, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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
