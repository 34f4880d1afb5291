package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestFaultFS(t *testing.T) {
	cases := []struct {
		name    string
		op      Op
		partial bool
		do      func(fs FS, f File) error
		wantLen int64 // file size after the failing call
	}{
		{"write-enospc", OpWrite, false, func(_ FS, f File) error { _, err := f.Write([]byte("abcdef")); return err }, 3},
		{"write-enospc-partial", OpWrite, true, func(_ FS, f File) error { _, err := f.Write([]byte("abcdef")); return err }, 6},
		{"sync-eio", OpSync, false, func(_ FS, f File) error { return f.Datasync() }, 3},
		{"truncate", OpTruncate, false, func(_ FS, f File) error { return f.Truncate(0) }, 3},
		{"read", OpRead, false, func(_ FS, f File) error { _, err := f.ReadAt(make([]byte, 1), 0); return err }, 3},
		{"rename", OpRename, false, func(fs FS, f File) error { return fs.Rename(f.Name(), f.Name()+".x") }, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ffs := NewFaultFS(nil)
			p := filepath.Join(t.TempDir(), "f")
			f, err := ffs.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("abc")); err != nil {
				t.Fatal(err)
			}
			if err := f.Datasync(); err != nil {
				t.Fatal(err)
			}
			ffs.PartialWrite(c.partial)
			ffs.Inject(func(op Op, path string) error {
				if op == c.op {
					return syscall.ENOSPC
				}
				return nil
			})
			if err := c.do(ffs, f); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("got %v, want ENOSPC", err)
			}
			st, _ := os.Stat(p)
			if st.Size() != c.wantLen {
				t.Fatalf("size %d, want %d", st.Size(), c.wantLen)
			}
			ffs.Inject(nil)
			if err := c.do(ffs, f); err != nil {
				t.Fatalf("after removing the fault: %v", err)
			}
		})
	}
}

func TestSyncDir(t *testing.T) {
	d := t.TempDir()
	if err := OS().SyncDir(d); err != nil {
		t.Fatal(err)
	}
	if err := OS().SyncDir(filepath.Join(d, "missing")); err == nil {
		t.Fatal("syncing a missing directory succeeded")
	}
}
