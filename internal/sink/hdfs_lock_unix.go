//go:build unix

package sink

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockInUse takes a non-blocking exclusive flock(2) on an in-use file. The
// hdfs sink holds it while it writes the file, and start-up recovery takes
// it before touching a leftover, so a file another running sink (in this
// process or another) is writing is never mistaken for a crash's leftover.
// The kernel drops the lock when the file is closed or the process dies.
// errInUse means another holder has it; any other error means the
// filesystem does not support flock (the lock is then best effort).
func lockInUse(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errInUse
		}
		return err
	}
}
