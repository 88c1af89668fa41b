package push

import (
	"bytes"
	"cmp"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/push")

// sweepAt is when every test sweep runs.
var sweepAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func target(t testing.TB, check probe.Check, raw string) probe.Target {
	t.Helper()
	tg, err := probe.ParseTarget(check, raw)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// exposition is g's families in the text format, as expfmt writes them.
func exposition(t testing.TB, g prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// textFamilies reads a text exposition with Prometheus' own parser and
// returns its families by name. It fails the test on text the parser
// refuses, and on a series that appears twice in a family (which the
// parser lets through, and Prometheus refuses).
func textFamilies(t testing.TB, b []byte) []*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not the text format: %v\n%s", err, b)
	}
	mfs := make([]*dto.MetricFamily, 0, len(parsed))
	for _, mf := range parsed {
		seen := map[string]bool{}
		for _, m := range mf.GetMetric() {
			var key strings.Builder
			for _, l := range m.GetLabel() {
				key.WriteString(l.GetName() + "\x00" + l.GetValue() + "\x00")
			}
			if seen[key.String()] {
				t.Errorf("%s{%q} appears twice", mf.GetName(), key.String())
			}
			seen[key.String()] = true
		}
		mfs = append(mfs, mf)
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return mfs
}

// textGatherer gathers what WriteText writes for s, read back by
// textFamilies, for testutil's comparisons.
func textGatherer(t testing.TB, s Sweep) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return textFamilies(t, text(t, s)), nil
	})
}

// realisticSweep has one target of each kind and situation: up, down,
// skipped with a stored status, unsupported, timed out before its first
// attempt, flapping, degraded (with a custom ID), tcp up and down,
// certificates from the probe and from the state.
func realisticSweep(t testing.TB) Sweep {
	s := realisticSweepUnsilenced(t)
	// The flapping ping target is in a maintenance window.
	s.Silenced = make([]time.Time, len(s.Results))
	s.Silenced[3] = sweepAt.Add(90 * time.Minute)
	return s
}

func realisticSweepUnsilenced(t testing.TB) Sweep {
	dnsUp := target(t, probe.DNS, "Example.COM.")
	dnsNew := target(t, probe.DNS, "new.example.com")
	pingDown := target(t, probe.Ping, "192.0.2.1")
	pingFlap := target(t, probe.Ping, "198.51.100.7")
	pingNoICMP := target(t, probe.Ping, "2001:db8::1")
	httpSkipped := target(t, probe.HTTP, "https://example.org/health?probe=1")
	httpUp := target(t, probe.HTTP, "http://example.net:8080")
	tlsUp := target(t, probe.TLS, "example.net")
	tlsSkipped := target(t, probe.TLS, "[2001:db8::2]:8443")
	httpSlow := target(t, probe.HTTP, "https://shop.example.com/health")
	httpSlow.CustomID = "shop-api"
	tcpUp := target(t, probe.TCP, "db.example.net:5432")
	tcpDown := target(t, probe.TCP, "[2001:db8::3]:6379")
	notAfter := sweepAt.Add(20*24*time.Hour + 12*time.Hour)
	storedNotAfter := sweepAt.Add(3 * 24 * time.Hour)
	return withStates(statesSweep{
		At:            sweepAt,
		Duration:      1500 * time.Millisecond,
		AlertsPending: 2,
		Channels:      []Channel{{Provider: "slack", Broken: true}, {Provider: "discord", Rejected: 2}},
		Results: []probe.Result{
			{Target: dnsUp, Status: probe.StatusUp, Latency: 12 * time.Millisecond, Attempts: 1,
				DNS: &probe.DNSDetail{Rcode: "NOERROR", Answers: 1}},
			{Target: dnsNew, Status: probe.StatusDown, Error: "sweep deadline", TimedOut: true},
			{Target: pingDown, Status: probe.StatusDown, Latency: 2 * time.Second, Attempts: 3, Error: "no reply"},
			{Target: pingFlap, Status: probe.StatusUp, Latency: 3 * time.Millisecond, Attempts: 1},
			{Target: pingNoICMP, Status: probe.StatusUnsupported, Attempts: 1, Error: "ICMP not permitted"},
			{Target: httpSkipped, Status: probe.StatusSkipped, Error: "circuit open"},
			{Target: httpUp, Status: probe.StatusUp, Latency: 250 * time.Millisecond, Attempts: 2,
				HTTP: &probe.HTTPDetail{StatusCode: 200}},
			{Target: tlsUp, Status: probe.StatusUp, Latency: 40 * time.Millisecond, Attempts: 1,
				TLS: &probe.TLSDetail{NotAfter: notAfter, DaysLeft: 20.5, Level: probe.CertWarning}},
			{Target: tlsSkipped, Status: probe.StatusSkipped, Error: "backoff"},
			{Target: httpSlow, Status: probe.StatusUp, Latency: 412 * time.Millisecond, Attempts: 1, Degraded: true,
				HTTP: &probe.HTTPDetail{StatusCode: 200}},
			{Target: tcpUp, Status: probe.StatusUp, Latency: 5 * time.Millisecond, Attempts: 1,
				TCP: &probe.TCPDetail{Read: 6, TLS: true}},
			{Target: tcpDown, Status: probe.StatusDown, Latency: time.Second, Attempts: 2, Error: "connection refused"},
		},
		States: map[string]state.TargetState{
			dnsUp.ID(): {Status: state.Up, Circuit: state.Closed,
				Stats: state.Stats{Checks: 40, Failures: 2, LatencyLast: 0.012}},
			dnsNew.ID(): {Status: state.Unknown, Circuit: state.Closed},
			pingDown.ID(): {Status: state.Down, Circuit: state.Closed, ConsecutiveFailures: 3,
				Stats: state.Stats{Checks: 90, Failures: 7, LatencyLast: 0.004}},
			pingFlap.ID(): {Status: state.Up, Circuit: state.HalfOpen, Flapping: true,
				Stats: state.Stats{Checks: 30, Failures: 11, LatencyLast: 0.003}},
			pingNoICMP.ID(): {Status: state.Unknown, Circuit: state.Closed},
			httpSkipped.ID(): {Status: state.Down, Circuit: state.Open, ConsecutiveFailures: 5,
				Stats: state.Stats{Checks: 50, Failures: 12, LatencyLast: 0.3}},
			httpUp.ID(): {Status: state.Up, Circuit: state.Closed,
				Stats: state.Stats{Checks: 5, Failures: 1, LatencyLast: 0.25}},
			tlsUp.ID(): {Status: state.Up, Circuit: state.Closed, NotAfter: notAfter, CertDays: 20.5,
				Stats: state.Stats{Checks: 10, LatencyLast: 0.04}},
			tlsSkipped.ID(): {Status: state.Down, Circuit: state.Closed, ConsecutiveFailures: 1,
				NotAfter: storedNotAfter, CertDays: 3.5, Stats: state.Stats{Checks: 8, Failures: 1}},
			httpSlow.ID(): {Status: state.Up, Circuit: state.Closed, ConsecutiveDegraded: 3, Degraded: true,
				DegradedSince: sweepAt.Add(-10 * time.Minute), Stats: state.Stats{Checks: 20, LatencyLast: 0.412}},
			tcpUp.ID(): {Status: state.Up, Circuit: state.Closed,
				Stats: state.Stats{Checks: 12, Failures: 2, LatencyLast: 0.005}},
			tcpDown.ID(): {Status: state.Down, Circuit: state.Closed, ConsecutiveFailures: 2,
				Stats: state.Stats{Checks: 4, Failures: 4}},
		},
	})
}

// statesSweep is a Sweep with its states given by target ID.
type statesSweep struct {
	At            time.Time
	Duration      time.Duration
	AlertsPending int
	Channels      []Channel
	Results       []probe.Result
	States        map[string]state.TargetState
}

// withStates is s with States in the order of its results (a target
// missing from s.States has none).
func withStates(s statesSweep) Sweep {
	out := Sweep{At: s.At, Duration: s.Duration, AlertsPending: s.AlertsPending, Channels: s.Channels, Results: s.Results}
	if s.States != nil {
		out.States = make([]state.TargetState, len(s.Results))
		for i, r := range s.Results {
			out.States[i] = s.States[r.Target.ID()]
		}
	}
	return out
}

func TestWriteTextMatchesGoldenFiles(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		sweep        Sweep
	}{
		{"a realistic sweep", "../testdata/push/realistic.prom", realisticSweep(t)},
		{"100 mixed targets in every situation", "../testdata/push/mixed-100.prom", mixedSweep(t, 100)},
	} {
		t.Run(tc.name+" is written as "+filepath.Base(tc.golden)+" holds it", func(t *testing.T) {
			got := text(t, tc.sweep)
			if *update {
				if err := os.MkdirAll(filepath.Dir(tc.golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(tc.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatalf("%v (run go test ./push -run Golden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("WriteText differs from %s (run with -update after checking the change):\n%s", tc.golden, lineDiff(got, want))
			}
		})
	}
}

func TestWriteTextOfOneTarget(t *testing.T) {
	dns := target(t, probe.DNS, "example.com")
	ping := target(t, probe.Ping, "192.0.2.1")
	web := target(t, probe.HTTP, "https://example.org/health")
	tls := target(t, probe.TLS, "example.net")
	tcp := target(t, probe.TCP, "db.example.net:5432")
	shop := target(t, probe.HTTP, "https://shop.example.com/health")
	shop.CustomID = "shop-api"
	notAfter := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name   string
		result probe.Result
		state  *state.TargetState // nil: no stored state
		names  []string           // the metrics compared
		want   string
	}{
		{
			name:   "a dns target that is up reports status 1, its latency and its stored error total",
			result: probe.Result{Target: dns, Status: probe.StatusUp, Latency: 20 * time.Millisecond, Attempts: 1},
			state:  &state.TargetState{Status: state.Up, Stats: state.Stats{Failures: 4, LatencyLast: 0.02}},
			names:  []string{DNSStatus, DNSErrorsTotal, DNSResponse, TargetUp, ProbeDuration},
			want: `
# HELP pingpanda_dns_errors_total Failed DNS checks of the domain, ever (kept in the state store).
# TYPE pingpanda_dns_errors_total counter
pingpanda_dns_errors_total{domain="example.com"} 4
# HELP pingpanda_dns_response_seconds Duration of the last successful DNS query of the domain, in seconds.
# TYPE pingpanda_dns_response_seconds gauge
pingpanda_dns_response_seconds{domain="example.com"} 0.02
# HELP pingpanda_dns_status Whether the DNS check of the domain succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_dns_status gauge
pingpanda_dns_status{domain="example.com"} 1
# HELP pingpanda_probe_duration_seconds Duration of this sweep's check of the target (the successful attempt's, else the last one's), in seconds.
# TYPE pingpanda_probe_duration_seconds gauge
pingpanda_probe_duration_seconds{check="dns",target="example.com"} 0.02
# HELP pingpanda_target_up Whether the target's check succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_target_up gauge
pingpanda_target_up{check="dns",target="example.com"} 1
`,
		},
		{
			name:   "a ping target that is down reports status 0, the last successful latency and its failures in a row",
			result: probe.Result{Target: ping, Status: probe.StatusDown, Latency: 2 * time.Second, Attempts: 3},
			state: &state.TargetState{Status: state.Down, ConsecutiveFailures: 3,
				Stats: state.Stats{Failures: 9, LatencyLast: 0.005}},
			names: []string{PingStatus, PingErrorsTotal, PingResponse, ConsecutiveFailures, ProbeDuration},
			want: `
# HELP pingpanda_consecutive_failures Failed checks of the target in a row.
# TYPE pingpanda_consecutive_failures gauge
pingpanda_consecutive_failures{check="ping",target="192.0.2.1"} 3
# HELP pingpanda_ping_errors_total Failed ping checks of the target, ever (kept in the state store).
# TYPE pingpanda_ping_errors_total counter
pingpanda_ping_errors_total{target="192.0.2.1"} 9
# HELP pingpanda_ping_response_seconds Round-trip time of the last successful ping of the target, in seconds.
# TYPE pingpanda_ping_response_seconds gauge
pingpanda_ping_response_seconds{target="192.0.2.1"} 0.005
# HELP pingpanda_ping_status Whether the ping check of the target succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_ping_status gauge
pingpanda_ping_status{target="192.0.2.1"} 0
# HELP pingpanda_probe_duration_seconds Duration of this sweep's check of the target (the successful attempt's, else the last one's), in seconds.
# TYPE pingpanda_probe_duration_seconds gauge
pingpanda_probe_duration_seconds{check="ping",target="192.0.2.1"} 2
`,
		},
		{
			name:   "a skipped http target whose stored state is down keeps status 0, with an open circuit and no probe duration",
			result: probe.Result{Target: web, Status: probe.StatusSkipped, Error: "circuit open"},
			state: &state.TargetState{Status: state.Down, Circuit: state.Open, ConsecutiveFailures: 5,
				Stats: state.Stats{Failures: 12}},
			names: []string{WebsiteStatus, WebsiteErrorsTotal, WebsiteResponse, TargetUp, ProbeDuration, CircuitState},
			want: `
# HELP pingpanda_circuit_state State of the target's circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE pingpanda_circuit_state gauge
pingpanda_circuit_state{check="http",target="https://example.org/health"} 2
# HELP pingpanda_target_up Whether the target's check succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_target_up gauge
pingpanda_target_up{check="http",target="https://example.org/health"} 0
# HELP pingpanda_website_errors_total Failed HTTP checks of the URL, ever (kept in the state store).
# TYPE pingpanda_website_errors_total counter
pingpanda_website_errors_total{url="https://example.org/health"} 12
# HELP pingpanda_website_status Whether the HTTP check of the URL succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_website_status gauge
pingpanda_website_status{url="https://example.org/health"} 0
`,
		},
		{
			name:   "a skipped target never probed reports no status at all",
			result: probe.Result{Target: web, Status: probe.StatusSkipped, Error: "backoff"},
			state:  &state.TargetState{Status: state.Unknown},
			names:  []string{WebsiteStatus, TargetUp, ProbeDuration},
			want:   ``,
		},
		{
			name:   "a target the deadline stopped before its first attempt keeps its stored status",
			result: probe.Result{Target: dns, Status: probe.StatusDown, TimedOut: true},
			state:  &state.TargetState{Status: state.Up, Stats: state.Stats{LatencyLast: 0.01}},
			names:  []string{DNSStatus, ProbeDuration},
			want: `
# HELP pingpanda_dns_status Whether the DNS check of the domain succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_dns_status gauge
pingpanda_dns_status{domain="example.com"} 1
`,
		},
		{
			name: "a tls target reports the days left and the expiry of the certificate it was served",
			result: probe.Result{Target: tls, Status: probe.StatusUp, Latency: 30 * time.Millisecond, Attempts: 1,
				TLS: &probe.TLSDetail{NotAfter: notAfter, DaysLeft: 9.5, Level: probe.CertWarning}},
			state: &state.TargetState{Status: state.Up, NotAfter: notAfter, Stats: state.Stats{Failures: 1}},
			names: []string{SSLStatus, SSLErrorsTotal, SSLDaysRemaining, SSLExpiryTimestamp},
			want: `
# HELP pingpanda_ssl_days_remaining Days until the certificate served at host:port expires; negative once expired.
# TYPE pingpanda_ssl_days_remaining gauge
pingpanda_ssl_days_remaining{domain="example.net:443"} 9.5
# HELP pingpanda_ssl_errors_total Failed TLS checks of host:port, ever (kept in the state store).
# TYPE pingpanda_ssl_errors_total counter
pingpanda_ssl_errors_total{domain="example.net:443"} 1
# HELP pingpanda_ssl_expiry_timestamp_seconds Expiry (NotAfter) of the certificate served at host:port, in seconds since the Unix epoch.
# TYPE pingpanda_ssl_expiry_timestamp_seconds gauge
pingpanda_ssl_expiry_timestamp_seconds{target="example.net:443"} 1.7731872e+09
# HELP pingpanda_ssl_status Whether the TLS check of host:port succeeded (1) or failed (0, including a certificate that fails verification); a target skipped this sweep keeps its last status.
# TYPE pingpanda_ssl_status gauge
pingpanda_ssl_status{domain="example.net:443"} 1
`,
		},
		{
			name:   "a skipped tls target counts its days left from the stored expiry to the sweep",
			result: probe.Result{Target: tls, Status: probe.StatusSkipped, Error: "backoff"},
			state:  &state.TargetState{Status: state.Down, NotAfter: sweepAt.Add(36 * time.Hour), CertDays: 2},
			names:  []string{SSLDaysRemaining, SSLStatus},
			want: `
# HELP pingpanda_ssl_days_remaining Days until the certificate served at host:port expires; negative once expired.
# TYPE pingpanda_ssl_days_remaining gauge
pingpanda_ssl_days_remaining{domain="example.net:443"} 1.5
# HELP pingpanda_ssl_status Whether the TLS check of host:port succeeded (1) or failed (0, including a certificate that fails verification); a target skipped this sweep keeps its last status.
# TYPE pingpanda_ssl_status gauge
pingpanda_ssl_status{domain="example.net:443"} 0
`,
		},
		{
			name:   "a flapping target with a half-open circuit reports both",
			result: probe.Result{Target: ping, Status: probe.StatusUp, Latency: time.Millisecond, Attempts: 1},
			state:  &state.TargetState{Status: state.Up, Circuit: state.HalfOpen, Flapping: true},
			names:  []string{Flapping, CircuitState},
			want: `
# HELP pingpanda_circuit_state State of the target's circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE pingpanda_circuit_state gauge
pingpanda_circuit_state{check="ping",target="192.0.2.1"} 1
# HELP pingpanda_flapping Whether the target is flapping (1) or not (0).
# TYPE pingpanda_flapping gauge
pingpanda_flapping{check="ping",target="192.0.2.1"} 1
`,
		},
		{
			name: "a tcp target gets every {check,target} metric and none of the original's per-check ones",
			result: probe.Result{Target: tcp, Status: probe.StatusDown, Latency: time.Second, Attempts: 2,
				Error: "connection refused", TCP: &probe.TCPDetail{}},
			state: &state.TargetState{Status: state.Down, Circuit: state.Closed, ConsecutiveFailures: 2,
				Stats: state.Stats{Checks: 9, Failures: 3, LatencyLast: 0.004}},
			want: `
# HELP pingpanda_circuit_state State of the target's circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE pingpanda_circuit_state gauge
pingpanda_circuit_state{check="tcp",target="db.example.net:5432"} 0
# HELP pingpanda_consecutive_failures Failed checks of the target in a row.
# TYPE pingpanda_consecutive_failures gauge
pingpanda_consecutive_failures{check="tcp",target="db.example.net:5432"} 2
# HELP pingpanda_flapping Whether the target is flapping (1) or not (0).
# TYPE pingpanda_flapping gauge
pingpanda_flapping{check="tcp",target="db.example.net:5432"} 0
# HELP pingpanda_last_sweep_timestamp_seconds When the last sweep ran, in seconds since the Unix epoch; alert on its age.
# TYPE pingpanda_last_sweep_timestamp_seconds gauge
pingpanda_last_sweep_timestamp_seconds 1.7723664e+09
# HELP pingpanda_probe_duration_seconds Duration of this sweep's check of the target (the successful attempt's, else the last one's), in seconds.
# TYPE pingpanda_probe_duration_seconds gauge
pingpanda_probe_duration_seconds{check="tcp",target="db.example.net:5432"} 1
# HELP pingpanda_alerts_pending Alert messages not yet delivered, left in the outbox for the next sweep.
# TYPE pingpanda_alerts_pending gauge
pingpanda_alerts_pending 0
# HELP pingpanda_sweep_duration_seconds Duration of the last sweep, in seconds.
# TYPE pingpanda_sweep_duration_seconds gauge
pingpanda_sweep_duration_seconds 0
# HELP pingpanda_sweep_targets Targets of the last sweep by result: up, down, or skipped (circuit open, backoff, or check unsupported here).
# TYPE pingpanda_sweep_targets gauge
pingpanda_sweep_targets{result="down"} 1
pingpanda_sweep_targets{result="skipped"} 0
pingpanda_sweep_targets{result="up"} 0
# HELP pingpanda_target_degraded Whether the target is degraded (1) or not (0): set with the degraded alert, after alert_threshold up checks in a row slower than its warn_latency, and cleared by the first up check under it; a down or skipped target keeps it.
# TYPE pingpanda_target_degraded gauge
pingpanda_target_degraded{check="tcp",target="db.example.net:5432"} 0
# HELP pingpanda_target_silenced Whether a silence or a maintenance window holds the target's alerts (1) or not (0): it is still probed and its state kept.
# TYPE pingpanda_target_silenced gauge
pingpanda_target_silenced{check="tcp",target="db.example.net:5432"} 0
# HELP pingpanda_target_up Whether the target's check succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_target_up gauge
pingpanda_target_up{check="tcp",target="db.example.net:5432"} 0
`,
		},
		{
			name: "a degraded target (with a custom ID) reports the stored latch, labelled by its address",
			result: probe.Result{Target: shop, Status: probe.StatusUp, Latency: 412 * time.Millisecond, Attempts: 1, Degraded: true,
				HTTP: &probe.HTTPDetail{StatusCode: 200}},
			state: &state.TargetState{ID: "shop-api", Status: state.Up, ConsecutiveDegraded: 2, Degraded: true,
				DegradedSince: sweepAt.Add(-5 * time.Minute)},
			names: []string{TargetDegraded, TargetUp},
			want: `
# HELP pingpanda_target_degraded Whether the target is degraded (1) or not (0): set with the degraded alert, after alert_threshold up checks in a row slower than its warn_latency, and cleared by the first up check under it; a down or skipped target keeps it.
# TYPE pingpanda_target_degraded gauge
pingpanda_target_degraded{check="http",target="https://shop.example.com/health"} 1
# HELP pingpanda_target_up Whether the target's check succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_target_up gauge
pingpanda_target_up{check="http",target="https://shop.example.com/health"} 1
`,
		},
		{
			name:   "a slow result short of alert_threshold is not yet degraded",
			result: probe.Result{Target: shop, Status: probe.StatusUp, Latency: 412 * time.Millisecond, Attempts: 1, Degraded: true},
			state:  &state.TargetState{Status: state.Up, ConsecutiveDegraded: 1, DegradedSince: sweepAt},
			names:  []string{TargetDegraded},
			want: `
# HELP pingpanda_target_degraded Whether the target is degraded (1) or not (0): set with the degraded alert, after alert_threshold up checks in a row slower than its warn_latency, and cleared by the first up check under it; a down or skipped target keeps it.
# TYPE pingpanda_target_degraded gauge
pingpanda_target_degraded{check="http",target="https://shop.example.com/health"} 0
`,
		},
		{
			name:   "a degraded target skipped this sweep stays degraded, as no degraded_resolved was sent",
			result: probe.Result{Target: shop, Status: probe.StatusSkipped, Error: "not due"},
			state:  &state.TargetState{Status: state.Up, Degraded: true, DegradedSince: sweepAt.Add(-time.Hour)},
			names:  []string{TargetDegraded, ProbeDuration},
			want: `
# HELP pingpanda_target_degraded Whether the target is degraded (1) or not (0): set with the degraded alert, after alert_threshold up checks in a row slower than its warn_latency, and cleared by the first up check under it; a down or skipped target keeps it.
# TYPE pingpanda_target_degraded gauge
pingpanda_target_degraded{check="http",target="https://shop.example.com/health"} 1
`,
		},
		{
			name:   "a target without a stored state reports what its result alone says, and no counter",
			result: probe.Result{Target: web, Status: probe.StatusUp, Latency: 100 * time.Millisecond, Attempts: 1},
			names:  []string{WebsiteStatus, WebsiteErrorsTotal, WebsiteResponse, ConsecutiveFailures, CircuitState, Flapping, TargetDegraded},
			want: `
# HELP pingpanda_website_response_seconds Time to the response headers of the last successful HTTP check of the URL, in seconds.
# TYPE pingpanda_website_response_seconds gauge
pingpanda_website_response_seconds{url="https://example.org/health"} 0.1
# HELP pingpanda_website_status Whether the HTTP check of the URL succeeded (1) or failed (0); a target skipped this sweep keeps its last status.
# TYPE pingpanda_website_status gauge
pingpanda_website_status{url="https://example.org/health"} 1
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Sweep{At: sweepAt, Results: []probe.Result{tc.result}}
			if tc.state != nil {
				s.States = []state.TargetState{*tc.state}
			}
			if err := testutil.GatherAndCompare(textGatherer(t, s), strings.NewReader(tc.want), tc.names...); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestWriteTextSweepMetrics(t *testing.T) {
	t.Run("counts results by status, unsupported as skipped, zeros included", func(t *testing.T) {
		s := Sweep{
			At:            sweepAt,
			Duration:      2250 * time.Millisecond,
			AlertsPending: 3,
			Results: []probe.Result{
				{Target: target(t, probe.DNS, "a.example"), Status: probe.StatusUp, Attempts: 1},
				{Target: target(t, probe.DNS, "b.example"), Status: probe.StatusUp, Attempts: 1},
				{Target: target(t, probe.Ping, "192.0.2.1"), Status: probe.StatusUnsupported, Attempts: 1},
				{Target: target(t, probe.Ping, "192.0.2.2"), Status: probe.StatusSkipped},
			},
		}
		want := `
# HELP pingpanda_alerts_pending Alert messages not yet delivered, left in the outbox for the next sweep.
# TYPE pingpanda_alerts_pending gauge
pingpanda_alerts_pending 3
# HELP pingpanda_last_sweep_timestamp_seconds When the last sweep ran, in seconds since the Unix epoch; alert on its age.
# TYPE pingpanda_last_sweep_timestamp_seconds gauge
pingpanda_last_sweep_timestamp_seconds 1.7723664e+09
# HELP pingpanda_sweep_duration_seconds Duration of the last sweep, in seconds.
# TYPE pingpanda_sweep_duration_seconds gauge
pingpanda_sweep_duration_seconds 2.25
# HELP pingpanda_sweep_targets Targets of the last sweep by result: up, down, or skipped (circuit open, backoff, or check unsupported here).
# TYPE pingpanda_sweep_targets gauge
pingpanda_sweep_targets{result="down"} 0
pingpanda_sweep_targets{result="skipped"} 2
pingpanda_sweep_targets{result="up"} 2
`
		if err := testutil.GatherAndCompare(textGatherer(t, s), strings.NewReader(want),
			AlertsPending, LastSweepTimestamp, SweepDuration, SweepTargets); err != nil {
			t.Error(err)
		}
	})
	t.Run("an empty sweep still says when it ran", func(t *testing.T) {
		n, err := testutil.GatherAndCount(textGatherer(t, Sweep{At: sweepAt}), LastSweepTimestamp, SweepTargets)
		if err != nil || n != 4 {
			t.Errorf("got %d series, %v; want last_sweep_timestamp and three sweep_targets", n, err)
		}
	})
	t.Run("a sweep without a time leaves the timestamp out rather than report year 1", func(t *testing.T) {
		n, err := testutil.GatherAndCount(textGatherer(t, Sweep{}), LastSweepTimestamp)
		if err != nil || n != 0 {
			t.Errorf("got %d series, %v; want none", n, err)
		}
	})
}

func TestWriteTextErrorCountersGrowWithTheStoredTotals(t *testing.T) {
	dns := target(t, probe.DNS, "example.com")
	counter := func(failures int64) float64 {
		s := Sweep{At: sweepAt,
			Results: []probe.Result{{Target: dns, Status: probe.StatusDown, Attempts: 1}},
			States:  []state.TargetState{{Status: state.Down, Stats: state.Stats{Failures: failures}}}}
		for _, mf := range textFamilies(t, text(t, s)) {
			if mf.GetName() == DNSErrorsTotal {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatalf("no %s", DNSErrorsTotal)
		return 0
	}
	// Two invocations, each a fresh process: the counter carries the
	// total, not this sweep's failures.
	if first, second := counter(41), counter(42); first != 41 || second != 42 {
		t.Errorf("counter went %v then %v; want 41 then 42", first, second)
	}
}

func TestWriteTextExportsEveryNameWithHelp(t *testing.T) {
	got := map[string]bool{}
	for _, mf := range textFamilies(t, text(t, realisticSweep(t))) {
		got[mf.GetName()] = true
		if mf.GetHelp() == "" {
			t.Errorf("%s has no HELP", mf.GetName())
		}
		if strings.HasSuffix(mf.GetName(), "_total") != (mf.GetType().String() == "COUNTER") {
			t.Errorf("%s is a %s", mf.GetName(), mf.GetType())
		}
	}
	for _, name := range MetricNames() {
		if !got[name] {
			t.Errorf("%s is not exported", name)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("%s is exported but not in MetricNames", name)
	}
}
