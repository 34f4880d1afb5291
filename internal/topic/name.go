package topic

import (
	"fmt"
	"strings"
)

// MaxNameLen is Kafka's limit on topic name length.
const MaxNameLen = 249

// ValidateName checks a topic name as Kafka does: 1 to 249 characters from
// [a-zA-Z0-9._-], and neither "." nor "..".
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name cannot be %q", ErrInvalidTopic, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: topic name is %d characters long, the limit is %d", ErrInvalidTopic, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic name %q contains %q; legal characters are ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopic, name, c)
		}
	}
	return nil
}

// collisionKey maps names that collide in Kafka's metric names ('.' and '_'
// are interchangeable) to one key.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// hasCollisionChars reports whether a name contains '.' or '_', which Kafka
// warns about because the two collide in metric names.
func hasCollisionChars(name string) bool { return strings.ContainsAny(name, "._") }
