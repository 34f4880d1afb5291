package broker

// DescribeConfigs (key 32): v0-v4. TOPIC resources list every topic config
// (or the requested names) with its value and source: set on the topic
// (DYNAMIC_TOPIC_CONFIG), a broker setting (STATIC_BROKER_CONFIG) or the
// default (DEFAULT_CONFIG); v1+ include synonyms when asked, v3+ the config
// type. BROKER resources ("0", or "" for the cluster default) list the
// broker's settings as static, read-only configs. Other resource types
// answer INVALID_REQUEST.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		wanted := func(name string) bool { return rr.ConfigNames == nil || slices.Contains(rr.ConfigNames, name) }
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			entries, err := s.topics.DescribeConfigs(rr.ResourceName)
			if err != nil {
				sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
				break
			}
			for _, e := range entries {
				if !wanted(e.Name) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				v := e.Value
				c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, &v, e.ReadOnly, e.Sensitive
				c.Source = kmsg.ConfigSource(e.Source)
				c.IsDefault = e.Source == 5
				c.ConfigType = kmsg.ConfigType(e.Type)
				if req.IncludeSynonyms {
					for _, syn := range e.Synonyms {
						cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
						sv := syn.Value
						cs.Name, cs.Value, cs.Source = syn.Name, &sv, kmsg.ConfigSource(syn.Source)
						c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
					}
				}
				sr.Configs = append(sr.Configs, c)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(s.cfg.NodeID)) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				sr.ErrorMessage = errorMessage(fmt.Errorf("no broker %q: this is broker %d", rr.ResourceName, s.cfg.NodeID))
				break
			}
			names := make([]string, 0, len(s.cfg.BrokerSettings))
			for n := range s.cfg.BrokerSettings {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if !wanted(n) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				v := s.cfg.BrokerSettings[n]
				c.Name, c.Value, c.ReadOnly = n, &v, true
				c.Source = kmsg.ConfigSourceStaticBrokerConfig
				c.ConfigType = kmsg.ConfigTypeString
				if req.IncludeSynonyms {
					cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					sv := v
					cs.Name, cs.Value, cs.Source = n, &sv, kmsg.ConfigSourceStaticBrokerConfig
					c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
				}
				sr.Configs = append(sr.Configs, c)
			}
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = errorMessage(fmt.Errorf("resource type %d is not supported", rr.ResourceType))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
