// Command runnel is a Kafka-protocol broker, connector runtime, Flume-style
// agent and stream processor in one binary. See README.md.
package main

import (
	"os"

	"github.com/runnel/runnel/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
