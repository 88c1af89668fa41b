package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// errRecord says what is wrong with a version 2 record.
var errRecord = errors.New("malformed version 2 record")

// decodeRecordV2 reads a version 2 record, b starting at its '['. When the
// record's ID is id, the state shares id's string.
func decodeRecordV2(s *TargetState, b []byte, id string) error {
	*s = TargetState{}
	r := recordReader{b: b}
	r.expect('[')
	if v := r.parseInt(r.number()); r.err == nil && v != Version {
		return fmt.Errorf("%w %d (this build reads %d and %d)", ErrVersion, v, versionJSON, Version)
	}
	s.V = Version
	if raw, str, unescaped := r.rawStr(); unescaped {
		s.ID = str
	} else if string(raw) == id {
		s.ID = id
	} else {
		s.ID = string(raw)
	}
	s.Check = r.known("dns", "ping", "http", "tls", "tcp")
	// The target is nearly always the ID without its "check:": share it.
	if raw, str, unescaped := r.rawStr(); unescaped {
		s.Target = str
	} else if t, ok := strings.CutPrefix(s.ID, s.Check+":"); ok && t == string(raw) {
		s.Target = t
	} else {
		s.Target = string(raw)
	}
	s.Name = r.str()
	s.Status = Status(r.known(string(Up), string(Down), string(Unknown)))
	s.Since = r.time()
	s.ConsecutiveFailures = r.int()
	s.ConsecutiveSuccesses = r.int()
	s.IncidentStart = r.time()
	s.AlertedAt = r.time()
	s.LastReminderAt = r.time()
	s.AlertedIncident = r.time()
	s.Circuit = Circuit(r.known(string(Closed), string(Open), string(HalfOpen)))
	s.OpenedAt = r.time()
	s.BackoffMultiplier = r.int()
	s.NextProbeAt = r.time()
	r.array(func() { s.StatusChanges = append(s.StatusChanges, r.timeValue()) })
	s.Flapping = r.flag("flapping")
	s.FlappingSince = r.time()
	s.CertLevel = r.known("ok", "warning", "critical", "expired")
	s.CertDays = r.float()
	s.NotAfter = r.time()
	st := &s.Stats
	st.Checks = r.int64()
	st.Failures = r.int64()
	st.UptimeSeconds = r.float()
	st.DowntimeSeconds = r.float()
	st.DowntimeEvents = r.int64()
	r.array(func() {
		o := Outage{Start: r.timeValue()}
		r.comma()
		o.End = r.timeValue()
		st.Outages = append(st.Outages, o)
	})
	st.LatencyLast = r.float()
	st.LatencyMin = r.float()
	st.LatencyMax = r.float()
	st.LatencyEWMA = r.float()
	s.LastError = r.str()
	s.LastProbeAt = r.time()
	s.LastSeen = r.time()
	if r.more() {
		s.ConsecutiveDegraded = r.int()
		s.Degraded = r.flag("degraded")
		s.DegradedSince = r.time()
		if r.more() {
			if err := json.Unmarshal([]byte(r.str()), &s.Held); err != nil && r.err == nil {
				r.fail("held events: " + err.Error())
			}
		}
	}
	r.expect(']')
	r.space()
	if r.err == nil && r.i != len(r.b) {
		r.fail("bytes after the record")
	}
	return r.err
}

// recordReader reads the elements of a version 2 record. After the first
// error every read returns a zero value.
type recordReader struct {
	b   []byte
	i   int
	err error
}

func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errRecord, what, r.i)
	}
}

func (r *recordReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *recordReader) expect(c byte) {
	if r.err != nil {
		return
	}
	r.space()
	if r.i >= len(r.b) || r.b[r.i] != c {
		r.fail("want " + strconv.QuoteRune(rune(c)))
		return
	}
	r.i++
}

func (r *recordReader) comma() { r.expect(',') }

// more reports whether another element follows, rather than the ']'.
func (r *recordReader) more() bool {
	if r.err != nil {
		return false
	}
	r.space()
	return r.i < len(r.b) && r.b[r.i] == ','
}

// flag reads a ',' and a 0 or 1.
func (r *recordReader) flag(name string) bool {
	switch r.int() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(name + " is neither 0 nor 1")
	return false
}

// array reads a ',' and then an array, calling elem for each element.
func (r *recordReader) array(elem func()) {
	r.comma()
	r.expect('[')
	if r.err != nil {
		return
	}
	r.space()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return
	}
	for n := 0; r.err == nil; n++ {
		if n > 0 {
			r.comma()
		}
		elem()
		r.space()
		if r.err == nil && r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			return
		}
	}
}

// token reads a ',' and then a number's bytes.
func (r *recordReader) token() []byte {
	r.comma()
	return r.number()
}

// number reads a number's bytes.
func (r *recordReader) number() []byte {
	if r.err != nil {
		return nil
	}
	r.space()
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		r.i++
	}
	if r.i == start {
		r.fail("want a number")
		return nil
	}
	return r.b[start:r.i]
}

// parseInt reads a JSON integer: an optional '-' and digits.
func (r *recordReader) parseInt(t []byte) int64 {
	if r.err != nil {
		return 0
	}
	neg := len(t) > 0 && t[0] == '-'
	if neg {
		t = t[1:]
	}
	if len(t) == 0 || len(t) > 19 || (len(t) > 1 && t[0] == '0') {
		r.fail("want an integer")
		return 0
	}
	var n uint64
	for _, c := range t {
		if c < '0' || c > '9' {
			r.fail("want an integer")
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	if neg && n <= 1<<63 {
		return int64(-n) // two's complement: -(1<<63) wraps to itself
	}
	if n > math.MaxInt64 {
		r.fail("integer out of range")
		return 0
	}
	return int64(n)
}

func (r *recordReader) int64() int64 { return r.parseInt(r.token()) }

func (r *recordReader) int() int {
	n := r.int64()
	if n < math.MinInt || n > math.MaxInt {
		r.fail("integer out of range")
		return 0
	}
	return int(n)
}

func (r *recordReader) float() float64 {
	t := r.token()
	if r.err != nil {
		return 0
	}
	// A view of t, not a copy: ParseFloat keeps nothing of it but in its
	// error, which is dropped.
	f, err := strconv.ParseFloat(unsafe.String(&t[0], len(t)), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail("want a finite number")
		return 0
	}
	return f
}

func (r *recordReader) time() time.Time {
	r.comma()
	return r.timeValue()
}

func (r *recordReader) timeValue() time.Time {
	n := r.parseInt(r.number())
	if n == 0 || r.err != nil {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// rawStr reads a ',' and then a string. It returns the bytes between the
// quotes when they need no unescaping and are valid UTF-8, else the
// unescaped string in s.
func (r *recordReader) rawStr() (raw []byte, s string, unescaped bool) {
	r.comma()
	if r.err != nil {
		return nil, "", false
	}
	r.space()
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		r.fail("want a string")
		return nil, "", false
	}
	start := r.i
	r.i++
	plain := true
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			body := r.b[start+1 : r.i-1]
			if plain && utf8.Valid(body) {
				return body, "", false
			}
			// The rare string with escapes or invalid UTF-8 is left to
			// encoding/json, which also replaces invalid UTF-8 as version 1
			// records always did.
			s, err := unquote(r.b[start:r.i])
			if err != nil {
				r.fail("bad string")
				return nil, "", false
			}
			return nil, s, true
		case c == '\\':
			plain = false
			r.i += 2
		case c < 0x20:
			r.fail("control character in a string")
			return nil, "", false
		default:
			r.i++
		}
	}
	r.fail("unterminated string")
	return nil, "", false
}

// unquote decodes a JSON string with escapes. It is a function of its own
// so that the string it decodes into, which escapes to the heap, is
// allocated only for those strings, not at every rawStr.
func unquote(b []byte) (string, error) {
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

func (r *recordReader) str() string {
	raw, s, unescaped := r.rawStr()
	if unescaped {
		return s
	}
	return string(raw)
}

// known reads a string that is nearly always one of consts (a check, a
// status, a circuit or a certificate level), and returns that constant
// then, without allocating.
func (r *recordReader) known(consts ...string) string {
	raw, s, unescaped := r.rawStr()
	if unescaped {
		return s
	}
	for _, c := range consts {
		if string(raw) == c {
			return c
		}
	}
	return string(raw)
}

// decodeAt decodes the record stored under id into *dst. When it cannot,
// *dst is left zero (a target never seen) and the error says why, for a
// Warning.
func decodeAt(dst *TargetState, id string, raw []byte) error {
	err := decodeRecordInto(dst, raw, id)
	if err == nil && dst.ID != id {
		err = fmt.Errorf("record is for target %q", dst.ID)
	}
	if err != nil {
		*dst = TargetState{}
		return fmt.Errorf("state of %s reset: %w", id, err)
	}
	return nil
}
