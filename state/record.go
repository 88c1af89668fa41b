package state

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
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
//	 latency_max,latency_ewma,last_error,last_probe_at,last_seen
//	 [,consecutive_degraded,degraded,degraded_since[,held]]]
//
// held is the JSON of the events a silence holds (a string). The
// bracketed tail is written only for a target with something in it,
// so the records of every other target are as the release before wrote
// them, and that release's records read as they are.
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
	if s.ConsecutiveDegraded != 0 || s.Degraded || !s.DegradedSince.IsZero() || len(s.Held) > 0 {
		w.int(int64(s.ConsecutiveDegraded))
		if s.Degraded {
			w.int(1)
		} else {
			w.int(0)
		}
		w.time(s.DegradedSince)
	}
	if len(s.Held) > 0 {
		// Held events are rare (a silenced target's) and few: kept as
		// their JSON, in a string.
		held, err := json.Marshal(s.Held)
		if err != nil {
			return w.b, false
		}
		w.str(string(held))
	}
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

// record is one encoded TargetState.
type record struct {
	id  string
	raw []byte
}

// encodeAll encodes states for a Save, refusing the whole request if one
// of them cannot be stored, so that nothing is half written.
func encodeAll(states []TargetState) ([]record, error) {
	// One buffer for all the records, sliced once it stops growing.
	recs := make([]record, 0, len(states))
	ends := make([]int, 0, len(states))
	buf := make([]byte, 0, 256*len(states))
	for i := range states {
		st := &states[i]
		if st.ID == "" {
			return nil, fmt.Errorf("state %d of %d has no target id", i+1, len(states))
		}
		var err error
		if buf, err = appendRecord(buf, st); err != nil {
			return nil, fmt.Errorf("encode %s: %w", st.ID, err)
		}
		ends = append(ends, len(buf))
	}
	start := 0
	for i, end := range ends {
		recs = append(recs, record{id: states[i].ID, raw: buf[start:end:end]})
		start = end
	}
	return recs, nil
}
