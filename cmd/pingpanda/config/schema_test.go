package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	// A well-kept draft 2020-12 validator, for tests only: the schema is
	// checked against the metaschema and against the parser by the same
	// rules editors apply, rather than by a structural check of our own
	// that could share our mistakes.
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/probe"
)

// schemaFile is the committed schema, at the repository's root.
const schemaFile = "../../../monitors.schema.json"

// TestMonitorsSchemaIsCommitted keeps monitors.schema.json what
// MonitorsSchema generates from the field table; -update rewrites it.
func TestMonitorsSchemaIsCommitted(t *testing.T) {
	got, err := MonitorsSchema()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) {
		t.Fatalf("MonitorsSchema is not JSON:\n%s", got)
	}
	golden(t, schemaFile, string(got))
}

// compiledSchema compiles the generated schema, checking it against the
// draft 2020-12 metaschema on the way.
func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := MonitorsSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return sch
}

// yamlToJSON reads a YAML document as an editor's schema validator sees
// it: yaml.v3 into any, then JSON.
func yamlToJSON(data []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(stringKeys(v))
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// stringKeys turns yaml.v3's map[any]any (a mapping with a key that is
// not a string) into JSON's map[string]any.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = stringKeys(e)
		}
		return out
	case []any:
		for i := range x {
			x[i] = stringKeys(x[i])
		}
		return x
	}
	return v
}

// loadMonitors loads a configuration whose TARGETS_FILE is path, with
// no env-list targets, and env added to the environment.
func loadMonitors(path string, explain bool, env ...string) (*Config, []string, error) {
	environ := append([]string{"TARGETS_FILE=" + path, "ENABLE_DNS=false", "ENABLE_PING=false"}, env...)
	return loadConfig(Sources{Environ: environ, ExplainMonitors: explain})
}

// TestSchemaAndParserAgree checks that what the parser accepts the
// schema accepts, and what it refuses (of what a schema can see) the
// schema refuses too.
func TestSchemaAndParserAgree(t *testing.T) {
	sch := compiledSchema(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(testdataDir, "config", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const mon = "- {check: http, target: https://x.test"
	tests := []struct {
		name   string
		in     string
		accept bool
	}{
		{"the SPEC §9 example", read("monitors-spec-example.yaml"), true},
		{"today's list format", read("targets.yaml"), true},
		{"an empty file", "", true},
		{"a null document", "~\n", true},
		{"only defaults", "defaults: {timeout: 5s}\n", true},
		{"durations without a unit", mon + ", timeout: 2.5, every: 300}\n", false},
		{"a zero duration needs no unit", mon + ", realert: 0, every: 0}\n", true},
		{"durations of several units", mon + ", every: 1h30m, http: {max_latency: 1.5s, warn_latency: 300ms}}\n", true},
		{"numbers and booleans in quotes", mon + `, retries: "3", notify_recovery: "false", tls: {warn_days: "21.5"}}` + "\n", true},
		{"booleans as yes and on", mon + ", notify_recovery: yes, http: {follow_redirects: off}}\n", true},
		{"a check in capitals and an alias", "- {check: HTTP, target: https://x.test}\n- {check: ssl, target: x.test}\n- {check: Website, target: https://y.test}\n", true},
		{"codes as a number and as ranges", mon + ", http: {success_codes: 204}}\n- {check: http, target: https://y.test, http: {success_codes: \"200-299, 301\"}}\n", true},
		{"numbers as text", mon + ", name: 42, labels: {tier: 1}, http: {headers: {X-Try: 2}}}\n", true},
		{"json expectations of any kind", mon + `, http: {expect: {json: {".a": 1, ".b": [1, "x"], ".c": {d: null}}}}}` + "\n", true},
		{"a group with labels and defaults", "groups:\n  - name: g\n    labels: {a: b}\n    defaults: {retries: 2, http: {method: HEAD}}\n    monitors:\n" +
			"      - {check: dns, target: x.test, dns: {type: MX}}\n", true},
		{"a group without monitors", "groups: [{name: g}]\n", true},

		{"an unknown field in a monitor", mon + ", timeuot: 5s}\n", false},
		{"an unknown field at the top", "monitor: []\n", false},
		{"an unknown field in http", mon + ", http: {metod: GET}}\n", false},
		{"an unknown field in http.expect", mon + ", http: {expect: {body_contain: x}}}\n", false},
		{"an unknown field in defaults", "defaults: {retires: 2}\n", false},
		{"an unknown field in a group", "groups: [{name: g, label: {a: b}, monitors: []}]\n", false},
		{"an unknown field in a group's defaults", "groups: [{name: g, defaults: {retires: 2}, monitors: []}]\n", false},
		{"a monitor's own field in defaults", "defaults: {target: x.test}\n", false},
		{"a monitor without target", "- {check: dns}\n", false},
		{"a monitor without check", "- {target: x.test}\n", false},
		{"an unknown check", "- {check: smtp, target: x.test}\n", false},
		{"a group without name", "groups: [{monitors: [{check: dns, target: x.test}]}]\n", false},
		{"a duration in words", mon + ", timeout: 5 seconds}\n", false},
		{"a negative duration", mon + ", every: -5}\n", false},
		{"retries of 0", mon + ", retries: 0}\n", false},
		{"retries above the range", mon + ", retries: 21}\n", false},
		{"retries not whole", mon + ", retries: two}\n", false},
		{"a status code out of range", mon + ", http: {success_codes: 700}}\n", false},
		{"status codes in words", mon + ", http: {success_codes: ok}}\n", false},
		{"a boolean in words", mon + ", notify_recovery: maybe}\n", false},
		{"a header name with a blank", mon + `, http: {headers: {"X Bad": 1}}}` + "\n", false},
		{"a label name with a dash", mon + ", labels: {team-name: web}}\n", false},
		{"a label without value", mon + ", labels: {team: }}\n", false},
		{"an id with a blank", mon + `, id: "my id"}` + "\n", false},
		{"a section that is no mapping", mon + ", http: GET}\n", false},
		{"a list where one value goes", "- {check: dns, target: [a, b]}\n", false},
		{"monitors that are no list", "monitors: {check: dns, target: x.test}\n", false},
		{"a monitor that is no mapping", "- just a string\n", false},
		{"a mapping of lists where a list of strings goes", mon + ", depends_on: {a: b}}\n", false},
		{"a file that is a single value", "hello\n", false},
		{"a key given twice", mon + ", retries: 2, retries: 3}\n", false},
		{"the golden file of mistakes", read("monitors-bad.yaml"), false},

		{"the SPEC §10 example", read("monitors-routing.yaml"), true},
		{"a channel of each provider", "channels:\n  a: {type: slack, url: \"https://h.test/a\", channel: \"#ops\"}\n  b: {type: teams, url: \"https://h.test/b\"}\n" +
			"  c: {type: discord, url: \"https://h.test/c\", username: pp}\n  d: {type: alertmanager, url: \"http://127.0.0.1:9093\"}\n" +
			"  e: {type: email, smtp: \"smtps://mail.test\", from: a@b.test, to: c@d.test}\n", true},
		{"a route with one channel and continue", "channels: {a: {type: webhook, url: \"https://h.test/a\"}}\nroutes: [{match: {kinds: down, target: \"*x*\"}, channels: a, continue: yes}]\n", true},
		{"an unknown provider", "channels: {a: {type: pager, routing_key: k}}\n", false},
		{"a channel without type", "channels: {a: {url: \"https://h.test/a\"}}\n", false},
		{"a pagerduty channel without routing_key", "channels: {a: {type: pagerduty}}\n", false},
		{"an alertmanager channel without url", "channels: {a: {type: alertmanager}}\n", false},
		{"a field of another provider", "channels: {a: {type: slack, url: \"https://h.test/a\", secret: x}}\n", false},
		{"a channel name with a blank", "channels: {\"a b\": {type: webhook, url: \"https://h.test/a\"}}\n", false},
		{"an unknown route field", "routes: [{channels: [], contine: true}]\n", false},
		{"a route without channels", "routes: [{match: {check: dns}}]\n", false},
		{"an unknown kind", "routes: [{match: {kinds: [dwon]}, channels: []}]\n", false},
		{"an unknown check in a route", "routes: [{match: {check: smtp}, channels: []}]\n", false},
		{"kinds in a maintenance window", "maintenance: [{match: {kinds: [down]}, schedule: \"@daily\", duration: 1h}]\n", false},
		{"a window without duration", "maintenance: [{schedule: \"@daily\"}]\n", false},
		{"a window's duration without unit", "maintenance: [{schedule: \"@daily\", duration: 30}]\n", false},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("m%d.yaml", i))
			if err := os.WriteFile(path, []byte(tt.in), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, perr := loadMonitors(path, false, append([]string{"LOGIN_TOKEN=t0ken"}, routingEnv...)...)
			// A document yaml.v3 cannot read as a value (a key given
			// twice) is refused before any schema, as editors do.
			inst, serr := yamlToJSON([]byte(tt.in))
			if serr == nil {
				serr = sch.Validate(inst)
			}
			if (perr == nil) != tt.accept {
				t.Errorf("the parser: accepted = %v, want %v (%v)", perr == nil, tt.accept, perr)
			}
			if (serr == nil) != tt.accept {
				t.Errorf("the schema: accepted = %v, want %v (%v)", serr == nil, tt.accept, serr)
			}
		})
	}
}

// TestTheSchemaNamesEveryField checks the schema against the field
// table the other way round: every field's path is a property.
func TestTheSchemaNamesEveryField(t *testing.T) {
	b, err := MonitorsSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	defs := s["$defs"].(map[string]any)
	props := func(def string) map[string]any {
		d, ok := defs[def].(map[string]any)
		if !ok {
			t.Fatalf("$defs lacks %q", def)
		}
		return d["properties"].(map[string]any)
	}
	for _, f := range monitorFields {
		for _, where := range []string{"monitor", "defaults"} {
			if where == "defaults" && f.monitorOnly {
				if _, ok := props("defaults")[f.path]; ok {
					t.Errorf("defaults allow %s, a monitor's own field", f.path)
				}
				continue
			}
			def, name := where, f.path
			if i := strings.LastIndex(f.path, "."); i >= 0 {
				def, name = f.path[:i], f.path[i+1:]
			}
			p, ok := props(def)[name].(map[string]any)
			if !ok {
				t.Errorf("%s: not in the schema's %s", f.path, def)
				continue
			}
			if p["description"] == "" {
				t.Errorf("%s: no description", f.path)
			}
		}
	}
	for _, a := range checkAliases {
		if _, err := probe.ParseCheck(a); err != nil {
			t.Errorf("check alias %q: %v", a, err)
		}
	}
}
