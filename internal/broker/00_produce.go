package broker

// Produce (key 0): advertised v0-v11 (librdkafka enables gzip/snappy/lz4 only
// when v0 is advertised, zstd only with v7). Requests carrying magic v0/v1
// message sets (Produce v0-v2, or older formats at any version) are refused
// per partition with UNSUPPORTED_FOR_MESSAGE_FORMAT; v3+ record batches
// (magic 2) are appended as produced. acks=-1 appends durably (fsync, group
// commit), acks=1 returns after write(2), acks=0 sends no response.
// Idempotent batches are checked by the log per producer id: a retried
// duplicate succeeds with its original offset. Transactional produce is not
// supported (no transaction coordinator).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/commitlog"
)

func init() { regKey(0, 0, 11, handleProduce) }

var errOldMessageFormat = errors.New("produce v0-v2 (message format v0/v1) is not supported: use a client that sends record batches (Produce v3+, Kafka 0.11+)")

func handleProduce(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	acks := req.Acks
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			setErr := func(code int16, err error) {
				sp.ErrorCode = code
				if req.Version >= 8 {
					sp.ErrorMessage = errorMessage(err)
				}
			}
			switch {
			case acks != 0 && acks != 1 && acks != -1:
				setErr(kerr.InvalidRequiredAcks.Code, nil)
			case req.Version < 3:
				setErr(kerr.UnsupportedForMessageFormat.Code, errOldMessageFormat)
			case req.TransactionID != nil:
				setErr(kerr.TransactionalIDAuthorizationFailed.Code, errors.New("transactions are not supported by this broker"))
			default:
				l, ok := s.topics.Partition(rt.Topic, rp.Partition)
				if !ok {
					setErr(kerr.UnknownTopicOrPartition.Code, nil)
					break
				}
				if len(rp.Records) == 0 {
					setErr(kerr.CorruptMessage.Code, errors.New("no record batches in partition data"))
					break
				}
				res, err := l.Append(rp.Records, acks == -1)
				if err != nil {
					if errors.Is(err, commitlog.ErrUnsupportedMagic) {
						err = errOldMessageFormat
						setErr(kerr.UnsupportedForMessageFormat.Code, err)
						break
					}
					setErr(errorCode(err), err)
					if errors.Is(err, commitlog.ErrStorage) {
						s.logger.Error("append failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
					}
					break
				}
				sp.BaseOffset = res.BaseOffset
				sp.LogAppendTime = res.LogAppendTime
				sp.LogStartOffset = res.LogStartOffset
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if acks == 0 {
		return nil, nil
	}
	return resp, nil
}
