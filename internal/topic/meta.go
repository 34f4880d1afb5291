package topic

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runnel/runnel/internal/fsutil"
)

// The topics file, <data-dir>/topics.meta, is documented in
// docs/format/topics.md. These constants are FROZEN: a new layout gets a new
// version and the reader keeps accepting version 1.
const (
	metaFileName   = "topics.meta"
	metaMagic      = "RNLTOPIC"
	metaVersion1   = 1
	metaHeaderSize = 8 + 2 + 4 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// metaFile is the JSON body of topics.meta version 1.
type metaFile struct {
	// ProducerIDBlockEnd is the first producer id not yet handed out in
	// any run; the next run starts allocating there.
	ProducerIDBlockEnd int64       `json:"producer_id_block_end"`
	Topics             []metaTopic `json:"topics"`
}

type metaTopic struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"` // 32 hex digits
	Partitions int32             `json:"partitions"`
	Internal   bool              `json:"internal,omitempty"`
	Configs    map[string]string `json:"configs,omitempty"`
}

func encodeMeta(m *metaFile) ([]byte, error) {
	body, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encoding topic metadata: %w", err)
	}
	buf := make([]byte, metaHeaderSize, metaHeaderSize+len(body))
	copy(buf, metaMagic)
	binary.BigEndian.PutUint16(buf[8:], metaVersion1)
	binary.BigEndian.PutUint32(buf[10:], uint32(len(body)))
	binary.BigEndian.PutUint32(buf[14:], crc32.Checksum(body, castagnoli))
	return append(buf, body...), nil
}

func decodeMeta(b []byte) (*metaFile, error) {
	if len(b) < metaHeaderSize || !bytes.Equal(b[:8], []byte(metaMagic)) {
		return nil, fmt.Errorf("%w: bad magic", ErrCorruptMeta)
	}
	if v := binary.BigEndian.Uint16(b[8:]); v != metaVersion1 {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrCorruptMeta, v)
	}
	n := binary.BigEndian.Uint32(b[10:])
	body := b[metaHeaderSize:]
	if uint64(len(body)) != uint64(n) {
		return nil, fmt.Errorf("%w: body is %d bytes, header says %d", ErrCorruptMeta, len(body), n)
	}
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[14:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptMeta)
	}
	var m metaFile
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptMeta, err)
	}
	for _, t := range m.Topics {
		if _, err := parseID(t.ID); err != nil {
			return nil, fmt.Errorf("%w: topic %q: %v", ErrCorruptMeta, t.Name, err)
		}
		if t.Partitions < 1 {
			return nil, fmt.Errorf("%w: topic %q has %d partitions", ErrCorruptMeta, t.Name, t.Partitions)
		}
	}
	return &m, nil
}

func parseID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("bad topic id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// readMeta loads topics.meta from dir; a missing file is an empty registry.
func readMeta(dir string) (*metaFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return &metaFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading topic metadata: %w", err)
	}
	m, err := decodeMeta(b)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, metaFileName), err)
	}
	return m, nil
}

// writeMeta replaces topics.meta atomically: write a temporary file, fsync
// it, rename it over the old one and fsync the directory.
func writeMeta(dir string, m *metaFile) error {
	b, err := encodeMeta(m)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, metaFileName), b, 0o644); err != nil {
		return fmt.Errorf("writing topic metadata: %w", err)
	}
	return nil
}
