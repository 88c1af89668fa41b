package route

import (
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state"
)

var (
	shopAPI = Subject{ID: "http:https://shop.example.com/api", Check: "http", Target: "https://shop.example.com/api", Name: "shop-api",
		Group: "shop", Labels: map[string]string{"severity": "page", "team": "web"}}
	blog = Subject{ID: "http:https://blog.example.com/", Check: "http", Target: "https://blog.example.com/", Name: "blog",
		Labels: map[string]string{"team": "web"}}
	dns = Subject{ID: "dns:example.com", Check: "dns", Target: "example.com"}
)

func TestTableSendsEachEventWhereItsRoutesSay(t *testing.T) {
	page := Route{Match: Match{Labels: map[string]string{"severity": "page"}}, Channels: []string{"pager", "web"}}
	all := Route{Channels: []string{"web"}}
	tables := map[string]Table{
		"first match wins": {Routes: []Route{page, all}},
		"continue goes on": {Routes: []Route{{Match: page.Match, Channels: []string{"pager"}, Continue: true}, all}},
		"kinds": {Routes: []Route{
			{Match: Match{Kinds: []state.Kind{state.KindDown, state.KindRecovered}}, Channels: []string{"pager"}},
			{Match: Match{Kinds: []state.Kind{state.KindCertWarning}}, Channels: []string{"mail"}},
		}},
		"group, check and target glob": {Routes: []Route{
			{Match: Match{Group: "shop"}, Channels: []string{"shop"}, Continue: true},
			{Match: Match{Check: "dns"}, Channels: []string{"netops"}},
			{Match: Match{Target: "*blog*"}, Channels: []string{"blog"}},
		}},
		"no route matches":    {Routes: []Route{{Match: Match{Group: "none"}, Channels: []string{"x"}}}},
		"an empty list drops": {Routes: []Route{{Match: Match{Check: "dns"}, Channels: []string{}}, all}},
	}
	cases := []struct {
		table string
		s     Subject
		kind  state.Kind
		want  string
	}{
		{"first match wins", shopAPI, state.KindDown, "pager,web"},
		{"first match wins", blog, state.KindDown, "web"},
		{"first match wins", dns, state.KindRecovered, "web"},
		{"continue goes on", shopAPI, state.KindDown, "pager,web"},
		{"continue goes on", blog, state.KindDown, "web"},
		{"kinds", blog, state.KindDown, "pager"},
		{"kinds", blog, state.KindReminder, ""},
		{"kinds", dns, state.KindCertWarning, "mail"},
		{"group, check and target glob", shopAPI, state.KindDown, "shop"},
		{"group, check and target glob", dns, state.KindDown, "netops"},
		{"group, check and target glob", blog, state.KindDown, "blog"},
		{"no route matches", shopAPI, state.KindDown, ""},
		{"an empty list drops", dns, state.KindDown, ""},
		{"an empty list drops", blog, state.KindDown, "web"},
	}
	for _, c := range cases {
		t.Run(c.table+": "+c.s.ID+" "+string(c.kind), func(t *testing.T) {
			tb := tables[c.table]
			if got := strings.Join(tb.Channels(c.s, c.kind), ","); got != c.want {
				t.Errorf("channels %q, want %q", got, c.want)
			}
		})
	}
}

func TestDefaultTableSendsEveryEventToEveryChannel(t *testing.T) {
	tb := Default([]string{"slack", "teams", "discord"})
	for _, k := range AlertKinds {
		if got := strings.Join(tb.Channels(dns, k), ","); got != "slack,teams,discord" {
			t.Errorf("%s: %q", k, got)
		}
	}
	empty := Default(nil)
	if got := empty.Channels(dns, state.KindDown); got != nil {
		t.Errorf("no channels: %v", got)
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "http:https://a/b", true},
		{"http:*", "http:https://a/b", true},
		{"*shop*", "http:https://shop.example.com/api", true},
		{"*.example.com", "shop.example.com", true},
		{"*.example.com", "example.com", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"**a", "bba", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{strings.Repeat("*a", 20) + "b", strings.Repeat("a", 200), false}, // no blow-up
	}
	for _, c := range cases {
		if got := Glob(c.pattern, c.s); got != c.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestSelectors(t *testing.T) {
	cases := []struct {
		sel     string
		matches []Subject
		not     []Subject
		err     string
	}{
		{sel: "group=shop", matches: []Subject{shopAPI}, not: []Subject{blog, dns}},
		{sel: "label:team=web", matches: []Subject{shopAPI, blog}, not: []Subject{dns}},
		{sel: "label:severity=page", matches: []Subject{shopAPI}, not: []Subject{blog}},
		{sel: "dns", matches: []Subject{dns}, not: []Subject{blog}},
		{sel: "HTTP", matches: []Subject{blog, shopAPI}, not: []Subject{dns}},
		{sel: "http:https://blog.*", matches: []Subject{blog}, not: []Subject{shopAPI}},
		{sel: "shop-api", matches: []Subject{shopAPI}, not: []Subject{blog}},
		{sel: "", err: "empty selector"},
		{sel: "group=", err: "needs the group's name"},
		{sel: "label:team", err: "want label:KEY=VALUE"},
		{sel: "label:=x", err: "want label:KEY=VALUE"},
	}
	for _, c := range cases {
		t.Run(c.sel, func(t *testing.T) {
			s, err := ParseSelector(c.sel)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range c.matches {
				if !s.Matches(m) {
					t.Errorf("does not match %s", m.ID)
				}
			}
			for _, m := range c.not {
				if s.Matches(m) {
					t.Errorf("matches %s", m.ID)
				}
			}
		})
	}
	if (Selector{}).Matches(dns) {
		t.Error("the zero selector matches")
	}
}

func TestMaintenanceWindowAcrossDSTInBerlin(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Sundays at 02:30 Berlin time for 2h. On 2031-03-30 02:30 does not
	// exist (the clocks go from 02:00 to 03:00); on 2031-10-26 it exists
	// twice (03:00 goes back to 02:00).
	w, err := NewWindow(Match{Group: "shop"}, "30 2 * * SUN", 2*time.Hour, "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, berlin) }
	cases := []struct {
		name   string
		now    time.Time
		active bool
		until  time.Time
	}{
		{"an ordinary Sunday, before", at(2031, 3, 23, 2, 29), false, time.Time{}},
		{"an ordinary Sunday, inside", at(2031, 3, 23, 3, 0), true, at(2031, 3, 23, 4, 30)},
		{"an ordinary Sunday, at the end", at(2031, 3, 23, 4, 30), false, time.Time{}},
		{"an ordinary Monday", at(2031, 3, 24, 3, 0), false, time.Time{}},
		// 02:30 does not exist that night: the window opens at the
		// instant it would have been, 03:30 CEST, for two elapsed hours
		// (robfig/cron alone would skip the night).
		{"spring forward, before the start", at(2031, 3, 30, 3, 29), false, time.Time{}},
		{"spring forward, inside", at(2031, 3, 30, 3, 30), true, at(2031, 3, 30, 5, 30)},
		{"spring forward, after it ends", at(2031, 3, 30, 5, 30), false, time.Time{}},
		{"summer Sunday inside (CEST)", at(2031, 6, 1, 4, 0), true, at(2031, 6, 1, 4, 30)},
		{"summer Sunday, 02:29 UTC+2 is not yet", at(2031, 6, 1, 2, 29), false, time.Time{}},
		// 02:30 happens twice: the window opens at the first (CEST) and
		// lasts two elapsed hours, to 03:30 CET.
		{"fall back, inside", at(2031, 10, 26, 3, 0), true, at(2031, 10, 26, 3, 30)},
		{"fall back, after it ends", at(2031, 10, 26, 3, 30), false, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			until, ok := w.Active(c.now.UTC())
			if ok != c.active {
				t.Fatalf("active %v at %s, want %v (next %s)", ok, c.now, c.active, w.Next(c.now).In(berlin))
			}
			if !c.until.IsZero() && !until.Equal(c.until) {
				t.Errorf("until %s, want %s", until.In(berlin), c.until)
			}
			if ok && until.Sub(c.now) > 2*time.Hour {
				t.Errorf("until %s is more than the window's 2h after %s", until.In(berlin), c.now)
			}
		})
	}
}

func TestNewWindowRefusesWhatItCannotRun(t *testing.T) {
	cases := []struct {
		sched, tz string
		d         time.Duration
		err       string
	}{
		{"0 2 * * SUN", "Mars/Olympus", time.Hour, "not an IANA time zone"},
		{"0 2 * * SUN", "Local", time.Hour, "not an IANA time zone"},
		{"0 2 * *", "UTC", time.Hour, "want 5 fields"},
		{"61 2 * * *", "UTC", time.Hour, "want 5 fields"},
		{"0 2 * * SUN", "UTC", 30 * time.Second, "want from 1m"},
		{"@every 1h", "UTC", 2 * time.Hour, "@every and CRON_TZ=/TZ= are not taken"},
		{"CRON_TZ=Asia/Tokyo 0 2 * * *", "Europe/Berlin", time.Hour, "@every and CRON_TZ=/TZ= are not taken"},
		{"TZ=UTC 0 2 * * *", "", time.Hour, "@every and CRON_TZ=/TZ= are not taken"},
		{"0 2 * * SUN", "UTC", 40 * 24 * time.Hour, "want from 1m"},
	}
	for _, c := range cases {
		if _, err := NewWindow(Match{}, c.sched, c.d, c.tz); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("NewWindow(%q, %s, %q): %v, want %q", c.sched, c.d, c.tz, err, c.err)
		}
	}
	if _, err := NewWindow(Match{}, "@daily", time.Hour, ""); err != nil {
		t.Errorf("@daily: %v", err)
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"group=shop", "label:a=b", "dns", "http:*", "", "label:", "*?*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		_ = sel.Matches(shopAPI)
		if sel.String() == "" {
			t.Fatalf("selector %q parsed with an empty text", s)
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("*a?b*", "xxaybzz")
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 64 || len(s) > 256 {
			return
		}
		if Glob(p, s) && (!Glob("*"+p, s) || !Glob(p+"*", s)) {
			t.Fatalf("Glob(%q, %q) holds, but not with a * added", p, s)
		}
		if !Glob("*", s) || !Glob(s, s) {
			t.Fatalf("%q does not match itself or *", s)
		}
		if !strings.ContainsAny(p, "*?") && Glob(p, s) != (p == s) {
			t.Fatalf("Glob(%q, %q) without wildcards is not equality", p, s)
		}
	})
}
