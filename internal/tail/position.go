package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/runnel/runnel/internal/fsutil"
)

// FingerprintSize is the most leading bytes of a file a Fingerprint covers.
// Frozen: it is part of the position file's meaning.
const FingerprintSize = 1024

// Fingerprint identifies a file's content by a hash of its first Len bytes
// (at most FingerprintSize). A file that grows keeps its fingerprint
// extended up to FingerprintSize bytes, so Len is at least
// min(position, FingerprintSize) for every position the Follower reports.
type Fingerprint struct {
	// Len is how many leading bytes Sum covers; a negative Len means
	// unknown (a Flume position file without fingerprints), and such a
	// position is matched by inode alone.
	Len int
	// Sum is the 64-bit FNV-1a hash of those bytes.
	Sum uint64
}

// Known reports whether the fingerprint was recorded.
func (fp Fingerprint) Known() bool { return fp.Len >= 0 }

// String formats the sum as 16 hex digits (the position file's form).
func (fp Fingerprint) String() string { return fmt.Sprintf("%016x", fp.Sum) }

// ParseFingerprint reads a fingerprint written as String and its length.
func ParseFingerprint(sum string, n int) (Fingerprint, error) {
	v, err := strconv.ParseUint(sum, 16, 64)
	if err != nil || len(sum) != 16 {
		return Fingerprint{}, fmt.Errorf("fingerprint %q is not 16 hex digits", sum)
	}
	if n < 0 || n > FingerprintSize {
		return Fingerprint{}, fmt.Errorf("fingerprint length %d is outside [0, %d]", n, FingerprintSize)
	}
	return Fingerprint{Len: n, Sum: v}, nil
}

func fingerprintOf(b []byte) Fingerprint {
	h := fnv.New64a()
	h.Write(b)
	return Fingerprint{Len: len(b), Sum: h.Sum64()}
}

// readFingerprint hashes the first n bytes of f; ok is false when f holds
// fewer than n bytes.
func readFingerprint(f interface {
	ReadAt([]byte, int64) (int, error)
}, n int) (fp Fingerprint, ok bool, err error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if got == n {
		return fingerprintOf(buf), true, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return Fingerprint{}, false, err
	}
	return Fingerprint{}, false, nil
}

// Position is where reading one file has got to: the file (by inode and
// fingerprint; Path is its name when last seen) and the byte offset after
// the last line the caller committed.
type Position struct {
	Path        string
	Inode       uint64 // 0: unknown; the file now at Path is meant
	Fingerprint Fingerprint
	Offset      int64
	// Rotated is set by Follower.Positions for a file no longer named by
	// its group (renamed away or deleted, read to its end through its
	// descriptor); Path is then the name it had. Not persisted.
	Rotated bool
}

// positionJSON is one entry of a position file: Flume's taildir fields
// (inode, pos, file) plus the fingerprint, which Flume does not write.
type positionJSON struct {
	Inode             uint64 `json:"inode"`
	Pos               int64  `json:"pos"`
	File              string `json:"file"`
	Fingerprint       string `json:"fingerprint,omitempty"`
	FingerprintLength *int   `json:"fingerprintLength,omitempty"`
}

// MarshalPositions encodes positions as a taildir position file:
//
//	[{"inode":2496001,"pos":1234,"file":"/var/log/app.log","fingerprint":"8c3e...","fingerprintLength":1024}]
func MarshalPositions(ps []Position) ([]byte, error) {
	out := make([]positionJSON, 0, len(ps))
	for _, p := range ps {
		j := positionJSON{Inode: p.Inode, Pos: p.Offset, File: p.Path}
		if p.Fingerprint.Known() {
			n := p.Fingerprint.Len
			j.Fingerprint, j.FingerprintLength = p.Fingerprint.String(), &n
		}
		out = append(out, j)
	}
	return json.Marshal(out)
}

// UnmarshalPositions decodes a position file written by MarshalPositions or
// by Flume's taildir source (no fingerprint: matched by inode alone).
// Entries with a negative pos or an empty file name are refused.
func UnmarshalPositions(b []byte) ([]Position, error) {
	var in []positionJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decoding position file: %w", err)
	}
	ps := make([]Position, 0, len(in))
	for i, j := range in {
		if j.Pos < 0 {
			return nil, fmt.Errorf("decoding position file: entry %d: negative pos %d", i, j.Pos)
		}
		if j.File == "" {
			return nil, fmt.Errorf("decoding position file: entry %d: no file name", i)
		}
		p := Position{Path: j.File, Inode: j.Inode, Offset: j.Pos, Fingerprint: Fingerprint{Len: -1}}
		if j.Fingerprint != "" || j.FingerprintLength != nil {
			n := 0
			if j.FingerprintLength != nil {
				n = *j.FingerprintLength
			}
			fp, err := ParseFingerprint(j.Fingerprint, n)
			if err != nil {
				return nil, fmt.Errorf("decoding position file: entry %d: %w", i, err)
			}
			p.Fingerprint = fp
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// ReadPositionFile reads the position file at path; a missing or empty
// file holds no positions.
func ReadPositionFile(path string) ([]Position, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading position file: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	ps, err := UnmarshalPositions(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ps, nil
}

// WritePositionFile replaces the position file at path atomically: it
// writes a temporary file beside it, fsyncs it, renames it over path and
// fsyncs the directory, so a crash leaves either the old or the new
// positions, never a torn file.
func WritePositionFile(path string, ps []Position) error {
	b, err := MarshalPositions(ps)
	if err != nil {
		return fmt.Errorf("encoding positions: %w", err)
	}
	fsys := fsutil.OS()
	dir := filepath.Dir(path)
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing position file: %w", err)
	}
	if err := fsutil.WriteFileAtomicFS(fsys, path, b, 0o644); err != nil {
		return fmt.Errorf("writing position file: %w", err)
	}
	return nil
}
