package group

// storage.go: committed offsets and group metadata as records of the
// compacted __consumer_offsets log, in Kafka's own key/value schemas
// (docs/format/group-offsets.md):
//
//	offset commit:  key OffsetCommitKey v1 (group, topic, partition)
//	                value OffsetCommitValue v3 (offset, leader epoch, metadata, commit time)
//	group metadata: key GroupMetadataKey v2 (group)
//	                value GroupMetadataValue v3 (protocol type, generation, protocol,
//	                leader, state time, members with subscription and assignment)
//
// A null value is a tombstone (offset or group deleted). The latest record
// per key wins, so compaction keeps the state. Records are written in
// uncompressed magic-2 batches without producer id.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Frozen format constants.
const (
	offsetKeyVersion   = 1
	offsetValueVersion = 3
	groupKeyVersion    = 2
	groupValueVersion  = 3
)

type storedRecord struct {
	key   []byte
	value []byte // nil: tombstone
}

func offsetKey(group string, tp topicPartition) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = offsetKeyVersion
	k.Group, k.Topic, k.Partition = group, tp.topic, tp.partition
	return k.AppendTo(nil)
}

func offsetRecord(group string, tp topicPartition, o offset) storedRecord {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.offset, o.leaderEpoch, o.metadata, o.commitTime
	return storedRecord{key: offsetKey(group, tp), value: v.AppendTo(nil)}
}

func offsetTombstone(group string, tp topicPartition) storedRecord {
	return storedRecord{key: offsetKey(group, tp)}
}

func groupKey(name string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = groupKeyVersion
	k.Group = name
	return k.AppendTo(nil)
}

func groupTombstone(name string) storedRecord { return storedRecord{key: groupKey(name)} }

// groupRecord expects c.mu held.
func groupRecord(g *group) storedRecord {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	if g.state == stateStable {
		for _, m := range g.members {
			vm := kmsg.NewGroupMetadataValueMember()
			vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
			vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
			vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
			vm.Subscription = m.metadataFor(g.protocol)
			vm.Assignment = m.assignment
			v.Members = append(v.Members, vm)
		}
	}
	return storedRecord{key: groupKey(g.name), value: v.AppendTo(nil)}
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encodeBatch builds one uncompressed magic-2 record batch.
func encodeBatch(recs []storedRecord, now int64) []byte {
	b := make([]byte, 61, 61+len(recs)*64)
	binary.BigEndian.PutUint64(b[0:], 0)                    // base offset (assigned by the log)
	binary.BigEndian.PutUint32(b[12:], 0xffffffff)          // partition leader epoch
	b[16] = 2                                               // magic
	binary.BigEndian.PutUint16(b[21:], 0)                   // attributes
	binary.BigEndian.PutUint32(b[23:], uint32(len(recs)-1)) // last offset delta
	binary.BigEndian.PutUint64(b[27:], uint64(now))         // first timestamp
	binary.BigEndian.PutUint64(b[35:], uint64(now))         // max timestamp
	binary.BigEndian.PutUint64(b[43:], 0xffffffffffffffff)  // producer id
	binary.BigEndian.PutUint16(b[51:], 0xffff)              // producer epoch
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)          // base sequence
	binary.BigEndian.PutUint32(b[57:], uint32(len(recs)))
	var body []byte
	for i, r := range recs {
		body = body[:0]
		body = append(body, 0)              // attributes
		body = binary.AppendVarint(body, 0) // timestamp delta
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, int64(len(r.key)))
		body = append(body, r.key...)
		if r.value == nil {
			body = binary.AppendVarint(body, -1)
		} else {
			body = binary.AppendVarint(body, int64(len(r.value)))
			body = append(body, r.value...)
		}
		body = binary.AppendVarint(body, 0) // headers
		b = binary.AppendVarint(b, int64(len(body)))
		b = append(b, body...)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crcTable))
	return b
}

var errBadRecords = errors.New("malformed __consumer_offsets data")

// decodeBatches calls fn for every record of the concatenated batches in b,
// with its absolute offset. Compressed and control batches are skipped (this
// coordinator never writes them).
func decodeBatches(b []byte, fn func(off int64, r storedRecord)) error {
	for len(b) > 0 {
		if len(b) < 61 {
			return fmt.Errorf("%w: truncated batch header", errBadRecords)
		}
		base := int64(binary.BigEndian.Uint64(b))
		length := int64(int32(binary.BigEndian.Uint32(b[8:])))
		if length < 49 || int64(len(b)) < 12+length {
			return fmt.Errorf("%w: batch length %d", errBadRecords, length)
		}
		batch := b[:12+length]
		b = b[12+length:]
		if batch[16] != 2 {
			return fmt.Errorf("%w: magic %d", errBadRecords, batch[16])
		}
		if crc32.Checksum(batch[21:], crcTable) != binary.BigEndian.Uint32(batch[17:]) {
			return fmt.Errorf("%w: batch at offset %d: bad CRC", errBadRecords, base)
		}
		attrs := binary.BigEndian.Uint16(batch[21:])
		if attrs&0x7 != 0 || attrs&0x20 != 0 {
			continue
		}
		n := int32(binary.BigEndian.Uint32(batch[57:]))
		recs := batch[61:]
		for i := int32(0); i < n; i++ {
			var r storedRecord
			var delta int64
			var err error
			if recs, delta, r, err = decodeRecord(recs); err != nil {
				return fmt.Errorf("batch at offset %d, record %d: %w", base, i, err)
			}
			fn(base+delta, r)
		}
	}
	return nil
}

func decodeRecord(b []byte) (rest []byte, offsetDelta int64, r storedRecord, err error) {
	bad := func(what string) ([]byte, int64, storedRecord, error) {
		return nil, 0, storedRecord{}, fmt.Errorf("%w: record %s", errBadRecords, what)
	}
	length, n := binary.Varint(b)
	if n <= 0 || length < 0 || int64(len(b)-n) < length {
		return bad("length")
	}
	rest = b[n+int(length):]
	b = b[n : n+int(length)]
	if len(b) < 1 {
		return bad("attributes")
	}
	b = b[1:]
	if _, n = binary.Varint(b); n <= 0 { // timestamp delta
		return bad("timestamp")
	}
	b = b[n:]
	if offsetDelta, n = binary.Varint(b); n <= 0 {
		return bad("offset delta")
	}
	b = b[n:]
	readBytes := func() ([]byte, bool) {
		l, n := binary.Varint(b)
		if n <= 0 || l < -1 || int64(len(b)-n) < l {
			return nil, false
		}
		b = b[n:]
		if l == -1 {
			return nil, true
		}
		v := b[:l:l]
		b = b[l:]
		if v == nil {
			v = []byte{}
		}
		return v, true
	}
	var ok bool
	if r.key, ok = readBytes(); !ok {
		return bad("key")
	}
	if r.value, ok = readBytes(); !ok {
		return bad("value")
	}
	return rest, offsetDelta, r, nil
}

// appendLocked writes records as one batch; durable waits for fsync. It
// expects c.mu held when ordering with other metadata writes matters.
func (c *Coordinator) appendLocked(recs []storedRecord, durable bool) error {
	_, err := c.appendRecords(recs, durable)
	return err
}

// appendRecords writes records as one batch and returns the offset of the
// first. It takes no lock.
func (c *Coordinator) appendRecords(recs []storedRecord, durable bool) (int64, error) {
	if len(recs) == 0 {
		return -1, nil
	}
	res, err := c.log.Append(encodeBatch(recs, c.now().UnixMilli()), durable)
	if err != nil {
		return -1, fmt.Errorf("appending %d records to __consumer_offsets: %w", len(recs), err)
	}
	return res.BaseOffset, nil
}

// loaded is the state read back from the log.
type loaded struct {
	offsets map[string]map[topicPartition]offset
	meta    map[string]*kmsg.GroupMetadataValue
}

func newLoaded() *loaded {
	return &loaded{offsets: map[string]map[topicPartition]offset{}, meta: map[string]*kmsg.GroupMetadataValue{}}
}

// apply folds one stored record into the state. Records with keys it does
// not know (transaction markers, newer schemas) are ignored.
func (l *loaded) apply(off int64, r storedRecord) error {
	if len(r.key) < 2 {
		return fmt.Errorf("%w: key of %d bytes", errBadRecords, len(r.key))
	}
	switch int16(binary.BigEndian.Uint16(r.key)) {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.key); err != nil {
			return fmt.Errorf("%w: offset key: %v", errBadRecords, err)
		}
		tp := topicPartition{k.Topic, k.Partition}
		if r.value == nil {
			delete(l.offsets[k.Group], tp)
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.value); err != nil {
			return fmt.Errorf("%w: offset value: %v", errBadRecords, err)
		}
		if v.Version < 3 {
			v.LeaderEpoch = -1
		}
		m := l.offsets[k.Group]
		if m == nil {
			m = map[topicPartition]offset{}
			l.offsets[k.Group] = m
		}
		m[tp] = offset{offset: v.Offset, leaderEpoch: v.LeaderEpoch, metadata: v.Metadata, commitTime: v.CommitTimestamp, logOffset: off}
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(r.key); err != nil {
			return fmt.Errorf("%w: group key: %v", errBadRecords, err)
		}
		if r.value == nil {
			delete(l.meta, k.Group)
			delete(l.offsets, k.Group)
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(r.value); err != nil {
			return fmt.Errorf("%w: group value: %v", errBadRecords, err)
		}
		l.meta[k.Group] = v
	}
	return nil
}

// load reads the whole log into c.groups. Called by New before any request.
func (c *Coordinator) load() error {
	st := newLoaded()
	var buf []byte
	off := c.log.LogStartOffset()
	end := c.log.LogEndOffset()
	var applyErr error
	for off < end {
		s, err := c.log.Read(off, 1<<20)
		if err != nil {
			return fmt.Errorf("reading offset %d: %w", off, err)
		}
		buf, err = s.AppendTo(buf[:0])
		s.Close()
		if err != nil {
			return fmt.Errorf("reading offset %d: %w", off, err)
		}
		if len(buf) == 0 {
			break
		}
		next := off
		err = decodeBatches(buf, func(o int64, r storedRecord) {
			if o < off {
				return
			}
			if err := st.apply(o, r); err != nil && applyErr == nil {
				applyErr = fmt.Errorf("record at offset %d: %w", o, err)
			}
			next = max(next, o+1)
		})
		if err != nil {
			return err
		}
		// Advance past the batches read even when compaction emptied them.
		for p := buf; len(p) >= 61; {
			base := int64(binary.BigEndian.Uint64(p))
			length := int64(int32(binary.BigEndian.Uint32(p[8:])))
			last := base + int64(int32(binary.BigEndian.Uint32(p[23:])))
			next = max(next, last+1)
			if length < 49 || int64(len(p)) < 12+length {
				break
			}
			p = p[12+length:]
		}
		if next <= off {
			return fmt.Errorf("reading offset %d: no progress", off)
		}
		off = next
	}
	if applyErr != nil {
		c.logger.Warn("skipped malformed records in __consumer_offsets", "err", applyErr)
	}
	c.install(st)
	return nil
}

// install turns loaded state into groups. Groups with members come back
// Stable at their generation, so clients that kept running across a broker
// restart continue without a rebalance; members that do not heartbeat within
// their session timeout expire as usual.
func (c *Coordinator) install(st *loaded) {
	now := c.now()
	var tombs []storedRecord
	for name, v := range st.meta {
		g := newGroup(name, time.UnixMilli(v.CurrentStateTimestamp))
		if v.CurrentStateTimestamp <= 0 {
			g.stateTime = now
		}
		g.protocolType, g.generation = v.ProtocolType, v.Generation
		if v.Protocol != nil {
			g.protocol = *v.Protocol
		}
		if v.Leader != nil {
			g.leader = *v.Leader
		}
		for _, vm := range v.Members {
			m := &member{
				id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
				sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
				rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
				protocolType:     v.ProtocolType,
				protocols:        []protocol{{name: g.protocol, metadata: vm.Subscription}},
				assignment:       vm.Assignment,
			}
			if m.rebalanceTimeout <= 0 {
				m.rebalanceTimeout = m.sessionTimeout
			}
			g.members[m.id] = m
			if m.instanceID != nil {
				g.static[*m.instanceID] = m.id
			}
		}
		if len(g.members) > 0 && g.protocol != "" {
			g.state = stateStable
			for _, m := range g.members {
				c.resetSession(g, m)
			}
		} else {
			g.members = map[string]*member{}
			g.leader = ""
		}
		c.groups[name] = g
	}
	for name, offs := range st.offsets {
		g, ok := c.groups[name]
		if !ok {
			if len(offs) == 0 {
				continue
			}
			g = newGroup(name, now)
			c.groups[name] = g
		}
		for tp, o := range offs {
			if n, ok := c.topics(tp.topic); !ok || tp.partition >= n {
				tombs = append(tombs, offsetTombstone(name, tp))
				continue
			}
			g.offsets[tp] = o
		}
	}
	if err := c.appendLocked(tombs, false); err != nil {
		c.logger.Warn("writing tombstones for offsets of deleted topics", "err", err)
	}
}
