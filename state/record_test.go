package state

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// encodeV1 is Encode as it was before version 2: the JSON object.
func encodeV1(t testing.TB, s TargetState) []byte {
	t.Helper()
	s.V = versionJSON
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inUTC is s with every time in UTC, and the zero instant as the zero
// Time, as a version 2 record reads back.
func inUTC(s TargetState) TargetState {
	u := func(t *time.Time) {
		if t.IsZero() {
			*t = time.Time{} // the zero instant, in whatever zone version 1 read
		} else {
			*t = t.UTC()
		}
	}
	for _, t := range []*time.Time{&s.Since, &s.IncidentStart, &s.AlertedAt, &s.LastReminderAt, &s.AlertedIncident,
		&s.OpenedAt, &s.NextProbeAt, &s.FlappingSince, &s.NotAfter, &s.LastProbeAt, &s.LastSeen} {
		u(t)
	}
	s.StatusChanges = append([]time.Time(nil), s.StatusChanges...)
	for i := range s.StatusChanges {
		u(&s.StatusChanges[i])
	}
	s.Stats.Outages = append([]Outage(nil), s.Stats.Outages...)
	for i := range s.Stats.Outages {
		u(&s.Stats.Outages[i].Start)
		u(&s.Stats.Outages[i].End)
	}
	if len(s.StatusChanges) == 0 {
		s.StatusChanges = nil
	}
	if len(s.Stats.Outages) == 0 {
		s.Stats.Outages = nil
	}
	return s
}

func TestRecordsReadBackAsTheVersion1ObjectDid(t *testing.T) {
	now := time.Date(2026, 11, 24, 6, 0, 0, 123456789, time.UTC)
	weird := plainState("http://x.example/")
	weird.Name = "quote \" backslash \\ tab \t nul \x00 del \x7f bad \xff\xfe utf8 日本 \u2028\u2029 <&>"
	weird.LastError = "\"\\/\b\f\n\r\t"
	weird.Check = "custom"
	weird.Status, weird.Circuit, weird.CertLevel = "odd", "odd", "odd"
	weird.ConsecutiveFailures, weird.BackoffMultiplier = -5, 1<<62
	weird.Stats.Checks, weird.Stats.Failures = -1<<63, 1<<63-1
	weird.CertDays, weird.Stats.LatencyMin, weird.Stats.UptimeSeconds = math.Copysign(0, -1), 5e-324, 1.7976931348623157e308
	negative := plainState("dns:old.example")
	negative.Since = time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)
	epoch := plainState("dns:epoch.example")
	epoch.Since = time.Unix(0, 0)
	farPast := plainState("dns:past.example")
	farPast.Since = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	farFuture := plainState("dns:future.example")
	farFuture.NotAfter = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	many := richState(now)
	for i := range 50 {
		many.StatusChanges = append(many.StatusChanges, now.Add(time.Duration(i)*time.Second))
		many.Stats.Outages = append(many.Stats.Outages, Outage{Start: now, End: now.Add(time.Duration(i))})
	}
	for _, c := range []struct {
		name      string
		s         TargetState
		versionV1 bool // written as version 1: version 2 cannot hold it
	}{
		{"a target never seen", TargetState{ID: "dns:new.example"}, false},
		{"a target up for a while", plainState("dns:example.com"), false},
		{"a target with every field set, in another zone", richState(now), false},
		{"strings that need escapes, and extreme numbers", weird, false},
		{"a time before 1970", negative, false},
		{"many status changes and outages", many, false},
		{"a time at the Unix epoch", epoch, true},
		{"a time before 1678", farPast, true},
		{"a time after 2262", farFuture, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := Encode(c.s)
			if err != nil {
				t.Fatal(err)
			}
			if got := b[0] == '{'; got != c.versionV1 {
				t.Fatalf("Encode wrote %s", b)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			want, err := Decode(encodeV1(t, c.s))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(inUTC(got), inUTC(want)) {
				t.Fatalf("version 2 read back\n%+v\nversion 1 read back\n%+v", got, want)
			}
			if got.V != Version || want.V != Version {
				t.Errorf("V = %d and %d, want %d", got.V, want.V, Version)
			}
			again, err := Encode(got)
			if err != nil || string(again) != string(b) {
				t.Errorf("encoded again: %s, %v\nwant %s", again, err, b)
			}
		})
	}
}

func TestEncodeRefusesNumbersJSONCannotHold(t *testing.T) {
	s := plainState("dns:example.com")
	s.Stats.LatencyEWMA = 1 / zero
	if b, err := Encode(s); err == nil {
		t.Fatalf("Encode of an infinite latency = %s, want an error", b)
	}
}

var zero float64

// TestVersion1GoldenRecordDecodesAsItsVersion2Encoding: a record written
// by the previous release (testdata/record-v1.json) loads as the same
// state as its version 2 encoding (testdata/record-v2.json, rewritten
// with -update), and is migrated to it on the next save.
func TestVersion1GoldenRecordDecodesAsItsVersion2Encoding(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "record-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if old.ID != "tls:example.com:443" || old.ConsecutiveFailures != 4 || old.AlertedAt.IsZero() || old.Stats.Checks != 1<<40 {
		t.Fatalf("the version 1 record read back as %+v", old)
	}
	b, err := Encode(old)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "record-v2.json")
	if *update {
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(v2)) != string(b) {
		t.Errorf("migrated record:\n%s\ngolden:\n%s", b, v2)
	}
	cur, err := Decode(v2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cur, inUTC(old)) {
		t.Errorf("version 2 golden reads back\n%+v\nversion 1 golden\n%+v", cur, old)
	}
	if len(v2)*2 > len(v1) {
		t.Errorf("version 2 record is %d bytes, version 1 %d: want it under half", len(v2), len(v1))
	}
}

func TestDecodeSaysWhatIsWrongWithARecord(t *testing.T) {
	good, err := Encode(richState(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{`{"v":2,"id":"x"}`, "unsupported state version 2 in a JSON object"},
		{`{"id":"x"}`, "unsupported state version: record has no version"},
		{`not json`, "undecodable record"},
		{`{"v":1,"stats":7}`, "undecodable record"},
		{``, "undecodable record"},
		{`[3,"x"]`, "unsupported state version 3 (this build reads 1 and 2)"},
		{`[]`, "malformed version 2 record: want a number at byte 1"},
		{`[2]`, "malformed version 2 record: want ',' at byte 2"},
		{string(good[:len(good)-1]), "malformed version 2 record: want ']'"},
		{string(good) + "x", "malformed version 2 record: bytes after the record"},
		{strings.Replace(string(good), `"tls"`, "\"t\x01s\"", 1), "control character in a string"},
		{strings.Replace(string(good), `"tls"`, `"tls`, 1), "malformed version 2 record"},
		{strings.Replace(string(good), `,1099511627776,`, `,1.5,`, 1), "want an integer"},
		{strings.Replace(string(good), `,1099511627776,`, `,99999999999999999999,`, 1), "want an integer"},
		{strings.Replace(string(good), `,1099511627776,`, `,9223372036854775808,`, 1), "integer out of range"},
		{strings.Replace(string(good), `,6.499999,`, `,1e999,`, 1), "want a finite number"},
	} {
		_, err := Decode([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%.60s) = %v, want %q", c.in, err, c.want)
		}
		if strings.HasPrefix(c.in, "[3") && !errors.Is(err, ErrVersion) {
			t.Errorf("Decode(%s) = %v, want ErrVersion", c.in, err)
		}
	}
}

// BenchmarkRecord is the cost of one record in version 2 against version
// 1 (encoding/json), each op a batch of 1,000 of each, interleaved:
// ns/record and v1-ns/record, x-v1 their ratio, bytes and v1-bytes the
// records' sizes. "plain" is a target up for a while, "rich" has every
// field set and strings that need escapes (version 2's slow path).
func BenchmarkRecord(b *testing.B) {
	const batch = 1000
	timeOf := func(f func()) time.Duration {
		start := time.Now()
		for range batch {
			f()
		}
		return time.Since(start)
	}
	for _, st := range []struct {
		name string
		s    TargetState
	}{
		{"plain", plainState("http://t1.example.com/")},
		{"rich", richState(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC))},
	} {
		v1 := encodeV1(b, st.s)
		v2, err := Encode(st.s)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name   string
			v1, v2 func()
		}{
			{"encode", func() { _ = encodeV1(b, st.s) }, func() { _, _ = Encode(st.s) }},
			{"decode", func() { _, _ = Decode(v1) }, func() { _, _ = Decode(v2) }},
		} {
			b.Run(c.name+"/"+st.name, func(b *testing.B) {
				var t1, t2 time.Duration
				for b.Loop() {
					t1 += timeOf(c.v1)
					t2 += timeOf(c.v2)
				}
				n := float64(b.N * batch)
				b.ReportMetric(float64(t2.Nanoseconds())/n, "ns/record")
				b.ReportMetric(float64(t1.Nanoseconds())/n, "v1-ns/record")
				b.ReportMetric(float64(t2)/float64(t1), "x-v1")
				b.ReportMetric(float64(len(v2)), "bytes")
				b.ReportMetric(float64(len(v1)), "v1-bytes")
			})
		}
	}
}

func TestFloatsReadBackExactly(t *testing.T) {
	fs := []float64{0, 1, -1, 0.1, 0.012, 1e-9, -1e-9, 5e-10, 1.5e-9, 0.333333333333, 1e-6, 9.75,
		4503599.627370495, 4503599.627370496, 9007199.254740993, 1e15, 1e21, 5e-324, 1.7976931348623157e308, -123.456789012}
	for i := range 20000 {
		ns := int64(i) * 7919 * 104729
		fs = append(fs, float64(ns)/1e9, time.Duration(ns).Seconds(), float64(i)/3, -float64(i)*1.1)
	}
	for _, f := range fs {
		b := appendFloat(nil, f)
		got, err := strconv.ParseFloat(string(b), 64)
		if err != nil || got != f || !json.Valid(b) {
			t.Fatalf("%v written as %s reads back as %v, %v", f, b, got, err)
		}
	}
}
