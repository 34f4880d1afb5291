package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	cases := []struct {
		name string
		old  string // content of path before; "" = no file
		tmp  string // a stale temporary file left by a crash; "" = none
		data string
		perm os.FileMode
	}{
		{"new file", "", "", "hello", 0o600},
		{"replace longer", "a much longer old content", "", "short", 0o644},
		{"stale temporary", "old", strings.Repeat("junk", 100), "new", 0o644},
		{"empty", "old", "", "", 0o644},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "state.json")
			if tc.old != "" {
				if err := os.WriteFile(p, []byte(tc.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.tmp != "" {
				if err := os.WriteFile(p+TempSuffix, []byte(tc.tmp), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFileAtomic(p, []byte(tc.data), tc.perm); err != nil {
				t.Fatalf("WriteFileAtomic: %v", err)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != tc.data {
				t.Fatalf("read %q, %v; want %q", got, err, tc.data)
			}
			if tc.old == "" && tc.tmp == "" {
				st, err := os.Stat(p)
				if err != nil || st.Mode().Perm() != tc.perm&^umask(t) {
					t.Fatalf("mode %v, %v; want %v", st.Mode().Perm(), err, tc.perm)
				}
			}
			if _, err := os.Stat(p + TempSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temporary file left behind: %v", err)
			}
		})
	}
}

// umask is the process's umask, read by creating a file with mode 0o777.
func umask(t *testing.T) os.FileMode {
	p := filepath.Join(t.TempDir(), "umask")
	if err := os.WriteFile(p, nil, 0o777); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ st.Mode().Perm()
}

// TestWriteFileAtomicFaults: a failure before the rename leaves the old
// content and no temporary file; a failed directory fsync comes after the
// rename, so the new content is in place but the error is reported.
func TestWriteFileAtomicFaults(t *testing.T) {
	cases := []struct {
		name    string
		op      Op
		onDir   bool // fail only the operation on the directory
		partial bool
		want    string // content of path afterwards
	}{
		{"open", OpOpen, false, false, "old"},
		{"write", OpWrite, false, false, "old"},
		{"partial write", OpWrite, false, true, "old"},
		{"fsync of the file", OpSync, false, false, "old"},
		{"rename", OpRename, false, false, "old"},
		{"fsync of the directory", OpSync, true, false, "new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "ckpt")
			if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			ffs := NewFaultFS(nil)
			ffs.PartialWrite(tc.partial)
			ffs.Inject(func(op Op, path string) error {
				if op == tc.op && (path == dir) == tc.onDir {
					return syscall.EIO
				}
				return nil
			})
			err := WriteFileAtomicFS(ffs, p, []byte("new"), 0o644)
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want EIO naming %s", err, p)
			}
			if got, _ := os.ReadFile(p); string(got) != tc.want {
				t.Fatalf("%s holds %q, want %q", p, got, tc.want)
			}
			if _, err := os.Stat(p + TempSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temporary file left behind: %v", err)
			}
		})
	}
}

func TestSyncDirFunc(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir(%s): %v", dir, err)
	}
	missing := filepath.Join(dir, "missing")
	if err := SyncDir(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SyncDir(%s) = %v, want ErrNotExist", missing, err)
	}
}
