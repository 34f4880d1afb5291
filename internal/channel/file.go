package channel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/fsutil"
)

// File channel config keys (Flume's names).
const (
	FileCheckpointDir        = "checkpointDir"
	FileDataDirs             = "dataDirs"
	FileCapacity             = "capacity"
	FileTransactionCapacity  = "transactionCapacity"
	FileCheckpointInterval   = "checkpointInterval"
	FileMaxFileSize          = "maxFileSize"
	FileMinimumRequiredSpace = "minimumRequiredSpace"
	FileKeepAlive            = "keep-alive"
)

// FileSpec documents the file channel.
var FileSpec = flow.Spec{
	Names:   []string{"file", "org.apache.flume.channel.file.FileChannel"},
	Summary: "durable channel: a write-ahead log fsynced at every commit and replayed on start; committed events survive kill -9 and power loss",
	Keys: []flow.Key{
		{Name: FileCheckpointDir, Default: "~/.flume/file-channel/checkpoint", Doc: "directory of the checkpoint"},
		{Name: FileDataDirs, Default: "~/.flume/file-channel/data", Doc: "directory of the data files (a comma-separated list is accepted; the first is used)"},
		{Name: FileCapacity, Type: flow.Int, Default: "1000000", Min: 1, Max: 1 << 31, Doc: "most events stored in the channel"},
		{Name: FileTransactionCapacity, Type: flow.Int, Default: "10000", Min: 1, Max: 1 << 31, Doc: "most events one put or take transaction holds"},
		{Name: FileCheckpointInterval, Type: flow.Int, Default: "30000", Min: 100, Max: 1 << 40, Doc: "milliseconds between checkpoints (they bound replay time on start)"},
		{Name: FileMaxFileSize, Type: flow.Int, Default: "2146435071", Min: 4096, Max: 1 << 40, Doc: "largest data file in bytes before a new one is started"},
		{Name: FileMinimumRequiredSpace, Type: flow.Int, Default: "524288000", Min: 0, Max: 1 << 50, Doc: "puts fail when the data directory has less free space (bytes)"},
		{Name: FileKeepAlive, Type: flow.Int, Default: "3", Min: 0, Max: 1 << 31, Doc: "seconds a put waits for room"},
		{Name: "useDualCheckpoints", Type: flow.Bool, Default: "false", NotImplemented: true, Doc: "keep a backup checkpoint (the checkpoint is written atomically instead)"},
		{Name: "backupCheckpointDir", NotImplemented: true, Doc: "backup checkpoint directory"},
		{Name: "use-fast-replay", NotImplemented: true, Doc: "Flume's replay without checkpoint"},
		{Name: "checkpointOnClose", Type: flow.Bool, Default: "true", Doc: "write a checkpoint when the channel closes"},
		{Name: "encryption.*", NotImplemented: true, Doc: "encryption of data files"},
	},
}

func init() {
	flow.RegisterChannel(FileSpec, func(c flow.Config) (flow.Channel, error) {
		capacity, txCap := int(c.Int(FileCapacity)), int(c.Int(FileTransactionCapacity))
		if txCap > capacity {
			return nil, &flow.KeyError{Key: FileTransactionCapacity, Value: c.String(FileTransactionCapacity),
				Problem: fmt.Sprintf("larger than capacity %d", capacity), Fix: "make transactionCapacity at most capacity"}
		}
		dataDir := strings.TrimSpace(strings.Split(c.String(FileDataDirs), ",")[0])
		opts := FileOptions{
			CheckpointDir: expandHome(c.String(FileCheckpointDir)), DataDir: expandHome(dataDir),
			Capacity: capacity, TransactionCapacity: txCap,
			CheckpointInterval: time.Duration(c.Int(FileCheckpointInterval)) * time.Millisecond,
			MaxFileSize:        c.Int(FileMaxFileSize), MinFreeSpace: c.Int(FileMinimumRequiredSpace),
			KeepAlive: time.Duration(c.Int(FileKeepAlive)) * time.Second, CheckpointOnClose: c.Bool("checkpointOnClose"),
			Logger: c.Log(),
		}
		if strings.Contains(c.String(FileDataDirs), ",") {
			c.Log().Warn("file channel uses only the first of its dataDirs", "dataDir", opts.DataDir)
		}
		ch, err := OpenFile(opts)
		if err != nil {
			return nil, &flow.KeyError{Key: FileDataDirs, Value: opts.DataDir, Problem: err.Error(),
				Fix: "give the channel writable checkpointDir and dataDirs of its own (not shared with another channel)"}
		}
		return ch, nil
	})
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, rest)
		}
	}
	return p
}

// FileOptions configure OpenFile.
type FileOptions struct {
	CheckpointDir, DataDir string
	Capacity               int
	TransactionCapacity    int
	CheckpointInterval     time.Duration
	MaxFileSize            int64
	MinFreeSpace           int64
	KeepAlive              time.Duration
	CheckpointOnClose      bool
	Logger                 *slog.Logger
}

// logPos is a position in the data files.
type logPos struct {
	file uint32
	off  int64
}

// ptr locates a committed event's put record.
type ptr struct {
	file uint32
	off  int64
	id   uint64
}

// dataFile is one data file; size is the bytes written so far (updated
// under File.mu, read atomically by committers waiting to fsync).
type dataFile struct {
	f    *os.File
	size atomic.Int64
}

// File is Flume's durable file channel on a write-ahead log: a put
// transaction's records and its commit record are written together and
// fsynced before Commit returns; a take transaction logs take records and
// a commit the same way. Replay on open rebuilds the queue from the last
// checkpoint and the log after it.
type File struct {
	opts FileOptions
	log  *slog.Logger
	lock *os.File // flock on the data dir: one channel per directory

	mu sync.Mutex // guards everything below
	// queue holds committed, untaken events in order (head at qHead).
	queue []ptr
	qHead int
	// used counts committed events plus room reserved by open puts and
	// events held by open takes.
	used      int
	roomFreed chan struct{}
	ready     chan struct{}
	// takes maps an open take transaction to the pointers it holds.
	takes map[*fileTx][]ptr
	// files are the data files by id; refs counts the pointers into each
	// (queued and held by takes).
	files    map[uint32]*dataFile
	refs     map[uint32]int
	activeID uint32
	active   *dataFile
	nextID   uint64
	nextTx   uint64
	closed   bool
	// inflight holds where each commit write that is not yet applied to
	// the queue starts; a checkpoint replays from the earliest of them so
	// it never skips a commit its snapshot does not show.
	inflight map[uint64]logPos
	nextSeq  uint64
	// syncMu serialises fsyncs; syncedTo (guarded by syncMu) is how many
	// bytes of each file are known durable. Lock order: mu before syncMu.
	syncMu   sync.Mutex
	syncedTo map[uint32]int64

	stop chan struct{}
	done chan struct{}
}

// OpenFile opens (replaying) or creates a file channel.
func OpenFile(o FileOptions) (*File, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = 2146435071
	}
	for _, d := range []string{o.CheckpointDir, o.DataDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating file channel directory: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(o.DataDir, "in_use.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the data dir lock: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("data dir %s is in use by another file channel (or process): %w", o.DataDir, err)
	}
	c := &File{opts: o, log: o.Logger, lock: lock, roomFreed: make(chan struct{}), ready: make(chan struct{}),
		takes: map[*fileTx][]ptr{}, files: map[uint32]*dataFile{}, inflight: map[uint64]logPos{}, refs: map[uint32]int{}, syncedTo: map[uint32]int64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	if err := c.replay(); err != nil {
		c.closeFiles()
		lock.Close()
		return nil, err
	}
	if err := c.roll(); err != nil {
		c.closeFiles()
		lock.Close()
		return nil, err
	}
	c.log.Info("file channel open", "dataDir", o.DataDir, "events", len(c.queue)-c.qHead, "replay", time.Since(start).Round(time.Millisecond))
	go c.checkpointLoop()
	return c, nil
}

func dataFileName(dir string, id uint32) string {
	return filepath.Join(dir, fmt.Sprintf("log-%08d", id))
}

// dataFiles lists the ids of the data files, ascending.
func dataFiles(dir string) ([]uint32, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing file channel data dir: %w", err)
	}
	var ids []uint32
	for _, e := range entries {
		if s, ok := strings.CutPrefix(e.Name(), "log-"); ok {
			if n, err := strconv.ParseUint(s, 10, 32); err == nil {
				ids = append(ids, uint32(n))
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// roll fsyncs the active file (if any) and starts a new one. Expects c.mu
// held (or no concurrency, during open).
func (c *File) roll() error {
	if c.active != nil {
		if err := c.syncActive(); err != nil {
			return err
		}
	}
	id := c.activeID + 1
	path := dataFileName(c.opts.DataDir, id)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("creating file channel data file: %w", err)
	}
	if _, err := f.Write(fileHeader()); err != nil {
		f.Close()
		return fmt.Errorf("writing data file header %s: %w", path, err)
	}
	if err := fsutil.SyncDir(c.opts.DataDir); err != nil {
		f.Close()
		return err
	}
	df := &dataFile{f: f}
	df.size.Store(fileHeaderSize)
	c.activeID, c.active = id, df
	c.files[id] = df
	return nil
}

// syncActive fsyncs the active file. Expects c.mu held.
func (c *File) syncActive() error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	if err := unix.Fdatasync(int(c.active.f.Fd())); err != nil {
		return fmt.Errorf("fsyncing file channel data file %s: %w", c.active.f.Name(), err)
	}
	c.syncedTo[c.activeID] = c.active.size.Load()
	return nil
}

// TransactionCapacity implements flow.TransactionCapacitor.
func (c *File) TransactionCapacity() int { return c.opts.TransactionCapacity }

// Len implements flow.Sizer: committed events not taken.
func (c *File) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) - c.qHead
}

// Cap implements flow.Sizer.
func (c *File) Cap() int { return c.opts.Capacity }

// Ready implements flow.Notifier.
func (c *File) Ready() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// Begin implements flow.Channel.
func (c *File) Begin() flow.Transaction { return &fileTx{c: c} }

// Close writes a checkpoint (checkpointOnClose) and closes the files.
func (c *File) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
	var err error
	if c.opts.CheckpointOnClose {
		err = c.checkpoint()
	}
	c.mu.Lock()
	c.closeFiles()
	c.mu.Unlock()
	return errors.Join(err, c.lock.Close())
}

func (c *File) closeFiles() {
	for id, df := range c.files {
		df.f.Close()
		delete(c.files, id)
	}
}

// freeSpaceOK checks minimumRequiredSpace.
func (c *File) freeSpaceOK() error {
	if c.opts.MinFreeSpace <= 0 {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(c.opts.DataDir, &st); err != nil {
		return fmt.Errorf("checking free space of %s: %w", c.opts.DataDir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < c.opts.MinFreeSpace {
		return fmt.Errorf("file channel data dir %s has %d bytes free, less than minimumRequiredSpace %d: %w",
			c.opts.DataDir, free, c.opts.MinFreeSpace, flow.ErrChannelFull)
	}
	return nil
}

// reserve waits for room for one event, up to keep-alive or ctx.
func (c *File) reserve(ctx context.Context) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return errors.New("file channel is closed")
		}
		if c.used < c.opts.Capacity {
			c.used++
			c.mu.Unlock()
			return nil
		}
		freed := c.roomFreed
		c.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(c.opts.KeepAlive)
		}
		select {
		case <-freed:
		case <-timer.C:
			return fmt.Errorf("file channel holds %d events (capacity): %w", c.opts.Capacity, flow.ErrChannelFull)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees n slots. Expects c.mu held.
func (c *File) release(n int) {
	if n == 0 {
		return
	}
	c.used -= n
	close(c.roomFreed)
	c.roomFreed = make(chan struct{})
}

// appendAndSync writes buf to the active file and waits until it is
// durable, sharing fsyncs with concurrent committers. It returns the file
// id and offset buf was written at, and a sequence number the caller must
// pass to c.applied (with c.mu held) once the queue reflects the write —
// on success and on failure. Expects c.mu NOT held.
func (c *File) appendAndSync(buf []byte) (uint32, int64, uint64, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, 0, 0, errors.New("file channel is closed")
	}
	if size := c.active.size.Load(); size+int64(len(buf)) > c.opts.MaxFileSize && size > fileHeaderSize {
		if err := c.roll(); err != nil {
			c.mu.Unlock()
			return 0, 0, 0, err
		}
	}
	id, df := c.activeID, c.active
	off := df.size.Load()
	c.nextSeq++
	seq := c.nextSeq
	c.inflight[seq] = logPos{file: id, off: off}
	n, err := df.f.Write(buf)
	df.size.Add(int64(n))
	if err != nil {
		// Cut the partial write so the file stays a valid log.
		if terr := df.f.Truncate(off); terr == nil {
			df.size.Store(off)
		}
		c.mu.Unlock()
		return 0, 0, seq, fmt.Errorf("writing file channel data file %s: %w", df.f.Name(), err)
	}
	end := off + int64(n)
	c.mu.Unlock()

	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	if c.syncedTo[id] >= end {
		return id, off, seq, nil // a concurrent committer's fsync covered us
	}
	// Everything written so far is covered by this fsync.
	target := df.size.Load()
	if err := unix.Fdatasync(int(df.f.Fd())); err != nil {
		return 0, 0, seq, fmt.Errorf("fsyncing file channel data file %s: %w", df.f.Name(), err)
	}
	if target > c.syncedTo[id] {
		c.syncedTo[id] = target
	}
	return id, off, seq, nil
}

// applied ends what appendAndSync registered. Expects c.mu held.
func (c *File) applied(seq uint64) { delete(c.inflight, seq) }

// readEvent reads the put record at p.
func (c *File) readEvent(p ptr) (flow.Event, error) {
	c.mu.Lock()
	df := c.files[p.file]
	c.mu.Unlock()
	if df == nil {
		return flow.Event{}, fmt.Errorf("file channel: data file %d of event %d is gone", p.file, p.id)
	}
	f := df.f
	var hdr [recHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], p.off); err != nil {
		return flow.Event{}, fmt.Errorf("reading event %d from %s: %w", p.id, f.Name(), err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxRecord {
		return flow.Event{}, fmt.Errorf("reading event %d from %s at %d: %w", p.id, f.Name(), p.off, errTorn)
	}
	buf := make([]byte, recHeaderSize+int(n))
	if _, err := f.ReadAt(buf, p.off); err != nil && !(errors.Is(err, io.EOF) && len(buf) == recHeaderSize+int(n)) {
		return flow.Event{}, fmt.Errorf("reading event %d from %s: %w", p.id, f.Name(), err)
	}
	r, err := decodeRecord(buf)
	if err != nil || r.typ != recPut || r.id != p.id {
		return flow.Event{}, fmt.Errorf("file channel: event %d in %s at %d does not read back (%v)", p.id, f.Name(), p.off, err)
	}
	return decodeEvent(r.body)
}

// fileTx is one put or take transaction.
type fileTx struct {
	c     *File
	tx    uint64
	puts  [][]byte // encoded put payloads (id assigned at commit)
	takes []ptr
	done  bool
}

// Put implements flow.Transaction.
func (t *fileTx) Put(ctx context.Context, e flow.Event) error {
	if len(t.takes) > 0 {
		return errors.New("file channel: Put in a take transaction")
	}
	if len(t.puts) >= t.c.opts.TransactionCapacity {
		return fmt.Errorf("put of %d events: %w", len(t.puts)+1, flow.ErrTransactionFull)
	}
	if err := t.c.freeSpaceOK(); err != nil {
		return err
	}
	if err := t.c.reserve(ctx); err != nil {
		return err
	}
	t.puts = append(t.puts, encodeEvent(nil, e))
	return nil
}

// Take implements flow.Transaction.
func (t *fileTx) Take(context.Context) (flow.Event, bool, error) {
	if len(t.puts) > 0 {
		return flow.Event{}, false, errors.New("file channel: Take in a put transaction")
	}
	if len(t.takes) >= t.c.opts.TransactionCapacity {
		return flow.Event{}, false, fmt.Errorf("take of %d events: %w", len(t.takes)+1, flow.ErrTransactionFull)
	}
	c := t.c
	c.mu.Lock()
	if c.qHead == len(c.queue) {
		c.mu.Unlock()
		return flow.Event{}, false, nil
	}
	p := c.queue[c.qHead]
	c.queue[c.qHead] = ptr{}
	c.qHead++
	if c.qHead > 1024 && c.qHead*2 > len(c.queue) {
		c.queue = append([]ptr(nil), c.queue[c.qHead:]...)
		c.qHead = 0
	}
	t.takes = append(t.takes, p)
	c.takes[t] = t.takes
	c.mu.Unlock()
	e, err := c.readEvent(p)
	if err != nil {
		return flow.Event{}, false, err
	}
	return e, true, nil
}

// Commit implements flow.Transaction.
func (t *fileTx) Commit() error {
	if t.done {
		return errors.New("file channel: transaction already ended")
	}
	t.done = true
	c := t.c
	switch {
	case len(t.puts) > 0:
		c.mu.Lock()
		c.nextTx++
		tx := c.nextTx
		firstID := c.nextID + 1
		c.nextID += uint64(len(t.puts))
		c.mu.Unlock()
		var buf []byte
		offs := make([]int, len(t.puts))
		for i, p := range t.puts {
			offs[i] = len(buf)
			payload := binary.BigEndian.AppendUint64(nil, firstID+uint64(i))
			buf = appendRecord(buf, recPut, tx, append(payload, p...))
		}
		buf = appendRecord(buf, recCommit, tx, nil)
		file, off, seq, err := c.appendAndSync(buf)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.applied(seq)
		if err != nil {
			c.release(len(t.puts))
			return fmt.Errorf("committing %d puts: %w", len(t.puts), err)
		}
		for i := range t.puts {
			c.queue = append(c.queue, ptr{file: file, off: off + int64(offs[i]), id: firstID + uint64(i)})
		}
		c.refs[file] += len(t.puts)
		close(c.ready)
		c.ready = make(chan struct{})
		return nil
	case len(t.takes) > 0:
		c.mu.Lock()
		c.nextTx++
		tx := c.nextTx
		c.mu.Unlock()
		var buf []byte
		for _, p := range t.takes {
			buf = appendRecord(buf, recTake, tx, binary.BigEndian.AppendUint64(nil, p.id))
		}
		buf = appendRecord(buf, recCommit, tx, nil)
		_, _, seq, err := c.appendAndSync(buf)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.applied(seq)
		delete(c.takes, t)
		if err != nil {
			c.unTake(t.takes)
			return fmt.Errorf("committing %d takes (events returned to the channel): %w", len(t.takes), err)
		}
		for _, p := range t.takes {
			c.refs[p.file]--
		}
		c.release(len(t.takes))
		return nil
	}
	return nil
}

// unTake puts taken pointers back at the head, in order. Expects c.mu held.
func (c *File) unTake(ps []ptr) {
	if c.qHead >= len(ps) {
		c.qHead -= len(ps)
		copy(c.queue[c.qHead:], ps)
	} else {
		c.queue = append(append([]ptr(nil), ps...), c.queue[c.qHead:]...)
		c.qHead = 0
	}
	close(c.ready)
	c.ready = make(chan struct{})
}

// Rollback implements flow.Transaction.
func (t *fileTx) Rollback() error {
	if t.done {
		return errors.New("file channel: transaction already ended")
	}
	t.done = true
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(t.puts) > 0 {
		c.release(len(t.puts))
	}
	if len(t.takes) > 0 {
		delete(c.takes, t)
		c.unTake(t.takes)
	}
	return nil
}
