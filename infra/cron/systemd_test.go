package cron

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/infra/internal/pingpandatest"
)

// units copies pingpanda.service and pingpanda.timer to a temporary
// directory, with ExecStart pointed at a built binary (systemd-analyze
// checks that it exists), after applying edit to the service.
func units(t *testing.T, edit func(service []byte) []byte) (service, timer string) {
	t.Helper()
	bin := pingpandatest.Binary(t)
	dir := t.TempDir()
	svc := pingpandatest.ReadFile(t, "infra/cron/pingpanda.service")
	if !bytes.Contains(svc, []byte("ExecStart=/usr/local/bin/pingpanda ")) {
		t.Fatal("pingpanda.service no longer runs /usr/local/bin/pingpanda; update this test")
	}
	svc = bytes.ReplaceAll(svc, []byte("/usr/local/bin/pingpanda"), []byte(bin))
	if edit != nil {
		svc = edit(svc)
	}
	service, timer = filepath.Join(dir, "pingpanda.service"), filepath.Join(dir, "pingpanda.timer")
	if err := os.WriteFile(service, svc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(timer, pingpandatest.ReadFile(t, "infra/cron/pingpanda.timer"), 0o644); err != nil {
		t.Fatal(err)
	}
	return service, timer
}

// analyze runs systemd-analyze and returns its output; an error when it
// fails or says anything at all (it reports unknown keys only as warnings).
func analyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		pingpandatest.Unavailable(t, "systemd-analyze is not installed (Debian package systemd)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemd-analyze", args...)
	cmd.Dir = filepath.Dir(args[len(args)-1])
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_COLORS=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSystemdUnitsVerify(t *testing.T) {
	t.Parallel()
	service, timer := units(t, nil)
	out, err := analyze(t, "verify", "--man=no", service, timer)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdVerifyCatchesAMisspeltKey(t *testing.T) {
	t.Parallel()
	service, timer := units(t, func(b []byte) []byte {
		return bytes.Replace(b, []byte("ProtectSystem=strict"), []byte("ProtectSytem=strict"), 1)
	})
	out, err := analyze(t, "verify", "--man=no", service, timer)
	if err == nil && !strings.Contains(out, "ProtectSytem") {
		t.Errorf("systemd-analyze verify took a misspelt key without a word: %q", out)
	}
}

// TestSystemdServiceIsHardened requires systemd's own exposure score of the
// service to stay at 2.0 ("OK") or below.
func TestSystemdServiceIsHardened(t *testing.T) {
	t.Parallel()
	service, _ := units(t, nil)
	out, err := analyze(t, "security", "--offline=yes", "--threshold=20", "--no-pager", service)
	if err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	}
	if i := strings.Index(out, "Overall exposure level"); i >= 0 {
		t.Log(strings.TrimSpace(out[i:]))
	}
}

// TestSystemdUnitsSayWhatTheIssueAsks checks the settings that matter for
// pingpanda, which verify cannot judge.
func TestSystemdUnitsSayWhatTheIssueAsks(t *testing.T) {
	svc := string(pingpandatest.ReadFile(t, "infra/cron/pingpanda.service"))
	tmr := string(pingpandatest.ReadFile(t, "infra/cron/pingpanda.timer"))
	for _, want := range []string{
		"Type=oneshot", "DynamicUser=yes", "\nAmbientCapabilities=\n", "\nCapabilityBoundingSet=\n",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=pingpanda",
		"STATE_FILE=%S/pingpanda/state.json", "EnvironmentFile=/etc/pingpanda/pingpanda.env",
		"--timeout 45s", "TimeoutStartSec=55s",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("pingpanda.service lacks %q", want)
		}
	}
	for _, want := range []string{"OnCalendar=", "AccuracySec=", "Persistent=true", "Unit=pingpanda.service", "WantedBy=timers.target"} {
		if !strings.Contains(tmr, want) {
			t.Errorf("pingpanda.timer lacks %q", want)
		}
	}
}
