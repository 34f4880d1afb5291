package tail

import "bytes"

// splitter cuts complete lines out of a file's read buffer.
//
// A line ends at '\n'; a '\r' just before it is dropped too. A line whose
// content is longer than max bytes is split: the first max bytes become one
// line, and the rest is cut the same way, so nothing of a long line is lost
// and the buffer never holds more than max+1 bytes of one line. A trailing
// partial line (no '\n' yet) waits for more data.
//
// nextLine returns the content of the next line in buf and how many bytes of
// buf it used (content, the '\r' and the '\n'); n is 0 when buf holds no
// complete line yet.
func nextLine(buf []byte, max int) (line []byte, n int) {
	i := bytes.IndexByte(buf, '\n')
	if i >= 0 {
		c := i
		if c > 0 && buf[c-1] == '\r' {
			c--
		}
		if c <= max {
			return buf[:c], i + 1
		}
		return buf[:max], max
	}
	// No newline: split only when the line is sure to be too long, so a
	// line of exactly max bytes followed by "\r\n" stays whole.
	if len(buf) > max+1 || (len(buf) == max+1 && buf[max] != '\r') {
		return buf[:max], max
	}
	return nil, 0
}
