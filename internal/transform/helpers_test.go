package transform

import (
	"errors"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

// build constructs the transform registered as typ from keys, as the agent
// does.
func build(t *testing.T, typ string, keys map[string]string) flow.Transform {
	t.Helper()
	tr, err := tryBuild(typ, keys)
	if err != nil {
		t.Fatalf("building %s with %v: %v", typ, keys, err)
	}
	return tr
}

func tryBuild(typ string, keys map[string]string) (flow.Transform, error) {
	reg, ok := flow.Lookup(flow.KindTransform, typ)
	if !ok {
		return nil, errors.New("not registered: " + typ)
	}
	cfg, _, err := reg.Spec.Validate("t", keys)
	if err != nil {
		return nil, err
	}
	v, err := reg.Build(cfg)
	if err != nil {
		return nil, err
	}
	return v.(flow.Transform), nil
}

func hdr(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func mustKeyErr(t *testing.T, err error, key string) {
	t.Helper()
	var ke *flow.KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("got %v, want a *flow.KeyError for %s", err, key)
	}
	if ke.Key != key {
		t.Fatalf("KeyError for key %q (%v), want key %q", ke.Key, err, key)
	}
}
