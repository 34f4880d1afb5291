package hadoopcodec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSnappyRoundTripAndBlocks(t *testing.T) {
	var buf bytes.Buffer
	w := NewSnappyWriter(&buf)
	data := []byte(strings.Repeat("a line of text that compresses well\n", 5000)) // ~180 KB: 3 blocks
	for i := 0; i < len(data); i += 1000 {
		if _, err := w.Write(data[i:min(i+1000, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil { // nothing buffered: no empty block
		t.Fatal(err)
	}
	got, err := ReadSnappy(bytes.NewReader(buf.Bytes()))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip: %d bytes, %v", len(got), err)
	}
	// Walk the framing: blocks of BlockSize, BlockSize, rest.
	b := buf.Bytes()
	var sizes []int
	for len(b) > 0 {
		raw := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		sizes = append(sizes, raw)
		b = b[8+n:]
	}
	if len(sizes) != 3 || sizes[0] != BlockSize || sizes[1] != BlockSize || sizes[2] != len(data)-2*BlockSize {
		t.Fatalf("block sizes %v", sizes)
	}
}

func TestSnappyGoldenBytes(t *testing.T) {
	var buf bytes.Buffer
	w := NewSnappyWriter(&buf)
	w.Write([]byte("hi"))
	w.Flush()
	// raw length 2, chunk length 4, snappy: varint 2, literal tag (len-1)<<2, "hi"
	if got := hex.EncodeToString(buf.Bytes()); got != "00000002"+"00000004"+"02"+"04"+"6869" {
		t.Fatalf("bytes %s", got)
	}
}

func TestReadSnappyCorrupt(t *testing.T) {
	for name, in := range map[string]string{
		"torn length":    "0000",
		"torn chunk":     "00000002000000040204",
		"chunk too long": "00000001" + "00000004" + "02046869",
		"huge block":     "7fffffff",
		"bad snappy":     "00000002" + "00000002" + "ffff",
	} {
		b, _ := hex.DecodeString(in)
		_, err := ReadSnappy(bytes.NewReader(b))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzReadSnappy(f *testing.F) {
	var buf bytes.Buffer
	w := NewSnappyWriter(&buf)
	w.Write([]byte("hello hello hello"))
	w.Flush()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ReadSnappy(bytes.NewReader(b))
		if err == nil && len(out) > 0 && len(b) == 0 {
			t.Fatal("output from no input")
		}
	})
}

func TestScanSnappyEndOfLastWholeBlock(t *testing.T) {
	var buf bytes.Buffer
	w := NewSnappyWriter(&buf)
	w.Write([]byte("first block\n"))
	w.Flush()
	whole := buf.Len()
	w.Write([]byte("second block\n"))
	w.Flush()
	for cut := whole; cut < buf.Len(); cut++ {
		var got []byte
		end, err := ScanSnappy(bytes.NewReader(buf.Bytes()[:cut]), func(b []byte) { got = append(got, b...) })
		if end != int64(whole) || string(got) != "first block\n" || (cut > whole && err == nil) {
			t.Fatalf("cut %d: end %d, %q, %v", cut, end, got, err)
		}
	}
	if end, err := ScanSnappy(bytes.NewReader(buf.Bytes()), func([]byte) {}); end != int64(buf.Len()) || err != nil {
		t.Fatalf("whole stream: end %d, %v", end, err)
	}
}
