package commitlog

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// sendfile copies n bytes at off of the file fd to the TCP connection with
// sendfile(2), waiting in the runtime poller when the socket is full.
func sendfile(c *net.TCPConn, fd uintptr, off, n int64) (int64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	var written int64
	var serr error
	err = rc.Write(func(sock uintptr) bool {
		for written < n {
			o := off + written
			chunk := min(n-written, 1<<30)
			m, e := unix.Sendfile(int(sock), int(fd), &o, int(chunk))
			if m > 0 {
				written += int64(m)
			}
			if errors.Is(e, unix.EAGAIN) {
				return false
			}
			if errors.Is(e, unix.EINTR) {
				continue
			}
			if e != nil {
				serr = e
				return true
			}
			if m == 0 {
				serr = fmt.Errorf("sendfile: file ended after %d of %d bytes", written, n)
				return true
			}
		}
		return true
	})
	if serr != nil {
		return written, fmt.Errorf("sendfile: %w", serr)
	}
	if err != nil {
		return written, fmt.Errorf("sendfile: %w", err)
	}
	return written, nil
}
