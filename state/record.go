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

// A version 2 record is a JSON array of the TargetState's fields in a
// fixed order, its first element the version:
//
//	[2,id,check,target,name,status,since,consecutive_failures,
//	 consecutive_successes,incident_start,alerted_at,last_reminder_at,
//	 alerted_incident,circuit,opened_at,backoff_multiplier,next_probe_at,
//	 [status_changes…],flapping,flapping_since,cert_level,cert_days,
//	 not_after,checks,failures,uptime_seconds,downtime_seconds,
//	 downtime_events,[outage start,outage end,…],latency_last,latency_min,
//	 latency_max,latency_ewma,last_error,last_probe_at,last_seen]
//
// Times are integer Unix nanoseconds (0 for the zero time), flapping is
// 0 or 1. It is under half the version 1 object's size and is written
// and read by hand, field by field, without reflection: encoding takes
// about a third of encoding/json's time on the version 1 object, decoding
// about a fifth (BenchmarkRecord). Being JSON, it still sits verbatim in
// the state file's document.
//
// Version 1 is the JSON object of TargetState's struct tags, with "v":1.
// Decode reads both; Encode writes version 2, or version 1 for the rare
// state version 2 cannot hold exactly (a time outside the years
// 1678–2262 or at the Unix epoch itself), so an upgrade loses nothing and
// migrates each record when it is next saved.
const versionJSON = 1

// Encode returns a target's record as stored: version 2, or version 1 for
// a state version 2 cannot hold exactly. It fails for a float that is not
// finite, as version 1 always did.
func Encode(s TargetState) ([]byte, error) {
	return appendRecord(make([]byte, 0, 256), &s)
}

// appendRecord appends s's record to b.
func appendRecord(b []byte, s *TargetState) ([]byte, error) {
	start := len(b)
	b, ok := appendRecordV2(b, s)
	if ok {
		return b, nil
	}
	v := *s
	v.V = versionJSON
	j, err := json.Marshal(v)
	if err != nil {
		return b[:start], err
	}
	return append(b[:start], j...), nil
}

// appendRecordV2 appends s's version 2 record to b, or reports that
// version 2 cannot hold s exactly.
func appendRecordV2(b []byte, s *TargetState) ([]byte, bool) {
	w := recordWriter{b: append(b, '[', '0'+Version), ok: true}
	w.str(s.ID)
	w.str(s.Check)
	w.str(s.Target)
	w.str(s.Name)
	w.str(string(s.Status))
	w.time(s.Since)
	w.int(int64(s.ConsecutiveFailures))
	w.int(int64(s.ConsecutiveSuccesses))
	w.time(s.IncidentStart)
	w.time(s.AlertedAt)
	w.time(s.LastReminderAt)
	w.time(s.AlertedIncident)
	w.str(string(s.Circuit))
	w.time(s.OpenedAt)
	w.int(int64(s.BackoffMultiplier))
	w.time(s.NextProbeAt)
	w.b = append(w.b, ",["...)
	for i, t := range s.StatusChanges {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.timeValue(t)
	}
	w.b = append(w.b, ']')
	if s.Flapping {
		w.int(1)
	} else {
		w.int(0)
	}
	w.time(s.FlappingSince)
	w.str(s.CertLevel)
	w.float(s.CertDays)
	w.time(s.NotAfter)
	st := &s.Stats
	w.int(st.Checks)
	w.int(st.Failures)
	w.float(st.UptimeSeconds)
	w.float(st.DowntimeSeconds)
	w.int(st.DowntimeEvents)
	w.b = append(w.b, ",["...)
	for i, o := range st.Outages {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.timeValue(o.Start)
		w.b = append(w.b, ',')
		w.timeValue(o.End)
	}
	w.b = append(w.b, ']')
	w.float(st.LatencyLast)
	w.float(st.LatencyMin)
	w.float(st.LatencyMax)
	w.float(st.LatencyEWMA)
	w.str(s.LastError)
	w.time(s.LastProbeAt)
	w.time(s.LastSeen)
	w.b = append(w.b, ']')
	return w.b, w.ok
}

// recordWriter appends the elements of a version 2 record, each after a
// comma; ok turns false at a value version 2 cannot hold.
type recordWriter struct {
	b  []byte
	ok bool
}

func (w *recordWriter) str(s string) {
	w.b = append(w.b, ',')
	w.b = appendJSONString(w.b, s)
}

func (w *recordWriter) int(n int64) {
	w.b = strconv.AppendInt(append(w.b, ','), n, 10)
}

func (w *recordWriter) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.ok = false
		return
	}
	w.b = appendFloat(append(w.b, ','), f)
}

// appendFloat appends f as a JSON number that reads back as f exactly.
// Integers and whole nanoseconds (latencies mostly are) take a short cut
// past strconv's search for the shortest representation: for |n| < 2⁵³,
// n/1e9 in float64 is the double nearest the decimal n/1e9, which is what
// parsing that decimal gives back.
func appendFloat(b []byte, f float64) []byte {
	const exact = 1 << 53
	if n := math.Round(f * 1e9); math.Abs(n) < exact && n/1e9 == f {
		ns := int64(n)
		if ns < 0 {
			b = append(b, '-')
			ns = -ns
		}
		b = strconv.AppendInt(b, ns/1e9, 10)
		frac := ns % 1e9
		if frac == 0 {
			return b
		}
		var digits [10]byte
		x := strconv.AppendInt(digits[:0], 1e9+frac, 10)[1:] // nine digits, leading zeros kept
		for x[len(x)-1] == '0' {
			x = x[:len(x)-1]
		}
		return append(append(b, '.'), x...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

func (w *recordWriter) time(t time.Time) {
	w.b = append(w.b, ',')
	w.timeValue(t)
}

// minUnixSeconds and maxUnixSeconds bound the times whose Unix nanoseconds
// fit an int64, with a margin.
const (
	minUnixSeconds = -9_200_000_000
	maxUnixSeconds = 9_200_000_000
)

func (w *recordWriter) timeValue(t time.Time) {
	if t.IsZero() {
		w.b = append(w.b, '0')
		return
	}
	if sec := t.Unix(); sec <= minUnixSeconds || sec >= maxUnixSeconds {
		w.ok = false
		return
	}
	n := t.UnixNano()
	if n == 0 { // the epoch itself would read back as the zero time
		w.ok = false
		return
	}
	w.b = strconv.AppendInt(w.b, n, 10)
}

// appendJSONString appends s as a JSON string, as encoding/json writes it
// but without its HTML escapes: invalid UTF-8 becomes U+FFFD, and U+2028
// and U+2029 are escaped so the record is also valid JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', "89"[r-'\u2028'])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

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
	s.Check = r.check()
	// The target is nearly always the ID without its "check:": share it.
	if raw, str, unescaped := r.rawStr(); unescaped {
		s.Target = str
	} else if t, ok := strings.CutPrefix(s.ID, s.Check+":"); ok && t == string(raw) {
		s.Target = t
	} else {
		s.Target = string(raw)
	}
	s.Name = r.str()
	s.Status = r.status()
	s.Since = r.time()
	s.ConsecutiveFailures = r.int()
	s.ConsecutiveSuccesses = r.int()
	s.IncidentStart = r.time()
	s.AlertedAt = r.time()
	s.LastReminderAt = r.time()
	s.AlertedIncident = r.time()
	s.Circuit = r.circuit()
	s.OpenedAt = r.time()
	s.BackoffMultiplier = r.int()
	s.NextProbeAt = r.time()
	r.array(func() { s.StatusChanges = append(s.StatusChanges, r.timeValue()) })
	switch r.int() {
	case 0:
	case 1:
		s.Flapping = true
	default:
		r.fail("flapping is neither 0 nor 1")
	}
	s.FlappingSince = r.time()
	s.CertLevel = r.certLevel()
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

// check, status, circuit and certLevel read strings that are nearly
// always one of a few constants, without allocating for those.
func (r *recordReader) check() string {
	raw, s, unescaped := r.rawStr()
	if unescaped {
		return s
	}
	switch string(raw) {
	case "dns":
		return "dns"
	case "ping":
		return "ping"
	case "http":
		return "http"
	case "tls":
		return "tls"
	}
	return string(raw)
}

func (r *recordReader) status() Status {
	raw, s, unescaped := r.rawStr()
	if unescaped {
		return Status(s)
	}
	switch string(raw) {
	case string(Up):
		return Up
	case string(Down):
		return Down
	case string(Unknown):
		return Unknown
	}
	return Status(raw)
}

func (r *recordReader) circuit() Circuit {
	raw, s, unescaped := r.rawStr()
	if unescaped {
		return Circuit(s)
	}
	switch string(raw) {
	case "":
		return ""
	case string(Closed):
		return Closed
	case string(Open):
		return Open
	case string(HalfOpen):
		return HalfOpen
	}
	return Circuit(raw)
}

func (r *recordReader) certLevel() string {
	raw, s, unescaped := r.rawStr()
	if unescaped {
		return s
	}
	switch string(raw) {
	case "":
		return ""
	case "ok":
		return "ok"
	case "warning":
		return "warning"
	case "critical":
		return "critical"
	case "expired":
		return "expired"
	}
	return string(raw)
}
