package config

import (
	"os"
	"strings"
	"testing"
)

// configTable renders the README's configuration table from the key table.
func configTable() string {
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for _, k := range keys {
		def := "`" + k.def + "`"
		if k.def == "" {
			def = "(empty)"
		}
		help := k.help
		switch {
		case k.ignored != "":
			def, help = "—", "accepted and ignored: "+k.ignored
		case k.pending != "":
			help += " *(later: " + k.pending + ")*"
		}
		if k.secret {
			help += "; secret, never logged; may be a `file:`, `ssm:` or `secretsmanager:` reference"
		}
		b.WriteString("| `" + k.name + "` | " + def + " | " + help + " |\n")
	}
	return b.String()
}

// TestREADMEConfigurationTableMatchesTheCode keeps the README true: its
// table is the key table, defaults and all.
func TestREADMEConfigurationTableMatchesTheCode(t *testing.T) {
	const path = "../../../README.md"
	const begin, end = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", begin, end)
	}
	want := s[:i+len(begin)] + configTable() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Errorf("README.md's configuration table is out of date; run go test ./cmd/pingpanda/config -run README -update")
	}
}

// TestREADMEMonitorsSectionNamesTheSchemaAndEveryField keeps the README's
// Monitors section true: its yaml-language-server line names the schema's
// $id, and its field table names every field of the monitors file.
func TestREADMEMonitorsSectionNamesTheSchemaAndEveryField(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Monitors\n")
	end := strings.Index(readme, "\n## Configuration\n")
	if start < 0 || end < start {
		t.Fatal("README.md has no Monitors section before Configuration")
	}
	section := readme[start:end]
	if !strings.Contains(section, "# yaml-language-server: $schema="+SchemaID) {
		t.Errorf("the Monitors section's yaml-language-server line does not name %s", SchemaID)
	}
	for _, f := range monitorFields {
		name := f.path[strings.LastIndex(f.path, ".")+1:]
		if !strings.Contains(section, "`"+f.path+"`") && !strings.Contains(section, "`"+name+"`") {
			t.Errorf("the Monitors section does not name the field %s", f.path)
		}
	}
}
