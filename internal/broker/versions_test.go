package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/testutil"
)

// TestEveryAdvertisedVersion sends a default request of every advertised API
// at every advertised version over a raw socket and decodes the answer at
// that version, checking the header layout (flexible tags, ApiVersions v0
// header) and that no version trips a handler.
func TestEveryAdvertisedVersion(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopic(t, addr, "v", 1, nil)
	c := dial(t, addr)
	if _, err := c.Write(frame(18, 0, 0, nil)); err != nil {
		t.Fatal(err)
	}
	_, body := readResponse(t, c)
	av := kmsg.NewPtrApiVersionsResponse()
	if err := av.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	corr := int32(1)
	for _, k := range av.ApiKeys {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			req := kmsg.RequestForKey(k.ApiKey)
			req.SetVersion(v)
			switch r := req.(type) {
			case *kmsg.ProduceRequest:
				r.Acks = 1
			case *kmsg.FetchRequest:
				r.MaxWaitMillis = 0
			}
			b := req.AppendTo(nil)
			hdr := frame(k.ApiKey, v, corr, nil)[4:]
			if req.IsFlexible() {
				hdr = append(hdr, 0)
			}
			msg := append(append([]byte{0, 0, 0, 0}, hdr...), b...)
			n := len(msg) - 4
			msg[0], msg[1], msg[2], msg[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
			if _, err := c.Write(msg); err != nil {
				t.Fatalf("%s v%d: %v", kmsg.NameForKey(k.ApiKey), v, err)
			}
			gotCorr, rb := readResponse(t, c)
			if gotCorr != corr {
				t.Fatalf("%s v%d: correlation %d, want %d", kmsg.NameForKey(k.ApiKey), v, gotCorr, corr)
			}
			resp := req.ResponseKind()
			if resp.IsFlexible() && k.ApiKey != 18 {
				if len(rb) == 0 || rb[0] != 0 {
					t.Fatalf("%s v%d: missing empty header tags", kmsg.NameForKey(k.ApiKey), v)
				}
				rb = rb[1:]
			}
			if err := resp.ReadFrom(rb); err != nil {
				t.Fatalf("%s v%d: decoding response: %v", kmsg.NameForKey(k.ApiKey), v, err)
			}
			corr++
		}
	}
	if corr < 90 {
		t.Fatalf("only %d request versions exercised", corr-1)
	}
}
