package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// TempSuffix is appended to a path to name the temporary file
// WriteFileAtomic writes before renaming it over the path.
const TempSuffix = ".tmp"

// SyncDir fsyncs directory dir so that files created, renamed or removed
// in it stay so after a crash.
func SyncDir(dir string) error { return osFS{}.SyncDir(dir) }

// WriteFileAtomic replaces path with data durably: data goes to
// path+TempSuffix in the same directory, which is fsynced and renamed over
// path, then the directory is fsynced. After a crash path holds either its
// old or its new content, never a mix; a failure before the rename removes
// the temporary file and leaves path as it was. Callers writing the same
// path from several goroutines must serialise them (they share the
// temporary name).
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return WriteFileAtomicFS(OS(), path, data, perm)
}

// WriteFileAtomicFS is WriteFileAtomic on fsys.
func WriteFileAtomicFS(fsys FS, path string, data []byte, perm fs.FileMode) error {
	tmp := path + TempSuffix
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Datasync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err != nil {
		_ = fsys.Remove(tmp) // best effort: the error below is the one that matters
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}
