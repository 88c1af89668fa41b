package config

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pingpanda/pingpanda/alert/route"
	"github.com/pingpanda/pingpanda/probe"
)

// RoutesView is `pingpanda config --routes --json`: the channels, the
// routes, the maintenance windows, and for each monitor where each kind
// of its events goes.
type RoutesView struct {
	Channels    []ChannelView   `json:"channels"`
	Routed      bool            `json:"routed"` // false: the default route, every event to every channel
	Routes      []RouteView     `json:"routes"`
	Maintenance []WindowView    `json:"maintenance"`
	Monitors    []MonitorRoutes `json:"monitors"`
}

type ChannelView struct {
	Name   string         `json:"name"`
	Type   string         `json:"type"`
	Where  string         `json:"defined_at"`
	Fields []MonitorField `json:"fields"`
}

type RouteView struct {
	Where    string   `json:"defined_at"`
	Match    string   `json:"match"`
	Channels []string `json:"channels"`
	Continue bool     `json:"continue,omitempty"`
}

type WindowView struct {
	Where    string `json:"defined_at"`
	Match    string `json:"match"`
	Schedule string `json:"schedule"`
	Duration string `json:"duration"`
	Timezone string `json:"timezone"`
	Next     string `json:"next_start,omitempty"`
	OpenNow  string `json:"open_until,omitempty"`
}

// MonitorRoutes says where a monitor's events go, kinds of the same
// destination together.
type MonitorRoutes struct {
	ID     string            `json:"id"`
	Name   string            `json:"name,omitempty"`
	Group  string            `json:"group,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Routes []KindsRoute      `json:"routes"`
}

type KindsRoute struct {
	Kinds    []string `json:"kinds"`
	Channels []string `json:"channels"` // empty: nowhere
}

// Routes works out the view at now (for the windows' next start).
func Routes(cfg *Config, now time.Time) RoutesView {
	r := &cfg.Routing
	v := RoutesView{Routed: r.Routed, Channels: []ChannelView{}, Routes: []RouteView{}, Maintenance: []WindowView{}, Monitors: []MonitorRoutes{}}
	for _, c := range r.Channels {
		v.Channels = append(v.Channels, ChannelView{Name: c.Name, Type: c.Type, Where: c.Where, Fields: slices.Clone(c.Shown)})
	}
	for _, rt := range r.Table.Routes {
		v.Routes = append(v.Routes, RouteView{Where: rt.Where, Match: rt.Match.String(), Channels: nonNil(rt.Channels), Continue: rt.Continue})
	}
	for i := range r.Maintenance {
		w := &r.Maintenance[i]
		wv := WindowView{Where: w.Where, Match: w.Match.String(), Schedule: w.Schedule, Duration: shortDuration(w.Duration), Timezone: w.Location.String()}
		if n := w.Next(now); !n.IsZero() {
			wv.Next = n.Format(time.RFC3339)
		}
		if until, ok := w.Active(now); ok {
			wv.OpenNow = until.Format(time.RFC3339)
		}
		v.Maintenance = append(v.Maintenance, wv)
	}
	for _, t := range cfg.AllTargets {
		s := subjectOf(t)
		m := MonitorRoutes{ID: s.ID, Name: s.Name, Group: s.Group, Labels: s.Labels}
		for _, p := range r.Table.Plans(s) {
			key := strings.Join(p.Channels, ",")
			i := slices.IndexFunc(m.Routes, func(k KindsRoute) bool { return strings.Join(k.Channels, ",") == key })
			if i < 0 {
				m.Routes = append(m.Routes, KindsRoute{Channels: nonNil(p.Channels)})
				i = len(m.Routes) - 1
			}
			m.Routes[i].Kinds = append(m.Routes[i].Kinds, string(p.Kind))
		}
		v.Monitors = append(v.Monitors, m)
	}
	return v
}

// subjectOf is what routes see of a target (as sweep.Subject).
func subjectOf(t probe.Target) route.Subject {
	s := route.Subject{ID: t.ID(), Check: string(t.Check), Target: t.Shown(), Name: t.Name}
	if t.Spec != nil {
		s.Group, s.Labels = t.Spec.Group, t.Spec.Labels
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// PrintRoutes writes `pingpanda config --routes`.
func PrintRoutes(w io.Writer, cfg *Config, now time.Time, asJSON bool) error {
	v := Routes(cfg, now)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "# channels")
	if len(v.Channels) == 0 {
		fmt.Fprintln(tw, "  (none: alerts are logged and reported, sent nowhere)")
	}
	for _, c := range v.Channels {
		var fs []string
		for _, f := range c.Fields {
			fs = append(fs, f.Field+"="+f.Value)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t# %s\n", c.Name, c.Type, strings.Join(fs, " "), c.Where)
	}
	fmt.Fprintln(tw, "\n# routes (the first that matches; and those after it while continue is true)")
	if !v.Routed {
		fmt.Fprintln(tw, "  (no routes: every event goes to every channel)")
	}
	for i, rt := range v.Routes {
		cont := ""
		if rt.Continue {
			cont = ", continue"
		}
		fmt.Fprintf(tw, "  %d\t%s\t→ %s%s\t# %s\n", i+1, rt.Match, orNowhere(rt.Channels), cont, rt.Where)
	}
	if len(v.Maintenance) > 0 {
		fmt.Fprintln(tw, "\n# maintenance")
	}
	for _, m := range v.Maintenance {
		state := "next " + m.Next
		if m.OpenNow != "" {
			state = "open now, until " + m.OpenNow
		}
		fmt.Fprintf(tw, "  %s\t%q for %s in %s\t%s\t# %s\n", m.Match, m.Schedule, m.Duration, m.Timezone, state, m.Where)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n# monitors: where each kind of their events goes")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range v.Monitors {
		head := m.ID
		if m.Name != "" && m.Name != m.ID {
			head += " (" + m.Name + ")"
		}
		if m.Group != "" {
			head += " [group " + m.Group + "]"
		}
		if len(m.Labels) > 0 {
			var ls []string
			for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
				ls = append(ls, k+"="+m.Labels[k])
			}
			head += " {" + strings.Join(ls, ",") + "}"
		}
		for i, kr := range m.Routes {
			if i > 0 {
				head = ""
			}
			kinds := strings.Join(kr.Kinds, ", ")
			if len(m.Routes) == 1 {
				kinds = "every event"
			}
			fmt.Fprintf(tw, "  %s\t%s\t→ %s\n", head, kinds, orNowhere(kr.Channels))
		}
	}
	return tw.Flush()
}

func orNowhere(cs []string) string {
	if len(cs) == 0 {
		return "nowhere"
	}
	return strings.Join(cs, ", ")
}

// shortDuration writes d without its zero parts: 2h, 1h30m, 90s.
func shortDuration(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
