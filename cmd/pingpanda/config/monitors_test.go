package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/pingpanda/pingpanda/probe"
)

// writeMonitors writes a monitors file into a test's temporary folder.
func writeMonitors(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "monitors.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestYAMLAnchorsAndMergeKeysShareSettings(t *testing.T) {
	path := writeMonitors(t, `x-common: &common {retries: 2, timeout: 4s, http: {method: HEAD}}
x-http: &http {method: PUT}
monitors:
  - {<<: *common, check: http, target: https://a.test/}
  - {<<: *common, check: http, target: https://b.test/, retries: 5}
  - {check: http, target: https://c.test/, http: *http}
`)
	cfg, _, err := loadMonitors(path, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range cfg.Targets {
		sp := tg.Spec
		got[tg.Address] = fmt.Sprintf("%d %s %s", sp.Attempts, sp.Timeout, sp.HTTP.Method)
	}
	want := map[string]string{
		"https://a.test/": "2 4s HEAD",
		"https://b.test/": "5 4s HEAD", // the monitor's own field wins over the merged one
		"https://c.test/": "3 10s PUT",
	}
	if !maps.Equal(got, want) {
		t.Errorf("settings %v, want %v", got, want)
	}
}

func TestAnIDOfTheFileThatIsAnEnvTargetsIsRefusedOnce(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"an id taken by an env-list target", "- {check: ping, target: 192.0.2.1, id: 'dns:example.com'}\n",
			`FILE:1: id: "dns:example.com" is also the ID of the dns target in DOMAINS; give the monitor another id`},
		{"two monitors of one ID are said once", "- {check: ping, target: 192.0.2.1, id: x}\n- {check: dns, target: example.org, id: x}\n",
			`FILE:2: monitor x: id: "x" is also the ID of the monitor at FILE:1; give one of them another id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeMonitors(t, tt.file)
			_, _, err := loadConfig(Sources{Environ: []string{"TARGETS_FILE=" + path, "DOMAINS=example.com", "ENABLE_PING=false"}})
			if err == nil {
				t.Fatal("accepted")
			}
			if want := strings.ReplaceAll(tt.want, "FILE", path); err.Error() != want {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
		})
	}
}

// layered writes a monitors file in which each layer sits on a line of
// its own, so that sources name known lines: the file's defaults on line
// 1, the group's labels on 4, its defaults on 5, the monitor on 7.
func layered(defaults, groupLabels, groupDefaults, check, target, own string) string {
	labels := "    # no labels"
	if groupLabels != "" {
		labels = "    labels: {" + groupLabels + "}"
	}
	if own != "" {
		own = ", " + own
	}
	return "defaults: {" + defaults + "}\n" +
		"groups:\n" +
		"  - name: g\n" +
		labels + "\n" +
		"    defaults: {" + groupDefaults + "}\n" +
		"    monitors:\n" +
		"      - {name: m, check: " + check + ", target: " + target + own + "}\n"
}

// monitorNamed finds a monitor's target and its explanation.
func monitorNamed(t *testing.T, cfg *Config, name string) (probe.Target, Monitor) {
	t.Helper()
	var tg probe.Target
	for _, x := range cfg.Targets {
		if x.Name == name {
			tg = x
		}
	}
	for _, m := range cfg.Monitors {
		if m.Name == name {
			return tg, m
		}
	}
	t.Fatalf("no monitor %s in %+v", name, cfg.Monitors)
	return tg, Monitor{}
}

func fieldOf(m Monitor, path string) (MonitorField, bool) {
	for _, f := range m.Fields {
		if f.Field == path {
			return f, true
		}
	}
	return MonitorField{}, false
}

// yamlAt writes path: value as a flow mapping ("http: {success_codes: 201}").
func yamlAt(path, value string) string {
	parts := strings.Split(path, ".")
	s := parts[len(parts)-1] + ": " + value
	for i := len(parts) - 2; i >= 0; i-- {
		s = parts[i] + ": {" + s + "}"
	}
	return s
}

// TestMonitorSettingsFollowThePrecedence checks, field by field, that a
// built-in default gives way to the environment's key, that to the
// file's defaults, that to the group's defaults, and that to the
// monitor's own field; and that `config --monitors` names each source.
func TestMonitorSettingsFollowThePrecedence(t *testing.T) {
	type field struct {
		path, check, target, env string
		// values are the environment's value and the three layers';
		// shown[i] is what config --monitors shows at level i (0 built-in
		// default … 4 the monitor's own), want[i] the effective value.
		values [4]string
		shown  [5]string
		want   [5]any
		get    func(cfg *Config, sp *probe.Spec) any
	}
	httpT, tlsT, dnsT, pingT := "https://x.test", "x.test", "x.test", "192.0.2.1"
	fields := []field{
		{"timeout", "http", httpT, "HTTP_TIMEOUT_SECONDS", [4]string{"3", "4s", "5s", "6s"},
			[5]string{"10", "3", "4s", "5s", "6s"}, [5]any{10 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second, 6 * time.Second},
			func(_ *Config, sp *probe.Spec) any { return sp.Timeout }},
		{"retries", "http", httpT, "RETRY_COUNT", [4]string{"4", "5", "6", "7"},
			[5]string{"3", "4", "5", "6", "7"}, [5]any{3, 4, 5, 6, 7},
			func(_ *Config, sp *probe.Spec) any { return sp.Attempts }},
		{"alert_threshold", "http", httpT, "ALERT_THRESHOLD", [4]string{"4", "5", "6", "7"},
			[5]string{"3", "4", "5", "6", "7"}, [5]any{3, 4, 5, 6, 7},
			func(_ *Config, sp *probe.Spec) any { return sp.Alert.Threshold }},
		{"realert", "http", httpT, "REALERT_INTERVAL_SECONDS", [4]string{"60", "2m", "3m", "4m"},
			[5]string{"0", "60", "2m", "3m", "4m"}, [5]any{time.Duration(0), time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute},
			func(_ *Config, sp *probe.Spec) any { return sp.Alert.Realert }},
		{"notify_recovery", "http", httpT, "NOTIFY_RECOVERY", [4]string{"false", "true", "false", "true"},
			[5]string{"true", "false", "true", "false", "true"}, [5]any{true, false, true, false, true},
			func(_ *Config, sp *probe.Spec) any { return sp.Alert.NotifyRecovery }},
		{"http.success_codes", "http", httpT, "SUCCESS_HTTP_CODES", [4]string{"200-204", "201", "202", `"203,205"`},
			[5]string{"200", "200-204", "201", "202", "203,205"}, [5]any{"200", "200-204", "201", "202", "203,205"},
			func(cfg *Config, sp *probe.Spec) any {
				if sp.HTTP != nil && !sp.HTTP.Success.IsEmpty() {
					return sp.HTTP.Success.String()
				}
				return cfg.SuccessCodes.String() // the prober's
			}},
		{"tls.warn_days", "tls", tlsT, "SSL_WARN_DAYS", [4]string{"40", "41", "42", "43.5"},
			[5]string{"30", "40", "41", "42", "43.5"}, [5]any{30.0, 40.0, 41.0, 42.0, 43.5},
			func(_ *Config, sp *probe.Spec) any { return sp.TLS.WarnDays }},
		{"dns.type", "dns", dnsT, "DNS_RECORD_TYPE", [4]string{"AAAA", "MX", "TXT", "ns"},
			[5]string{"A", "AAAA", "MX", "TXT", "ns"}, [5]any{"A", "AAAA", "MX", "TXT", "NS"},
			func(cfg *Config, sp *probe.Spec) any {
				if sp.DNS != nil && sp.DNS.Type != 0 {
					return dns.TypeToString[sp.DNS.Type]
				}
				return dns.TypeToString[cfg.DNSRecordType] // the prober's
			}},
		{"ping.count", "ping", pingT, "PING_COUNT", [4]string{"2", "3", "4", "5"},
			[5]string{"1", "2", "3", "4", "5"}, [5]any{1, 2, 3, 4, 5},
			func(cfg *Config, sp *probe.Spec) any {
				if sp.Ping != nil && sp.Ping.Count != 0 {
					return sp.Ping.Count
				}
				return cfg.PingCount // the prober's
			}},
	}
	for _, f := range fields {
		for level := range 5 {
			t.Run(fmt.Sprintf("%s/level%d", f.path, level), func(t *testing.T) {
				var env []string
				var layers [3]string // defaults, group defaults, own
				if level >= 1 {
					env = append(env, f.env+"="+f.values[0])
				}
				for i := 0; i < level-1; i++ {
					layers[i] = yamlAt(f.path, f.values[i+1])
				}
				path := writeMonitors(t, layered(layers[0], "", layers[1], f.check, f.target, layers[2]))
				cfg, _, err := loadMonitors(path, true, env...)
				if err != nil {
					t.Fatal(err)
				}
				tg, m := monitorNamed(t, cfg, "m")
				if tg.Spec == nil {
					t.Fatal("a monitor of the file has no Spec")
				}
				if got := f.get(cfg, tg.Spec); got != f.want[level] {
					t.Errorf("effective %s = %v (%T), want %v (%T)", f.path, got, got, f.want[level], f.want[level])
				}
				wantSrc := []string{
					"default (" + f.env + ")", f.env + " (environment)",
					"defaults (" + path + ":1)", "group g defaults (" + path + ":5)", "monitor m (" + path + ":7)",
				}[level]
				mf, ok := fieldOf(m, f.path)
				if !ok {
					t.Fatalf("config --monitors does not show %s: %+v", f.path, m.Fields)
				}
				if mf.Value != f.shown[level] || mf.Source != wantSrc {
					t.Errorf("config --monitors shows %s = %q from %q, want %q from %q", f.path, mf.Value, mf.Source, f.shown[level], wantSrc)
				}
			})
		}
	}
}

// TestLabelsMergeFromEveryLayer: the file's defaults, the group's
// defaults, the group's labels and the monitor's own merge, later ones
// winning a name.
func TestLabelsMergeFromEveryLayer(t *testing.T) {
	tests := []struct {
		name                                 string
		defaults, groupLabels, groupDef, own string
		want                                 map[string]string
		shown                                string
		sources                              []string // lines
	}{
		{"none", "", "", "", "", nil, "", nil},
		{"the defaults'", "labels: {team: web, a: d}", "", "", "", map[string]string{"team": "web", "a": "d"}, "a=d,team=web", []string{"defaults (P:1)"}},
		{"every layer", "labels: {team: web, a: d}", "team: gl, c: gl", "labels: {team: gd, b: gd}", "labels: {team: m}",
			map[string]string{"a": "d", "b": "gd", "c": "gl", "team": "m"}, "a=d,b=gd,c=gl,team=m",
			[]string{"defaults (P:1)", "group g defaults (P:5)", "group g (P:4)", "monitor m (P:7)"}},
		{"the group's labels win over its defaults'", "", "team: gl", "labels: {team: gd}", "",
			map[string]string{"team": "gl"}, "team=gl", []string{"group g defaults (P:5)", "group g (P:4)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeMonitors(t, layered(tt.defaults, tt.groupLabels, tt.groupDef, "dns", "x.test", tt.own))
			cfg, _, err := loadMonitors(path, true)
			if err != nil {
				t.Fatal(err)
			}
			tg, m := monitorNamed(t, cfg, "m")
			if !maps.Equal(tg.Spec.Labels, tt.want) {
				t.Errorf("labels %v, want %v", tg.Spec.Labels, tt.want)
			}
			mf, ok := fieldOf(m, "labels")
			if tt.want == nil {
				if ok {
					t.Errorf("config --monitors shows labels %+v for a monitor without any", mf)
				}
				return
			}
			wantSrc := strings.ReplaceAll(strings.Join(tt.sources, " < "), "P", path)
			if mf.Value != tt.shown || mf.Source != wantSrc {
				t.Errorf("config --monitors shows labels %q from %q, want %q from %q", mf.Value, mf.Source, tt.shown, wantSrc)
			}
		})
	}
}

func TestMonitorsOfEqualSettingsShareOneSpec(t *testing.T) {
	path := writeMonitors(t, `defaults: {timeout: 4s, labels: {team: web}}
monitors:
  - {name: a, check: http, target: https://a.test}
  - {name: b, check: http, target: https://b.test}
  - {name: c, check: http, target: https://c.test, retries: 5}
  - {name: d, check: http, target: https://d.test, labels: {team: ops}}
  - {name: e, check: tls, target: e.test}
  - {name: f, check: tls, target: f.test}
groups:
  - name: g
    monitors:
      - {name: h, check: http, target: https://h.test}
`)
	cfg, _, err := loadMonitors(path, false)
	if err != nil {
		t.Fatal(err)
	}
	spec := map[string]*probe.Spec{}
	for _, tg := range cfg.Targets {
		spec[tg.Name] = tg.Spec
	}
	// h's settings equal a's, but its group is part of its Spec (routes
	// and silences match on it).
	same := [][2]string{{"a", "b"}, {"e", "f"}}
	differ := [][2]string{{"a", "c"}, {"a", "d"}, {"c", "d"}, {"a", "e"}, {"a", "h"}}
	for _, p := range same {
		if spec[p[0]] == nil || spec[p[0]] != spec[p[1]] {
			t.Errorf("%s and %s have equal settings but Specs %p and %p", p[0], p[1], spec[p[0]], spec[p[1]])
		}
	}
	for _, p := range differ {
		if spec[p[0]] == spec[p[1]] {
			t.Errorf("%s and %s differ but share a Spec", p[0], p[1])
		}
	}
}

// ids lists cfg's target IDs.
func ids(cfg *Config) string {
	var out []string
	for _, tg := range cfg.Targets {
		out = append(out, tg.ID())
	}
	return strings.Join(out, " ")
}

func TestEnvListTargetsAreAsBefore(t *testing.T) {
	cfg, _, err := loadConfig(Sources{Environ: []string{
		"ENABLE_WEBSITE_CHECK=true", "CHECK_WEBSITE=https://Example.com:443/a", "ENABLE_SSL_CHECK=true", "SSL_CHECK_DOMAINS=[2001:db8::1]",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(cfg), "dns:google.com ping:1.1.1.1 http:https://example.com/a tls:[2001:db8::1]:443"; got != want {
		t.Errorf("IDs %q, want %q", got, want)
	}
	for _, tg := range cfg.Targets {
		if tg.Spec != nil || tg.CustomID != "" {
			t.Errorf("%s: an env-list target has Spec %+v, CustomID %q", tg.ID(), tg.Spec, tg.CustomID)
		}
	}
}

func TestTheListAndTheMappingGiveTheSameIDs(t *testing.T) {
	list, err := os.ReadFile(filepath.Join(testdataDir, "config", "targets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var mapping strings.Builder
	mapping.WriteString("monitors:\n")
	for _, line := range strings.Split(string(list), "\n") {
		mapping.WriteString("  " + line + "\n")
	}
	var got []string
	for _, body := range []string{string(list), mapping.String()} {
		cfg, _, err := loadMonitors(writeMonitors(t, body), false)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(cfg))
	}
	// The IDs the list has always had (TestTargetsFileAddsTargetsAfterTheEnvLists).
	const want = "http:https://example.com/ dns:example.org tls:[2001:db8::1]:443 ping:192.0.2.1"
	if got[0] != want || got[1] != want {
		t.Errorf("IDs of the list %q, of the mapping %q; want %q", got[0], got[1], want)
	}
}

func TestAnIDReplacesTheDefaultOne(t *testing.T) {
	cfg, _, err := loadMonitors(writeMonitors(t, "monitors:\n  - {check: http, target: https://example.com/login, id: login}\n  - {check: dns, target: example.com}\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(cfg); got != "login dns:example.com" {
		t.Errorf("IDs %q, want %q", got, "login dns:example.com")
	}
	if a := cfg.Targets[0].Address; a != "https://example.com/login" {
		t.Errorf("the target's address became %q", a)
	}
}

// TestSecretsAreSubstitutedAndNeverShown: ${NAME} and file: references
// put their values in the Spec, and in its scrubber, never in what
// `pingpanda config` prints.
func TestSecretsAreSubstitutedAndNeverShown(t *testing.T) {
	const token, fileSecret, bodySecret = "t0ken-f0r-login", "s3cr3t-from-a-file", "b0dy-s3cr3t"
	secretFile := filepath.Join(t.TempDir(), "api-key")
	if err := os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeMonitors(t, `monitors:
  - name: login
    check: http
    target: https://example.com/login
    http:
      method: POST
      headers: {Authorization: "Bearer ${LOGIN_TOKEN}", X-Api-Key: "file:`+secretFile+`", X-Literal: "$${NOT_A_VAR}"}
      body: '{"user":"probe","pass":"${BODY_PASS}"}'
      expect: {body_contains: "$${ok}"}
`)
	cfg, _, err := loadMonitors(path, true, "LOGIN_TOKEN="+token, "BODY_PASS="+bodySecret)
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := monitorNamed(t, cfg, "login")
	h := tg.Spec.HTTP
	headers := map[string]string{}
	for _, x := range h.Headers {
		headers[x.Name] = x.Value
	}
	want := map[string]string{"Authorization": "Bearer " + token, "X-Api-Key": fileSecret, "X-Literal": "${NOT_A_VAR}"}
	if !maps.Equal(headers, want) {
		t.Errorf("headers %q, want %q", headers, want)
	}
	if h.Body != `{"user":"probe","pass":"`+bodySecret+`"}` || h.Expect.BodyContains != "${ok}" {
		t.Errorf("body %q, body_contains %q", h.Body, h.Expect.BodyContains)
	}
	scrubbed := tg.Spec.Secrets.String("dial: " + token + " " + fileSecret + " " + bodySecret)
	for _, s := range []string{token, fileSecret, bodySecret} {
		if strings.Contains(scrubbed, s) {
			t.Errorf("the Spec's scrubber leaves %q in %q", s, scrubbed)
		}
	}
	var shownText strings.Builder
	fmt.Fprintf(&shownText, "%+v\n", cfg.Monitors)
	for _, asJSON := range []bool{false, true} {
		if err := Print(&shownText, cfg, asJSON); err != nil {
			t.Fatal(err)
		}
		if err := PrintMonitors(&shownText, cfg, asJSON); err != nil {
			t.Fatal(err)
		}
	}
	out := shownText.String()
	for _, s := range []string{token, fileSecret, bodySecret} {
		if strings.Contains(out, s) {
			t.Errorf("config shows the secret %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"Bearer ${LOGIN_TOKEN}", "X-Api-Key: file:" + secretFile, "${BODY_PASS}"} {
		if !strings.Contains(out, s) {
			t.Errorf("config --monitors should show %q as written:\n%s", s, out)
		}
	}
}

// FuzzParseMonitorsFile checks that no monitors file panics the parser,
// and that every monitor it accepts has an ID and a target that parses
// back to itself.
func FuzzParseMonitorsFile(f *testing.F) {
	spec, err := os.ReadFile(filepath.Join(testdataDir, "config", "monitors-spec-example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	bad, err := os.ReadFile(filepath.Join(testdataDir, "config", "monitors-bad.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(spec),
		// The example without its ${NAME}, which the fuzz's environment
		// lacks, so that every monitor of it is accepted.
		strings.ReplaceAll(string(spec), "${LOGIN_TOKEN}", "t0ken"),
		string(bad),
		"defaults: {timeout: 5s, labels: {a: b}}\nmonitors:\n  - {check: tcp, target: 'db:5432', tcp: {send: \"x\", expect: y}}\n",
		"groups:\n  - name: g\n    defaults: {http: {expect: {json: {'.a[0]': [1, {b: null}]}}}}\n    monitors: [{check: http, target: 'https://u:p@x.test/?token=1', id: x}]\n",
		"monitors:\n  - &m {check: ping, target: '::1', ping: {count: 3, max_loss: 34}}\n  - *m\n",
		"- {check: dns, target: x, dns: {server: '[::1]:53', type: mx, rcode: nxdomain, expect: ['10 a.']}}\n",
		"- {check: http, target: https://x.test, http: {headers: {A: 'file:/nonexistent'}, body: '$${X}'}}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ts, _ := parseTargetsYAML([]byte(in), "fuzz.yaml")
		seen := map[string]bool{}
		for _, ft := range ts {
			id := ft.ID()
			if id == "" || seen[id] {
				t.Fatalf("accepted a monitor with ID %q (seen before: %v)", id, seen[id])
			}
			seen[id] = true
			back, err := probe.ParseTarget(ft.Check, ft.Address)
			if err != nil || back.Address != ft.Address {
				t.Fatalf("accepted target %s %q, which parses back as %q, %v", ft.Check, ft.Address, back.Address, err)
			}
			if ft.Spec == nil {
				t.Fatalf("%s: a monitor of the file without a Spec", id)
			}
		}
	})
}

// TestPrintMonitorsOfTheSpecExample keeps `pingpanda config --monitors`
// and its --json of the SPEC §9 example golden.
func TestPrintMonitorsOfTheSpecExample(t *testing.T) {
	t.Chdir(filepath.Join(testdataDir, ".."))
	const base = "testdata/config/monitors-spec-example"
	const token = "t0ken-not-to-show"
	cfg, _, err := loadConfig(Sources{Environ: []string{"TARGETS_FILE=" + base + ".yaml", "LOGIN_TOKEN=" + token}, ExplainMonitors: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ext    string
		asJSON bool
	}{{".monitors.txt", false}, {".monitors.json", true}} {
		var b strings.Builder
		if err := PrintMonitors(&b, cfg, c.asJSON); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), token) {
			t.Errorf("%s shows LOGIN_TOKEN's value", c.ext)
		}
		golden(t, base+c.ext, b.String())
	}
}

func TestReviewFindingsOfTheMonitorsFile(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(secretFile, []byte("abc\ndef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		env        []string
		want       string // a problem, or "" for none
	}{
		{"a latency without a unit is refused", "- {check: http, target: https://a.test/, http: {max_latency: 800}}\n", nil,
			`FILE:1: monitor https://a.test/: http.max_latency: "800" has no unit (write 800ms, 30s, 5m or 1h)`},
		{"a header value with a line break is refused at load", "- {check: http, target: https://a.test/, http: {headers: {X-Key: 'file:" + secretFile + "'}}}\n", nil,
			"FILE:1: monitor https://a.test/: http.headers: X-Key: the value holds a character no header may (a line break or a control character); value not shown"},
		{"an unreadable secret file names its line and field", "monitors:\n  - check: http\n    target: https://a.test/\n    http: {body: 'file:/nonexistent/x'}\n", nil,
			`FILE:4: monitor https://a.test/: http.body: cannot read secret file "/nonexistent/x": no such file or directory`},
		{"a second YAML document is refused", "- {check: dns, target: a.test}\n---\n- {check: dns, target: b.test}\n", nil,
			"FILE:2: a second YAML document (after ---): the monitors file is one document; join them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeMonitors(t, tt.file)
			_, _, err := loadMonitors(path, false, tt.env...)
			want := strings.ReplaceAll(tt.want, "FILE", path)
			if err == nil || err.Error() != want {
				t.Errorf("error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestHeadersMergeAcrossLayersAndJSONValuesAreSubstituted(t *testing.T) {
	path := writeMonitors(t, `defaults:
  http: {headers: {Authorization: "Bearer ${TOKEN}", Accept: text/plain}}
monitors:
  - check: http
    target: https://a.test/
    http:
      headers: {accept: application/json, X-Trace: "1"}
      expect: {json: {".user": "${USER_NAME}", ".since": 2024-01-01, ".n": 3}}
`)
	cfg, _, err := loadMonitors(path, false, "TOKEN=t0k3n-secret", "USER_NAME=probe-user")
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Targets[0].Spec.HTTP
	var got []string
	for _, hd := range h.Headers {
		got = append(got, hd.Name+"="+hd.Value)
	}
	if want := "Authorization=Bearer t0k3n-secret accept=application/json X-Trace=1"; strings.Join(got, " ") != want {
		t.Errorf("headers %q, want %q (the defaults' merged under the monitor's, by name)", strings.Join(got, " "), want)
	}
	wants := map[string]any{}
	for _, j := range h.Expect.JSON {
		wants[j.Path] = j.Want
	}
	if wants[".user"] != "probe-user" || wants[".since"] != "2024-01-01" || wants[".n"] != float64(3) {
		t.Errorf("JSON wants %v: want ${USER_NAME} substituted, the date as written, the number as a number", wants)
	}
	if s := cfg.Targets[0].Spec.Secrets.String("t0k3n-secret probe-user"); strings.Contains(s, "t0k3n") || strings.Contains(s, "probe-user") {
		t.Errorf("the substituted values are not secrets: %q", s)
	}
}

func TestAnAliasedListCannotExpandWithoutBound(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-l: &l [")
	for i := range 20000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("a")
	}
	b.WriteString("]\nmonitors:\n")
	for i := range 400 {
		fmt.Fprintf(&b, "  - {check: dns, target: t%d.test, dns: {expect: *l}}\n", i)
	}
	_, _, err := loadMonitors(writeMonitors(t, b.String()), false)
	if err == nil || !strings.Contains(err.Error(), "expands, through aliases") {
		t.Errorf("error %v, want the expansion refused", err)
	}
}

func TestValuesThatLookAlikeAcrossFieldsDoNotShareSettings(t *testing.T) {
	cfg, _, err := loadMonitors(writeMonitors(t, "- {check: http, target: https://a.test/, http: {body: \"X\\0http.follow_redirects=4:false\"}}\n"+
		"- {check: http, target: https://b.test/, http: {body: X, follow_redirects: false}}\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := cfg.Targets[0].Spec, cfg.Targets[1].Spec; a == b || a.HTTP.Body == b.HTTP.Body || !b.HTTP.NoRedirects || a.HTTP.NoRedirects {
		t.Errorf("two monitors of different settings share one spec: %+v %+v", a.HTTP, b.HTTP)
	}
}

func TestADuplicateIDIsReportedWithTheMonitorsOtherProblems(t *testing.T) {
	path := writeMonitors(t, "- {id: x, check: http, target: https://a.test/, http: {max_latency: 1s, warn_latency: 2s}}\n- {id: x, check: dns, target: b.test}\n")
	_, _, err := loadMonitors(path, false)
	want := path + ":1: monitor x: http.warn_latency: 2s must be less than max_latency (1s)\n" +
		path + `:2: monitor x: id: "x" is also the ID of the monitor at ` + path + ":1; give one of them another id"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestAMonitorWithAProblemDoesNotTakeItsNeighbourOnTheSameLine(t *testing.T) {
	path := writeMonitors(t, "monitors: [{check: tls, target: a.test, tls: {warn_days: 5, critical_days: 9}}, {check: tls, target: b.test}]\n")
	l := &loader{values: map[string]setting{}}
	for _, k := range keys {
		l.values[k.name] = setting{value: k.def, source: "default"}
	}
	cfg := &Config{}
	l.buildChecks(cfg)
	l.buildState(cfg)
	ts := l.monitorsFile(t.Context(), cfg, path)
	if len(ts) != 1 || ts[0].Address != "b.test:443" || len(l.problems) != 1 {
		t.Errorf("targets %v, problems %q; want b.test kept and a.test's one problem", ts, l.problems)
	}
}

func TestSecondReviewFindingsOfTheMonitorsFile(t *testing.T) {
	bomb := "x-a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		bomb += fmt.Sprintf("x-a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	bomb += "monitors:\n  - {check: http, target: https://a.test/, http: {expect: {json: {\".status\": *a8}}}}\n"
	tests := []struct {
		name, file string
		ok         bool
		want       string
	}{
		{"an alias bomb in a JSON expectation is refused", bomb, false, "expands, through aliases"},
		{"a broken second document is reported", "- {check: dns, target: a.test}\n---\n: : [\n", false, "FILE:2: did not find expected key"},
		{"an empty second document is fine", "- {check: dns, target: a.test}\n---\n", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeMonitors(t, tt.file)
			_, _, err := loadMonitors(path, false)
			switch {
			case tt.ok && err != nil:
				t.Errorf("error %v, want none", err)
			case !tt.ok && (err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(tt.want, "FILE", path))):
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestARegexpsSubstitutedValueIsASecret(t *testing.T) {
	cfg, _, err := loadMonitors(writeMonitors(t, "- {check: http, target: https://a.test/, http: {expect: {body_regex: 'tok=${TOKEN}'}}}\n"), false, "TOKEN=tok-77aa88bb99")
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Targets[0].Spec.Secrets.String(`regex "tok=tok-77aa88bb99"`); strings.Contains(s, "77aa88") {
		t.Errorf("the regexp's ${TOKEN} is not scrubbed: %s", s)
	}
}
