package sweep

import (
	"fmt"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/alert/route"
	"github.com/pingpanda/pingpanda/state"
)

// benchSubjects are n monitors as routing sees them, shaped as
// probe.BenchmarkBinarySweepRouting's: five checks round-robin, labels
// team t(i%20) and tier i%3 (severity: page when i%10 is 3), a fifth in
// groups g0..g9.
func benchSubjects(n int) []route.Subject {
	checks := []string{"dns", "ping", "http", "tls", "tcp"}
	out := make([]route.Subject, n)
	for i := range out {
		name := fmt.Sprintf("t%d", i)
		c := checks[i%len(checks)]
		var target string
		switch c {
		case "dns":
			target = name + ".farm.test"
		case "ping":
			target = fmt.Sprintf("127.0.%d.%d", i/254%256, i%254+1)
		case "http":
			target = "http://127.0.0.1:34567/" + name
		default:
			target = fmt.Sprintf("127.0.0.1:%d", 20000+i/4)
		}
		labels := map[string]string{"team": fmt.Sprintf("t%d", i%20), "tier": fmt.Sprint(i % 3)}
		if i%10 == 3 {
			labels["severity"] = "page"
		}
		s := route.Subject{ID: c + ":" + target, Check: c, Target: target, Name: name, Labels: labels}
		if i%10 < 2 {
			s.Group = fmt.Sprintf("g%d", i/10%10)
		}
		out[i] = s
	}
	return out
}

// benchSilences are 50 silences, their selectors those of the binary
// benchmark: 20 monitor names, 21 globs on dns IDs, 5 groups, 4 labels.
func benchSilences(now time.Time) []state.Silence {
	var sels []string
	for j := range 20 {
		sels = append(sels, fmt.Sprintf("t%d", 97*j+1))
	}
	for j := range 21 {
		sels = append(sels, fmt.Sprintf("dns:t%d?.farm.test", 3*j+10))
	}
	for k := 5; k < 10; k++ {
		sels = append(sels, fmt.Sprintf("group=g%d", k))
	}
	for k := 16; k < 20; k++ {
		sels = append(sels, fmt.Sprintf("label:team=t%d", k))
	}
	out := make([]state.Silence, len(sels))
	for i, s := range sels {
		out[i] = state.Silence{ID: fmt.Sprintf("s-%08x", i), Match: s, Created: now.Add(-time.Hour), Expires: now.Add(23 * time.Hour)}
	}
	return out
}

// benchWindows are the binary benchmark's 5 maintenance windows (Europe/
// Berlin; the last, daily for 24h, always open), with their matches, or
// with every match emptied (all: each window applies to every monitor).
func benchWindows(tb testing.TB, all bool) []route.Window {
	type w struct {
		m     route.Match
		sched string
		dur   time.Duration
	}
	ws := []w{
		{route.Match{Group: "g0"}, "0 2 * * SUN", 2 * time.Hour},
		{route.Match{Labels: map[string]string{"team": "t3"}}, "30 3 * * *", time.Hour},
		{route.Match{Check: "dns"}, "0 */6 * * *", 30 * time.Minute},
		{route.Match{Target: "*t1?"}, "0 22 * * 1-5", 4 * time.Hour},
		{route.Match{Labels: map[string]string{"team": "t7"}}, "0 0 * * *", 24 * time.Hour},
	}
	out := make([]route.Window, len(ws))
	for i, x := range ws {
		if all {
			x.m = route.Match{}
		}
		win, err := route.NewWindow(x.m, x.sched, x.dur, "Europe/Berlin")
		if err != nil {
			tb.Fatal(err)
		}
		win.Where = fmt.Sprintf("monitors.yaml:%d", 10+i)
		out[i] = win
	}
	return out
}

// BenchmarkHolds is the hold of 10,000 monitors at one instant, as a
// sweep works them out (HoldOf per target): 50 silences and 5
// maintenance windows, as the binary benchmark stores and configures
// them. ns/target is per monitor. per-target is HoldOf for each monitor,
// every window's occurrences worked out for every monitor it matches;
// per-sweep is holdsOf, what a sweep does: each window once, then the
// matches of those open.
//
//	silences          the 50 silences alone
//	windows           the 5 windows alone, with their matches (a few
//	                  monitors each)
//	windows-all       the 5 windows, each matching every monitor
//	both              silences and windows, with their matches
//	both-windows-all  silences and windows matching every monitor
func BenchmarkHolds(b *testing.B) {
	now := time.Date(2030, 5, 8, 14, 20, 0, 0, time.UTC) // a Wednesday
	subjects := benchSubjects(10_000)
	sils := benchSilences(now)
	sels := Selectors(sils)
	for _, c := range []struct {
		name    string
		sils    bool
		windows []route.Window
	}{
		{"silences", true, nil},
		{"windows", false, benchWindows(b, false)},
		{"windows-all", false, benchWindows(b, true)},
		{"both", true, benchWindows(b, false)},
		{"both-windows-all", true, benchWindows(b, true)},
	} {
		ss, sl := sils, sels
		if !c.sils {
			ss, sl = nil, nil
		}
		b.Run(c.name+"/per-target", func(b *testing.B) {
			held := 0
			for b.Loop() {
				held = 0
				for i := range subjects {
					if HoldOf(subjects[i], ss, sl, c.windows, now).Active() {
						held++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(subjects)), "ns/target")
			b.ReportMetric(float64(held), "held")
		})
		b.Run(c.name+"/per-sweep", func(b *testing.B) {
			held := 0
			for b.Loop() {
				held = 0
				for _, h := range holdsOf(len(subjects), func(i int) route.Subject { return subjects[i] }, ss, c.windows, now) {
					if h.Active() {
						held++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(subjects)), "ns/target")
			b.ReportMetric(float64(held), "held")
		})
	}
}

// BenchmarkRouteTable is Table.Channels for 10,000 monitors' down events
// over the binary benchmark's 20 routes. ns/target is per monitor.
func BenchmarkRouteTable(b *testing.B) {
	var routes []route.Route
	for _, team := range []int{3, 13, 0, 1, 2} {
		routes = append(routes, route.Route{Match: route.Match{Labels: map[string]string{"severity": "page", "team": fmt.Sprintf("t%d", team)}}, Channels: []string{"hook-a", "am"}})
	}
	for k := range 5 {
		routes = append(routes, route.Route{Match: route.Match{Group: fmt.Sprintf("g%d", k)}, Channels: []string{"hook-b"}, Continue: true})
	}
	for k := range 5 {
		routes = append(routes, route.Route{Match: route.Match{Target: fmt.Sprintf("*/t%d?7", k+1)}, Channels: []string{"hook-b"}})
	}
	routes = append(routes,
		route.Route{Match: route.Match{Check: "tls", Kinds: []state.Kind{state.KindCertWarning, state.KindCertCritical, state.KindCertExpired}}, Channels: []string{"hook-a"}},
		route.Route{Match: route.Match{Check: "dns", Labels: map[string]string{"tier": "0"}}, Channels: []string{"hook-b"}},
		route.Route{Match: route.Match{Kinds: []state.Kind{state.KindDegraded, state.KindDegradedResolved}}, Channels: []string{}},
		route.Route{Match: route.Match{Labels: map[string]string{"tier": "2"}}, Channels: []string{"hook-b", "am"}},
		route.Route{Channels: []string{"hook-a", "am"}},
	)
	table := route.Table{Routes: routes}
	subjects := benchSubjects(10_000)
	routed := 0
	for b.Loop() {
		routed = 0
		for i := range subjects {
			routed += len(table.Channels(subjects[i], state.KindDown))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(subjects)), "ns/target")
	b.ReportMetric(float64(routed)/float64(len(subjects)), "channels/target")
}
