// Package components links every flow component into the binary: importing
// it runs the init functions that register sources, channels, sinks and
// transforms with the flow registry. Front ends (agent, connect) import it.
package components

import (
	_ "github.com/runnel/runnel/internal/accesslog"
	_ "github.com/runnel/runnel/internal/channel"
	_ "github.com/runnel/runnel/internal/database"
	_ "github.com/runnel/runnel/internal/sink"
	_ "github.com/runnel/runnel/internal/source"
	_ "github.com/runnel/runnel/internal/transform"
)
