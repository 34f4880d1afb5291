//go:build unix

package tail

import (
	"io/fs"
	"syscall"
)

// inodeOf returns the inode number of the file fi describes.
func inodeOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) //nolint:unconvert // Ino is uint32 on some platforms
	}
	return 0
}
