package push

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// text is WriteText's output for s.
func text(t testing.TB, s Sweep) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteText(&b, s); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	return b.Bytes()
}

// mixedSweep is a sweep of n targets of every kind and situation, cycled:
// up, down, timed out before the first attempt, skipped with and without a
// stored status, unsupported, flapping, circuits closed, half-open and
// open, tls with a certificate from the probe, from the state or none,
// http URLs whose secrets are redacted, addresses with characters the text
// format escapes, tcp targets, a check this package has no metrics for,
// degraded targets, targets without a stored state, and repeated targets.
func mixedSweep(t testing.TB, n int) Sweep {
	s := Sweep{At: sweepAt, Duration: 7*time.Second + 123456789*time.Nanosecond, AlertsPending: n / 10,
		Results: make([]probe.Result, 0, n), States: make([]state.TargetState, 0, n)}
	circuits := []state.Circuit{state.Closed, state.HalfOpen, state.Open, ""}
	for i := range n {
		var tg probe.Target
		switch i % 9 {
		case 0, 5:
			tg = target(t, probe.DNS, fmt.Sprintf("host-%d.example.com", i))
		case 1:
			tg = target(t, probe.Ping, fmt.Sprintf("127.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		case 2:
			tg = target(t, probe.HTTP, fmt.Sprintf("https://web-%d.example.org/health?id=%d&token=t%d", i, i, i))
		case 3:
			tg = target(t, probe.HTTP, fmt.Sprintf("http://user:pw%d@web-%d.example.net:8080/", i, i))
		case 4, 7:
			tg = target(t, probe.TLS, fmt.Sprintf("tls-%d.example.net:%d", i, 443+i%3))
		case 6:
			// Built directly: addresses the text format must escape.
			tg = probe.Target{Check: probe.DNS, Address: fmt.Sprintf("odd\\\"%d\"\nname-ü", i)}
		case 8:
			if i%18 == 8 {
				tg = probe.Target{Check: probe.Check("smtp"), Address: fmt.Sprintf("mx-%d.example", i)}
			} else if i%36 == 35 {
				tg = target(t, probe.TCP, fmt.Sprintf("db-%d.example.net:%d", i, 5432+i%3))
			} else {
				tg = target(t, probe.Ping, fmt.Sprintf("2001:db8::%x", i))
			}
		}
		if i%50 == 49 {
			tg = s.Results[i-17].Target // a repeated target
		}
		latency := time.Duration(i%997)*time.Millisecond + time.Duration(i)*time.Microsecond
		r := probe.Result{Target: tg, Latency: latency, Attempts: 1 + i%3}
		switch i % 7 {
		case 0, 1, 2:
			r.Status = probe.StatusUp
		case 3:
			r.Status, r.Error = probe.StatusDown, "no reply"
		case 4:
			r.Status, r.Attempts, r.TimedOut, r.Latency = probe.StatusDown, 0, true, 0
		case 5:
			r.Status, r.Attempts, r.Latency = probe.StatusSkipped, 0, 0
		case 6:
			r.Status = probe.StatusUnsupported
		}
		notAfter := sweepAt.Add(time.Duration(i%400-30) * 24 * time.Hour).Add(time.Duration(i) * time.Second)
		if tg.Check == probe.TLS && i%4 != 0 && r.Status == probe.StatusUp {
			r.TLS = &probe.TLSDetail{NotAfter: notAfter, DaysLeft: notAfter.Sub(sweepAt).Hours() / 24}
		}
		s.Results = append(s.Results, r)

		var st state.TargetState
		switch i % 11 {
		case 10:
			// No stored state.
		case 9:
			st = state.TargetState{Status: state.Unknown, Circuit: state.Closed}
		default:
			st = state.TargetState{Status: state.Up, Circuit: circuits[i%4], Flapping: i%5 == 0,
				ConsecutiveFailures: i % 6, Degraded: i%8 == 2,
				Stats: state.Stats{Checks: int64(i), Failures: int64(i % 37), LatencyLast: float64(i%13) / 1000}}
			if i%3 == 0 {
				st.Status = state.Down
			}
			if tg.Check == probe.TLS && i%2 == 0 {
				st.NotAfter = notAfter
			}
		}
		s.States = append(s.States, st)
	}
	s.States = s.States[:n-n/20] // the last results have no state at all
	return s
}

// sortedFamilies is mfs by name, with their metrics sorted by label
// values, as a registry gathers them.
func sortedFamilies(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	labelValues := func(m *dto.Metric) string {
		var b strings.Builder
		for _, l := range m.GetLabel() {
			b.WriteString(l.GetName() + "\x00" + l.GetValue() + "\x00")
		}
		return b.String()
	}
	for _, mf := range mfs {
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int { return cmp.Compare(labelValues(a), labelValues(b)) })
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return mfs
}

func TestWriteTextIsWhatExpfmtWritesForItsFamilies(t *testing.T) {
	// Read back by Prometheus' parser, put in the order a registry gathers
	// them (families by name, series by label values) and written again by
	// expfmt, the families give back WriteText's text byte for byte: its
	// escapes, numbers, HELP and TYPE lines and order are expfmt's.
	for _, tc := range []struct {
		name  string
		sweep Sweep
	}{
		{"a realistic sweep", realisticSweep(t)},
		{"1,000 mixed targets in every situation", mixedSweep(t, 1000)},
		{"a sweep without states", func() Sweep { s := mixedSweep(t, 100); s.States = nil; return s }()},
		{"an empty sweep", Sweep{At: sweepAt}},
		{"a sweep without a time", Sweep{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := text(t, tc.sweep)
			var again bytes.Buffer
			for _, mf := range sortedFamilies(textFamilies(t, got)) {
				if _, err := expfmt.MetricFamilyToText(&again, mf); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, again.Bytes()) {
				t.Errorf("the text differs from expfmt's for the same families:\n%s", lineDiff(got, again.Bytes()))
			}
		})
	}
}

// lineDiff shows the first line where got and want differ.
func lineDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got %q\nwant %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

func TestWriteTextKeepsTheFirstOfADuplicatedTarget(t *testing.T) {
	dns := target(t, probe.DNS, "example.com")
	s := Sweep{At: sweepAt, Results: []probe.Result{
		{Target: target(t, probe.DNS, "z.example"), Status: probe.StatusUp, Attempts: 1},
		{Target: dns, Status: probe.StatusDown, Attempts: 1},
		{Target: dns, Status: probe.StatusUp, Attempts: 1},
	}}
	if !strings.Contains(string(text(t, s)), DNSStatus+`{domain="example.com"} 0`+"\n") {
		t.Errorf("the first result (down) is not the one written:\n%s", text(t, s))
	}
}

func TestAppendFloatIsExpfmts(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 2, 0.1, 1.5e-7, 123456789, 1.7731872e+09,
		1e21, 1e20, -3.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			var b bytes.Buffer
			mf := &dto.MetricFamily{Name: proto.String("x"), Type: dto.MetricType_GAUGE.Enum(),
				Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(v)}}}}
			if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSuffix(strings.TrimPrefix(b.String(), "# TYPE x gauge\nx "), "\n")
			if got := string(appendFloat(nil, v)); got != want {
				t.Errorf("appendFloat(%v) = %q; expfmt writes %q", v, got, want)
			}
		})
	}
}

func TestAppendEscaped(t *testing.T) {
	for _, tc := range []struct {
		in          string
		quote       bool
		want        string
		description string
	}{
		{`plain`, true, `plain`, "a plain value is unchanged"},
		{"a\\b\nc\"d", true, `a\\b\nc\"d`, "a label value escapes backslash, line feed and quote"},
		{"a\\b\nc\"d", false, `a\\b\nc"d`, "help text leaves the quote"},
		{"\"\"", true, `\"\"`, "quotes side by side"},
		{"ü\\", true, `ü\\`, "UTF-8 passes through"},
		{"a\xffb\xc3", true, "a\uFFFDb\uFFFD", "invalid UTF-8 becomes U+FFFD, which the Pushgateway accepts"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			if got := string(appendEscaped([]byte("x"), tc.in, tc.quote)); got != "x"+tc.want {
				t.Errorf("got %q; want %q", got, "x"+tc.want)
			}
		})
	}
}

func TestFamiliesAreInNameOrder(t *testing.T) {
	// WriteText writes the families in this order; the registry gathers
	// them sorted by name.
	for f := fam(1); f < numFams; f++ {
		if families[f-1].name >= families[f].name {
			t.Errorf("%s comes before %s", families[f-1].name, families[f].name)
		}
	}
	var names []string
	for _, fi := range families {
		names = append(names, fi.name)
		if !slices.IsSorted(fi.labels) {
			t.Errorf("%s: labels %v are not in name order", fi.name, fi.labels)
		}
		// A Pushgateway refuses a series carrying its grouping labels.
		if slices.Contains(fi.labels, "job") || slices.Contains(fi.labels, "instance") {
			t.Errorf("%s has a label named job or instance, the Pushgateway's grouping labels", fi.name)
		}
	}
	slices.Sort(names)
	want := MetricNames()
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("families %v; MetricNames %v", names, want)
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteTextReturnsTheWritersError(t *testing.T) {
	for _, n := range []int{0, 100, 40 << 10} {
		if err := WriteText(&failingWriter{n: n}, mixedSweep(t, 1000)); err == nil || err.Error() != "disk full" {
			t.Errorf("after %d bytes: got %v; want the writer's error", n, err)
		}
	}
}

// BenchmarkExposition compares the two ways of writing a sweep's metrics
// out: a registry of const metrics, then Gather and expfmt (the registry
// path WriteText replaced, kept as referenceRegistry), and WriteText (the
// stream path); the two must write the same text. The loop measures the stream path; the registry path,
// measured once in the same run, is reported beside it (registry-B/op,
// registry-allocs/op, registry-ns/op, the fastest of three runs) and as
// the ratios x-registry-bytes, its bytes allocated over the stream's, and
// x-registry-ns, its time over the stream's.
func BenchmarkExposition(b *testing.B) {
	sizes := []int{1000, 10000}
	if testing.Short() {
		sizes = []int{100}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			s := mixedSweep(b, n)
			if got, want := text(b, s), exposition(b, referenceRegistry(s)); !bytes.Equal(got, want) {
				b.Fatalf("WriteText and the registry path write different texts:\n%s", lineDiff(got, want))
			}
			registryPath := func() {
				mfs, err := referenceRegistry(s).Gather()
				if err != nil {
					b.Fatal(err)
				}
				w := bufio.NewWriterSize(io.Discard, textBufferSize)
				for _, mf := range mfs {
					if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
						b.Fatal(err)
					}
				}
				w.Flush()
			}
			streamPath := func() {
				if err := WriteText(bufio.NewWriterSize(io.Discard, textBufferSize), s); err != nil {
					b.Fatal(err)
				}
			}
			regBytes, regAllocs := allocated(registryPath)
			streamBytes, _ := allocated(streamPath)
			// The registry path's time: the fastest of three runs.
			regTime := time.Duration(math.MaxInt64)
			for range 3 {
				start := time.Now()
				registryPath()
				regTime = min(regTime, time.Since(start))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				streamPath()
			}
			b.ReportMetric(float64(regBytes), "registry-B/op")
			b.ReportMetric(float64(regAllocs), "registry-allocs/op")
			b.ReportMetric(float64(regBytes)/float64(streamBytes), "x-registry-bytes")
			b.ReportMetric(float64(regTime.Nanoseconds()), "registry-ns/op")
			b.ReportMetric(float64(regTime)/(float64(b.Elapsed())/float64(b.N)), "x-registry-ns")
		})
	}
}

// allocated is the bytes and allocations f makes, run once.
func allocated(f func()) (bytes, allocs uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs
}
