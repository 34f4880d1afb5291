// Package progress draws a live progress line for long CLI work: a bar with
// percentage, counts, current rate, throughput and ETA, redrawn in place on a
// terminal, or printed as plain periodic lines when the output is not a
// terminal (a pipe, a file, CI logs).
//
// A Bar owns one goroutine, started by Start and stopped by Stop. Add may be
// called from any goroutine.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Bar reports the progress of counted work.
type Bar struct {
	w        io.Writer
	label    string
	total    int64
	unit     string
	interval time.Duration
	tty      bool
	width    int
	now      func() time.Time

	count atomic.Int64
	bytes atomic.Int64

	mu        sync.Mutex // guards the fields below and writes to w
	start     time.Time
	lastAt    time.Time
	lastCount int64
	lastBytes int64
	lastLen   int
	stop      chan struct{}
	done      chan struct{}
}

// Option configures a Bar.
type Option func(*Bar)

// WithInterval sets how often the line is redrawn (default 200ms on a
// terminal, 2s otherwise).
func WithInterval(d time.Duration) Option { return func(b *Bar) { b.interval = d } }

// WithTTY forces terminal (true) or plain-line (false) rendering instead of
// detecting it from the writer.
func WithTTY(tty bool) Option { return func(b *Bar) { b.tty = tty; b.width = 100 } }

// WithUnit names what is counted (default "rec").
func WithUnit(u string) Option { return func(b *Bar) { b.unit = u } }

// New returns a bar writing to w for work of total units (0 when unknown).
func New(w io.Writer, label string, total int64, opts ...Option) *Bar {
	b := &Bar{w: w, label: label, total: total, unit: "rec", now: time.Now}
	b.tty, b.width = IsTerminal(w)
	for _, o := range opts {
		o(b)
	}
	if b.interval <= 0 {
		if b.tty {
			b.interval = 200 * time.Millisecond
		} else {
			b.interval = 2 * time.Second
		}
	}
	return b
}

// IsTerminal reports whether w is a terminal and its width in columns.
func IsTerminal(w io.Writer) (bool, int) {
	f, ok := w.(*os.File)
	if !ok {
		return false, 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return false, 0
	}
	width := int(ws.Col)
	if width <= 0 {
		width = 80
	}
	return true, width
}

// Add records n more units done, carrying size bytes.
func (b *Bar) Add(n, size int64) {
	b.count.Add(n)
	b.bytes.Add(size)
}

// Count returns the units done so far.
func (b *Bar) Count() int64 { return b.count.Load() }

// Start begins periodic rendering. Call Stop to end it.
func (b *Bar) Start() {
	b.mu.Lock()
	b.start = b.now()
	b.lastAt = b.start
	stop, done := make(chan struct{}), make(chan struct{})
	b.stop, b.done = stop, done
	b.mu.Unlock()
	go b.run(stop, done)
}

func (b *Bar) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			b.render(false)
		}
	}
}

// Stop ends rendering, draws the final state once and, on a terminal, ends
// the line. It is safe to call Stop more than once.
func (b *Bar) Stop() {
	b.mu.Lock()
	stop, done := b.stop, b.done
	b.stop = nil
	b.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	b.render(true)
}

// render draws one frame. It takes b.mu.
func (b *Bar) render(final bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	s := Snapshot{
		Label:   b.label,
		Unit:    b.unit,
		Total:   b.total,
		Count:   b.count.Load(),
		Bytes:   b.bytes.Load(),
		Elapsed: now.Sub(b.start),
	}
	if final {
		s.Rate = rate(s.Count, s.Elapsed)
		s.ByteRate = rate(s.Bytes, s.Elapsed)
	} else {
		dt := now.Sub(b.lastAt)
		s.Rate = rate(s.Count-b.lastCount, dt)
		s.ByteRate = rate(s.Bytes-b.lastBytes, dt)
	}
	b.lastAt, b.lastCount, b.lastBytes = now, s.Count, s.Bytes
	if !b.tty {
		fmt.Fprintln(b.w, s.Line())
		return
	}
	line := s.Bar(b.width - 1)
	pad := ""
	if n := b.lastLen - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	b.lastLen = len(line)
	fmt.Fprint(b.w, "\r"+line+pad)
	if final {
		fmt.Fprintln(b.w)
	}
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Snapshot is the state one frame shows.
type Snapshot struct {
	Label    string
	Unit     string
	Total    int64 // 0 when unknown
	Count    int64
	Bytes    int64
	Elapsed  time.Duration
	Rate     float64 // units per second
	ByteRate float64 // bytes per second
}

// Line renders s as one plain line for logs and pipes.
func (s Snapshot) Line() string {
	var sb strings.Builder
	if s.Label != "" {
		sb.WriteString(s.Label + ": ")
	}
	if s.Total > 0 {
		fmt.Fprintf(&sb, "%d/%d %s (%.1f%%)", s.Count, s.Total, s.Unit, s.percent())
	} else {
		fmt.Fprintf(&sb, "%d %s", s.Count, s.Unit)
	}
	fmt.Fprintf(&sb, ", %.0f %s/s, %s/s, elapsed %s", s.Rate, s.Unit, Bytes(s.ByteRate), s.Elapsed.Round(time.Second))
	if eta, ok := s.eta(); ok {
		fmt.Fprintf(&sb, ", eta %s", eta)
	}
	return sb.String()
}

// Bar renders s as a terminal progress bar no wider than width columns.
func (s Snapshot) Bar(width int) string {
	var tail strings.Builder
	if s.Total > 0 {
		fmt.Fprintf(&tail, " %5.1f%% %d/%d", s.percent(), s.Count, s.Total)
	} else {
		fmt.Fprintf(&tail, " %d %s", s.Count, s.Unit)
	}
	fmt.Fprintf(&tail, " %.0f %s/s %s/s", s.Rate, s.Unit, Bytes(s.ByteRate))
	if eta, ok := s.eta(); ok {
		fmt.Fprintf(&tail, " eta %s", eta)
	} else {
		fmt.Fprintf(&tail, " %s", s.Elapsed.Round(time.Second))
	}
	head := ""
	if s.Label != "" {
		head = s.Label + " "
	}
	barWidth := width - len(head) - tail.Len() - 2
	if s.Total <= 0 || barWidth < 10 {
		line := head + strings.TrimLeft(tail.String(), " ")
		if width > 0 && len(line) > width {
			line = line[:width]
		}
		return line
	}
	if barWidth > 40 {
		barWidth = 40
	}
	filled := int(float64(barWidth) * s.percent() / 100)
	if filled > barWidth {
		filled = barWidth
	}
	bar := strings.Repeat("=", filled)
	if filled < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-filled-1)
	}
	return head + "[" + bar + "]" + tail.String()
}

func (s Snapshot) percent() float64 {
	if s.Total <= 0 {
		return 0
	}
	return 100 * float64(s.Count) / float64(s.Total)
}

// eta estimates the remaining time from the average rate so far.
func (s Snapshot) eta() (time.Duration, bool) {
	if s.Total <= 0 || s.Count <= 0 || s.Count >= s.Total || s.Elapsed <= 0 {
		return 0, false
	}
	avg := float64(s.Count) / s.Elapsed.Seconds()
	return time.Duration(float64(s.Total-s.Count) / avg * float64(time.Second)).Round(time.Second), true
}

// Bytes formats a byte count or rate with a binary unit: "512 B", "1.5 KiB", "12.3 MiB".
func Bytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for n >= unit && i < len(units)-1 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
