package broker

// ApiVersions (key 18): v0-v4. Lists every API this server serves (the
// table in versions.go plus the group handler's keys). A request at a
// version newer than v4 is answered with a v0 body carrying
// UNSUPPORTED_VERSION and the key list (KIP-511), so the client retries at a
// version we know; that path is in conn.handle. The response header is
// always v0 (no tagged fields).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(18, 0, 4, handleApiVersions) }

func handleApiVersions(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = s.advertised()
	resp.FinalizedFeaturesEpoch = -1
	return resp, nil
}
