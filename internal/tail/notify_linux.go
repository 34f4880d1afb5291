package tail

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// notifier wakes a waiting Read when something happens in a followed
// directory (inotify): a file written, created, renamed or deleted. It only
// shortens waits; every decision is still made by a scan, so a missed or
// coalesced event costs at most one PollInterval.
type notifier struct {
	fd      int      // the inotify descriptor (never f.Fd(): that would make it blocking)
	f       *os.File // the same descriptor, in the runtime poller
	watched map[string]int
	buf     []byte
}

const notifyMask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// newNotifier returns a notifier, or nil when inotify is not available
// (polling alone then).
func newNotifier() *notifier {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	return &notifier{fd: fd, f: os.NewFile(uintptr(fd), "inotify"), watched: map[string]int{}, buf: make([]byte, 64<<10)}
}

// watch makes sure dir is watched; a directory that does not exist yet is
// tried again on the next call.
func (n *notifier) watch(dir string) {
	if _, ok := n.watched[dir]; ok {
		return
	}
	wd, err := unix.InotifyAddWatch(n.fd, dir, notifyMask)
	if err == nil {
		n.watched[dir] = wd
	}
}

// wait blocks until events arrive, d passes or ctx ends. woke reports
// events; names reports events other than writes (a file created, renamed,
// deleted, its attributes changed), which call for a scan. Events are
// drained; a watched directory that was removed or moved is forgotten so
// that it is watched again when it reappears.
func (n *notifier) wait(ctx context.Context, d time.Duration) (woke, names bool) {
	if err := n.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		return false, false
	}
	stop := context.AfterFunc(ctx, func() { n.f.SetReadDeadline(time.Now()) })
	defer stop()
	if ctx.Err() != nil {
		return false, false
	}
	k, err := n.f.Read(n.buf)
	if err != nil || k < unix.SizeofInotifyEvent {
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// The descriptor failed: fall back to polling.
			n.f.SetReadDeadline(time.Time{})
		}
		return false, false
	}
	// struct inotify_event: int32 wd, uint32 mask, uint32 cookie,
	// uint32 len, then len bytes of name.
	for off := 0; off+unix.SizeofInotifyEvent <= k; {
		wd := int32(binary.NativeEndian.Uint32(n.buf[off:]))
		mask := binary.NativeEndian.Uint32(n.buf[off+4:])
		if mask&^(unix.IN_MODIFY|unix.IN_CLOSE_WRITE) != 0 {
			names = true
		}
		if mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
			for dir, w := range n.watched {
				if w == int(wd) {
					delete(n.watched, dir)
				}
			}
		}
		off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(n.buf[off+12:]))
	}
	return true, names
}

func (n *notifier) close() error { return n.f.Close() }
