package interop

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// testHeader is one record header.
type testHeader struct {
	Key   string
	Value []byte
}

// testRecord is a client-neutral record: what a test produced or consumed.
type testRecord struct {
	Partition int32
	Offset    int64 // set on consumed records
	Key       []byte
	Value     []byte
	Headers   []testHeader
}

// codecs are the record-batch compression codecs every client must round-trip.
var codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// makeRecords returns n deterministic records spread round-robin over
// partitions: key "key-<i>", a value mixing compressible text and random
// bytes (0..2 KiB), and two headers, one binary.
func makeRecords(n int, partitions int32, seed uint64) []testRecord {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]testRecord, n)
	for i := range out {
		size := rng.IntN(2048)
		val := make([]byte, size)
		for j := range val {
			if j%4 == 0 {
				val[j] = byte(rng.Uint32())
			} else {
				val[j] = "runnel interop "[j%15]
			}
		}
		bin := make([]byte, 1+rng.IntN(16))
		for j := range bin {
			bin[j] = byte(rng.Uint32())
		}
		out[i] = testRecord{
			Partition: int32(i) % partitions,
			Key:       fmt.Appendf(nil, "key-%d", i),
			Value:     val,
			Headers: []testHeader{
				{Key: "index", Value: fmt.Appendf(nil, "%d", i)},
				{Key: "bin", Value: bin},
			},
		}
	}
	return out
}

// checkRecords requires got (consumed, any order across partitions) to hold
// exactly the records of want, byte-equal, each in its intended partition,
// and within a partition in produce order with increasing offsets.
func checkRecords(t testing.TB, want, got []testRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("consumed %d records, produced %d", len(got), len(want))
	}
	byKey := make(map[string]int, len(want))
	for i, r := range want {
		byKey[string(r.Key)] = i
	}
	// Per partition, indexes in consumed order must increase.
	lastIdx := map[int32]int{}
	lastOff := map[int32]int64{}
	seen := map[int]bool{}
	sorted := append([]testRecord(nil), got...)
	sort.SliceStable(sorted, func(a, b int) bool {
		if sorted[a].Partition != sorted[b].Partition {
			return sorted[a].Partition < sorted[b].Partition
		}
		return sorted[a].Offset < sorted[b].Offset
	})
	errs := 0
	fail := func(format string, args ...any) {
		errs++
		if errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, g := range sorted {
		i, ok := byKey[string(g.Key)]
		if !ok {
			fail("consumed unknown key %q at %d/%d", g.Key, g.Partition, g.Offset)
			continue
		}
		if seen[i] {
			fail("record %q consumed twice (again at %d/%d)", g.Key, g.Partition, g.Offset)
			continue
		}
		seen[i] = true
		w := want[i]
		if g.Partition != w.Partition {
			fail("record %q in partition %d, produced to %d", g.Key, g.Partition, w.Partition)
		}
		if !bytes.Equal(g.Value, w.Value) {
			fail("record %q: value differs (got %d bytes, want %d)", g.Key, len(g.Value), len(w.Value))
		}
		if !headersEqual(g.Headers, w.Headers) {
			fail("record %q: headers %v, want %v", g.Key, g.Headers, w.Headers)
		}
		if li, ok := lastIdx[g.Partition]; ok && i < li {
			fail("partition %d: record %q (index %d) after index %d", g.Partition, g.Key, i, li)
		}
		if lo, ok := lastOff[g.Partition]; ok && g.Offset <= lo {
			fail("partition %d: offset %d after %d", g.Partition, g.Offset, lo)
		}
		lastIdx[g.Partition], lastOff[g.Partition] = i, g.Offset
	}
	if errs > 10 {
		t.Errorf("... and %d more mismatches", errs-10)
	}
}

func headersEqual(a, b []testHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
