package channel

// Checkpoints and replay of the file channel.
//
// checkpointDir/checkpoint, replaced atomically (temp file, fsync, rename,
// directory fsync):
//
//	magic "RNCK", version u16, reserved u16, crc u32 (CRC-32C of the rest)
//	log file u32, log offset u64   replay starts here
//	next event id u64, next tx u64
//	count u32, then count × (file u32, offset u64, event id u64)
//
// The listed events are those committed and not taken (events held by open
// take transactions included, at the head) when the checkpoint was cut.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/runnel/runnel/internal/fsutil"
)

const (
	ckptMagic   = "RNCK"
	ckptVersion = 1
	ckptName    = "checkpoint"
)

type checkpointData struct {
	file           uint32
	off            int64
	nextID, nextTx uint64
	queue          []ptr
}

func encodeCheckpoint(d checkpointData) []byte {
	b := make([]byte, 12, 12+28+len(d.queue)*20)
	copy(b, ckptMagic)
	binary.BigEndian.PutUint16(b[4:], ckptVersion)
	b = binary.BigEndian.AppendUint32(b, d.file)
	b = binary.BigEndian.AppendUint64(b, uint64(d.off))
	b = binary.BigEndian.AppendUint64(b, d.nextID)
	b = binary.BigEndian.AppendUint64(b, d.nextTx)
	b = binary.BigEndian.AppendUint32(b, uint32(len(d.queue)))
	for _, p := range d.queue {
		b = binary.BigEndian.AppendUint32(b, p.file)
		b = binary.BigEndian.AppendUint64(b, uint64(p.off))
		b = binary.BigEndian.AppendUint64(b, p.id)
	}
	binary.BigEndian.PutUint32(b[8:], crc32.Checksum(b[12:], crcTable))
	return b
}

func decodeCheckpoint(b []byte) (checkpointData, error) {
	var d checkpointData
	if len(b) < 12+32 || string(b[:4]) != ckptMagic {
		return d, errors.New("not a file channel checkpoint")
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != ckptVersion {
		return d, fmt.Errorf("checkpoint version %d, this runnel reads %d", v, ckptVersion)
	}
	if crc32.Checksum(b[12:], crcTable) != binary.BigEndian.Uint32(b[8:]) {
		return d, errors.New("checkpoint fails its CRC")
	}
	r := b[12:]
	d.file = binary.BigEndian.Uint32(r)
	d.off = int64(binary.BigEndian.Uint64(r[4:]))
	d.nextID = binary.BigEndian.Uint64(r[12:])
	d.nextTx = binary.BigEndian.Uint64(r[20:])
	n := binary.BigEndian.Uint32(r[28:])
	r = r[32:]
	if uint64(len(r)) != uint64(n)*20 {
		return d, errors.New("checkpoint length does not match its event count")
	}
	d.queue = make([]ptr, n)
	for i := range d.queue {
		d.queue[i] = ptr{file: binary.BigEndian.Uint32(r), off: int64(binary.BigEndian.Uint64(r[4:])), id: binary.BigEndian.Uint64(r[12:])}
		r = r[20:]
	}
	return d, nil
}

// checkpoint cuts a checkpoint and deletes data files nothing needs.
func (c *File) checkpoint() error {
	c.mu.Lock()
	if c.active == nil {
		c.mu.Unlock()
		return nil
	}
	if err := c.syncActive(); err != nil {
		c.mu.Unlock()
		return err
	}
	d := checkpointData{file: c.activeID, off: c.active.size.Load(), nextID: c.nextID, nextTx: c.nextTx}
	for _, p := range c.inflight {
		if p.file < d.file || p.file == d.file && p.off < d.off {
			d.file, d.off = p.file, p.off
		}
	}
	var held []ptr
	for _, ps := range c.takes {
		held = append(held, ps...)
	}
	sort.Slice(held, func(i, j int) bool { return held[i].id < held[j].id })
	d.queue = append(held, c.queue[c.qHead:]...)
	c.mu.Unlock()

	if err := fsutil.WriteFileAtomic(filepath.Join(c.opts.CheckpointDir, ckptName), encodeCheckpoint(d), 0o644); err != nil {
		return fmt.Errorf("writing file channel checkpoint: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, df := range c.files {
		if id < d.file && c.refs[id] <= 0 {
			df.f.Close()
			delete(c.files, id)
			delete(c.refs, id)
			if err := os.Remove(dataFileName(c.opts.DataDir, id)); err != nil {
				c.log.Warn("removing a drained data file", "file", id, "err", err)
			}
		}
	}
	return nil
}

func (c *File) checkpointLoop() {
	defer close(c.done)
	if c.opts.CheckpointInterval <= 0 {
		<-c.stop
		return
	}
	t := time.NewTicker(c.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.checkpoint(); err != nil {
				c.log.Error("file channel checkpoint failed; replay on the next start will be longer", "err", err)
			}
		}
	}
}

// replay rebuilds the channel from the checkpoint and the data files.
// Called by OpenFile before anything else runs.
func (c *File) replay() error {
	ids, err := dataFiles(c.opts.DataDir)
	if err != nil {
		return err
	}
	var d checkpointData
	ckptPath := filepath.Join(c.opts.CheckpointDir, ckptName)
	data, err := os.ReadFile(ckptPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if len(ids) > 0 {
			d.file, d.off = ids[0], fileHeaderSize
		}
	case err != nil:
		return fmt.Errorf("reading file channel checkpoint: %w", err)
	default:
		if d, err = decodeCheckpoint(data); err != nil {
			return fmt.Errorf("file channel checkpoint %s: %w (move the checkpoint away to replay every data file)", ckptPath, err)
		}
	}
	order := d.queue
	alive := make(map[uint64]bool, len(order))
	for _, p := range order {
		alive[p.id] = true
	}
	c.nextID, c.nextTx = d.nextID, d.nextTx
	puts := map[uint64][]ptr{}
	takes := map[uint64][]uint64{}
	for i, id := range ids {
		if id < d.file {
			continue
		}
		start := int64(fileHeaderSize)
		if id == d.file {
			start = d.off
		}
		last := i == len(ids)-1
		err := c.replayFile(id, start, last, func(r record, off int64) {
			switch r.typ {
			case recPut:
				puts[r.tx] = append(puts[r.tx], ptr{file: id, off: off, id: r.id})
				c.nextID = max(c.nextID, r.id)
			case recTake:
				takes[r.tx] = append(takes[r.tx], r.id)
			case recCommit:
				for _, p := range puts[r.tx] {
					order = append(order, p)
					alive[p.id] = true
				}
				for _, t := range takes[r.tx] {
					delete(alive, t)
				}
				delete(puts, r.tx)
				delete(takes, r.tx)
			}
			c.nextTx = max(c.nextTx, r.tx)
		})
		if err != nil {
			return err
		}
	}
	for _, p := range order {
		if alive[p.id] {
			c.queue = append(c.queue, p)
			c.refs[p.file]++
			delete(alive, p.id) // a put replayed twice is queued once
		}
	}
	if len(c.queue) > c.opts.Capacity {
		c.log.Warn("file channel holds more events than its capacity (capacity was lowered); puts wait until it drains",
			"events", len(c.queue), "capacity", c.opts.Capacity)
	}
	c.used = len(c.queue)
	for _, id := range ids {
		if id < d.file && c.refs[id] == 0 {
			if err := os.Remove(dataFileName(c.opts.DataDir, id)); err != nil {
				return fmt.Errorf("removing drained data file: %w", err)
			}
			continue
		}
		f, err := os.OpenFile(dataFileName(c.opts.DataDir, id), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("opening file channel data file: %w", err)
		}
		df := &dataFile{f: f}
		if st, err := f.Stat(); err == nil {
			df.size.Store(st.Size())
		}
		c.files[id] = df
		c.activeID = max(c.activeID, id)
	}
	for id := range c.refs {
		if c.files[id] == nil {
			return fmt.Errorf("file channel: the checkpoint needs data file %s, which is missing", dataFileName(c.opts.DataDir, id))
		}
	}
	return nil
}

// replayFile reads file id's records from start, calling fn for each. In
// the last file a torn or corrupt record ends the log: the file is cut
// there. Elsewhere it is an error.
func (c *File) replayFile(id uint32, start int64, last bool, fn func(record, int64)) error {
	path := dataFileName(c.opts.DataDir, id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening file channel data file for replay: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, fileHeaderSize)
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr[:4]) != fileMagic {
		if last {
			// Created but its header never made it to disk.
			c.log.Warn("file channel: data file without a valid header; removing it", "file", path)
			f.Close()
			return os.Remove(path)
		}
		return fmt.Errorf("file channel data file %s has no valid header", path)
	}
	if v := binary.BigEndian.Uint16(hdr[4:]); v != fileVersion {
		return fmt.Errorf("file channel data file %s has version %d; this runnel reads %d", path, v, fileVersion)
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("seeking in %s: %w", path, err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	off := start
	for {
		var rh [recHeaderSize]byte
		n, err := io.ReadFull(br, rh[:])
		if n == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		var rec record
		if err == nil {
			size := binary.BigEndian.Uint32(rh[:])
			if size <= maxRecord {
				buf := make([]byte, recHeaderSize+int(size))
				copy(buf, rh[:])
				if _, err = io.ReadFull(br, buf[recHeaderSize:]); err == nil {
					rec, err = decodeRecord(buf)
				}
			} else {
				err = errTorn
			}
		}
		if err != nil {
			if !last {
				return fmt.Errorf("file channel data file %s: bad record at offset %d: %v", path, off, err)
			}
			c.log.Warn("file channel: cutting a torn tail from the last data file", "file", path, "offset", off)
			if err := f.Truncate(off); err != nil {
				return fmt.Errorf("cutting torn tail of %s: %w", path, err)
			}
			return f.Sync()
		}
		fn(rec, off)
		off += int64(rec.size)
	}
}
