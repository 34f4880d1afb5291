package commitlog

import (
	"fmt"
	"time"
)

// Maintain rolls the active segment by segment.ms, flushes by flush.ms,
// applies retention and runs compaction when due. The topic registry's
// janitor calls it periodically; compaction runs here, on the caller's
// goroutine, without holding the log's lock while it reads and rewrites.
func (l *Log) Maintain(now time.Time) error {
	l.maintMu.Lock()
	defer l.maintMu.Unlock()
	cfg := l.cfg.Load()

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	nowMs := now.UnixMilli()
	active := l.segs[len(l.segs)-1]
	var err error
	if active.size > 0 && active.rollAtMs >= 0 && nowMs-active.rollAtMs >= cfg.SegmentMs.Milliseconds() {
		err = l.roll()
	}
	flushDue := cfg.FlushMs > 0 && now.Sub(l.lastFlush) >= cfg.FlushMs && l.unflushedMsgs > 0
	flushDue = flushDue || l.checkpointDue()
	l.expireProducers(nowMs)
	var removed []*segment
	if err == nil && cfg.deletePolicy() {
		removed, err = l.applyRetention(cfg, nowMs)
	}
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("maintaining log %s: %w", l.dir, err)
	}
	if flushDue || len(removed) > 0 {
		if err := l.Flush(); err != nil {
			return fmt.Errorf("maintaining log %s: %w", l.dir, err)
		}
	}
	if cfg.compact() {
		if err := l.compact(cfg, now); err != nil {
			return fmt.Errorf("compacting log %s: %w", l.dir, err)
		}
	}
	return nil
}

// applyRetention drops whole segments past retention.ms or
// retention.bytes from the front of the log. When every batch of the active
// segment is past retention.ms it is rolled first, as Kafka does. Caller
// holds mu for writing.
func (l *Log) applyRetention(cfg *Config, nowMs int64) ([]*segment, error) {
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	expired := func(s *segment) bool {
		return cfg.RetentionMs >= 0 && s.size > 0 && s.maxTs >= 0 && nowMs-s.maxTs > cfg.RetentionMs.Milliseconds()
	}
	n := 0
	for n < len(l.segs) {
		s := l.segs[n]
		bySize := cfg.RetentionBytes >= 0 && total-s.size >= cfg.RetentionBytes && n < len(l.segs)-1
		emptied := s.size == 0 && n < len(l.segs)-1 // compaction emptied it
		if !expired(s) && !bySize && !emptied {
			break
		}
		if n == len(l.segs)-1 {
			if err := l.roll(); err != nil {
				return nil, err
			}
		}
		total -= s.size
		n++
	}
	if n == 0 {
		return nil, nil
	}
	return l.dropFront(n)
}

// dropFront removes the first n segments (never the active one) and moves
// the log start offset to the next segment's base. Caller holds mu.
func (l *Log) dropFront(n int) ([]*segment, error) {
	if n >= len(l.segs) {
		n = len(l.segs) - 1
	}
	removed := append([]*segment(nil), l.segs[:n]...)
	l.segs = append(l.segs[:0:0], l.segs[n:]...)
	if b := l.segs[0].base; b > l.logStart.Load() {
		l.logStart.Store(b)
	}
	var firstErr error
	for _, s := range removed {
		s.removed = true
		if err := s.removeFiles(); err != nil && firstErr == nil {
			firstErr = err
		}
		s.release()
	}
	return removed, firstErr
}

// DeleteRecords moves the log start offset to before (LogEndOffset when
// -1) and removes the segments wholly below it.
func (l *Log) DeleteRecords(before int64) (int64, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return -1, ErrClosed
	}
	end := l.next.Load()
	if before == -1 {
		before = end
	}
	if before < 0 || before > end {
		l.mu.Unlock()
		return -1, fmt.Errorf("deleting records before %d of log ending at %d: %w", before, end, ErrOffsetOutOfRange)
	}
	if before <= l.logStart.Load() {
		s := l.logStart.Load()
		l.mu.Unlock()
		return s, nil
	}
	l.logStart.Store(before)
	n := 0
	for n < len(l.segs)-1 && l.segs[n+1].base <= before {
		n++
	}
	var err error
	if n > 0 {
		_, err = l.dropFront(n)
	}
	l.mu.Unlock()
	if err != nil {
		return before, err
	}
	// Persist the new log start offset.
	return before, l.Flush()
}

// checkpointInterval bounds how much of the log a crash makes Open rescan:
// Maintain writes a recovery checkpoint when this much time has passed
// since the last one and offsets were appended meanwhile.
const checkpointInterval = 30 * time.Second

// checkpointDue reports whether Maintain should write a checkpoint. Caller
// holds mu.
func (l *Log) checkpointDue() bool {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	return l.next.Load() > l.lastCkptNext && l.clock().Sub(l.lastCkptAt) >= checkpointInterval
}

// producerExpiry is Kafka's producer.id.expiration.ms default: a producer
// whose last batch is older than this is forgotten, as Kafka does.
const producerExpiry = 24 * time.Hour

// expireProducers drops idempotent-producer state whose newest batch
// timestamp is older than producerExpiry. Caller holds mu for writing.
func (l *Log) expireProducers(nowMs int64) {
	for id, st := range l.producers {
		if n := len(st.batches); n > 0 && nowMs-st.batches[n-1].maxTs >= producerExpiry.Milliseconds() {
			delete(l.producers, id)
		}
	}
}
