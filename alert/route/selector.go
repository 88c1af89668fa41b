package route

import (
	"strings"
)

// checks are the check names a silence's selector may be.
var checks = []string{"dns", "ping", "http", "tls", "tcp"}

// Selector is what a silence applies to (SPEC §10): a target ID glob,
// group=NAME, label:KEY=VALUE, or a check's name.
type Selector struct {
	raw   string
	match Match
}

// ParseSelector reads a silence's selector. It fails, naming what is
// wrong, on an empty one or an incomplete group= or label: form.
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Selector{}, errorf("empty selector: give a target ID glob, group=NAME, label:KEY=VALUE or a check name")
	case strings.HasPrefix(s, "group="):
		name := strings.TrimPrefix(s, "group=")
		if name == "" {
			return Selector{}, errorf("selector %q: group= needs the group's name", s)
		}
		return Selector{raw: s, match: Match{Group: name}}, nil
	case strings.HasPrefix(s, "label:"):
		k, v, ok := strings.Cut(strings.TrimPrefix(s, "label:"), "=")
		if !ok || k == "" {
			return Selector{}, errorf("selector %q: want label:KEY=VALUE", s)
		}
		return Selector{raw: s, match: Match{Labels: map[string]string{k: v}}}, nil
	}
	for _, c := range checks {
		if strings.EqualFold(s, c) {
			return Selector{raw: s, match: Match{Check: c}}, nil
		}
	}
	return Selector{raw: s, match: Match{Target: s}}, nil
}

// Matches reports whether the selector applies to s.
func (sel Selector) Matches(s Subject) bool {
	if sel.raw == "" {
		return false
	}
	return sel.match.matchesSubject(s)
}

// String is the selector as written.
func (sel Selector) String() string { return sel.raw }
