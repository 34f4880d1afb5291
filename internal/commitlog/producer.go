package commitlog

import (
	"fmt"
	"math"
)

// producerBatchesKept is how many recent batches per producer are
// remembered for duplicate detection (Kafka's 5 in-flight requests).
const producerBatchesKept = 5

// producerBatch is one remembered batch of an idempotent producer.
type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	maxTs                   int64
}

// producerState is what the log remembers per producer id.
type producerState struct {
	epoch   int16
	batches []producerBatch // oldest first, at most producerBatchesKept
}

func (p *producerState) clone() *producerState {
	c := *p
	c.batches = append([]producerBatch(nil), p.batches...)
	return &c
}

func nextSeq(s int32, n int32) int32 {
	v := int64(s) + int64(n)
	if v > math.MaxInt32 {
		v -= math.MaxInt32 + 1
	}
	return int32(v)
}

// hasSequence reports whether the batch carries an idempotent sequence.
func hasSequence(h BatchHeader) bool {
	return h.ProducerID >= 0 && h.BaseSequence >= 0 && h.Attributes&attrControl == 0
}

// checkProducer validates h against st (nil = unknown producer). It
// returns the duplicate batch when h repeats one of the remembered ones.
func checkProducer(st *producerState, h BatchHeader) (*producerBatch, error) {
	if st == nil {
		return nil, nil
	}
	switch {
	case h.ProducerEpoch < st.epoch:
		return nil, fmt.Errorf("producer %d epoch %d is older than %d: %w", h.ProducerID, h.ProducerEpoch, st.epoch, ErrInvalidProducerEpoch)
	case h.ProducerEpoch > st.epoch:
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("producer %d new epoch %d starts at sequence %d, not 0: %w", h.ProducerID, h.ProducerEpoch, h.BaseSequence, ErrOutOfOrderSequence)
		}
		return nil, nil
	}
	if !hasSequence(h) {
		return nil, nil
	}
	last := nextSeq(h.BaseSequence, h.LastOffsetDelta)
	for i := range st.batches {
		b := &st.batches[i]
		if b.firstSeq == h.BaseSequence && b.lastSeq == last {
			return b, nil
		}
	}
	if len(st.batches) == 0 {
		return nil, nil
	}
	want := nextSeq(st.batches[len(st.batches)-1].lastSeq, 1)
	if h.BaseSequence != want {
		return nil, fmt.Errorf("producer %d epoch %d sent sequence %d, expected %d: %w", h.ProducerID, h.ProducerEpoch, h.BaseSequence, want, ErrOutOfOrderSequence)
	}
	return nil, nil
}

// applyProducer records an appended batch (base offset assigned) in the
// producer map. Caller holds Log.mu for writing, or owns m.
func applyProducer(m map[int64]*producerState, h BatchHeader) {
	if h.ProducerID < 0 {
		return
	}
	st := m[h.ProducerID]
	if st == nil {
		st = &producerState{epoch: h.ProducerEpoch}
		m[h.ProducerID] = st
	}
	if h.ProducerEpoch != st.epoch {
		if h.ProducerEpoch < st.epoch {
			return
		}
		st.epoch, st.batches = h.ProducerEpoch, st.batches[:0]
	}
	if !hasSequence(h) {
		return
	}
	st.batches = append(st.batches, producerBatch{
		firstSeq: h.BaseSequence, lastSeq: nextSeq(h.BaseSequence, h.LastOffsetDelta),
		firstOffset: h.BaseOffset, lastOffset: h.LastOffset(), maxTs: h.MaxTimestamp,
	})
	if len(st.batches) > producerBatchesKept {
		st.batches = append(st.batches[:0], st.batches[len(st.batches)-producerBatchesKept:]...)
	}
}
