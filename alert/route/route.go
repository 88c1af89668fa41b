// Package route decides where each event goes (SPEC §10): the channels a
// route table sends it to, and whether a maintenance window or a silence
// holds it back.
//
// Everything here is pure: the caller gives the subject (one monitor), the
// event's kind and the sweep's clock.
package route

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pingpanda/pingpanda/state"
)

// Subject is what routes, silences and maintenance windows match: one
// monitor.
type Subject struct {
	ID     string // the target's ID
	Check  string // dns, ping, http, tls, tcp
	Target string // the address probed
	Name   string
	Group  string
	Labels map[string]string
}

// Match selects events. Every field that is set must match; the zero Match
// matches every event.
type Match struct {
	// Labels must all be the monitor's, with these values.
	Labels map[string]string
	// Group is the monitor's group's name.
	Group string
	// Check is the check's name.
	Check string
	// Target is a glob (see Glob) on the target's ID, address or name.
	Target string
	// Kinds are the event kinds matched; empty means every kind.
	Kinds []state.Kind
}

// Empty reports whether m matches everything.
func (m Match) Empty() bool {
	return len(m.Labels) == 0 && m.Group == "" && m.Check == "" && m.Target == "" && len(m.Kinds) == 0
}

// Matches reports whether an event of kind k on s is selected.
func (m Match) Matches(s Subject, k state.Kind) bool {
	return m.matchesSubject(s) && (len(m.Kinds) == 0 || slices.Contains(m.Kinds, k))
}

func (m Match) matchesSubject(s Subject) bool {
	if m.Group != "" && m.Group != s.Group {
		return false
	}
	if m.Check != "" && !strings.EqualFold(m.Check, s.Check) {
		return false
	}
	for k, v := range m.Labels {
		if got, ok := s.Labels[k]; !ok || got != v {
			return false
		}
	}
	if m.Target != "" && !Glob(m.Target, s.ID) && !Glob(m.Target, s.Target) && (s.Name == "" || !Glob(m.Target, s.Name)) {
		return false
	}
	return true
}

// String writes m as the monitors file would, for `config --routes`.
func (m Match) String() string {
	if m.Empty() {
		return "every event"
	}
	var parts []string
	for _, k := range sortedKeys(m.Labels) {
		parts = append(parts, "label "+k+"="+m.Labels[k])
	}
	if m.Group != "" {
		parts = append(parts, "group "+m.Group)
	}
	if m.Check != "" {
		parts = append(parts, "check "+m.Check)
	}
	if m.Target != "" {
		parts = append(parts, "target "+m.Target)
	}
	if len(m.Kinds) > 0 {
		ks := make([]string, len(m.Kinds))
		for i, k := range m.Kinds {
			ks[i] = string(k)
		}
		parts = append(parts, "kinds "+strings.Join(ks, ","))
	}
	return strings.Join(parts, ", ")
}

// Route sends the events it matches to its channels.
type Route struct {
	Match    Match
	Channels []string
	// Continue: an event this route matches goes on to the next routes
	// too; otherwise the first matching route is the last.
	Continue bool
	// Where is the route's place in the monitors file ("monitors.yaml:12"),
	// or "default" for the route of a configuration without routes.
	Where string
}

// Table is the routes, in order.
type Table struct {
	Routes []Route
}

// Default is the table of a configuration without routes: every event to
// every channel, as before there were routes.
func Default(channels []string) Table {
	if len(channels) == 0 {
		return Table{}
	}
	return Table{Routes: []Route{{Channels: slices.Clone(channels), Where: "default"}}}
}

// Channels are the channels an event of kind k on s goes to, in the order
// the routes name them, each once; nil when no route matches it.
func (t *Table) Channels(s Subject, k state.Kind) []string {
	var out []string
	for i := range t.Routes {
		r := &t.Routes[i]
		if !r.Match.Matches(s, k) {
			continue
		}
		for _, c := range r.Channels {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		if !r.Continue {
			break
		}
	}
	return out
}

// Plan is, for one monitor, where each kind of its events goes.
type Plan struct {
	Kind     state.Kind
	Channels []string // empty: nowhere
}

// AlertKinds are the event kinds announced to people, in the order
// `config --routes` shows them.
var AlertKinds = []state.Kind{
	state.KindDown, state.KindReminder, state.KindRecovered,
	state.KindFlapping, state.KindFlapResolved,
	state.KindDegraded, state.KindDegradedResolved,
	state.KindCertWarning, state.KindCertCritical, state.KindCertExpired, state.KindCertOK,
}

// Plans says where each kind of s's events goes.
func (t *Table) Plans(s Subject) []Plan {
	out := make([]Plan, len(AlertKinds))
	for i, k := range AlertKinds {
		out[i] = Plan{Kind: k, Channels: t.Channels(s, k)}
	}
	return out
}

// Glob reports whether s matches pattern, where * matches any run of
// characters (slashes and colons included: target IDs hold both), ? any
// one character, and everything else itself.
func Glob(pattern, s string) bool {
	// The classic iterative matcher with one backtrack point: linear in
	// practice, and never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]) && pattern[p] != '*':
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// ValidKind reports whether k names an event kind announced to people.
func ValidKind(k string) bool {
	return slices.Contains(AlertKinds, state.Kind(k))
}

// KindNames lists AlertKinds, for messages.
func KindNames() string {
	s := make([]string, len(AlertKinds))
	for i, k := range AlertKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errorf is fmt.Errorf, for the parsers' messages.
var errorf = fmt.Errorf
