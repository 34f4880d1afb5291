package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"sort"

	"github.com/runnel/runnel/internal/fsutil"
)

// Checkpoint file format (frozen, version 1; see docs/format/segment.md).
const (
	checkpointName    = "runnel.checkpoint"
	checkpointMagic   = "RNLC"
	checkpointVersion = 1
	checkpointFixed   = 4 + 2 + 7*8 + 4 // magic, version, seven int64s, producer count
)

// checkpoint is the recovery point: everything before (segBase, pos) was
// fdatasync'ed, together with the state needed to resume there.
type checkpoint struct {
	segBase       int64 // base offset of the segment holding the recovery point
	pos           int64 // file position in that segment; bytes before it are durable
	next          int64 // next offset at pos
	maxTs         int64 // log-wide max timestamp before pos (-1 none)
	maxTsOff      int64
	logStart      int64
	cleanerOffset int64 // offsets below this were compacted
	producers     map[int64]*producerState
}

func encodeCheckpoint(c *checkpoint) []byte {
	b := make([]byte, 0, checkpointFixed+len(c.producers)*64+4)
	b = append(b, checkpointMagic...)
	b = binary.BigEndian.AppendUint16(b, checkpointVersion)
	for _, v := range []int64{c.segBase, c.pos, c.next, c.maxTs, c.maxTsOff, c.logStart, c.cleanerOffset} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	ids := make([]int64, 0, len(c.producers))
	for id := range c.producers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		st := c.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(st.epoch))
		b = append(b, byte(len(st.batches)))
		for _, pb := range st.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(pb.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(pb.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(pb.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(pb.lastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(pb.maxTs))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadCheckpoint = errors.New("bad checkpoint")

func decodeCheckpoint(b []byte) (*checkpoint, error) {
	if len(b) < checkpointFixed+4 || string(b[:4]) != checkpointMagic {
		return nil, fmt.Errorf("decoding checkpoint: missing magic: %w", errBadCheckpoint)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("decoding checkpoint: crc mismatch: %w", errBadCheckpoint)
	}
	if v := binary.BigEndian.Uint16(body[4:]); v != checkpointVersion {
		return nil, fmt.Errorf("decoding checkpoint: version %d: %w", v, errBadCheckpoint)
	}
	r := body[6:]
	i64 := func() int64 { v := int64(binary.BigEndian.Uint64(r)); r = r[8:]; return v }
	c := &checkpoint{producers: map[int64]*producerState{}}
	c.segBase, c.pos, c.next, c.maxTs, c.maxTsOff, c.logStart, c.cleanerOffset = i64(), i64(), i64(), i64(), i64(), i64(), i64()
	n := binary.BigEndian.Uint32(r)
	r = r[4:]
	for range n {
		if len(r) < 11 {
			return nil, fmt.Errorf("decoding checkpoint: short producer entry: %w", errBadCheckpoint)
		}
		id := i64()
		st := &producerState{epoch: int16(binary.BigEndian.Uint16(r))}
		nb := int(r[2])
		r = r[3:]
		if nb > producerBatchesKept || len(r) < nb*32 {
			return nil, fmt.Errorf("decoding checkpoint: bad producer batches: %w", errBadCheckpoint)
		}
		for range nb {
			pb := producerBatch{firstSeq: int32(binary.BigEndian.Uint32(r)), lastSeq: int32(binary.BigEndian.Uint32(r[4:]))}
			r = r[8:]
			pb.firstOffset, pb.lastOffset, pb.maxTs = i64(), i64(), i64()
			st.batches = append(st.batches, pb)
		}
		c.producers[id] = st
	}
	if len(r) != 0 || c.pos < 0 || c.segBase < 0 || c.next < c.segBase {
		return nil, fmt.Errorf("decoding checkpoint: inconsistent: %w", errBadCheckpoint)
	}
	return c, nil
}

// writeCheckpointFile writes the checkpoint atomically: temp file,
// fdatasync, rename, directory fsync.
func writeCheckpointFile(fs fsutil.FS, dir string, c *checkpoint) error {
	err := fsutil.WriteFileAtomicFS(fs, filepath.Join(dir, checkpointName), encodeCheckpoint(c), 0o644)
	return storageErr("writing checkpoint", err)
}

func readCheckpointFile(fs fsutil.FS, dir string) (*checkpoint, error) {
	b, err := readWhole(fs, filepath.Join(dir, checkpointName))
	if err != nil {
		return nil, err
	}
	return decodeCheckpoint(b)
}
