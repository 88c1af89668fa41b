package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenAt is when the golden sweep starts.
var goldenAt = time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)

// goldenTargets are the golden sweep's targets: one of each check and
// situation the report words differently, a degraded one with a custom ID
// among them.
func goldenTargets(t *testing.T) (web, shop, dns, cert, tcpTLS, tcpPlain, tcpDown probe.Target) {
	t.Helper()
	parse := func(c probe.Check, raw string) probe.Target {
		tg, err := probe.ParseTarget(c, raw)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	web = parse(probe.HTTP, "https://example.org/")
	shop = parse(probe.HTTP, "https://shop.example.com/health")
	shop.CustomID, shop.Name = "shop-api", "Shop"
	shop.Spec = &probe.Spec{HTTP: &probe.HTTPSpec{WarnLatency: 300 * time.Millisecond}}
	dns = parse(probe.DNS, "example.com")
	cert = parse(probe.TLS, "example.net")
	tcpTLS = parse(probe.TCP, "redis.example.net:6380")
	tcpTLS.Spec = &probe.Spec{TCP: &probe.TCPSpec{TLS: true, Send: "PING\r\n", Expect: "+PONG"}}
	tcpPlain = parse(probe.TCP, "db.example.net:5432")
	tcpDown = parse(probe.TCP, "[2001:db8::3]:6379")
	return
}

func goldenReport(t *testing.T) *Report {
	web, shop, dns, cert, tcpTLS, tcpPlain, tcpDown := goldenTargets(t)
	results := []probe.Result{
		{Target: web, Status: probe.StatusUp, Latency: 120 * time.Millisecond, Attempts: 1,
			HTTP: &probe.HTTPDetail{StatusCode: 200, FinalURL: "https://example.org/"}},
		{Target: shop, Status: probe.StatusUp, Latency: 412 * time.Millisecond, Attempts: 1, Degraded: true,
			HTTP: &probe.HTTPDetail{StatusCode: 200, FinalURL: "https://shop.example.com/health"}},
		{Target: dns, Status: probe.StatusDown, Latency: 2 * time.Second, Attempts: 3, Error: "no answer"},
		{Target: cert, Status: probe.StatusSkipped, Error: "not due"},
		{Target: tcpTLS, Status: probe.StatusUp, Latency: 7 * time.Millisecond, Attempts: 1,
			TCP: &probe.TCPDetail{Read: 7, TLS: true}},
		{Target: tcpPlain, Status: probe.StatusUp, Latency: 2 * time.Millisecond, Attempts: 1, TCP: &probe.TCPDetail{}},
		{Target: tcpDown, Status: probe.StatusDown, Latency: time.Second, Attempts: 2,
			Error: "dial tcp [2001:db8::3]:6379: connection refused"},
	}
	rep := New("test", goldenAt, goldenAt.Add(1500*time.Millisecond), results)
	rep.NoteStillDown([]state.TargetState{{}, {}, {}, {Status: state.Up}, {}, {}, {}})
	rep.AddEvents([]state.Event{
		{ID: "e1", Kind: state.KindDegraded, TargetID: shop.ID(), Check: "http", Target: shop.Shown(), Name: shop.Name,
			At: goldenAt, Since: goldenAt.Add(-10 * time.Minute), Message: "latency 412ms above warn_latency 300ms, 3 in a row"},
		{ID: "e2", Kind: state.KindDegradedResolved, TargetID: web.ID(), Check: "http", Target: web.Shown(),
			At: goldenAt, Since: goldenAt.Add(-25 * time.Minute), Duration: 25 * time.Minute,
			Message: "latency 120ms is back under warn_latency 300ms"},
		{ID: "e3", Kind: state.KindDown, TargetID: tcpDown.ID(), Check: "tcp", Target: tcpDown.Shown(),
			At: goldenAt, Since: goldenAt.Add(-time.Minute), Message: "dial tcp [2001:db8::3]:6379: connection refused"},
		{ID: "e4", Kind: state.KindCircuitOpened, TargetID: dns.ID(), Check: "dns", Target: dns.Shown(), At: goldenAt},
	})
	rep.Alerts = Alerts{Delivered: 3}
	return rep
}

func goldenStatus(t *testing.T) ([]StatusTarget, StatusSummary) {
	web, shop, dns, _, tcpTLS, _, _ := goldenTargets(t)
	cfg := &config.Config{AllTargets: []probe.Target{web, shop, dns, tcpTLS}}
	all := map[string]state.TargetState{
		web.ID(): {ID: web.ID(), Check: "http", Target: web.Shown(), Status: state.Up, Since: goldenAt.Add(-48 * time.Hour),
			LastProbeAt: goldenAt, Circuit: state.Closed,
			Stats: state.Stats{Checks: 100, UptimeSeconds: 86400, LatencyLast: 0.12, LatencyMin: 0.1, LatencyMax: 0.5}},
		shop.ID(): {ID: shop.ID(), Check: "http", Target: shop.Shown(), Name: shop.Name, Status: state.Up,
			Since: goldenAt.Add(-24 * time.Hour), LastProbeAt: goldenAt, Circuit: state.Closed,
			ConsecutiveDegraded: 3, Degraded: true, DegradedSince: goldenAt.Add(-10 * time.Minute),
			Stats: state.Stats{Checks: 50, UptimeSeconds: 86400, LatencyLast: 0.412, LatencyMin: 0.09, LatencyMax: 0.6}},
		dns.ID(): {ID: dns.ID(), Check: "dns", Target: dns.Shown(), Status: state.Down, Since: goldenAt.Add(-time.Hour),
			LastProbeAt: goldenAt, Circuit: state.Open, ConsecutiveFailures: 4, LastError: "no answer",
			Stats: state.Stats{Checks: 10, Failures: 4, DowntimeEvents: 1, UptimeSeconds: 3000, DowntimeSeconds: 600,
				LatencyLast: 0.02, LatencyMin: 0.01, LatencyMax: 0.03}},
		// A slow run short of alert_threshold is not degraded yet.
		tcpTLS.ID(): {ID: tcpTLS.ID(), Check: "tcp", Target: tcpTLS.Shown(), Status: state.Up, Since: goldenAt.Add(-time.Hour),
			LastProbeAt: goldenAt, Circuit: state.Closed, ConsecutiveDegraded: 1, DegradedSince: goldenAt,
			Stats: state.Stats{Checks: 6, UptimeSeconds: 3600, LatencyLast: 0.007, LatencyMin: 0.005, LatencyMax: 0.009}},
	}
	return StatusRows(cfg, all, goldenAt)
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/pingpanda/report -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestReportMatchesGoldenFiles(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		name := map[bool]string{false: "sweep.txt", true: "sweep.json"}[asJSON]
		t.Run("a sweep with degraded and tcp results is written as "+name+" holds it", func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, goldenReport(t), &config.Config{}, asJSON); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.Bytes())
		})
	}
}

func TestStatusMatchesGoldenFiles(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		name := map[bool]string{false: "status.txt", true: "status.json"}[asJSON]
		t.Run("a store with a degraded target is shown as "+name+" holds it", func(t *testing.T) {
			rows, sum := goldenStatus(t)
			var b bytes.Buffer
			if err := WriteStatus(&b, "redis://127.0.0.1:6379/0", rows, sum, []StatusChannel{{Provider: "slack", Configured: true}}, nil, asJSON); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.Bytes())
		})
	}
}
