package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func TestAnIDOfTheFileThatIsAnEnvTargetsIsRefusedOnce(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"an id taken by an env-list target", "- {check: ping, target: 192.0.2.1, id: 'dns:example.com'}\n",
			`FILE:1: id: "dns:example.com" is also the ID of the dns target in DOMAINS; give the monitor another id`},
		{"two monitors of one ID are said once", "- {check: ping, target: 192.0.2.1, id: x}\n- {check: dns, target: example.org, id: x}\n",
			`FILE:2: monitor example.org: id: "x" is also the ID of the monitor at FILE:1; give one of them another id`},
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
