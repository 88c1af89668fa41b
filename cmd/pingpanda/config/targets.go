package config

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pingpanda/pingpanda/probe"
)

// fileTarget is a target read from TARGETS_FILE, with the line it came from.
type fileTarget struct {
	probe.Target
	line int
	// failed: the monitor's settings have problems (said already); it
	// takes part in the check for duplicate IDs only.
	failed bool
}

// maxTargetsFile bounds the size of TARGETS_FILE.
const maxTargetsFile = 16 << 20

// parseTargetsYAML reads a TARGETS_FILE, either form, with the
// environment's defaults; tests and the fuzz target use it.
func parseTargetsYAML(data []byte, path string) ([]fileTarget, error) {
	l := &loader{values: map[string]setting{}}
	for _, k := range keys {
		l.values[k.name] = setting{value: k.def, source: "default"}
	}
	cfg := &Config{}
	l.buildChecks(cfg)
	l.buildState(cfg)
	p := &monitorParser{l: l, path: path, getenv: func(string) (string, bool) { return "", false }}
	p.parse(data)
	ts, _ := p.buildMonitors(cfg, false)
	ts = p.checkIDs(ts)
	p.sortProblems()
	if len(p.problems) > 0 {
		return ts, errors.New(strings.Join(p.problems, "\n"))
	}
	return ts, nil
}

// targets gathers the enabled env lists and TARGETS_FILE, in that order,
// dropping repeats of the same target ID with a warning.
func (l *loader) targets(ctx context.Context, cfg *Config) []probe.Target {
	var out []probe.Target
	type first struct {
		where, address string
		line           int // of where, a file; 0 for an env list
		check          probe.Check
		at             int // index in out
	}
	seen := map[string]first{}
	type checkAddress struct {
		check   probe.Check
		address string
	}
	fromEnv := map[checkAddress]string{}
	// add adds t, read from where (line of it, for a file). The place
	// is written out only for a message.
	add := func(t probe.Target, whereAt string, line int) {
		if prev, dup := seen[t.ID()]; dup {
			where := whereAt
			if line > 0 {
				where = fmt.Sprintf("%s:%d", whereAt, line)
			}
			if prev.line > 0 {
				prev.where = fmt.Sprintf("%s:%d", prev.where, prev.line)
			}
			if t.CustomID != "" && (prev.check != t.Check || prev.address != t.Address) {
				l.problem("%s: id: %q is also the ID of the %s target in %s; give the monitor another id", where, t.ID(), prev.check, prev.where)
				return
			}
			if prev.address != t.Address {
				// The ID hides the secrets; two targets that differ
				// only in one would share one state record.
				l.problem("%s: %s: this URL and one in %s differ only in a secret, which target IDs hide, "+
					"so they would share one state record; keep one of them", where, t.ID(), prev.where)
				return
			}
			if t.Spec != nil && out[prev.at].Spec == nil {
				// Moving a target from an env list to the monitors
				// file: the file's settings are the ones meant.
				l.warn("%s: %s is also in %s; checked once, with the monitors file's settings", where, t.ID(), prev.where)
				out[prev.at] = t
				return
			}
			l.warn("%s: %s is listed again (first in %s); checked once", where, t.ID(), prev.where)
			return
		}
		seen[t.ID()] = first{whereAt, t.Address, line, t.Check, len(out)}
		ca := checkAddress{t.Check, t.Address}
		switch {
		case line == 0:
			fromEnv[ca] = t.ID()
		case t.CustomID != "":
			// An env-list target of the same address under its own ID
			// would be probed twice, with one metrics series.
			if id, ok := fromEnv[ca]; ok {
				l.warn("%s:%d: %s is also %s from an env list: it is probed twice, under both IDs, and their metrics share one series; "+
					"take it out of the env list, or give the monitor no id", whereAt, line, t.ID(), id)
			}
		}
		out = append(out, t)
	}
	lists := []struct {
		enable, key string
		check       probe.Check
	}{
		{"ENABLE_DNS", "DOMAINS", probe.DNS},
		{"ENABLE_PING", "PING_IPS", probe.Ping},
		{"ENABLE_WEBSITE_CHECK", "CHECK_WEBSITE", probe.HTTP},
		{"ENABLE_SSL_CHECK", "SSL_CHECK_DOMAINS", probe.TLS},
	}
	for _, ls := range lists {
		raw := l.list(ls.key)
		if !l.bool(ls.enable) {
			if l.values[ls.key].source != "default" && len(raw) > 0 {
				l.warn("%s is set but %s is false: those targets are not checked", ls.key, ls.enable)
			}
			continue
		}
		if len(raw) == 0 && (l.values[ls.enable].source != "default" || l.values[ls.key].source != "default") {
			l.warn("%s is true but %s is empty: it adds no %s targets", ls.enable, ls.key, ls.check)
		}
		for _, r := range raw {
			t, err := probe.ParseTarget(ls.check, r)
			if err != nil {
				l.problem("%s: %v", ls.key, err)
				continue
			}
			add(t, ls.key, 0)
		}
	}
	if path := l.raw("TARGETS_FILE"); path != "" {
		for _, ft := range l.monitorsFile(ctx, cfg, path) {
			add(ft.Target, path, ft.line)
		}
	}
	return out
}

// monitorsFile reads TARGETS_FILE: the monitors file, or a list.
func (l *loader) monitorsFile(ctx context.Context, cfg *Config, path string) []fileTarget {
	var data []byte
	switch {
	case !l.targetsRef:
		b, err := readMonitorsFile(path)
		if err != nil {
			l.problems = append(l.problems, "TARGETS_FILE: "+err.Error())
			return nil
		}
		data = b
	case l.targetsData != nil:
		data = l.targetsData
	default:
		return nil // the reference could not be read; said already
	}
	p := &monitorParser{l: l, path: path, getenv: l.getenv}
	p.parse(data)
	p.resolveRefs(ctx)
	p.checkHeaderValues()
	p.checkChannelValues(l)
	l.fileRouting = &p.routing
	ts, explained := p.buildMonitors(cfg, l.explain)
	cfg.Monitors = explained
	ts = p.checkIDs(ts)
	p.sortProblems()
	l.problems = append(l.problems, p.problems...)
	l.warnings = append(l.warnings, p.warnings...)
	return ts
}

// getenv reads the process environment, for ${NAME}.
func (l *loader) getenv(name string) (string, bool) {
	for i := len(l.environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(l.environ[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// checkIDs refuses two monitors of the file with one ID, naming both,
// and returns the monitors without the second ones (said already).
func (p *monitorParser) checkIDs(ts []fileTarget) []fileTarget {
	first := make(map[string]int, len(ts))
	type what struct {
		check probe.Check
		shown string
	}
	probed := make(map[what]int, len(ts))
	kept := ts[:0:0]
	// The monitors with problems of their own take part, in the file's
	// order, but only the others are kept.
	all := ts
	if len(p.failedIDs) > 0 {
		all = slices.SortedStableFunc(slices.Values(append(slices.Clone(ts), p.failedIDs...)),
			func(a, b fileTarget) int { return a.line - b.line })
	}
	for _, ft := range all {
		id := ft.ID()
		if line, dup := first[id]; dup {
			p.problems = append(p.problems, fmt.Sprintf("%s:%d: monitor %s: id: %q is also the ID of the monitor at %s:%d; give one of them another id",
				p.path, ft.line, displayName(ft.Target), id, p.path, line))
			continue
		}
		first[id] = ft.line
		if ft.failed {
			continue
		}
		kept = append(kept, ft)
		// Metrics are labelled by check and target: two monitors of one
		// target under two IDs would export one series twice.
		w := what{ft.Check, ft.Shown()}
		if line, dup := probed[w]; dup {
			p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: monitor %s: the monitor at line %d probes the same %s target; "+
				"both are checked and alerted on, but their metrics share one series and only the first's is exported",
				p.path, ft.line, displayName(ft.Target), line, ft.Check))
			continue
		}
		probed[w] = ft.line
	}
	return kept
}

// displayName names a monitor in a problem as the parser does: its
// name, else its id, else its target.
func displayName(t probe.Target) string {
	switch {
	case t.Name != "":
		return t.Name
	case t.CustomID != "":
		return t.CustomID
	}
	return t.Shown()
}
