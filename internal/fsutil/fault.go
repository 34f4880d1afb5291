package fsutil

import (
	"io/fs"
	"sync"
)

// Op names a filesystem operation FaultFS can fail.
type Op string

// Operations FaultFS can fail.
const (
	OpOpen     Op = "open"
	OpWrite    Op = "write"
	OpRead     Op = "read"
	OpSync     Op = "sync"
	OpTruncate Op = "truncate"
	OpRename   Op = "rename"
	OpRemove   Op = "remove"
	OpMkdir    Op = "mkdir"
	OpReadDir  Op = "readdir"
)

// InjectFunc decides whether an operation on path fails; a non-nil return
// is the error the operation reports (for example syscall.ENOSPC).
type InjectFunc func(op Op, path string) error

// FaultFS wraps an FS and fails operations chosen by an InjectFunc. A failed
// Write may write a prefix of the buffer first (PartialWrite), like a disk
// that fills up mid-write. It is safe for concurrent use.
type FaultFS struct {
	inner FS

	mu           sync.Mutex
	inject       InjectFunc
	partialWrite bool
}

// NewFaultFS wraps inner (OS() when nil) with no faults injected.
func NewFaultFS(inner FS) *FaultFS {
	if inner == nil {
		inner = OS()
	}
	return &FaultFS{inner: inner}
}

// Inject sets the fault function; nil removes all faults.
func (f *FaultFS) Inject(fn InjectFunc) {
	f.mu.Lock()
	f.inject = fn
	f.mu.Unlock()
}

// PartialWrite makes failing writes first write half of their buffer.
func (f *FaultFS) PartialWrite(on bool) {
	f.mu.Lock()
	f.partialWrite = on
	f.mu.Unlock()
}

func (f *FaultFS) check(op Op, path string) error {
	f.mu.Lock()
	fn := f.inject
	f.mu.Unlock()
	if fn == nil {
		return nil
	}
	if err := fn(op, path); err != nil {
		return &fs.PathError{Op: string(op), Path: path, Err: err}
	}
	return nil
}

// OpenFile implements FS.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, err
	}
	in, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: in, fs: f}, nil
}

// Remove implements FS.
func (f *FaultFS) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

// RemoveAll implements FS.
func (f *FaultFS) RemoveAll(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.RemoveAll(name)
}

// Rename implements FS.
func (f *FaultFS) Rename(o, n string) error {
	if err := f.check(OpRename, n); err != nil {
		return err
	}
	return f.inner.Rename(o, n)
}

// MkdirAll implements FS.
func (f *FaultFS) MkdirAll(name string, perm fs.FileMode) error {
	if err := f.check(OpMkdir, name); err != nil {
		return err
	}
	return f.inner.MkdirAll(name, perm)
}

// ReadDir implements FS.
func (f *FaultFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.check(OpReadDir, name); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(name)
}

// SyncDir implements FS.
func (f *FaultFS) SyncDir(name string) error {
	if err := f.check(OpSync, name); err != nil {
		return err
	}
	return f.inner.SyncDir(name)
}

type faultFile struct {
	File
	fs *FaultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.check(OpWrite, f.Name()); err != nil {
		f.fs.mu.Lock()
		partial := f.fs.partialWrite
		f.fs.mu.Unlock()
		if partial && len(p) > 1 {
			n, _ := f.File.Write(p[:len(p)/2])
			return n, err
		}
		return 0, err
	}
	return f.File.Write(p)
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(OpRead, f.Name()); err != nil {
		return 0, err
	}
	return f.File.ReadAt(p, off)
}

func (f *faultFile) Datasync() error {
	if err := f.fs.check(OpSync, f.Name()); err != nil {
		return err
	}
	return f.File.Datasync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.Name()); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
