// Package commitlog is the partition log: durable, segmented storage of
// Kafka v2 record batches for one topic partition. It knows the record-batch
// format but nothing of the Kafka protocol. docs/format/segment.md is the
// full description of every file; this comment is the summary.
//
// # Directory layout (frozen; Kafka's)
//
//	<topic>-<partition>/
//	  00000000000000000000.log        record batches, byte for byte as produced
//	  00000000000000000000.index      sparse offset index
//	  00000000000000000000.timeindex  sparse time index
//	  00000000000000001234.log        next segment: base offset 1234
//	  ...
//	  runnel.checkpoint               recovery checkpoint (ours)
//
// Segment files are named by their base offset, 20 digits, zero padded.
// Leftover *.cleaned (interrupted compaction) and *.tmp (interrupted
// checkpoint write) files are deleted on open.
//
// # .log: concatenated v2 record batches (big endian)
//
//	off len field
//	 0   8  baseOffset            assigned by Append (outside the CRC)
//	 8   4  batchLength           bytes after this field
//	12   4  partitionLeaderEpoch  set to 0 by Append (outside the CRC)
//	16   1  magic                 2
//	17   4  crc                   CRC-32C of bytes 21..end
//	21   2  attributes            bits 0-2 codec, 3 LogAppendTime, 4 transactional, 5 control
//	23   4  lastOffsetDelta
//	27   8  firstTimestamp
//	35   8  maxTimestamp          rewritten (with bit 3 and the crc) for LogAppendTime
//	43   8  producerId
//	51   2  producerEpoch
//	53   4  baseSequence
//	57   4  recordCount
//	61   .. records (compressed as a whole when codec != 0)
//
// Compacted segments keep each batch's baseOffset and lastOffsetDelta but
// may hold fewer records (offset gaps); rewritten batches are uncompressed.
//
// # .index: 8-byte entries (big endian), one about every index.interval.bytes
//
//	0 4 relativeOffset  base offset of the batch minus the segment's base offset
//	4 4 position        file position of that batch in the .log
//
// # .timeindex: 12-byte entries, paired one to one with .index entries
//
//	0 8 timestamp       largest timestamp in the segment up to and including that batch
//	8 4 relativeOffset  offset (minus base) where that timestamp was seen
//
// # runnel.checkpoint (version 1)
//
//	0  4 magic "RNLC"
//	4  2 version 1
//	6  8 segmentBase   segment holding the recovery point
//	14 8 position      bytes of that segment before it are fdatasync'ed
//	22 8 nextOffset    log end offset at the recovery point
//	30 8 maxTimestamp  log-wide, -1 when none
//	38 8 maxTimestampOffset
//	46 8 logStartOffset
//	54 8 cleanerOffset offsets below it have been compacted
//	62 4 producerCount, then per producer:
//	     8 producerId, 2 epoch, 1 batchCount (<= 5), then per batch:
//	     4 firstSeq, 4 lastSeq, 8 firstOffset, 8 lastOffset, 8 maxTimestamp
//	.. 4 CRC-32C of everything before
//
// # Durability and recovery
//
// Append writes with write(2) under the log lock. A durable append then
// waits for an fdatasync covering its bytes: the first waiter to take the
// sync lock syncs everything written so far, and the waiters queued behind
// it find their offsets already durable (group commit). Rolling a segment
// syncs it and its indexes and writes a checkpoint, so every segment below
// the checkpoint's segment is complete on disk. Open trusts those segments
// (reading only their index files and the batch headers after the last
// index entry) and validates every batch after the checkpoint position:
// length, magic, CRC-32C, offsets continuing exactly; the first failure
// cuts the segment there and drops later segments. Indexes of rescanned
// segments are rebuilt. Without a usable checkpoint every segment is
// rescanned.
//
// # A failed fdatasync
//
// Linux may drop dirty pages whose writeback failed and report the error
// only once, so after a failed fdatasync nothing written since the last
// successful one may be called durable. The log then rolls back (as does a
// failed sync while rolling a segment or in Flush): it truncates the
// active segment to the last synced position and rewinds the log end
// offset, index entries, max timestamp and producer state (rebuilt from
// the checkpoint and the batches after it) to that point. Every append
// waiting on the failed sync, and every durable append whose bytes were
// cut, fails with ErrStorage, so an idempotent retry is appended again,
// never answered as a Duplicate of bytes that may not be on disk. If the
// truncate fails too, the log stays failed (Append, Flush and Read return
// ErrStorage) and each Append or Flush retries the rollback, so appends
// work again once the disk recovers (ENOSPC: when space returns).
//
// Rolled back are also non-durable (acks=0/1) appends written after the
// last sync: they were acknowledged without a durability promise and are
// lost; the producer's next sequence then gets ErrOutOfOrderSequence, as
// from Kafka after losing an unreplicated tail. Readers may already have
// fetched rolled-back records (Read serves up to the log end offset, not
// only synced bytes): their next fetch past the new end gets
// ErrOffsetOutOfRange, and the offsets are reused by later appends, as
// after a Kafka unclean leader election. A Slice opened on cut bytes
// reads short: AppendTo fails with ErrStorage, WriteTo returns an error
// (sendfile) or fewer than Len bytes (plain copy), or, if appends after
// the rollback refilled those positions, the new bytes (Fetch holds a
// Slice only while sending one response, so that window is short).
//
// # Locks
//
// Log lock order: maintMu, syncMu, mu, ckptMu, then a segment's idxMu
// (which guards its index files). Reads take mu for reading
// only while they locate bytes; Slices hold a segment reference instead,
// so retention and compaction unlink files without waiting for readers.
package commitlog
