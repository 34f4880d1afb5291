package broker

// Fetch (key 1): v4-v12. Fetch sessions are not kept: every response says
// session id 0, so clients send full fetches. Each partition returns whole
// record batches from its fetch offset up to PartitionMaxBytes, and the
// response stays within MaxBytes except that the first non-empty partition
// always returns at least one whole batch (KIP-74). The high watermark and
// last stable offset are the log end offset (one node, no transactions).
// Long poll: when fewer than MinBytes are available the request waits until
// an append to one of its partitions (commitlog.Log.Changed) brings enough,
// MaxWaitMillis passes, or the server closes.

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/commitlog"
)

func init() { regKey(1, 4, 12, handleFetch) }

func handleFetch(ctx context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.FetchRequest)
	var deadline <-chan time.Time
	if req.MaxWaitMillis > 0 {
		t := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
		defer t.Stop()
		deadline = t.C
	}
	for {
		// Take the wake-up channels before reading so an append that
		// lands between the read and the wait is not missed.
		var wake []<-chan struct{}
		if deadline != nil {
			wake = s.fetchWakeups(req)
		}
		resp, total, anyErr := s.readFetch(req)
		if deadline == nil || total >= int64(req.MinBytes) || anyErr || len(wake) == 0 {
			return resp, nil
		}
		cases := make([]reflect.SelectCase, 0, len(wake)+2)
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		for _, ch := range wake {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		releaseFetchBufs(resp)
		chosen, _, _ := reflect.Select(cases)
		if chosen < 2 {
			// Deadline or shutdown: answer with what is there now.
			resp, _, _ = s.readFetch(req)
			return resp, nil
		}
	}
}

// fetchWakeups collects the Changed channel of every requested partition.
func (s *Server) fetchWakeups(req *kmsg.FetchRequest) []<-chan struct{} {
	var out []<-chan struct{}
	for _, rt := range req.Topics {
		t, ok := s.topics.Get(rt.Topic)
		if !ok {
			continue
		}
		for _, rp := range rt.Partitions {
			if rp.Partition >= 0 && int(rp.Partition) < len(t.Partitions) {
				out = append(out, t.Partitions[rp.Partition].Changed())
			}
		}
	}
	return out
}

// readFetch reads every requested partition once. It reports the bytes of
// record data returned and whether any partition answered with an error
// (Kafka answers at once then).
func (s *Server) readFetch(req *kmsg.FetchRequest) (*kmsg.FetchResponse, int64, bool) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = 0
	remaining := int64(req.MaxBytes)
	if remaining <= 0 {
		remaining = 1<<31 - 1
	}
	var total int64
	anyErr := false
	first := true
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		t, topicOK := s.topics.Get(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			// Empty, not null: librdkafka rejects a null record set
			// ("invalid MessageSetSize -1").
			sp.RecordBatches = []byte{}
			if !topicOK || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				anyErr = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			l := t.Partitions[rp.Partition]
			if rp.CurrentLeaderEpoch > 0 {
				// Our leader epoch is always 0.
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
				anyErr = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			hw := l.LogEndOffset()
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, l.LogStartOffset()
			limit := min(int64(rp.PartitionMaxBytes), remaining)
			if rp.FetchOffset == hw || (limit <= 0 && !first) {
				if rp.FetchOffset > hw || rp.FetchOffset < sp.LogStartOffset {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
					anyErr = true
				}
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			data, err := readPartition(l, rp.FetchOffset, int32(max(limit, 0)))
			if err != nil {
				sp.ErrorCode = errorCode(err)
				anyErr = true
				if errors.Is(err, commitlog.ErrStorage) {
					s.logger.Error("read failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			n := int64(len(data))
			if n > remaining && !first {
				data, n = []byte{}, 0 // does not fit; the client fetches it next time
			}
			if n > 0 {
				first = false
				remaining -= n
				total += n
				sp.RecordBatches = data
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, anyErr
}

// readPartition preads whole batches from offset up to maxBytes (at least
// one batch) into a pooled buffer (see fetchbuf.go).
func readPartition(l *commitlog.Log, offset int64, maxBytes int32) ([]byte, error) {
	sl, err := l.Read(offset, maxBytes)
	if err != nil {
		return nil, err
	}
	defer sl.Close()
	if sl.Len() == 0 {
		return nil, nil
	}
	return sl.AppendTo(getFetchBuf(sl.Len()))
}
