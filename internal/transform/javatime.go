package transform

import (
	"fmt"
	"strings"
)

// javaLayout turns a java.text.SimpleDateFormat (or Joda-Time) pattern such
// as "yyyy-MM-dd'T'HH:mm:ss.SSSZ" into a Go time layout. Letters Go layouts
// cannot express (era, week numbers, day-of-week numbers, k/K hours) are
// refused. H (unpadded 24-hour) is written zero-padded, as HH.
func javaLayout(key, pattern string) (string, error) {
	unsupported := func(run string) error {
		return keyErr(key, pattern, fmt.Sprintf("date pattern letters %q are not supported", run),
			"use the letters y M d H h m s S a E z Z X and quoted 'text'")
	}
	var b strings.Builder
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if c == '\'' {
			end := i + 1
			var lit strings.Builder
			for {
				if end >= len(pattern) {
					return "", keyErr(key, pattern, "unterminated quote", "close quoted text with '")
				}
				if pattern[end] == '\'' {
					if end+1 < len(pattern) && pattern[end+1] == '\'' {
						lit.WriteByte('\'')
						end += 2
						continue
					}
					break
				}
				lit.WriteByte(pattern[end])
				end++
			}
			if end == i+1 { // '' is a quote
				lit.WriteByte('\'')
			}
			if err := goLiteral(key, pattern, lit.String()); err != nil {
				return "", err
			}
			b.WriteString(lit.String())
			i = end + 1
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			if err := goLiteral(key, pattern, string(c)); err != nil {
				return "", err
			}
			b.WriteByte(c)
			i++
			continue
		}
		n := 1
		for i+n < len(pattern) && pattern[i+n] == c {
			n++
		}
		run := pattern[i : i+n]
		i += n
		switch c {
		case 'y':
			if n == 2 {
				b.WriteString("06")
			} else {
				b.WriteString("2006")
			}
		case 'M':
			b.WriteString([]string{"1", "01", "Jan", "January"}[min(n, 4)-1])
		case 'd':
			b.WriteString([]string{"2", "02"}[min(n, 2)-1])
		case 'D':
			if n != 3 {
				return "", unsupported(run)
			}
			b.WriteString("002")
		case 'E':
			if n >= 4 {
				b.WriteString("Monday")
			} else {
				b.WriteString("Mon")
			}
		case 'a':
			b.WriteString("PM")
		case 'H':
			b.WriteString("15")
		case 'h':
			b.WriteString([]string{"3", "03"}[min(n, 2)-1])
		case 'm':
			b.WriteString([]string{"4", "04"}[min(n, 2)-1])
		case 's':
			b.WriteString([]string{"5", "05"}[min(n, 2)-1])
		case 'S':
			s := b.String()
			if n > 9 || !(strings.HasSuffix(s, ".") || strings.HasSuffix(s, ",")) {
				return "", keyErr(key, pattern, "milliseconds (S) are supported only right after a '.' or ','", "write the seconds as ss.SSS")
			}
			b.WriteString(strings.Repeat("0", n))
		case 'z':
			b.WriteString("MST")
		case 'Z':
			b.WriteString("-0700")
		case 'X':
			b.WriteString([]string{"Z07", "Z0700", "Z07:00"}[min(n, 3)-1])
		default:
			return "", unsupported(run)
		}
	}
	return b.String(), nil
}

// goLiteral refuses literal text that a Go layout would read as a field.
func goLiteral(key, pattern, lit string) error {
	for _, tok := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "Jan", "Mon", "MST", "PM", "pm", "Z07"} {
		if strings.Contains(lit, tok) {
			return keyErr(key, pattern, fmt.Sprintf("literal text %q cannot be used in a date pattern here", lit), "leave digits and words like Jan, Mon, MST, PM out of quoted text")
		}
	}
	return nil
}
