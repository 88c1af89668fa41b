package push

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The Grafana dashboard and the Prometheus rules in infra/ may only use
// metrics this package exports, and the rules must be valid for promtool.

const (
	dashboardPath = "../infra/grafana/pingpanda.json"
	rulesPath     = "../infra/prometheus/pingpanda-rules.yml"
	rulesTestPath = "../infra/prometheus/pingpanda-rules.test.yml"
)

// metricNameRE finds pingpanda metric names. It is wider than the names
// this package uses ([a-z0-9_]) so that a misspelt one (a capital, a
// recording-rule colon) is reported rather than skipped.
var metricNameRE = regexp.MustCompile(`\bpingpanda_[A-Za-z0-9_:]+`)

// metricNames returns the pingpanda metric names in s. A trailing colon is
// prose ("pingpanda_flapping: …"), not part of the name.
func metricNames(s string) []string {
	var names []string
	for _, n := range metricNameRE.FindAllString(s, -1) {
		names = append(names, strings.TrimRight(n, ":"))
	}
	return names
}

type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // inside collapsed rows
}

type grafanaDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// promQL is one expression and where it came from, for messages.
type promQL struct{ where, expr string }

func loadDashboard(t *testing.T) (grafanaDashboard, []promQL) {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	var exprs []promQL
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				exprs = append(exprs, promQL{fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// The query is a string in old dashboards, an object in new ones.
		var q struct {
			Query string `json:"query"`
		}
		var s string
		if err := json.Unmarshal(v.Query, &s); err == nil {
			q.Query = s
		} else if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("%s: variable %s: query: %v", dashboardPath, v.Name, err)
		}
		exprs = append(exprs, promQL{"variable " + v.Name, q.Query})
	}
	return d, exprs
}

type alertRules struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert         string            `yaml:"alert"`
			Record        string            `yaml:"record"`
			Expr          string            `yaml:"expr"`
			For           string            `yaml:"for"`
			KeepFiringFor string            `yaml:"keep_firing_for"`
			Labels        map[string]string `yaml:"labels"`
			Annotations   map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) (alertRules, []promQL) {
	t.Helper()
	raw, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var r alertRules
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // "annotation:" instead of "annotations:" is an error
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	var exprs []promQL
	for _, g := range r.Groups {
		for i, rule := range g.Rules {
			name := rule.Alert + rule.Record
			exprs = append(exprs, promQL{fmt.Sprintf("group %s rule %d (%s)", g.Name, i, name), rule.Expr})
		}
	}
	return r, exprs
}

func TestDashboard(t *testing.T) {
	d, exprs := loadDashboard(t)
	if d.UID != "pingpanda" || d.Title != "PingPanda" {
		t.Errorf("uid %q title %q, want pingpanda, PingPanda", d.UID, d.Title)
	}
	if d.SchemaVersion == 0 {
		t.Error("schemaVersion missing")
	}
	if len(d.Panels) == 0 {
		t.Fatal("no panels")
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	for _, want := range []string{"datasource", "job", "check"} {
		if !slices.Contains(vars, want) {
			t.Errorf("template variable %s missing (have %v)", want, vars)
		}
	}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %d %q has no query", p.ID, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %d %q target %s has no expression", p.ID, p.Title, tg.RefID)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(exprs) == 0 {
		t.Fatal("no PromQL found in the dashboard")
	}
}

func TestAlertRules(t *testing.T) {
	r, _ := loadRules(t)
	var names []string
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "" {
				continue
			}
			names = append(names, rule.Alert)
			switch rule.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want critical, warning or info", rule.Alert, rule.Labels["severity"])
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(rule.Annotations[a]) == "" {
					t.Errorf("%s: annotation %s missing", rule.Alert, a)
				}
			}
		}
	}
	for _, want := range []string{
		"PingPandaSweepStale", "PingPandaTargetDown",
		"PingPandaCertificateExpiringSoon", "PingPandaCertificateExpiringCritical",
		"PingPandaCircuitOpen", "PingPandaFlapping", "PingPandaAlertsStuck", "PingPandaSweepSlow",
		"PingPandaAlertChannelBroken", "PingPandaAlertRejected",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("alert %s missing", want)
		}
	}
	// A dead prober must alert both ways: an old timestamp (a Pushgateway
	// keeps the last push forever) and no timestamp at all.
	var age, absent bool
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "PingPandaSweepStale" {
				continue
			}
			age = age || strings.Contains(rule.Expr, "time() - "+LastSweepTimestamp)
			absent = absent || strings.Contains(rule.Expr, "absent("+LastSweepTimestamp)
		}
	}
	if !age || !absent {
		t.Errorf("PingPandaSweepStale: age rule %v, absent() rule %v; want both", age, absent)
	}
}

// TestInfraMetricNames fails when the dashboard or the rules use a metric
// that MetricNames does not list: renaming a metric must not silently
// blank a panel or disarm an alert.
func TestInfraMetricNames(t *testing.T) {
	known := map[string]bool{}
	for _, n := range MetricNames() {
		known[n] = true
	}
	_, dashExprs := loadDashboard(t)
	_, ruleExprs := loadRules(t)
	used := map[string][]string{}
	for _, e := range append(dashExprs, ruleExprs...) {
		for _, n := range metricNames(e.expr) {
			used[n] = append(used[n], e.where)
		}
	}
	if len(used) == 0 {
		t.Fatal("no pingpanda metric found in any expression")
	}
	// Descriptions, comments and the rule tests' input series too.
	for _, path := range []string{dashboardPath, rulesPath, rulesTestPath} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricNames(string(raw)) {
			used[n] = append(used[n], filepath.Base(path))
		}
	}
	var bad []string
	for n, where := range used {
		if !known[n] {
			slices.Sort(where)
			bad = append(bad, fmt.Sprintf("%s (in %s)", n, strings.Join(slices.Compact(where), "; ")))
		}
	}
	slices.Sort(bad)
	for _, b := range bad {
		t.Errorf("not exported by package push: %s", b)
	}
}

// promtool returns the path of promtool, or skips: locally it is optional,
// in CI (PINGPANDA_CI set) it is required (Debian/Ubuntu package prometheus).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("PINGPANDA_CI") != "" {
			t.Fatalf("promtool is not on PATH and PINGPANDA_CI is set: %v", err)
		}
		t.Skip("promtool not on PATH (apt-get install prometheus); set PINGPANDA_CI to require it")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, "check", "rules", rulesPath)
}

func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, "test", "rules", rulesTestPath)
}

// grafanaVarRE matches $var, ${var} and ${var:format}.
var grafanaVarRE = regexp.MustCompile(`\$(?:\{(\w+)(?::\w+)?\}|(\w+))`)

// TestPromtoolDashboardQueries has promtool parse every dashboard query,
// as recording rules, with the Grafana variables replaced by sample values.
func TestPromtoolDashboardQueries(t *testing.T) {
	bin := promtool(t)
	_, exprs := loadDashboard(t)
	labelValues := regexp.MustCompile(`^\s*label_values\((.*),\s*\w+\s*\)\s*$`)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	var where []string
	for _, e := range exprs {
		expr := e.expr
		if m := labelValues.FindStringSubmatch(expr); m != nil {
			expr = m[1]
		} else if strings.HasPrefix(strings.TrimSpace(expr), "label_values(") {
			t.Errorf("%s: cannot parse %q", e.where, expr)
			continue
		}
		expr = grafanaVarRE.ReplaceAllStringFunc(expr, func(v string) string {
			m := grafanaVarRE.FindStringSubmatch(v)
			switch m[1] + m[2] {
			case "__range", "__interval", "__rate_interval":
				return "5m"
			case "__range_s", "__interval_s":
				return "300"
			case "__range_ms", "__interval_ms":
				return "300000"
			default:
				return "x"
			}
		})
		rules = append(rules, rule{fmt.Sprintf("dashboard:query_%d", len(rules)), expr})
		where = append(where, e.where)
	}
	file := map[string]any{"groups": []map[string]any{{"name": "dashboard", "rules": rules}}}
	raw, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	if err != nil {
		var list strings.Builder
		for i, w := range where {
			fmt.Fprintf(&list, "dashboard:query_%d = %s: %s\n", i, w, rules[i].Expr)
		}
		t.Fatalf("promtool rejects a dashboard query: %v\n%s\n%s", err, out, &list)
	}
}
