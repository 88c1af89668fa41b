package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchMonitorsFile writes n monitors, every one with settings and
// assertions of its own (as probe's BenchmarkBinarySweepMonitors), or
// with none (own false).
func benchMonitorsFile(b *testing.B, n int, own bool) string {
	var s strings.Builder
	s.WriteString("monitors:\n")
	for i := range n {
		check := []string{"dns", "ping", "http", "tls", "tcp"}[i%5]
		target := map[string]string{
			"dns": fmt.Sprintf("t%d.farm.test", i), "ping": fmt.Sprintf("127.0.%d.%d", i/254, i%254+1),
			"http": fmt.Sprintf("http://127.0.0.1:8080/api/t%d", i), "tls": fmt.Sprintf("127.0.0.1:%d", 10000+i%50000),
			"tcp": fmt.Sprintf("127.0.0.2:%d", 10000+i%50000),
		}[check]
		fmt.Fprintf(&s, "  - name: t%d\n    check: %s\n    target: %q\n", i, check, target)
		if !own {
			continue
		}
		fmt.Fprintf(&s, "    timeout: %ds\n    retries: 1\n    alert_threshold: %d\n    realert: %dm\n    notify_recovery: true\n    labels: {team: t%d, tier: \"%d\", idx: \"%d\"}\n",
			5+i%3, 1+i%5, 30+i%30, i%20, i%3, i)
		switch check {
		case "http":
			fmt.Fprintf(&s, `    http:
      method: GET
      headers: {Accept: application/json, X-Probe: "p%d"}
      success_codes: "200-299"
      max_latency: 10s
      warn_latency: 5s
      expect:
        body_contains: '"status"'
        body_not_contains: error
        json: {".status": "ok", ".checks.db": "ok"}
        headers: {Content-Type: application/json}
`, i)
		case "tls":
			fmt.Fprintf(&s, "    tls: {warn_days: %d, critical_days: 5}\n", 20+i%10)
		case "dns":
			s.WriteString("    dns: {type: A, expect: [\"127.0.0.1\"], rcode: NOERROR}\n")
		case "ping":
			s.WriteString("    ping: {count: 1, max_loss: 0}\n")
		case "tcp":
			s.WriteString("    tcp: {tls: false}\n")
		}
	}
	path := filepath.Join(b.TempDir(), "monitors.yaml")
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkLoadMonitors loads the configuration with a monitors file of n
// monitors, with settings of their own and without.
func BenchmarkLoadMonitors(b *testing.B) {
	sizes := []int{1000, 10000}
	if testing.Short() {
		sizes = []int{100}
	}
	for _, n := range sizes {
		for _, own := range []bool{false, true} {
			b.Run(fmt.Sprintf("N=%d/own=%t", n, own), func(b *testing.B) {
				path := benchMonitorsFile(b, n, own)
				env := []string{"TARGETS_FILE=" + path, "ENABLE_DNS=false", "ENABLE_PING=false"}
				b.ReportAllocs()
				for b.Loop() {
					cfg, _, err := Load(context.Background(), Sources{Environ: env})
					if err != nil {
						b.Fatal(err)
					}
					if len(cfg.Targets) != n {
						b.Fatalf("%d targets, want %d", len(cfg.Targets), n)
					}
				}
			})
		}
	}
}
