package broker

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchBufs recycles the buffers Fetch preads record batches into. A buffer
// goes back to the pool once the response holding it has been encoded onto
// the connection (conn.serve) or discarded (a long-poll re-read).
var fetchBufs sync.Pool // of *[]byte

const (
	minFetchBuf       = 64 << 10
	maxPooledFetchBuf = 8 << 20
)

// getFetchBuf returns an empty buffer with room for n bytes.
func getFetchBuf(n int64) []byte {
	if p, _ := fetchBufs.Get().(*[]byte); p != nil && int64(cap(*p)) >= n {
		return (*p)[:0]
	}
	// Round up to a power of two so later reads of similar size fit.
	size := int64(minFetchBuf)
	for size < n {
		size <<= 1
	}
	return make([]byte, 0, size)
}

// releaseFetchBufs returns a fetch response's record buffers to the pool.
// The response must not be used afterwards.
func releaseFetchBufs(resp *kmsg.FetchResponse) {
	for ti := range resp.Topics {
		ps := resp.Topics[ti].Partitions
		for pi := range ps {
			b := ps[pi].RecordBatches
			ps[pi].RecordBatches = nil
			if cap(b) >= minFetchBuf && cap(b) <= maxPooledFetchBuf {
				b = b[:0]
				fetchBufs.Put(&b)
			}
		}
	}
}
