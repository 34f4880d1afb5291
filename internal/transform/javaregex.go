package transform

import (
	"fmt"
	"regexp"
	"strings"
)

// compileJava compiles a Java regular expression from a config key. Go's
// RE2 syntax is the common subset of Java's: look-around, back-references,
// possessive quantifiers and atomic groups are refused here, at load time.
func compileJava(key, pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, keyErr(key, pattern, fmt.Sprintf("not a regular expression runnel can run: %v", err),
			"use RE2 syntax (Java's without look-around, back-references, possessive quantifiers or atomic groups)")
	}
	return re, nil
}

// compileJavaFull compiles pattern to match a whole string, as Java's
// Matcher.matches does.
func compileJavaFull(key, pattern string) (*regexp.Regexp, error) {
	if _, err := compileJava(key, pattern); err != nil {
		return nil, err
	}
	return regexp.MustCompile(`^(?:` + pattern + `)$`), nil
}

// javaReplacement turns a java.util.regex replacement string ($1, ${name},
// \$ for a literal dollar) into a template for Regexp.Expand. Java reads
// as many digits after $ as still name an existing group.
func javaReplacement(key, repl string, re *regexp.Regexp) (string, error) {
	var b strings.Builder
	groups := re.NumSubexp()
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i == len(repl) {
				return "", keyErr(key, repl, "character to be escaped is missing at the end", `remove the trailing \ or write \\ for a backslash`)
			}
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case '$':
			i++
			if i == len(repl) {
				return "", keyErr(key, repl, "a group reference is missing after the final $", `write \$ for a literal dollar sign`)
			}
			if repl[i] == '{' {
				end := strings.IndexByte(repl[i:], '}')
				if end < 0 {
					return "", keyErr(key, repl, "named group reference is missing its }", "write ${name}")
				}
				name := repl[i+1 : i+end]
				if re.SubexpIndex(name) < 0 {
					return "", keyErr(key, repl, fmt.Sprintf("no group named %q in the regex", name), "name a group of the regex with (?P<name>...)")
				}
				b.WriteString("${" + name + "}")
				i += end
				continue
			}
			if repl[i] < '0' || repl[i] > '9' {
				return "", keyErr(key, repl, "illegal group reference", `follow $ with a group number or {name}, or write \$ for a literal dollar sign`)
			}
			n := int(repl[i] - '0')
			if n > groups {
				return "", keyErr(key, repl, fmt.Sprintf("no group %d in the regex (it has %d)", n, groups), "refer to an existing group")
			}
			for i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				m := n*10 + int(repl[i+1]-'0')
				if m > groups {
					break
				}
				n = m
				i++
			}
			fmt.Fprintf(&b, "${%d}", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// replaceAll is Java's Matcher.replaceAll with a template from
// javaReplacement.
func replaceAll(re *regexp.Regexp, s, tmpl string) string {
	return re.ReplaceAllString(s, tmpl)
}

// replaceFirst is Java's Matcher.replaceFirst.
func replaceFirst(re *regexp.Regexp, s, tmpl string) string {
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return s
	}
	out := re.ExpandString(nil, tmpl, s, loc)
	return s[:loc[0]] + string(out) + s[loc[1]:]
}
