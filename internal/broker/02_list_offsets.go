package broker

// ListOffsets (key 2): v0-v7. Timestamp -1 is the log end offset (latest),
// -2 the log start offset (earliest), -3 (v7+) the offset of the largest
// timestamp; any other timestamp finds the first offset whose record
// timestamp is at or after it (offset -1 when there is none). v0 answers in
// the old style (a list of at most MaxNumOffsets offsets). Isolation level is
// irrelevant: there are no transactions, the last stable offset is the log
// end offset.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(2, 0, 7, handleListOffsets) }

func handleListOffsets(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, 0
			l, ok := s.topics.Partition(rt.Topic, rp.Partition)
			switch {
			case !ok:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				switch rp.Timestamp {
				case -1:
					sp.Offset = l.LogEndOffset()
				case -2:
					sp.Offset = l.LogStartOffset()
				case -3:
					sp.Timestamp, sp.Offset = l.MaxTimestamp()
				default:
					off, ts, err := l.OffsetForTimestamp(rp.Timestamp)
					if err != nil {
						sp.ErrorCode = errorCode(err)
					} else {
						sp.Offset, sp.Timestamp = off, ts
					}
				}
			}
			if req.Version == 0 && sp.ErrorCode == 0 {
				// Old style: latest also lists the start offset when asked for two.
				if sp.Offset >= 0 && rp.MaxNumOffsets > 0 {
					sp.OldStyleOffsets = append(sp.OldStyleOffsets, sp.Offset)
					if rp.Timestamp == -1 && rp.MaxNumOffsets > 1 && l.LogStartOffset() != sp.Offset {
						sp.OldStyleOffsets = append(sp.OldStyleOffsets, l.LogStartOffset())
					}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
