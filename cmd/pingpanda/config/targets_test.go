package config

import (
	"strings"
	"testing"
)

func TestParseTargetsYAML(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // IDs|names, space-separated
		wantErr string
	}{
		{"an empty file lists nothing", "", "", ""},
		{"a null document lists nothing", "~\n", "", ""},
		{"flow and block mappings both work", "- {check: dns, target: Example.com}\n- check: website\n  target: https://x.test\n  name: X\n", "dns:example.com| http:https://x.test/|X", ""},
		{"a mapping at the top is refused", "check: dns\ntarget: x\n", "", "t.yaml:1: check: unknown field (want one of channels, defaults, groups, maintenance, monitors, routes)"},
		{"a nested value is refused", "- {check: dns, target: [a, b]}\n", "", `t.yaml:1: monitor #1: target: want a single value`},
		{"broken YAML names the file", "- {check: dns\n", "", "t.yaml:1: did not find expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTargetsYAML([]byte(tt.in), "t.yaml")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, ft := range got {
				ids = append(ids, ft.ID()+"|"+ft.Name)
			}
			if s := strings.Join(ids, " "); s != tt.want {
				t.Errorf("targets %q, want %q", s, tt.want)
			}
		})
	}
}

// FuzzParseTargetsYAML checks that no TARGETS_FILE content panics, and
// that every target it accepts has a stable, parseable ID.
func FuzzParseTargetsYAML(f *testing.F) {
	for _, s := range []string{"- {check: http, target: https://a.test, name: a}\n", "- check: dns\n  target: x\n", "[]", "- {check: tls, target: '[::1]:1'}", "- &a {check: dns, target: x}\n- *a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ts, _ := parseTargetsYAML([]byte(in), "fuzz.yaml")
		for _, ft := range ts {
			if ft.Address == "" || !strings.HasPrefix(ft.ID(), string(ft.Check)+":") {
				t.Fatalf("accepted a target with ID %q", ft.ID())
			}
		}
	})
}
