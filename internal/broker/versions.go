package broker

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc answers one decoded request (already at its version). A nil
// response means "send nothing" (Produce with acks=0). A returned error
// closes the connection.
type handlerFunc func(ctx context.Context, s *Server, req kmsg.Request) (kmsg.Response, error)

type apiEntry struct {
	min, max int16
	handle   handlerFunc
}

// apis is the one table ApiVersions is built from: every API file registers
// its key, version range and handler here with regKey in its init.
var apis = map[int16]apiEntry{}

func regKey(key, min, max int16, h handlerFunc) {
	if _, dup := apis[key]; dup {
		panic("broker: API key registered twice")
	}
	apis[key] = apiEntry{min, max, h}
}

// versionRange reports the versions this server serves for key, including
// the group handler's keys.
func (s *Server) versionRange(key int16) (min, max int16, ok bool) {
	if e, found := apis[key]; found {
		return e.min, e.max, true
	}
	if s.groupVersions != nil {
		if r, found := s.groupVersions[key]; found {
			return r[0], r[1], true
		}
	}
	return 0, 0, false
}

// advertised lists every served key with its range, sorted by key.
func (s *Server) advertised() []kmsg.ApiVersionsResponseApiKey {
	var out []kmsg.ApiVersionsResponseApiKey
	add := func(key, min, max int16) {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, min, max
		out = append(out, k)
	}
	for key, e := range apis {
		add(key, e.min, e.max)
	}
	for key, r := range s.groupVersions {
		if _, mine := apis[key]; !mine {
			add(key, r[0], r[1])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ApiKey < out[j].ApiKey })
	return out
}
