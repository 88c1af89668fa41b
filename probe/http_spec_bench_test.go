package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// specBenchBody is what the spec benchmark's server answers, to plain and
// spec'd targets alike: a small health document, as monitors assert on.
const specBenchBody = `{"status":"ok","version":"1.2.3","checks":{"db":"up","cache":"up"},"uptime":86400}`

// specBenchSizes are the sweep sizes of BenchmarkHTTPSpecSweep: 100 under
// -short, else 100 and 2,000.
func specBenchSizes() []int {
	if testing.Short() {
		return []int{100}
	}
	return []int{100, 2000}
}

// BenchmarkHTTPSpecSweep sweeps n loopback http targets twice per
// iteration, with the settings of BenchmarkSweep (512 in flight, the 10 s
// attempt timeout, one attempt): once without a spec, and once with a spec
// (shared by every target, as monitors with equal settings share one)
// that sets the method, two headers, the success codes, body_contains and
// one JSON path, so that the body is read, searched, decoded and queried.
// The two sweeps use one prober and one server, which answers both the
// same small JSON document, and alternate which goes first. ns/op is the
// spec'd sweep's. Besides it:
//
//	x-plain-cpu     the spec'd sweep's CPU time / the plain one's
//	x-plain-wall    the same for wall time
//	x-plain-B       bytes allocated per target, spec'd / plain
//	x-plain-allocs  allocations per target, spec'd / plain
//	x-plain-RSS     peak RSS, spec'd / plain
//	cpu-ms, plain-cpu-ms, B/target, plain-B/target, allocs/target,
//	plain-allocs/target, peak-RSS-MiB, plain-peak-RSS-MiB, not-up,
//	plain-not-up    the figures the ratios are made of
//
// As in BenchmarkSweep, the server runs in the process, so every figure
// includes its side, which is the same for both sweeps: the ratios are
// diluted by it, never flattered.
func BenchmarkHTTPSpecSweep(b *testing.B) {
	scaleNeedFiles(b, benchFiles)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, specBenchBody)
	}))
	b.Cleanup(srv.Close)
	spec := &Spec{HTTP: &HTTPSpec{
		Method:  http.MethodPost,
		Headers: []Header{{"Accept", "application/json"}, {"X-Probe", "pingpanda"}},
		Success: mustCodes(b, "200-299"),
		Expect: HTTPExpect{
			BodyContains: `"status":"ok"`,
			JSON:         []JSONExpect{mustJSON(b, ".checks.db", "up")},
		},
	}}
	for _, n := range specBenchSizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			p := NewHTTP(HTTPOptions{MaxConns: benchConcurrency})
			b.Cleanup(p.CloseIdleConnections)
			r := &Runner{
				Probers:        map[Check]Prober{HTTP: p},
				Concurrency:    benchConcurrency,
				Attempts:       1,
				AttemptTimeout: farmAttemptTimeouts(),
			}
			plain := make([]Target, n)
			specd := make([]Target, n)
			for i := range plain {
				t, err := ParseTarget(HTTP, srv.URL+"/t"+strconv.Itoa(i))
				if err != nil {
					b.Fatal(err)
				}
				plain[i] = t
				t.Spec = spec
				specd[i] = t
			}
			benchSpecSweep(b, r, plain, specd)
		})
	}
}

// benchSpecSweep times sweeps of plain and of specd, the same targets
// with a spec, by r.
func benchSpecSweep(b *testing.B, r *Runner, plain, specd []Target) {
	n := len(plain)
	sweep := func(m *benchMeasure, c *benchCost, ts []Target) {
		ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
		defer cancel()
		m.start()
		results := r.Run(ctx, ts)
		s := m.stop()
		notUp := 0
		for _, res := range results {
			if res.Status != StatusUp {
				notUp++
			}
		}
		c.add(s, notUp)
		if down := scaleNotUp(results); down != "" {
			b.Logf("not up:\n%s", down)
		}
	}

	// Warm up on a round of each: connections made, worker stacks grown,
	// body buffers pooled.
	warm := min(n, benchConcurrency)
	var m benchMeasure
	var discard benchCost
	sweep(&m, &discard, plain[:warm])
	sweep(&m, &discard, specd[:warm])

	var pl, sp benchCost
	i := 0
	for b.Loop() {
		b.StopTimer()
		first := i%2 == 0
		i++
		if first {
			sweep(&m, &pl, plain)
		}
		b.StartTimer()
		sweep(&m, &sp, specd)
		b.StopTimer()
		if !first {
			sweep(&m, &pl, plain)
		}
		b.StartTimer()
	}
	if 2*pl.notUp > n*b.N || 2*sp.notUp > n*b.N {
		b.Fatalf("most targets not up: plain %d, spec'd %d", pl.notUp, sp.notUp)
	}

	sweeps := float64(b.N)
	probed := float64(n) * sweeps
	b.ReportMetric(sp.cpu.Seconds()/pl.cpu.Seconds(), "x-plain-cpu")
	b.ReportMetric(sp.wall.Seconds()/pl.wall.Seconds(), "x-plain-wall")
	b.ReportMetric(float64(sp.bytes)/float64(pl.bytes), "x-plain-B")
	b.ReportMetric(float64(sp.allocs)/float64(pl.allocs), "x-plain-allocs")
	if pl.peakKiB > 0 {
		b.ReportMetric(float64(sp.peakKiB)/float64(pl.peakKiB), "x-plain-RSS")
	}
	b.ReportMetric(float64(sp.cpu.Milliseconds())/sweeps, "cpu-ms")
	b.ReportMetric(float64(pl.cpu.Milliseconds())/sweeps, "plain-cpu-ms")
	b.ReportMetric(float64(sp.bytes)/probed, "B/target")
	b.ReportMetric(float64(pl.bytes)/probed, "plain-B/target")
	b.ReportMetric(float64(sp.allocs)/probed, "allocs/target")
	b.ReportMetric(float64(pl.allocs)/probed, "plain-allocs/target")
	b.ReportMetric(float64(sp.peakKiB)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(pl.peakKiB)/1024, "plain-peak-RSS-MiB")
	b.ReportMetric(float64(sp.notUp)/sweeps, "not-up")
	b.ReportMetric(float64(pl.notUp)/sweeps, "plain-not-up")
}
