package sweep

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// statsClock is the fixed start of the stats log tests' first sweep.
var statsClock = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// statsSweep is one sweep's results and next states: a dns target up and
// an http target down.
func statsSweep(at time.Time) ([]probe.Result, []state.TargetState) {
	results := []probe.Result{
		{Target: probe.Target{Check: probe.DNS, Address: "example.com"}, Status: probe.StatusUp, Latency: 12 * time.Millisecond, Attempts: 1},
		{Target: probe.Target{Check: probe.HTTP, Address: "https://shop.example.com/"}, Status: probe.StatusDown, Latency: 3 * time.Second, Attempts: 3, Error: "503 Service Unavailable"},
	}
	next := []state.TargetState{
		{Status: state.Up, Since: statsClock.Add(-time.Hour), ConsecutiveSuccesses: 9,
			Stats: state.Stats{Checks: 10, UptimeSeconds: 3600}},
		{Status: state.Down, Since: at.Add(-90 * time.Second), ConsecutiveFailures: 4, Flapping: true,
			Stats: state.Stats{Checks: 10, Failures: 4, UptimeSeconds: 3000, DowntimeSeconds: 90.5, DowntimeEvents: 2}},
	}
	return results, next
}

func TestTheStatsLogRotatesBetweenSweepsWithAHeaderAtTheTopOfEveryCSVFile(t *testing.T) {
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			c := config.StatsLog{Enabled: true, Path: filepath.Join(dir, "stats."+format), Format: format, MaxSize: 1024, BackupCount: 2}
			for i := range 20 {
				results, next := statsSweep(statsClock.Add(time.Duration(i) * time.Minute))
				if err := appendStatsLog(c, statsClock.Add(time.Duration(i)*time.Minute), results, next); err != nil {
					t.Fatal(err)
				}
			}
			names, _ := filepath.Glob(c.Path + "*")
			if len(names) != 3 {
				t.Fatalf("files = %v; want the log and STATS_LOG_BACKUP_COUNT=2 backups", names)
			}
			header := string(csvHeader())
			for _, name := range names {
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) > int(c.MaxSize) {
					t.Errorf("%s is %d bytes, over STATS_LOG_MAX_SIZE", name, len(b))
				}
				if format == "csv" {
					if !strings.HasPrefix(string(b), header) || strings.Count(string(b), header) != 1 {
						t.Errorf("%s does not start with the header exactly once:\n%s", name, b)
					}
					b = b[len(header):]
				}
				// Each file holds whole sweeps: the lines come in threes (two
				// targets and the overall line), the last one ending the file.
				lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
				if !bytes.HasSuffix(b, []byte("\n")) || len(lines)%linesPerSweep != 0 {
					t.Errorf("%s holds %d lines, not whole sweeps of %d:\n%s", name, len(lines), linesPerSweep, b)
				}
				for i, l := range lines {
					if got, want := sweepTime.FindString(l), sweepTime.FindString(lines[i-i%linesPerSweep]); got != want {
						t.Errorf("%s: line %d is of the sweep at %s, not with its group's %s", name, i, got, want)
					}
				}
			}
		})
	}
}

// linesPerSweep is how many lines statsSweep's sweep writes.
const linesPerSweep = 2

// sweepTime finds a line's sweep time, its first timestamp.
var sweepTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func TestStatsLogErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	results, next := statsSweep(statsClock)
	c := config.StatsLog{Enabled: true, Path: filepath.Join(notADir, "stats.csv"), Format: "csv", MaxSize: 1 << 20, BackupCount: 1}
	err := appendStatsLog(c, statsClock, results, next)
	if err == nil || !strings.HasPrefix(err.Error(), "STATS_LOG_FILE: ") {
		t.Fatalf("err = %v; want one naming STATS_LOG_FILE", err)
	}
}

func TestAPermissionErrorSaysWhereTheStatsLogMayGo(t *testing.T) {
	err := statsLogError(&fs.PathError{Op: "mkdir", Path: "/logs", Err: fs.ErrPermission})
	want := "STATS_LOG_FILE: mkdir /logs: permission denied (a relative STATS_LOG_FILE is in LOG_DIR: point either at a directory this user may write, such as a mounted volume)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

func TestAnUnwritableStatsLogDirectoryNamesTheKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Create(filepath.Join(dir, "probe")); err == nil {
		f.Close()
		t.Skip("this user may write to a read-only directory (root)")
	}
	results, next := statsSweep(statsClock)
	c := config.StatsLog{Enabled: true, Path: filepath.Join(dir, "logs", "stats.csv"), Format: "csv", MaxSize: 1 << 20, BackupCount: 1}
	err := appendStatsLog(c, statsClock, results, next)
	if err == nil || !strings.HasPrefix(err.Error(), "STATS_LOG_FILE: ") || !strings.Contains(err.Error(), "LOG_DIR") {
		t.Fatalf("err = %v; want one naming STATS_LOG_FILE and LOG_DIR", err)
	}
}
