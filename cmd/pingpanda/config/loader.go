package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsref"
)

// loader merges the sources and reads typed values, recording every
// problem and warning, each naming its key.
type loader struct {
	values   map[string]setting
	problems []string
	// transient: see Error.
	transient bool
	warnings  []string
	reported  map[string]bool

	environ []string
	newAWS  awsref.NewFunc
	// targetsRef says TARGETS_FILE is an s3:// or ssm: reference, and
	// targetsData is what it named (nil if it could not be read).
	targetsRef  bool
	targetsData []byte
	// fileRouting is the monitors file's channels, routes and windows.
	fileRouting *fileRouting
	// explain: see Sources.ExplainMonitors.
	explain bool
}

// problem records a problem once, however many times a key is read.
func (l *loader) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.reported == nil {
		l.reported = map[string]bool{}
	}
	if !l.reported[msg] {
		l.reported[msg] = true
		l.problems = append(l.problems, msg)
	}
}

func (l *loader) warn(format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

func (l *loader) known(k string) bool {
	_, ok := keyIndex[k]
	_, alias := aliases[k]
	return ok || alias
}

// set records key=value from source, resolving the original's aliases.
func (l *loader) set(key, value, source string, line int) {
	where := source
	if line > 0 {
		where = fmt.Sprintf("%s:%d", source, line)
	}
	if to, ok := aliases[key]; ok {
		l.warn("%s (%s) is deprecated: use %s", key, where, to)
		if cur := l.values[to].source; cur == source || strings.HasPrefix(cur, source+":") {
			// The new name in the same source wins over the old one.
			return
		}
		key = to
	}
	l.values[key] = setting{value: value, source: where}
}

// readFile applies an env-file. override says whether it may replace values
// from the environment (-c does; .env does not).
func (l *loader) readFile(path, label string, override bool, envKeys map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		if !override && errors.Is(err, os.ErrNotExist) {
			return
		}
		l.problem("%s: cannot read env-file: %v", label, unwrapPathError(err))
		return
	}
	defer f.Close()
	entries, err := parseEnvFile(f, label)
	if err != nil {
		l.problems = append(l.problems, strings.Split(err.Error(), "\n")...)
	}
	for _, e := range entries {
		if !l.known(e.Key) {
			if s := closestKey(e.Key); s != "" {
				l.warn("%s: unknown key (%s:%d); did you mean %s?", e.Key, label, e.Line, s)
			} else {
				l.warn("%s: unknown key (%s:%d)", e.Key, label, e.Line)
			}
			continue
		}
		name := e.Key
		if to, ok := aliases[name]; ok {
			name = to
		}
		if !override && envKeys[name] {
			continue
		}
		l.set(e.Key, e.Value, label, e.Line)
	}
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// raw is key's value as written, without surrounding blanks. The typed
// readers below check it against the key's spec and record any problem.
func (l *loader) raw(key string) string {
	return strings.TrimSpace(l.values[key].value)
}

// maxSecretFile bounds a secret read through a file: reference.
const maxSecretFile = 64 << 10

// resolveSecrets replaces the secret keys given as references by the
// values they name: file:/path (Kubernetes and Docker secrets) is read
// here, ssm: and secretsmanager: (and an s3:// or ssm: TARGETS_FILE) by
// resolveAWS. Errors name the key and the reference, never the secret.
func (l *loader) resolveSecrets(ctx context.Context) {
	for _, k := range keys {
		if !k.secret {
			continue
		}
		v := strings.TrimSpace(l.values[k.name].value)
		if path, ok := strings.CutPrefix(v, "file:"); ok {
			b, err := readSmallFile(path, maxSecretFile)
			if err != nil {
				l.problem("%s: cannot read secret file %q: %v", k.name, path, err)
				b = nil
			}
			l.setResolved(k.name, strings.TrimRight(string(b), "\r\n"), v)
		}
	}
	l.resolveAWS(ctx)
}

// shownScheme quotes a URL's scheme for a problem, except that of a value
// read through a reference when it is no well-known scheme: a secret that
// is no URL at all ("token:abc") would show its start.
func (l *loader) shownScheme(key, scheme string) string {
	if l.values[key].ref != "" {
		switch strings.ToLower(scheme) {
		case "", "http", "https", "redis", "rediss", "unix", "tcp", "ws", "wss", "ftp", "file", "ssm", "secretsmanager", "s3":
		default:
			return "(not shown)"
		}
	}
	return strconv.Quote(scheme)
}

// from names where a secret key's value was read, for its problems.
func (l *loader) from(key string) string {
	if ref := l.values[key].ref; ref != "" {
		return " (value read from " + ref + ")"
	}
	return ""
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d KiB", limit>>10)
	}
	return b, nil
}

func (l *loader) bool(key string) bool {
	v := l.raw(key)
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on", "y", "t":
		return true
	case "false", "0", "no", "off", "n", "f", "":
		return false
	}
	l.problem("%s: %q is not true or false", key, v)
	return false
}

func (l *loader) int(key string) int {
	spec := keyIndex[key]
	v := l.raw(key)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		l.problem("%s: %q is not a whole number", key, v)
		return 0
	}
	if float64(n) < spec.min || float64(n) > spec.max {
		l.problem("%s: %d is out of range (%s to %s)", key, n, fmtNum(spec.min), fmtNum(spec.max))
		return 0
	}
	return int(n)
}

func (l *loader) float(key string) float64 {
	spec := keyIndex[key]
	v := l.raw(key)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		l.problem("%s: %q is not a number", key, v)
		return 0
	}
	if f < spec.min || f > spec.max {
		l.problem("%s: %s is out of range (%s to %s)", key, v, fmtNum(spec.min), fmtNum(spec.max))
		return 0
	}
	return f
}

func (l *loader) seconds(key string) time.Duration {
	return time.Duration(l.float(key) * float64(time.Second))
}

func (l *loader) enum(key string) string {
	spec := keyIndex[key]
	v := l.raw(key)
	for _, e := range spec.enum {
		if strings.EqualFold(v, e) {
			return e
		}
	}
	l.problem("%s: %q is not one of %s", key, v, strings.Join(spec.enum, ", "))
	return spec.enum[0]
}

func (l *loader) list(key string) []string {
	var out []string
	for _, s := range strings.Split(l.raw(key), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
