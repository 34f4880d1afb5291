package seqfile

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVLong(t *testing.T) {
	cases := []struct {
		v    int64
		want string
	}{
		{0, "00"}, {127, "7f"}, {-1, "ff"}, {-112, "90"}, {128, "8f80"}, {255, "8fff"},
		{256, "8e0100"}, {-113, "8770"}, {1 << 40, "8a010000000000"},
		{-1 << 63, "807fffffffffffffff"}, {1<<63 - 1, "887fffffffffffffff"},
	}
	for _, tc := range cases {
		got := hex.EncodeToString(AppendVLong(nil, tc.v))
		if got != tc.want {
			t.Errorf("AppendVLong(%d) = %s want %s", tc.v, got, tc.want)
		}
		back, err := ReadVLong(bytes.NewReader(AppendVLong(nil, tc.v)))
		if err != nil || back != tc.v {
			t.Errorf("ReadVLong(%s) = %d, %v want %d", tc.want, back, err, tc.v)
		}
	}
}

func testSync() (s [SyncSize]byte) {
	for i := range s {
		s[i] = byte(i)
	}
	return s
}

// TestGoldenBytes pins the exact bytes of a small file as Hadoop's
// SequenceFile.Writer lays them out (version 6, uncompressed, no metadata).
func TestGoldenBytes(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriterSync(&buf, testSync(), LongWritable, BytesWritable)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(AppendLong(nil, 1700000000123), AppendBytes(nil, []byte("hi"))); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil { // no second marker right after one
		t.Fatal(err)
	}
	want := "53455106" + // SEQ 6
		"21" + hex.EncodeToString([]byte(LongWritable)) + // vint 33 + name
		"22" + hex.EncodeToString([]byte(BytesWritable)) + // vint 34 + name
		"0000" + // not compressed, not block compressed
		"00000000" + // no metadata
		"000102030405060708090a0b0c0d0e0f" + // sync marker
		"0000000e" + "00000008" + // record length 8+4+2, key length 8
		"0000018bcfe5687b" + // LongWritable 1700000000123
		"00000002" + "6869" + // BytesWritable "hi"
		"ffffffff" + "000102030405060708090a0b0c0d0e0f" // sync escape + marker
	if got := hex.EncodeToString(buf.Bytes()); got != want {
		t.Fatalf("bytes\n%s\nwant\n%s", got, want)
	}
	if w.Size() != int64(buf.Len()) {
		t.Fatalf("Size %d, wrote %d", w.Size(), buf.Len())
	}
}

func writeFile(t testing.TB, n, size int, valueClass string) ([]byte, [][]byte) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LongWritable, valueClass, Pair{"writer", "runnel"})
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for i := range n {
		body := []byte(fmt.Sprintf("%0*d", size, i))
		bodies = append(bodies, body)
		v := AppendBytes(nil, body)
		if valueClass == Text {
			v = AppendText(nil, body)
		}
		if err := w.Append(AppendLong(nil, int64(i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), bodies
}

func readAll(data []byte) (keys []int64, values [][]byte, r *Reader, err error) {
	r, err = NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, nil, err
	}
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			return keys, values, r, nil
		}
		if err != nil {
			return keys, values, r, err
		}
		kv, err := Long(k)
		if err != nil {
			return keys, values, r, err
		}
		var body []byte
		if r.ValueClass == Text {
			body, err = TextBytes(v)
		} else {
			body, err = Bytes(v)
		}
		if err != nil {
			return keys, values, r, err
		}
		keys = append(keys, kv)
		values = append(values, body)
	}
}

func TestRoundTripAndSyncInterval(t *testing.T) {
	for _, vc := range []string{BytesWritable, Text} {
		t.Run(vc, func(t *testing.T) {
			data, bodies := writeFile(t, 200, 300, vc)
			keys, values, r, err := readAll(data)
			if err != nil {
				t.Fatal(err)
			}
			if r.KeyClass != LongWritable || r.ValueClass != vc || len(r.Metadata) != 1 || r.Metadata[0] != (Pair{"writer", "runnel"}) {
				t.Fatalf("header: %+v", r)
			}
			if len(values) != len(bodies) {
				t.Fatalf("read %d records, wrote %d", len(values), len(bodies))
			}
			for i := range bodies {
				if keys[i] != int64(i) || !bytes.Equal(values[i], bodies[i]) {
					t.Fatalf("record %d = %d %q", i, keys[i], values[i])
				}
			}
			// Sync markers: one at least every SyncInterval bytes, never
			// closer than SyncInterval apart (except the final one).
			marker := append([]byte{0xff, 0xff, 0xff, 0xff}, r.Sync[:]...)
			var at []int
			for off := 0; ; {
				i := bytes.Index(data[off:], marker)
				if i < 0 {
					break
				}
				at = append(at, off+i)
				off += i + len(marker)
			}
			rec := 8 + 8 + 4 + 300
			if vc == Text {
				rec = 8 + 8 + 3 + 300
			}
			if len(at) < len(data)/(SyncInterval+rec) {
				t.Fatalf("%d sync markers in %d bytes", len(at), len(data))
			}
			for i := 1; i < len(at)-1; i++ {
				if gap := at[i] - at[i-1]; gap < SyncInterval || gap > SyncInterval+rec+20 {
					t.Fatalf("sync markers %d apart at %d", gap, at[i])
				}
			}
		})
	}
}

// TestTornTail cuts a file at every length: the reader returns a prefix of
// the records, then io.EOF at a record boundary or io.ErrUnexpectedEOF.
func TestTornTail(t *testing.T) {
	data, bodies := writeFile(t, 12, 150, BytesWritable)
	for cut := 0; cut < len(data); cut++ {
		_, values, r, err := readAll(data[:cut])
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if r != nil {
			// Cutting at Offset keeps exactly the whole records.
			_, again, _, err := readAll(data[:r.Offset()])
			if err != nil || len(again) != len(values) {
				t.Fatalf("cut at %d, then at Offset %d: %d records (%v), want %d", cut, r.Offset(), len(again), err, len(values))
			}
		}
		for i, v := range values {
			if !bytes.Equal(v, bodies[i]) {
				t.Fatalf("cut at %d: record %d = %q", cut, i, v)
			}
		}
	}
}

func TestCorrupt(t *testing.T) {
	good, _ := writeFile(t, 30, 100, BytesWritable)
	hdrLen := bytes.Index(good, []byte("runnel")) + len("runnel") + SyncSize
	cases := []struct {
		name string
		edit func([]byte) []byte
		want error
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrCorrupt},
		{"version 5", func(b []byte) []byte { b[3] = 5; return b }, ErrUnsupported},
		{"compressed", func(b []byte) []byte {
			i := bytes.Index(b, []byte(BytesWritable)) + len(BytesWritable)
			b[i] = 1
			return b
		}, ErrUnsupported},
		{"negative record length", func(b []byte) []byte { b[hdrLen] = 0x80; return b }, ErrCorrupt},
		{"key longer than record", func(b []byte) []byte { b[hdrLen+4] = 0x7f; return b }, ErrCorrupt},
		{"wrong sync marker", func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte{0xff, 0xff, 0xff, 0xff})
			b[i+5] ^= 0xff
			return b
		}, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := readAll(tc.edit(bytes.Clone(good)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	data, _ := writeFile(f, 5, 40, BytesWritable)
	f.Add(data)
	text, _ := writeFile(f, 3, 10, Text)
	f.Add(text)
	f.Add([]byte("SEQ\x06"))
	for _, c := range []Codec{DefaultCodec, GzipCodec, SnappyCodec} {
		blk, _ := writeBlockFile(f, c, 2, 3, 10)
		f.Add(blk)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("header error of unexpected kind: %v", err)
			}
			return
		}
		for range 1000 {
			k, v, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("record error of unexpected kind: %v", err)
				}
				return
			}
			if len(k)+len(v) > len(b) {
				t.Fatalf("record of %d bytes from %d input bytes", len(k)+len(v), len(b))
			}
			_, _ = Long(k)
			_, _ = Bytes(v)
			_, _ = TextBytes(v)
		}
	})
}

// TestReadsHadoopWrittenFiles reads files written by Hadoop 3.4.1's own
// SequenceFile.Writer (testdata/SeqCheck.java), one of them long enough to
// hold a sync marker (Hadoop 3 writes one every 100 KiB).
func TestReadsHadoopWrittenFiles(t *testing.T) {
	for _, tc := range []struct {
		file  string
		class string
		n     int
	}{
		{"testdata/hadoop-3.4.1-bytes.seq", BytesWritable, 1800},
		{"testdata/hadoop-3.4.1-text.seq", Text, 300},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			keys, values, r, err := readAll(data)
			if err != nil {
				t.Fatal(err)
			}
			if r.KeyClass != LongWritable || r.ValueClass != tc.class || len(values) != tc.n {
				t.Fatalf("classes %s %s, %d records", r.KeyClass, r.ValueClass, len(values))
			}
			for i, v := range values {
				want := fmt.Sprintf("hadoop record %d %s", i, strings.Repeat("x", i%50))
				if keys[i] != 1700000000000+int64(i) || string(v) != want {
					t.Fatalf("record %d = %d %q, want %q", i, keys[i], v, want)
				}
			}
		})
	}
}

// TestHadoopReadsOurFiles has Hadoop's SequenceFile.Reader read files this
// package writes. It needs Java and the Hadoop jars (see
// testdata/hadoop-pom.xml) in RUNNEL_HADOOP_JARS.
func TestHadoopReadsOurFiles(t *testing.T) {
	jars := os.Getenv("RUNNEL_HADOOP_JARS")
	if jars == "" {
		t.Skip("RUNNEL_HADOOP_JARS is not set; see testdata/hadoop-pom.xml to fetch Hadoop's jars")
	}
	classes := t.TempDir()
	cp := filepath.Join(jars, "*")
	if out, err := exec.Command("javac", "-d", classes, "-cp", cp, "testdata/SeqCheck.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	type file struct {
		name   string
		data   []byte
		bodies [][]byte
		vc     string
	}
	var files []file
	for _, vc := range []string{BytesWritable, Text} {
		data, bodies := writeFile(t, 400, 37, vc)
		files = append(files, file{vc, data, bodies, vc})
	}
	for _, c := range []Codec{DefaultCodec, GzipCodec, SnappyCodec} {
		data, bodies := writeBlockFile(t, c, 3, 4000, 60)
		files = append(files, file{c.Class, data, bodies, BytesWritable})
	}
	for _, f := range files {
		data, bodies, vc := f.data, f.bodies, f.vc
		path := filepath.Join(t.TempDir(), "ours.seq")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("java", "-cp", cp+string(os.PathListSeparator)+classes, "SeqCheck", "read", path).Output()
		if err != nil {
			t.Fatalf("hadoop reader on %s: %v", f.name, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if lines[0] != LongWritable+" "+vc || len(lines) != len(bodies)+1 {
			t.Fatalf("hadoop read %q ... (%d lines)", lines[0], len(lines))
		}
		for i, b := range bodies {
			if want := fmt.Sprintf("%d\t%s", i, b); lines[i+1] != want {
				t.Fatalf("hadoop line %d = %q want %q", i, lines[i+1], want)
			}
		}
	}
}

func TestReadsHadoopBlockCompressedFiles(t *testing.T) {
	for _, codec := range []Codec{DefaultCodec, GzipCodec, SnappyCodec} {
		name := codec.Class[strings.LastIndexByte(codec.Class, '.')+1:]
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/hadoop-3.4.1-block-" + name + ".seq")
			if err != nil {
				t.Fatal(err)
			}
			keys, values, r, err := readAll(data)
			if err != nil {
				t.Fatal(err)
			}
			if r.Codec() == nil || r.Codec().Class != codec.Class || len(values) != 3000 {
				t.Fatalf("codec %v, %d records", r.Codec(), len(values))
			}
			for i, v := range values {
				want := fmt.Sprintf("hadoop record %d %s", i, strings.Repeat("x", i%50))
				if keys[i] != 1700000000000+int64(i) || string(v) != want {
					t.Fatalf("record %d = %d %q", i, keys[i], v)
				}
			}
		})
	}
}

func writeBlockFile(t testing.TB, codec Codec, batches, perBatch, size int) ([]byte, [][]byte) {
	var buf bytes.Buffer
	w, err := NewBlockWriter(&buf, codec, LongWritable, BytesWritable)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for b := range batches {
		for i := range perBatch {
			n := b*perBatch + i
			body := []byte(fmt.Sprintf("%0*d", size, n))
			bodies = append(bodies, body)
			if err := w.Append(AppendLong(nil, int64(n)), AppendBytes(nil, body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes(), bodies
}

func TestBlockCompressedRoundTrip(t *testing.T) {
	for _, codec := range []Codec{DefaultCodec, GzipCodec, SnappyCodec} {
		t.Run(codec.Class, func(t *testing.T) {
			// 3 batches, one block each.
			data, bodies := writeBlockFile(t, codec, 3, 5000, 100)
			keys, values, r, err := readAll(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(values) != len(bodies) || r.Offset() != int64(len(data)) {
				t.Fatalf("%d records of %d, offset %d of %d", len(values), len(bodies), r.Offset(), len(data))
			}
			for i := range bodies {
				if keys[i] != int64(i) || !bytes.Equal(values[i], bodies[i]) {
					t.Fatalf("record %d", i)
				}
			}
			if len(data) > len(bodies)*100/2 {
				t.Fatalf("%d bytes for %d records of 100 bytes: not compressed", len(data), len(bodies))
			}
			// A torn last block: the reader stops at the end of the last
			// whole block, with whole blocks' records only.
			_, values, r, err = readAll(data[:len(data)-10])
			if !errors.Is(err, io.ErrUnexpectedEOF) || len(values)%5000 != 0 || r.Offset() >= int64(len(data)) {
				t.Fatalf("torn: %d records, offset %d, %v", len(values), r.Offset(), err)
			}
		})
	}
}
