package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// envEntry is one KEY=value line of an env-file.
type envEntry struct {
	Key, Value string
	Line       int
}

// parseEnvFile reads dotenv syntax: KEY=value lines, blank lines and
// '#' comments, an optional "export " prefix, values in single quotes
// (literal) or double quotes (with \n, \t, \", \\ and \$ escapes), and a
// " #" comment after an unquoted value. Every malformed line is reported, each
// as "name:line: problem". Multi-line values are not supported.
func parseEnvFile(r io.Reader, name string) ([]envEntry, error) {
	var (
		entries []envEntry
		errs    []error
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, err := parseEnvLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
			continue
		}
		entries = append(entries, envEntry{Key: key, Value: value, Line: n})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return entries, errors.Join(errs...)
}

func parseEnvLine(line string) (key, value string, err error) {
	if rest, ok := strings.CutPrefix(line, "export "); ok {
		line = strings.TrimSpace(rest)
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		return "", "", fmt.Errorf("%q is not KEY=value", truncate(line, 40))
	}
	key = strings.TrimSpace(k)
	if !validEnvKey(key) {
		return "", "", fmt.Errorf("%q is not a valid key (letters, digits and _; not starting with a digit)", truncate(key, 40))
	}
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, "'"):
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", "", fmt.Errorf("%s: missing closing ' (multi-line values are not supported)", key)
		}
		value, err = v[1:1+end], trailing(key, v[2+end:])
	case strings.HasPrefix(v, `"`):
		var rest string
		value, rest, err = unquoteDouble(key, v[1:])
		if err == nil {
			err = trailing(key, rest)
		}
	default:
		value = v
		if i := strings.Index(v, " #"); i >= 0 {
			value = v[:i]
		} else if i := strings.Index(v, "\t#"); i >= 0 {
			value = v[:i]
		}
		value = strings.TrimSpace(value)
	}
	return key, value, err
}

// unquoteDouble reads a double-quoted value up to its closing quote and
// returns the value and what follows the quote.
func unquoteDouble(key, s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\', '$', '\'':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf(`%s: missing closing " (multi-line values are not supported)`, key)
}

// trailing accepts nothing but blanks and a comment after a quoted value.
func trailing(key, rest string) error {
	rest = strings.TrimSpace(rest)
	if rest == "" || strings.HasPrefix(rest, "#") {
		return nil
	}
	return fmt.Errorf("%s: unexpected %q after the closing quote", key, truncate(rest, 20))
}

func validEnvKey(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, r := range k {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
