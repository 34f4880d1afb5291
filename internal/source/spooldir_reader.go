package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/runnel/runnel/internal/fsutil"
)

// spoolTrackerName is the file in trackerDir holding the position in the
// file being spooled (runnel's own JSON, not Flume's Avro .meta file).
const spoolTrackerName = "runnel-spooldir-position.json"

// spoolTrackerVersion is the frozen format version of the tracker file.
const spoolTrackerVersion = 1

// spoolPos is a position in a spooled file: the byte offset of the next
// line not yet committed, and how many maxLineLength pieces of that line
// were already committed (a line longer than maxLineLength is several
// events, and a batch may end inside it).
type spoolPos struct {
	Offset int64 `json:"offset"`
	Skip   int   `json:"skip"`
}

// spoolTracker is the tracker file's content. File is empty when no file
// is in progress.
type spoolTracker struct {
	Version int      `json:"version"`
	File    string   `json:"file,omitempty"`
	ID      fileID   `json:"id"`
	Pos     spoolPos `json:"pos"`
}

// readSpoolTracker returns the file in progress, or nil when there is none.
func readSpoolTracker(path string) (*spoolTracker, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading tracker %s: %w", path, err)
	}
	var t spoolTracker
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parsing tracker %s: %w", path, err)
	}
	if t.Version != spoolTrackerVersion {
		return nil, fmt.Errorf("tracker %s has version %d, want %d", path, t.Version, spoolTrackerVersion)
	}
	if t.File == "" {
		return nil, nil
	}
	return &t, nil
}

// writeSpoolTracker replaces the tracker file atomically and durably (temp
// file, fsync, rename, fsync of the directory). t nil records that no file
// is in progress.
func writeSpoolTracker(path string, t *spoolTracker) error {
	if t == nil {
		t = &spoolTracker{}
	}
	t.Version = spoolTrackerVersion
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the spooldir tracker: %w", err)
	}
	return nil
}

var errSpoolEOF = errors.New("end of spooled file")

// spoolReader reads a spooled file as Flume's LINE deserializer does: a
// line ends at '\n' (a '\r' before it is kept), a last line without '\n'
// is an event, and a line longer than maxLine characters is cut into
// pieces of maxLine characters, one event each.
type spoolReader struct {
	f       *os.File
	r       *bufio.Reader
	maxLine int
	codec   *textCodec

	pos     spoolPos // position of the next event
	lineEnd int64    // offset after the line whose pieces are pending
	pending [][]byte // remaining pieces of the current line
}

func openSpoolReader(path string, pos spoolPos, maxLine int, codec *textCodec) (*spoolReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seeking %s to byte %d: %w", path, pos.Offset, err)
	}
	r := &spoolReader{f: f, r: bufio.NewReaderSize(f, 64<<10), maxLine: maxLine, codec: codec, pos: spoolPos{Offset: pos.Offset}}
	for i := 0; i < pos.Skip; i++ {
		if _, _, err := r.next(); err != nil {
			f.Close()
			return nil, fmt.Errorf("skipping the committed part of the line at byte %d of %s: %w", pos.Offset, path, err)
		}
	}
	return r, nil
}

func (r *spoolReader) close() { r.f.Close() }

// next returns the next event body and the position after it.
func (r *spoolReader) next() ([]byte, spoolPos, error) {
	if len(r.pending) == 0 {
		if err := r.readLine(); err != nil {
			return nil, r.pos, err
		}
	}
	body := r.pending[0]
	r.pending = r.pending[1:]
	if len(r.pending) == 0 {
		r.pos = spoolPos{Offset: r.lineEnd}
	} else {
		r.pos.Skip++
	}
	return body, r.pos, nil
}

// readLine reads the next raw line and cuts it into pending pieces.
func (r *spoolReader) readLine() error {
	var raw []byte
	for {
		frag, err := r.r.ReadSlice('\n')
		raw = append(raw, frag...)
		if len(raw) > spoolMaxRawLine {
			return fmt.Errorf("line longer than %d bytes", spoolMaxRawLine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(raw) == 0 {
				return errSpoolEOF
			}
			break
		}
		return err
	}
	r.lineEnd = r.pos.Offset + int64(len(raw))
	r.pos.Skip = 0
	raw = bytes.TrimSuffix(raw, []byte{'\n'})
	// Decode to UTF-8 text, cut it by characters, encode each piece.
	text, err := (&textCodec{in: r.codec.in, policy: r.codec.policy}).convert(raw)
	if err != nil {
		return err
	}
	r.pending = r.pending[:0]
	for first := true; first || len(text) > 0; first = false {
		n, i := 0, 0
		for i < len(text) && n < r.maxLine {
			_, size := utf8.DecodeRune(text[i:])
			i += size
			n++
		}
		piece := text[:i]
		text = text[i:]
		if r.codec.out != nil {
			b, err := r.codec.out.NewEncoder().Bytes(piece)
			if err != nil {
				return fmt.Errorf("encoding to the output character set: %w", err)
			}
			piece = b
		}
		r.pending = append(r.pending, bytes.Clone(piece))
	}
	return nil
}
