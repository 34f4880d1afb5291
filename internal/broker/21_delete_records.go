package broker

// DeleteRecords (key 21): v0-v2. Moves a partition's log start offset to
// the given offset (-1 means the high watermark); whole segments below it
// are removed by the log. An offset above the high watermark answers
// OFFSET_OUT_OF_RANGE.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(21, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			l, ok := s.topics.Partition(rt.Topic, rp.Partition)
			switch {
			case !ok:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.Offset < -1 || rp.Offset > l.LogEndOffset():
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			default:
				lw, err := l.DeleteRecords(rp.Offset)
				if err != nil {
					sp.ErrorCode = errorCode(err)
				} else {
					sp.LowWatermark = lw
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
