//go:build !linux

package commitlog

import (
	"io"
	"net"
	"os"
)

// sendfile falls back to a copy through user space off Linux.
func sendfile(c *net.TCPConn, fd uintptr, off, n int64) (int64, error) {
	f := os.NewFile(fd, "segment")
	return io.Copy(c, io.NewSectionReader(f, off, n))
}
