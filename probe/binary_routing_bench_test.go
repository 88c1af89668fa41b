package probe

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkBinarySweepRouting is the cost of routing (issue 15, SPEC
// §10): the pingpanda binary sweeps the same n mixed farm monitors twice
// per iteration, in alternating order, from two monitors files that
// differ only in routing:
//
//	plain    the monitors (two labels each, team and tier, a tenth with
//	         severity: page; a fifth in ten groups) and nothing else
//	routed   the same monitors plus 3 channels (2 webhooks and an
//	         alertmanager, on a loopback receiver that answers 200), 20
//	         routes (label, group, check, kinds and target-glob matches,
//	         some with continue), 5 maintenance windows (cron in
//	         Europe/Berlin; one, daily for 24h, is always open and holds
//	         team t7), and 50 silences in its state store (41 target
//	         globs, 5 group=, 4 label:; added with `pingpanda silence
//	         add` before anything is timed)
//
// 1% of the monitors (every 100th, from the third: http monitors) expect
// a body the farm never sends, so they are down. Their down events are
// raised, routed and delivered in the untimed warm-up runs; in the timed
// sweeps every target is in a steady state and no event is raised. What
// the timed routed sweep exercises, beyond the plain one: reading the
// channels, routes and windows, loading the 50 silences, every target's
// hold (50 selectors and the windows that match it), routeEvents' pass,
// the Alertmanager channel's resend of the firing alerts not held (one
// POST per sweep) and the silenced targets in the report and metrics.
// The webhooks receive nothing while timed (hook-posts says so).
//
//	cpu-ms         the routed sweep's CPU time; plain-cpu-ms the plain one's
//	x-plain-cpu    CPU of the routed sweep / the plain one's
//	x-plain-rss    peak RSS of the one / the other
//	x-plain-wall   wall time of the one / the other
//	pushed-KiB     metrics pushed per routed sweep; plain-pushed-KiB plain
//	am-posts       Alertmanager posts per timed routed sweep
//	hook-posts     webhook posts per timed routed sweep
func BenchmarkBinarySweepRouting(b *testing.B) {
	bb := newBinaryBench(b)
	var amPosts, hookPosts atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasPrefix(r.URL.Path, "/api/v2/alerts") {
			amPosts.Add(1)
		} else {
			hookPosts.Add(1)
		}
	}))
	b.Cleanup(recv.Close)
	silences := routingSilences(b, bb)

	var listeners []string
	top := b
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for len(listeners) < n/4 {
				listeners = append(listeners, farmServeTCP(top, func(c net.Conn) { farmHandshake(c, bb.farm.ca) }))
			}
			ts := bb.farm.targets(b, n)
			for i := range ts {
				if ts[i].Check == TLS || ts[i].Check == TCP {
					ts[i].Address = listeners[i/4]
				}
			}
			monitors := routingMonitors(ts)
			dir := b.TempDir()
			write := func(name, text string) string {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					b.Fatal(err)
				}
				return path
			}
			routedState := filepath.Join(dir, "routed.json")
			if err := os.WriteFile(routedState+".silences", silences, 0o644); err != nil {
				b.Fatal(err)
			}
			envPlain := binaryEnv(bb.farm, write("plain.yaml", monitors), bb.caFile, filepath.Join(dir, "plain.json"), bb.gateway.URL)
			envRouted := binaryEnv(bb.farm, write("routed.yaml", routingConfig(recv.URL)+monitors), bb.caFile, routedState, bb.gateway.URL)
			// The first runs write the state files and raise, route and
			// deliver the down events; the second are steady, as the
			// timed ones are.
			amPosts.Store(0)
			hookPosts.Store(0)
			for range 2 {
				binaryRun(b, bb.bin, bb.dir, envPlain, n)
				binaryRun(b, bb.bin, bb.dir, envRouted, n)
			}

			if hookPosts.Load() == 0 || amPosts.Load() == 0 {
				b.Fatalf("warm-up: %d webhook and %d alertmanager posts; want the down events delivered to both", hookPosts.Load(), amPosts.Load())
			}

			var p, o binaryResult
			var pushed [2]int64 // plain, routed
			var i int
			amPosts.Store(0)
			hookPosts.Store(0)
			for b.Loop() {
				runs := []*binaryResult{&p, &o}
				envs := [][]string{envPlain, envRouted}
				kept := []*int64{&pushed[0], &pushed[1]}
				if i%2 == 1 {
					runs[0], runs[1], envs[0], envs[1] = runs[1], runs[0], envs[1], envs[0]
					kept[0], kept[1] = kept[1], kept[0]
				}
				i++
				for j := range runs {
					before := bb.pushed.Load()
					r := binaryRun(b, bb.bin, bb.dir, envs[j], n)
					*kept[j] += bb.pushed.Load() - before
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
			b.ReportMetric(float64(pushed[1])/1024/sweeps, "pushed-KiB")
			b.ReportMetric(float64(pushed[0])/1024/sweeps, "plain-pushed-KiB")
			b.ReportMetric(float64(amPosts.Load())/sweeps, "am-posts")
			b.ReportMetric(float64(hookPosts.Load())/sweeps, "hook-posts")
		})
	}
}

// routingMonitors is the monitors file's groups: and monitors: for ts,
// the same for both sweeps. Monitor i has labels team t(i%20) and tier
// i%3, severity: page when i%10 is 3; those with i%10 below 2 are in
// group g(i/10%10). Every 100th, from the third (an http monitor),
// expects a body the farm never answers: down.
func routingMonitors(ts []Target) string {
	groups := make([]strings.Builder, 10)
	var loose strings.Builder
	for i, t := range ts {
		w := &loose
		indent := "  "
		if i%10 < 2 {
			w, indent = &groups[i/10%10], "      "
		}
		labels := fmt.Sprintf("team: t%d, tier: \"%d\"", i%20, i%3)
		if i%10 == 3 {
			labels += ", severity: page"
		}
		extra := ""
		if i%100 == 2 {
			extra = ", http: {expect: {body_contains: not-in-the-body}}"
		}
		fmt.Fprintf(w, "%s- {name: %s, check: %s, target: %q, labels: {%s}%s}\n", indent, t.Name, t.Check, t.Address, labels, extra)
	}
	var s strings.Builder
	s.WriteString("defaults: {alert_threshold: 1}\ngroups:\n")
	for k := range groups {
		fmt.Fprintf(&s, "  - name: g%d\n    monitors:\n", k)
		if groups[k].Len() == 0 {
			s.WriteString("      []\n")
		}
		s.WriteString(groups[k].String())
	}
	s.WriteString("monitors:\n")
	s.WriteString(loose.String())
	return s.String()
}

// routingConfig is the routed file's channels:, routes: and
// maintenance:, its channels on the receiver at url.
func routingConfig(url string) string {
	var s strings.Builder
	fmt.Fprintf(&s, `channels:
  hook-a: {type: webhook, url: "%[1]s/hook-a", secret: bench-secret}
  hook-b: {type: webhook, url: "%[1]s/hook-b"}
  am: {type: alertmanager, url: "%[1]s"}
routes:
`, url)
	// 20 routes: the first match wins unless continue.
	for _, team := range []int{3, 13, 0, 1, 2} { // severity: page is on teams t3 and t13 alone
		fmt.Fprintf(&s, "  - {match: {labels: {severity: page, team: t%d}}, channels: [hook-a, am]}\n", team)
	}
	for k := range 5 {
		fmt.Fprintf(&s, "  - {match: {group: g%d}, channels: [hook-b], continue: true}\n", k)
	}
	for k := range 5 {
		fmt.Fprintf(&s, "  - {match: {target: \"*/t%d?7\"}, channels: [hook-b]}\n", k+1)
	}
	s.WriteString(`  - {match: {check: tls, kinds: [cert_warning, cert_critical, cert_expired]}, channels: [hook-a]}
  - {match: {check: dns, labels: {tier: "0"}}, channels: [hook-b]}
  - {match: {kinds: [degraded, degraded_resolved]}, channels: []}
  - {match: {labels: {tier: "2"}}, channels: [hook-b, am]}
  - {channels: [hook-a, am]}
maintenance:
  - {match: {group: g0}, schedule: "0 2 * * SUN", duration: 2h, timezone: Europe/Berlin}
  - {match: {labels: {team: t3}}, schedule: "30 3 * * *", duration: 1h, timezone: Europe/Berlin}
  - {match: {check: dns}, schedule: "0 */6 * * *", duration: 30m, timezone: Europe/Berlin}
  - {match: {target: "*t1?"}, schedule: "0 22 * * 1-5", duration: 4h, timezone: Europe/Berlin}
  - {match: {labels: {team: t7}}, schedule: "0 0 * * *", duration: 24h, timezone: Europe/Berlin}
`)
	return s.String()
}

// routingSelectors are the 50 silences' selectors: 20 monitor names (none
// of a monitor that is down), 21
// globs on dns target IDs, 5 groups and 4 labels.
func routingSelectors() []string {
	var out []string
	for j := range 20 {
		out = append(out, fmt.Sprintf("t%d", 97*j+1))
	}
	for j := range 21 {
		out = append(out, fmt.Sprintf("dns:t%d?.farm.test", 3*j+10))
	}
	for k := 5; k < 10; k++ {
		out = append(out, fmt.Sprintf("group=g%d", k))
	}
	for k := 16; k < 20; k++ {
		out = append(out, fmt.Sprintf("label:team=t%d", k))
	}
	return out
}

// routingSilences adds the 50 silences with the binary, `pingpanda
// silence add --match SELECTOR --for 24h --reason bench`, to a state
// file of their own (the file store keeps them in <STATE_FILE>.silences,
// which every N's routed state file then starts with). Its configuration
// is one monitor, so that the adds do not read a large file 50 times.
func routingSilences(b *testing.B, bb *binaryBench) []byte {
	dir := b.TempDir()
	targets := filepath.Join(dir, "one.yaml")
	if err := os.WriteFile(targets, []byte("- {check: tcp, target: \"127.0.0.1:1\"}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	stateFile := filepath.Join(dir, "state.json")
	env := binaryEnv(bb.farm, targets, bb.caFile, stateFile, bb.gateway.URL)
	for _, sel := range routingSelectors() {
		cmd := exec.Command(bb.bin, "silence", "add", "--match", sel, "--for", "24h", "--reason", "bench")
		cmd.Env, cmd.Dir = env, bb.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("silence add --match %s: %v\n%s", sel, err, out)
		}
	}
	data, err := os.ReadFile(stateFile + ".silences")
	if err != nil {
		b.Fatal(err)
	}
	return data
}
