package push

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/push/pushtest"
)

// knownLint are promtool's findings that are kept on purpose, by metric.
// pingpanda_ssl_days_remaining is the original's name, kept so that
// existing dashboards work (SPEC §6); pingpanda_ssl_expiry_timestamp_seconds
// is its base-unit companion.
var knownLint = map[string]string{
	SSLDaysRemaining: `use base unit "seconds" instead of "days"`,
}

// promtoolCheck runs promtool check metrics on text and returns its
// findings, one per line.
func promtoolCheck(t *testing.T, text []byte) []string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		pushtest.Need(t, "promtool is not installed (Debian: apt-get install prometheus)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Exit status 3 means lint findings; anything else is a failure
		// to check at all.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
	var findings []string
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimSpace(line); line != "" {
			findings = append(findings, line)
		}
	}
	return findings
}

func TestPromtoolFindsNoProblemInARealisticSweep(t *testing.T) {
	for _, f := range promtoolCheck(t, text(t, realisticSweep(t))) {
		name, msg, _ := strings.Cut(f, " ")
		if knownLint[name] == msg {
			continue
		}
		t.Errorf("promtool check metrics: %s", f)
	}
}

func TestPromtoolCheckIsNotVacuous(t *testing.T) {
	// A gauge named like a counter must be reported, or the test above
	// would pass on any text.
	bad := []byte("# HELP pingpanda_bad_total Bad.\n# TYPE pingpanda_bad_total gauge\npingpanda_bad_total 1\n")
	if len(promtoolCheck(t, bad)) == 0 {
		t.Error("promtool reported nothing for a gauge named _total")
	}
}
