package probe

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkBinarySweepMonitors is the cost of monitors as code: the
// pingpanda binary sweeps n mixed farm targets twice per iteration, in
// the same process's farm, once from a list (every target on the
// environment's defaults) and once from a monitors file in which every
// monitor sets its own timeout, retries, alert threshold, reminder,
// recovery setting and labels, and its check's settings and assertions
// (an http monitor: method, two headers, success codes, latency limits,
// body contains and not contains, two JSON paths, a response header).
// The http targets of both are the farm's /api/ URLs, which answer JSON,
// so the assertions hold. Which file goes first alternates.
//
//	x-plain-cpu    CPU of the monitors file's sweep / the list's
//	x-plain-rss    peak RSS of the monitors file's sweep / the list's
//	x-plain-wall   wall time of the one / the other
func BenchmarkBinarySweepMonitors(b *testing.B) {
	bb := newBinaryBench(b)
	var listeners []string
	top := b
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for len(listeners) < n/4 {
				listeners = append(listeners, farmServeTCP(top, func(c net.Conn) { farmHandshake(c, bb.farm.ca) }))
			}
			ts := bb.farm.targets(b, n)
			var plain, own strings.Builder
			own.WriteString("monitors:\n")
			for i := range ts {
				switch ts[i].Check {
				case TLS, TCP:
					ts[i].Address = listeners[i/4]
				case HTTP:
					ts[i].Address = bb.farm.httpURL + "/api/" + ts[i].Name
				}
				fmt.Fprintf(&plain, "- {check: %s, target: %q, name: %s}\n", ts[i].Check, ts[i].Address, ts[i].Name)
				fmt.Fprintf(&own, "  - name: %s\n    check: %s\n    target: %q\n%s", ts[i].Name, ts[i].Check, ts[i].Address, ownSettings(ts[i].Check, i))
			}
			dir := b.TempDir()
			write := func(name, text string) string {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					b.Fatal(err)
				}
				return path
			}
			envPlain := binaryEnv(bb.farm, write("targets.yaml", plain.String()), bb.caFile, filepath.Join(dir, "plain.json"), bb.gateway.URL)
			envOwn := binaryEnv(bb.farm, write("monitors.yaml", own.String()), bb.caFile, filepath.Join(dir, "own.json"), bb.gateway.URL)
			// First runs write the state files and warm the page cache.
			binaryRun(b, bb.bin, bb.dir, envPlain, n)
			binaryRun(b, bb.bin, bb.dir, envOwn, n)

			var p, o binaryResult
			var i int
			for b.Loop() {
				runs := []*binaryResult{&p, &o}
				envs := [][]string{envPlain, envOwn}
				if i%2 == 1 {
					runs[0], runs[1], envs[0], envs[1] = runs[1], runs[0], envs[1], envs[0]
				}
				i++
				for j := range runs {
					r := binaryRun(b, bb.bin, bb.dir, envs[j], n)
					runs[j].wall += r.wall
					runs[j].cpu += r.cpu
					runs[j].peakKiB = max(runs[j].peakKiB, r.peakKiB)
				}
			}
			sweeps := float64(b.N)
			b.ReportMetric(float64(o.cpu.Milliseconds())/sweeps, "cpu-ms")
			b.ReportMetric(float64(p.cpu.Milliseconds())/sweeps, "plain-cpu-ms")
			b.ReportMetric(float64(o.peakKiB)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(p.peakKiB)/1024, "plain-peak-RSS-MiB")
			b.ReportMetric(o.cpu.Seconds()/p.cpu.Seconds(), "x-plain-cpu")
			b.ReportMetric(float64(o.peakKiB)/float64(p.peakKiB), "x-plain-rss")
			b.ReportMetric(o.wall.Seconds()/p.wall.Seconds(), "x-plain-wall")
		})
	}
}

// ownSettings are monitor i's own settings, as monitors file lines: they
// differ from monitor to monitor, so no two monitors share a spec, and
// they let every farm target stay up.
func ownSettings(c Check, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    timeout: %ds\n    retries: 1\n    alert_threshold: %d\n    realert: %dm\n    notify_recovery: %t\n",
		5+i%3, 1+i%5, 30+i%30, i%2 == 0)
	fmt.Fprintf(&b, "    labels: {team: t%d, tier: \"%d\", idx: \"%d\"}\n", i%20, i%3, i)
	switch c {
	case HTTP:
		fmt.Fprintf(&b, `    http:
      method: GET
      headers: {Accept: application/json, X-Probe: "p%d"}
      success_codes: "200-299"
      max_latency: %s
      warn_latency: 5s
      expect:
        body_contains: '"status"'
        body_not_contains: error
        json: {".status": "ok", ".checks.db": "ok"}
        headers: {Content-Type: application/json}
`, i, 10*time.Second+time.Duration(i)*time.Millisecond)
	case TLS:
		fmt.Fprintf(&b, "    tls: {warn_days: %d, critical_days: 5}\n", 20+i%10)
	case DNS:
		b.WriteString("    dns: {type: A, expect: [\"127.0.0.1\"], rcode: NOERROR}\n")
	case Ping:
		b.WriteString("    ping: {count: 1, max_loss: 0}\n")
	case TCP:
		b.WriteString("    tcp: {tls: false}\n")
	}
	return b.String()
}

// BenchmarkSweepMonitors is the sweep's share of that cost, in the
// process: the Runner sweeps n mixed farm targets twice per iteration
// (benchSpecSweep: alternating, the same farm, prober and concurrency as
// BenchmarkSweep), once without specs and once with a Spec of its own
// for every target, as the monitors file of BenchmarkBinarySweepMonitors
// gives them (ownSpec): attempts, timeout, alert policy, labels, and the
// check's settings and assertions. The ratios are its x-plain-*.
func BenchmarkSweepMonitors(b *testing.B) {
	scaleNeedFiles(b, benchFiles)
	f := farmStart(b)
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			r := f.runner(b, benchConcurrency, 1)
			plain := f.targets(b, n)
			for i := range plain {
				if plain[i].Check == HTTP {
					plain[i].Address = f.httpURL + "/api/" + plain[i].Name
				}
			}
			own := make([]Target, n)
			for i, t := range plain {
				t.Spec = ownSpec(b, t.Check, i)
				own[i] = t
			}
			benchSpecSweep(b, r, plain, own)
		})
	}
}

// ownSpec is the Spec the monitors file's ownSettings(c, i) give.
func ownSpec(b *testing.B, c Check, i int) *Spec {
	sp := &Spec{
		Timeout:  time.Duration(5+i%3) * time.Second,
		Attempts: 1,
		Alert:    AlertSpec{Threshold: 1 + i%5, Realert: time.Duration(30+i%30) * time.Minute, NotifyRecovery: i%2 == 0},
		Labels:   map[string]string{"team": fmt.Sprintf("t%d", i%20), "tier": fmt.Sprint(i % 3), "idx": fmt.Sprint(i)},
	}
	switch c {
	case HTTP:
		sp.HTTP = &HTTPSpec{
			Method:      "GET",
			Headers:     []Header{{"Accept", "application/json"}, {"X-Probe", fmt.Sprintf("p%d", i)}},
			Success:     mustCodes(b, "200-299"),
			MaxLatency:  10*time.Second + time.Duration(i)*time.Millisecond,
			WarnLatency: 5 * time.Second,
			Expect: HTTPExpect{
				BodyContains: `"status"`, BodyNotContains: "error",
				JSON:    []JSONExpect{mustJSON(b, ".status", "ok"), mustJSON(b, ".checks.db", "ok")},
				Headers: []Header{{"Content-Type", "application/json"}},
			},
		}
	case TLS:
		sp.TLS = &TLSSpec{WarnDays: float64(20 + i%10), CriticalDays: 5}
	case DNS:
		sp.DNS = &DNSSpec{Type: 1, Expect: []string{"127.0.0.1"}, Rcode: -1}
	case Ping:
		sp.Ping = &PingSpec{Count: 1, MaxLoss: 0}
	case TCP:
		sp.TCP = &TCPSpec{}
	}
	return sp
}
