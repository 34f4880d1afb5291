package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/pathfmt"
	"github.com/runnel/runnel/internal/seqfile"
)

// HDFS sink config keys (Flume's names).
const (
	HDFSPath              = "hdfs.path"
	HDFSFilePrefix        = "hdfs.filePrefix"
	HDFSFileSuffix        = "hdfs.fileSuffix"
	HDFSInUsePrefix       = "hdfs.inUsePrefix"
	HDFSInUseSuffix       = "hdfs.inUseSuffix"
	HDFSEmptyInUseSuffix  = "hdfs.emptyInUseSuffix"
	HDFSRollInterval      = "hdfs.rollInterval"
	HDFSRollSize          = "hdfs.rollSize"
	HDFSRollCount         = "hdfs.rollCount"
	HDFSIdleTimeout       = "hdfs.idleTimeout"
	HDFSBatchSize         = "hdfs.batchSize"
	HDFSCodec             = "hdfs.codeC"
	HDFSFileType          = "hdfs.fileType"
	HDFSMaxOpenFiles      = "hdfs.maxOpenFiles"
	HDFSWriteFormat       = "hdfs.writeFormat"
	HDFSRound             = "hdfs.round"
	HDFSRoundValue        = "hdfs.roundValue"
	HDFSRoundUnit         = "hdfs.roundUnit"
	HDFSTimeZone          = "hdfs.timeZone"
	HDFSUseLocalTimeStamp = "hdfs.useLocalTimeStamp"
	HDFSCloseTries        = "hdfs.closeTries"
	HDFSRetryInterval     = "hdfs.retryInterval"
	HDFSCallTimeout       = "hdfs.callTimeout"
	HDFSSerializer        = "serializer"
	HDFSAppendNewline     = "serializer.appendNewline"
)

// HDFSSpec documents the hdfs sink.
var HDFSSpec = flow.Spec{
	Names:   []string{"hdfs", "org.apache.flume.sink.hdfs.HDFSEventSink"},
	Summary: "writes events into time- and header-bucketed files as Flume's HDFS sink does, on a local or mounted path",
	Keys: []flow.Key{
		{Name: HDFSPath, Required: true, Doc: "directory, with escapes such as %Y-%m-%d or %{host}; a local path or file:///...; hdfs:// is refused"},
		{Name: HDFSFilePrefix, Default: "FlumeData", Doc: "file name before the counter (escapes allowed)"},
		{Name: HDFSFileSuffix, Doc: "file name after the counter, e.g. .avro (default: the codec's extension)"},
		{Name: HDFSInUsePrefix, Doc: "prefix of a file while it is written"},
		{Name: HDFSInUseSuffix, Default: ".tmp", Doc: "suffix of a file while it is written"},
		{Name: HDFSEmptyInUseSuffix, Type: flow.Bool, Default: "false", Doc: "write without the in-use suffix"},
		{Name: HDFSRollInterval, Type: flow.Int, Default: "30", Min: 0, Max: 1 << 31, Doc: "seconds before a file is closed; 0 never"},
		{Name: HDFSRollSize, Type: flow.Int, Default: "1024", Min: 0, Max: 1 << 62, Doc: "bytes written before a file is closed; 0 never"},
		{Name: HDFSRollCount, Type: flow.Int, Default: "10", Min: 0, Max: 1 << 62, Doc: "events written before a file is closed; 0 never"},
		{Name: HDFSIdleTimeout, Type: flow.Int, Default: "0", Min: 0, Max: 1 << 31, Doc: "seconds without writes before a file is closed; 0 never"},
		{Name: HDFSBatchSize, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "events per transaction, fsynced together"},
		{Name: HDFSCodec, Doc: "compression codec of CompressedStream or a block-compressed SequenceFile: gzip, snappy or default (zlib); bzip2, lzo, lzop are refused"},
		{Name: HDFSFileType, Default: "SequenceFile", Doc: "SequenceFile, DataStream or CompressedStream"},
		{Name: HDFSMaxOpenFiles, Type: flow.Int, Default: "5000", Min: 1, Max: 1 << 30, Doc: "most open bucket files; the least recently used is closed"},
		{Name: HDFSWriteFormat, Default: "Writable", Doc: "SequenceFile value class: Writable (BytesWritable) or Text"},
		{Name: HDFSRound, Type: flow.Bool, Default: "false", Doc: "round the event time down for the path's time escapes"},
		{Name: HDFSRoundValue, Type: flow.Int, Default: "1", Min: 1, Max: 60, Doc: "round down to a multiple of this many units"},
		{Name: HDFSRoundUnit, Default: "second", Doc: "second, minute or hour"},
		{Name: HDFSTimeZone, Doc: "time zone of the path's time escapes, e.g. America/Los_Angeles (default: local time)"},
		{Name: HDFSUseLocalTimeStamp, Type: flow.Bool, Default: "false", Doc: "use the sink's clock instead of the event's timestamp header"},
		{Name: HDFSCloseTries, Type: flow.Int, Default: "0", Min: 0, Max: 1 << 31, Doc: "times a failed close/rename is tried; 0 tries until it works"},
		{Name: HDFSRetryInterval, Type: flow.Int, Default: "180", Min: 0, Max: 1 << 31, Doc: "seconds between close/rename tries"},
		{Name: HDFSCallTimeout, Type: flow.Int, Default: "30000", Min: 0, Max: 1 << 31, NotImplemented: true, Doc: "milliseconds allowed per HDFS call (local file calls cannot be interrupted)"},
		{Name: HDFSSerializer, Default: "TEXT", Doc: "DataStream/CompressedStream serializer: TEXT or header_and_text"},
		{Name: HDFSAppendNewline, Type: flow.Bool, Default: "true", Doc: "write a newline after every event (DataStream/CompressedStream)"},
		{Name: "hdfs.threadsPoolSize", Type: flow.Int, Default: "10", NotImplemented: true, Doc: "HDFS IO threads (writes here are done by the sink's runner)"},
		{Name: "hdfs.rollTimerPoolSize", Type: flow.Int, Default: "1", NotImplemented: true, Doc: "roll timer threads (one timer goroutine here)"},
		{Name: "hdfs.minBlockReplicas", Type: flow.Int, NotImplemented: true, Doc: "HDFS block replicas (no blocks on a local path)"},
		{Name: "hdfs.kerberosPrincipal", NotImplemented: true, Doc: "Kerberos principal (not used on a local path)"},
		{Name: "hdfs.kerberosKeytab", NotImplemented: true, Doc: "Kerberos keytab (not used on a local path)"},
		{Name: "hdfs.proxyUser", NotImplemented: true, Doc: "HDFS proxy user (not used on a local path)"},
		{Name: "serializer.*", Doc: "serializer options"},
	},
}

func init() {
	flow.RegisterSink(HDFSSpec, func(c flow.Config) (flow.Sink, error) { return NewHDFS(c) })
}

// fileType is hdfs.fileType.
type fileType int

const (
	sequenceFile fileType = iota
	dataStream
	compressedStream
)

// hdfsSettings is the parsed configuration of an HDFS sink.
type hdfsSettings struct {
	root                     string // hdfs.path without file://
	path, prefix             *pathfmt.Template
	suffix                   string // fileSuffix, or the codec's extension
	inUsePrefix, inUseSuffix string
	rollInterval, idle       time.Duration
	rollSize, rollCount      int64
	batch, maxOpen           int
	fileType                 fileType
	textValues               bool           // writeFormat Text
	codec                    *seqfile.Codec // hdfs.codeC; nil: none
	ser                      eventSerializer
	closeTries               int
	retryInterval            time.Duration
}

func parseHDFS(c flow.Config) (hdfsSettings, error) {
	var s hdfsSettings
	raw := c.String(HDFSPath)
	switch {
	case strings.HasPrefix(strings.ToLower(raw), "file://"):
		raw = raw[len("file://"):]
	case strings.HasPrefix(strings.ToLower(raw), "file:"):
		raw = raw[len("file:"):]
	case strings.Contains(raw, "://"):
		return s, &flow.KeyError{Key: HDFSPath, Value: raw, Problem: "runnel writes to a local or mounted filesystem, not to a remote HDFS cluster",
			Fix: "mount the target (e.g. the HDFS NFS gateway or a FUSE mount) and give its local path, such as /mnt/hdfs/flume/events or file:///mnt/hdfs/flume/events"}
	}
	if raw == "" {
		return s, &flow.KeyError{Key: HDFSPath, Value: c.String(HDFSPath), Problem: "no directory after file://", Fix: "give an absolute path such as file:///data/flume"}
	}
	s.root = raw
	opts := pathfmt.Options{UseLocalTimeStamp: c.Bool(HDFSUseLocalTimeStamp)}
	loc, err := pathfmt.LoadLocation(c.String(HDFSTimeZone))
	if err != nil {
		return s, &flow.KeyError{Key: HDFSTimeZone, Value: c.String(HDFSTimeZone), Problem: err.Error(), Fix: "use an IANA zone name such as UTC or America/Los_Angeles"}
	}
	opts.Location = loc
	if c.Bool(HDFSRound) {
		rv := int(c.Int(HDFSRoundValue))
		switch u := strings.ToLower(c.String(HDFSRoundUnit)); u {
		case "second", "minute":
			opts.RoundUnit = map[string]time.Duration{"second": time.Second, "minute": time.Minute}[u]
		case "hour":
			opts.RoundUnit = time.Hour
			if rv > 24 {
				return s, &flow.KeyError{Key: HDFSRoundValue, Value: c.String(HDFSRoundValue), Problem: "more than 24 hours", Fix: "set it between 1 and 24 with roundUnit hour"}
			}
		default:
			return s, &flow.KeyError{Key: HDFSRoundUnit, Value: c.String(HDFSRoundUnit), Problem: "unknown unit", Fix: "use second, minute or hour"}
		}
		opts.RoundValue = rv
	}
	if s.path, err = pathfmt.Parse(raw, opts); err != nil {
		return s, &flow.KeyError{Key: HDFSPath, Value: raw, Problem: err.Error(), Fix: "use %[localhost], %[IP] or %[FQDN]"}
	}
	if s.prefix, err = pathfmt.Parse(c.String(HDFSFilePrefix), opts); err != nil {
		return s, &flow.KeyError{Key: HDFSFilePrefix, Value: c.String(HDFSFilePrefix), Problem: err.Error(), Fix: "use %[localhost], %[IP] or %[FQDN]"}
	}
	s.inUsePrefix = c.String(HDFSInUsePrefix)
	s.inUseSuffix = c.String(HDFSInUseSuffix)
	if c.Bool(HDFSEmptyInUseSuffix) {
		s.inUseSuffix = ""
	}
	s.rollInterval = time.Duration(c.Int(HDFSRollInterval)) * time.Second
	s.idle = time.Duration(c.Int(HDFSIdleTimeout)) * time.Second
	s.rollSize, s.rollCount = c.Int(HDFSRollSize), c.Int(HDFSRollCount)
	s.batch, s.maxOpen = int(c.Int(HDFSBatchSize)), int(c.Int(HDFSMaxOpenFiles))
	s.closeTries = int(c.Int(HDFSCloseTries))
	s.retryInterval = time.Duration(c.Int(HDFSRetryInterval)) * time.Second

	if raw := c.String(HDFSCodec); raw != "" {
		codec, err := hdfsCodec(raw)
		if err != nil {
			return s, err
		}
		s.codec, s.suffix = &codec, codec.Extension
	}
	switch ft := strings.ToLower(c.String(HDFSFileType)); ft {
	case "sequencefile":
		s.fileType = sequenceFile // with a codec: block-compressed, as Flume
	case "datastream":
		s.fileType = dataStream
		if s.codec != nil {
			return s, &flow.KeyError{Key: HDFSCodec, Value: c.String(HDFSCodec), Problem: "fileType DataStream does not compress (as in Flume)",
				Fix: "remove hdfs.codeC, or set hdfs.fileType = CompressedStream"}
		}
	case "compressedstream":
		s.fileType = compressedStream
		if s.codec == nil {
			return s, &flow.KeyError{Key: HDFSCodec, Problem: "fileType CompressedStream needs a codec", Fix: "set hdfs.codeC = gzip, snappy or default"}
		}
	default:
		return s, &flow.KeyError{Key: HDFSFileType, Value: c.String(HDFSFileType), Problem: "unknown file type", Fix: "use SequenceFile, DataStream or CompressedStream"}
	}
	if sfx := c.String(HDFSFileSuffix); sfx != "" {
		s.suffix = sfx
	}
	switch wf := strings.ToLower(c.String(HDFSWriteFormat)); wf {
	case "writable":
	case "text":
		s.textValues = true
	default:
		return s, &flow.KeyError{Key: HDFSWriteFormat, Value: c.String(HDFSWriteFormat), Problem: "unknown write format", Fix: "use Writable or Text"}
	}
	if s.ser, err = newSerializer(HDFSSerializer, c.String(HDFSSerializer), c.Bool(HDFSAppendNewline)); err != nil {
		return s, err
	}
	return s, nil
}

// HDFS is Flume's HDFS sink on a local or mounted filesystem. Events go to
// the bucket named by the expanded hdfs.path and hdfs.filePrefix; each
// bucket has one open file at a time, named
// <path>/<inUsePrefix><filePrefix>.<counter><fileSuffix><inUseSuffix> while
// written and renamed without the in-use parts when closed (the counter
// starts at the bucket's creation time in ms, as in Flume). Every Deliver
// ends with the touched files synced (SequenceFile sync marker, gzip member
// finished) and fdatasynced.
//
// A goroutine owned by the sink, started by the first Deliver and stopped
// by Close, closes files on rollInterval and idleTimeout and retries failed
// renames.
type HDFS struct {
	set  hdfsSettings
	cfg  flow.Config
	now  func() time.Time
	tick time.Duration
	// wrapFile, when set (tests), wraps every file's writer, e.g. to fail
	// writes as a full disk would.
	wrapFile func(io.Writer) io.Writer

	mu       sync.Mutex // guards everything below; Deliver, the timer and Close take it
	started  bool
	closed   bool
	buckets  map[string]*bucketWriter
	pending  []*pendingRename
	stop     chan struct{}
	stopped  chan struct{}
	touchBuf []*bucketWriter
}

// NewHDFS builds an HDFS sink from a validated config.
func NewHDFS(c flow.Config) (*HDFS, error) {
	set, err := parseHDFS(c)
	if err != nil {
		return nil, err
	}
	return &HDFS{set: set, cfg: c, now: time.Now, tick: 250 * time.Millisecond, buckets: map[string]*bucketWriter{}}, nil
}

// BatchSize implements flow.BatchSizer (hdfs.batchSize).
func (s *HDFS) BatchSize() int { return s.set.batch }

// start recovers leftover in-use files and starts the timer. Expects s.mu.
func (s *HDFS) start() {
	s.started = true
	s.recoverInUse()
	s.stop, s.stopped = make(chan struct{}), make(chan struct{})
	go s.timer(s.stop, s.stopped)
}

// Deliver implements flow.Sink. Events whose path cannot be resolved (no
// timestamp header for a time escape) are refused as a *flow.RejectedError
// before anything is written.
func (s *HDFS) Deliver(_ context.Context, batch []flow.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("hdfs sink is closed")
	}
	if !s.started {
		s.start()
	}
	now := s.now()
	keys := make([]string, len(batch))
	dirs := make([]string, len(batch))
	names := make([]string, len(batch))
	var rej []flow.Rejection
	for i, e := range batch {
		dir, err := s.set.path.Expand(e.Headers, now)
		if err == nil {
			names[i], err = s.set.prefix.Expand(e.Headers, now)
		}
		if err != nil {
			rej = append(rej, flow.Rejection{Index: i, Reason: err.Error()})
			continue
		}
		dirs[i] = dir
		keys[i] = dir + "/" + names[i]
	}
	if len(rej) > 0 {
		return &flow.RejectedError{Rejected: rej}
	}
	touched := s.touchBuf[:0]
	// fail drops the unsynced part of every file this batch touched, so the
	// redelivered batch is not written twice.
	fail := func(err error) error {
		s.cfg.Counters.Add("ConnectionFailedCount", 1)
		for _, t := range touched {
			if aerr := s.abort(t); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
		return err
	}
	for i, e := range batch {
		bw := s.bucket(keys[i], dirs[i], names[i], now)
		if !bw.touched {
			bw.touched = true
			touched = append(touched, bw)
		}
		if err := s.append(bw, e, now); err != nil {
			return fail(err)
		}
		if bw.shouldRoll(s.set) {
			if err := s.closeWriter(bw); err != nil {
				return fail(err)
			}
		}
	}
	var err error
	for _, bw := range touched {
		bw.touched = false
		bw.lastUsed = now
		if err == nil && bw.f != nil {
			err = bw.sync()
			if err != nil {
				err = fmt.Errorf("syncing %s: %w", bw.tmpPath, err)
			}
		}
	}
	s.touchBuf = touched[:0]
	if err != nil {
		return fail(err)
	}
	// Compressed formats write their bytes at the sync: check rollSize again.
	for _, bw := range touched {
		if bw.f != nil && bw.shouldRoll(s.set) {
			if err := s.closeWriter(bw); err != nil {
				return err
			}
		}
	}
	return nil
}

// bucket returns the writer of key, making one (and closing the least
// recently used when maxOpenFiles are open). Expects s.mu.
func (s *HDFS) bucket(key, dir, name string, now time.Time) *bucketWriter {
	if bw := s.buckets[key]; bw != nil {
		return bw
	}
	for len(s.buckets) >= s.set.maxOpen {
		var lru *bucketWriter
		for _, b := range s.buckets {
			if !b.touched && (lru == nil || b.lastUsed.Before(lru.lastUsed)) {
				lru = b
			}
		}
		if lru == nil {
			break // every open file is part of this batch
		}
		if err := s.closeWriter(lru); err != nil {
			s.cfg.Log().Warn("closing least recently used hdfs file", "file", lru.tmpPath, "err", err)
		}
		delete(s.buckets, lru.key)
	}
	ctr := now.UnixMilli()
	bw := &bucketWriter{key: key, dir: dir, name: name, counter: ctr, lastUsed: now}
	s.buckets[key] = bw
	return bw
}

// append writes e to bw, opening its next file if none is open. Expects s.mu.
func (s *HDFS) append(bw *bucketWriter, e flow.Event, now time.Time) error {
	if bw.f == nil {
		if err := bw.open(s.set, now, s.wrapFile); err != nil {
			return err
		}
		s.cfg.Counters.Add("ConnectionCreatedCount", 1)
	}
	if err := bw.append(e, now); err != nil {
		return fmt.Errorf("writing to %s: %w", bw.tmpPath, err)
	}
	return nil
}

// closeWriter closes bw's open file and renames it; a failed rename is
// retried by the timer. Expects s.mu.
func (s *HDFS) closeWriter(bw *bucketWriter) error {
	if bw.f == nil {
		return nil
	}
	tmp, final := bw.tmpPath, bw.finalPath
	err := bw.close()
	s.cfg.Counters.Add("ConnectionClosedCount", 1)
	if err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := renameSynced(tmp, final); err != nil {
		s.pending = append(s.pending, &pendingRename{from: tmp, to: final, tries: 1, next: s.now().Add(s.set.retryInterval)})
		s.cfg.Log().Warn("renaming closed hdfs file failed; will retry", "file", tmp, "err", err)
	}
	return nil
}

// abort drops what bw wrote since its last sync and closes its file, so a
// redelivered batch starts clean. Expects s.mu.
func (s *HDFS) abort(bw *bucketWriter) error {
	bw.touched = false
	if bw.f == nil {
		return nil
	}
	tmp, final := bw.tmpPath, bw.finalPath
	keep, err := bw.abort()
	s.cfg.Counters.Add("ConnectionClosedCount", 1)
	if err != nil {
		return err
	}
	if keep {
		return renameSynced(tmp, final)
	}
	return nil
}

type pendingRename struct {
	from, to string
	tries    int
	next     time.Time
}

// timer closes files on rollInterval and idleTimeout and retries renames
// until stop is closed; it closes stopped when it returns.
func (s *HDFS) timer(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.expire()
		}
	}
}

// expire does one timer round.
func (s *HDFS) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for key, bw := range s.buckets {
		idle := s.set.idle > 0 && now.Sub(bw.lastUsed) >= s.set.idle
		roll := s.set.rollInterval > 0 && bw.f != nil && now.Sub(bw.opened) >= s.set.rollInterval
		if !idle && !roll {
			continue
		}
		if err := s.closeWriter(bw); err != nil {
			s.cfg.Log().Warn("closing hdfs file on timer", "file", bw.tmpPath, "err", err)
		}
		if idle {
			delete(s.buckets, key)
		}
	}
	kept := s.pending[:0]
	for _, p := range s.pending {
		if now.Before(p.next) {
			kept = append(kept, p)
			continue
		}
		err := renameSynced(p.from, p.to)
		if err == nil {
			continue
		}
		p.tries++
		if s.set.closeTries > 0 && p.tries >= s.set.closeTries {
			s.cfg.Log().Error("giving up renaming hdfs file", "file", p.from, "tries", p.tries, "err", err)
			continue
		}
		p.next = now.Add(s.set.retryInterval)
		kept = append(kept, p)
	}
	s.pending = kept
}

// Close implements flow.Sink: it stops the timer, then closes and renames
// every open file.
func (s *HDFS) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	stop, stopped := s.stop, s.stopped
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for key, bw := range s.buckets {
		if err := s.closeWriter(bw); err != nil {
			errs = append(errs, err)
		}
		delete(s.buckets, key)
	}
	for _, p := range s.pending {
		if err := renameSynced(p.from, p.to); err != nil {
			errs = append(errs, fmt.Errorf("renaming %s: %w", p.from, err))
		}
	}
	s.pending = nil
	return errors.Join(errs...)
}

// hdfsCodec resolves hdfs.codeC as Flume does: the codec's simple class
// name with or without "Codec", or its class name, any case.
func hdfsCodec(name string) (seqfile.Codec, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.TrimPrefix(n, "org.apache.hadoop.io.compress.")
	n = strings.TrimSuffix(n, "codec")
	switch n {
	case "gzip":
		return seqfile.GzipCodec, nil
	case "snappy":
		return seqfile.SnappyCodec, nil
	case "default":
		return seqfile.DefaultCodec, nil
	case "bzip2":
		return seqfile.Codec{}, &flow.KeyError{Key: HDFSCodec, Value: name, Problem: "bzip2 output is not available: no maintained Go library writes bzip2 (Go's compress/bzip2 only reads)",
			Fix: "use hdfs.codeC = gzip, snappy or default"}
	}
	return seqfile.Codec{}, &flow.KeyError{Key: HDFSCodec, Value: name, Problem: "codec not supported", Fix: "use hdfs.codeC = gzip, snappy or default"}
}
