package flow

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// KeyType says how a config value is parsed and checked.
type KeyType int

const (
	// String accepts any value.
	String KeyType = iota
	// Int accepts a base-10 integer within [Min, Max].
	Int
	// Bool accepts true or false (any case), as Java's Boolean.parseBoolean
	// would read them; anything else is refused rather than read as false.
	Bool
)

// Key documents and validates one config key of a component.
type Key struct {
	// Name is the key relative to the component (e.g. "capacity",
	// "max-line-length"). A name ending in ".*" matches every key with that
	// prefix.
	Name string
	// Type is how the value is parsed.
	Type KeyType
	// Default is the value used when the key is absent ("" = none).
	Default string
	// Required refuses a config without the key.
	Required bool
	// Min and Max bound an Int key when Max > Min.
	Min, Max int64
	// Doc is one line for docs and error messages.
	Doc string
	// NotImplemented marks a key that is accepted (so a Flume or Connect
	// config still loads) but has no effect yet; using it logs a warning.
	NotImplemented bool
}

// Spec describes a component: what kind it is, the names it answers to and
// its config keys.
type Spec struct {
	// Kind is source, channel, sink or transform.
	Kind Kind
	// Names are every type name the component answers to, matched
	// case-insensitively: Flume alias first, then Java class names, then
	// Connect names.
	Names []string
	// Summary is one line describing the component.
	Summary string
	// Keys are the config keys the component understands.
	Keys []Key
}

// key returns the Key matching name, or nil.
func (s *Spec) key(name string) *Key {
	for i := range s.Keys {
		k := &s.Keys[i]
		if k.Name == name {
			return k
		}
		if p, ok := strings.CutSuffix(k.Name, "*"); ok && strings.HasPrefix(name, p) {
			return k
		}
	}
	return nil
}

// KeyError is a config value a Spec refused. The agent adds the file and
// line; Problem and Fix are phrased for the user.
type KeyError struct {
	Key     string
	Value   string
	Problem string
	Fix     string
}

func (e *KeyError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s; fix: %s", e.Key, e.Problem, e.Fix)
	}
	return fmt.Sprintf("%s = %q: %s; fix: %s", e.Key, e.Value, e.Problem, e.Fix)
}

// Warning is a key that was accepted but will not do what the user expects.
type Warning struct {
	Key     string
	Message string
}

// Validate checks raw (keys relative to the component) against the spec and
// returns the Config a constructor reads. It returns the first bad key as a
// *KeyError, and a Warning for every key that is unknown or not implemented.
func (s *Spec) Validate(name string, raw map[string]string) (Config, []Warning, error) {
	cfg := Config{Name: name, Spec: s, values: map[string]string{}}
	var warnings []Warning
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		spec := s.key(k)
		if spec == nil {
			warnings = append(warnings, Warning{Key: k, Message: fmt.Sprintf("%s %s does not know key %q; it is ignored", s.Names[0], s.Kind, k)})
			cfg.values[k] = v
			continue
		}
		if spec.NotImplemented {
			warnings = append(warnings, Warning{Key: k, Message: fmt.Sprintf("%s %s accepts key %q but does not implement it yet; it has no effect", s.Names[0], s.Kind, k)})
		}
		if spec.Required && strings.TrimSpace(v) == "" {
			return Config{}, warnings, &KeyError{Key: k, Problem: "required key is empty", Fix: fmt.Sprintf("give %s a value (%s)", k, spec.Doc)}
		}
		if err := spec.check(k, v); err != nil {
			return Config{}, warnings, err
		}
		cfg.values[k] = v
	}
	for i := range s.Keys {
		k := &s.Keys[i]
		if _, ok := raw[k.Name]; !ok && k.Required {
			return Config{}, warnings, &KeyError{Key: k.Name, Problem: "required key is missing", Fix: fmt.Sprintf("set %s (%s)", k.Name, k.Doc)}
		}
	}
	return cfg, warnings, nil
}

func (k *Key) check(name, v string) error {
	switch k.Type {
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return &KeyError{Key: name, Value: v, Problem: "not a whole number", Fix: fmt.Sprintf("set it to an integer such as %s (%s)", k.exampleInt(), k.Doc)}
		}
		if k.Max > k.Min && (n < k.Min || n > k.Max) {
			return &KeyError{Key: name, Value: v, Problem: fmt.Sprintf("out of range [%d, %d]", k.Min, k.Max), Fix: fmt.Sprintf("set it between %d and %d (%s)", k.Min, k.Max, k.Doc)}
		}
	case Bool:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "false":
		default:
			return &KeyError{Key: name, Value: v, Problem: "not a boolean", Fix: "set it to true or false"}
		}
	}
	return nil
}

func (k *Key) exampleInt() string {
	if k.Default != "" {
		return k.Default
	}
	return strconv.FormatInt(max(k.Min, 1), 10)
}

// Config is a component's validated configuration. Getters fall back to the
// key's default; they do not fail because Validate already checked every
// value.
type Config struct {
	// Name is the component's name in its config (e.g. "r1").
	Name string
	// Spec is the spec the config was validated against.
	Spec *Spec
	// Logger is where the component logs; nil means discard.
	Logger *slog.Logger
	// Counters are the component's monitoring counters (nil: not exported).
	Counters *Counters
	// Offsets is where a source stores its upstream position when its front
	// end keeps them (Kafka Connect); nil for Flume agents.
	Offsets OffsetStore
	// Agent is the name of the agent or connector the component belongs to
	// (for file names such as taildir's default positionFile).
	Agent  string
	values map[string]string
}

// Raw returns the value of key as given, or its default, and whether either
// exists.
func (c Config) Raw(key string) (string, bool) {
	if v, ok := c.values[key]; ok {
		return strings.TrimSpace(v), true
	}
	if c.Spec != nil {
		if k := c.Spec.key(key); k != nil && k.Default != "" {
			return k.Default, true
		}
	}
	return "", false
}

// String returns key's value or default.
func (c Config) String(key string) string {
	v, _ := c.Raw(key)
	return v
}

// Int returns key's value or default as an integer (0 if neither).
func (c Config) Int(key string) int64 {
	v, _ := c.Raw(key)
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// Bool returns key's value or default as a boolean.
func (c Config) Bool(key string) bool {
	v, _ := c.Raw(key)
	return strings.EqualFold(v, "true")
}

// Log returns the component's logger, never nil.
func (c Config) Log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
