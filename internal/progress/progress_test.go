package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSnapshotLine(t *testing.T) {
	tests := []struct {
		name string
		s    Snapshot
		want string
	}{
		{
			name: "known total",
			s:    Snapshot{Label: "produce", Unit: "rec", Total: 1000, Count: 250, Bytes: 256000, Elapsed: 5 * time.Second, Rate: 50, ByteRate: 51200},
			want: "produce: 250/1000 rec (25.0%), 50 rec/s, 50.0 KiB/s, elapsed 5s, eta 15s",
		},
		{
			name: "unknown total",
			s:    Snapshot{Label: "consume", Unit: "rec", Count: 42, Elapsed: 1500 * time.Millisecond, Rate: 28, ByteRate: 100},
			want: "consume: 42 rec, 28 rec/s, 100 B/s, elapsed 2s",
		},
		{
			name: "done has no eta",
			s:    Snapshot{Unit: "rec", Total: 10, Count: 10, Elapsed: time.Second, Rate: 10, ByteRate: 3 << 20},
			want: "10/10 rec (100.0%), 10 rec/s, 3.0 MiB/s, elapsed 1s",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Line(); got != tc.want {
				t.Errorf("Line() = %q\nwant      %q", got, tc.want)
			}
		})
	}
}

func TestSnapshotBar(t *testing.T) {
	tests := []struct {
		name  string
		s     Snapshot
		width int
		want  string
	}{
		{
			name:  "half",
			s:     Snapshot{Label: "p", Unit: "rec", Total: 100, Count: 50, Elapsed: 2 * time.Second, Rate: 25, ByteRate: 2048},
			width: 80,
			want:  "p [==================>                 ]  50.0% 50/100 25 rec/s 2.0 KiB/s eta 2s",
		},
		{
			name:  "narrow terminal drops the bar",
			s:     Snapshot{Label: "p", Unit: "rec", Total: 100, Count: 50, Elapsed: 2 * time.Second, Rate: 25, ByteRate: 2048},
			width: 40,
			want:  "p 50.0% 50/100 25 rec/s 2.0 KiB/s eta 2s",
		},
		{
			name:  "very narrow terminal truncates",
			s:     Snapshot{Label: "p", Unit: "rec", Total: 100, Count: 50, Elapsed: 2 * time.Second, Rate: 25, ByteRate: 2048},
			width: 20,
			want:  "p 50.0% 50/100 25 re",
		},
		{
			name:  "full",
			s:     Snapshot{Total: 4, Count: 4, Unit: "rec", Elapsed: time.Second, Rate: 4},
			width: 60,
			want:  "[==============================] 100.0% 4/4 4 rec/s 0 B/s 1s",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.Bar(tc.width)
			if got != tc.want {
				t.Errorf("Bar(%d) = %q\nwant       %q", tc.width, got, tc.want)
			}
			if len(got) > tc.width {
				t.Errorf("Bar(%d) is %d columns wide", tc.width, len(got))
			}
		})
	}
}

func TestBarRendering(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		check func(t *testing.T, out string)
	}{
		{
			name: "plain lines when not a terminal",
			tty:  false,
			check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) < 2 {
					t.Fatalf("want periodic lines and a final one, got %q", out)
				}
				if strings.Contains(out, "\r") {
					t.Errorf("plain output contains carriage returns: %q", out)
				}
				last := lines[len(lines)-1]
				if !strings.HasPrefix(last, "work: 100/100 rec (100.0%)") {
					t.Errorf("final line = %q", last)
				}
			},
		},
		{
			name: "redrawn in place on a terminal",
			tty:  true,
			check: func(t *testing.T, out string) {
				if strings.Count(out, "\r") < 2 {
					t.Errorf("want several redraws, got %q", out)
				}
				if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
					t.Errorf("want exactly one newline, at the end: %q", out)
				}
				frames := strings.Split(strings.TrimSpace(out), "\r")
				if last := frames[len(frames)-1]; !strings.Contains(last, "100/100") {
					t.Errorf("last frame = %q", last)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf testutil.SyncBuffer
			b := New(&buf, "work", 100, WithTTY(tc.tty), WithInterval(5*time.Millisecond))
			b.Start()
			for i := 0; i < 10; i++ {
				b.Add(10, 1000)
				time.Sleep(4 * time.Millisecond)
			}
			b.Stop()
			b.Stop() // idempotent
			tc.check(t, buf.String())
		})
	}
}

func TestNotATerminal(t *testing.T) {
	if tty, _ := IsTerminal(&bytes.Buffer{}); tty {
		t.Error("a bytes.Buffer was detected as a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if tty, _ := IsTerminal(f); tty {
		t.Error("a regular file was detected as a terminal")
	}
}
