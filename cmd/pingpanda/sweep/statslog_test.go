package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
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

var update = flag.Bool("update", false, "rewrite the golden files under testdata/statslog")

// statsClock is the fixed start of the stats log tests' first sweep.
var statsClock = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// statsSweep is the sweep at statsClock + k minutes: its results and the
// targets' next states. A dns target is up; an http target is down and
// flapping; a ping target's backoff skips it (it stays down); a second ping
// target has never had a status (ICMP is not permitted).
func statsSweep(k int) (time.Time, []probe.Result, []state.TargetState) {
	at := statsClock.Add(time.Duration(k) * time.Minute)
	step := float64(60 * k)
	results := []probe.Result{
		{Target: probe.Target{Check: probe.DNS, Address: "example.com"}, Status: probe.StatusUp, Latency: 12345 * time.Microsecond, Attempts: 1},
		{Target: probe.Target{Check: probe.HTTP, Address: "https://shop.example.com/"}, Status: probe.StatusDown, Latency: 3 * time.Second, Attempts: 3,
			Error: `503 Service Unavailable: "down for maintenance, back soon"`},
		{Target: probe.Target{Check: probe.Ping, Address: "10.0.0.1"}, Status: probe.StatusSkipped, Error: "backoff: next probe at 03:05:20"},
		{Target: probe.Target{Check: probe.Ping, Address: "10.0.0.2"}, Status: probe.StatusUnsupported, Attempts: 1, Error: "ICMP not permitted"},
	}
	next := []state.TargetState{
		{Status: state.Up, Since: statsClock.Add(-time.Hour), ConsecutiveSuccesses: 60 + k,
			Stats: state.Stats{Checks: int64(60 + k), UptimeSeconds: 3600 + step}},
		{Status: state.Down, Since: statsClock.Add(-90 * time.Second), ConsecutiveFailures: 4 + k, Flapping: true,
			Stats: state.Stats{Checks: int64(40 + k), Failures: int64(12 + k), UptimeSeconds: 3000.25, DowntimeSeconds: 90.5 + step, DowntimeEvents: 2}},
		{Status: state.Down, Since: statsClock.Add(-10 * time.Minute), ConsecutiveFailures: 5,
			Stats: state.Stats{Checks: 30, Failures: 5, UptimeSeconds: 1200, DowntimeSeconds: 540, DowntimeEvents: 1}},
		{},
	}
	return at, results, next
}

// linesPerSweep is how many lines statsSweep's sweep writes: one per
// target and the overall line.
const linesPerSweep = 5

// goldenStatsLog compares the file at got with testdata/statslog/name, or
// rewrites the golden file with -update.
func goldenStatsLog(t *testing.T, got, name string) {
	t.Helper()
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "testdata", "statslog", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/pingpanda/sweep -run StatsLog -update to create it)", err)
	}
	if string(b) != string(want) {
		t.Errorf("%s differs (run go test ./cmd/pingpanda/sweep -run StatsLog -update to accept):\n--- got\n%s\n--- want\n%s", path, b, want)
	}
}

func TestTheStatsLogOfTwoSweepsMatchesTheGoldenFiles(t *testing.T) {
	for _, tt := range []struct{ format, golden string }{{"csv", "two-sweeps.csv"}, {"json", "two-sweeps.jsonl"}} {
		t.Run(tt.format, func(t *testing.T) {
			c := config.StatsLog{Enabled: true, Path: filepath.Join(t.TempDir(), "logs", tt.golden), Format: tt.format, MaxSize: 1 << 20, BackupCount: 5}
			for k := range 2 {
				at, results, next := statsSweep(k)
				if err := appendStatsLog(c, at, results, next); err != nil {
					t.Fatal(err)
				}
			}
			goldenStatsLog(t, c.Path, tt.golden)
		})
	}
}

func TestEveryJSONLineOfTheStatsLogIsOneObject(t *testing.T) {
	c := config.StatsLog{Enabled: true, Path: filepath.Join(t.TempDir(), "stats.jsonl"), Format: "json", MaxSize: 1 << 20}
	at, results, next := statsSweep(0)
	if err := appendStatsLog(c, at, results, next); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c.Path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != linesPerSweep {
		t.Fatalf("%d lines, want %d", len(lines), linesPerSweep)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if i == len(lines)-1 {
			if m["id"] != "OVERALL" || m["targets"] != 4.0 || m["up"] != 1.0 || m["down"] != 2.0 || m["flapping_targets"] != 1.0 {
				t.Errorf("overall line = %s", l)
			}
		} else if m["time"] != "2026-11-24T03:00:00Z" || m["id"] != results[i].Target.ID() {
			t.Errorf("line %d = %s", i, l)
		}
	}
}

func TestTheCSVStatsLogReadsBackWithOneFieldPerColumn(t *testing.T) {
	c := config.StatsLog{Enabled: true, Path: filepath.Join(t.TempDir(), "stats.csv"), Format: "csv", MaxSize: 1 << 20}
	at, results, next := statsSweep(0)
	if err := appendStatsLog(c, at, results, next); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(c.Path)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll() // fails on a row of another width
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+linesPerSweep || strings.Join(rows[0], ",") != strings.Join(statsColumns, ",") {
		t.Fatalf("rows = %q", rows)
	}
	if got := rows[2][9]; got != results[1].Error {
		t.Errorf("error column = %q; want the error, commas and quotes and all", got)
	}
}

func TestTheStatsLogRotatesBetweenSweepsWithAHeaderAtTheTopOfEveryCSVFile(t *testing.T) {
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			c := config.StatsLog{Enabled: true, Path: filepath.Join(dir, "stats."+format), Format: format, MaxSize: 4096, BackupCount: 2}
			for k := range 20 {
				at, results, next := statsSweep(k)
				if err := appendStatsLog(c, at, results, next); err != nil {
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
				// Each file holds whole sweeps, the last one ending the file.
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

// sweepTime finds a line's sweep time, its first timestamp.
var sweepTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func TestStatsLogErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, results, next := statsSweep(0)
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
	_, results, next := statsSweep(0)
	c := config.StatsLog{Enabled: true, Path: filepath.Join(dir, "logs", "stats.csv"), Format: "csv", MaxSize: 1 << 20, BackupCount: 1}
	err := appendStatsLog(c, statsClock, results, next)
	if err == nil || !strings.HasPrefix(err.Error(), "STATS_LOG_FILE: ") || !strings.Contains(err.Error(), "LOG_DIR") {
		t.Fatalf("err = %v; want one naming STATS_LOG_FILE and LOG_DIR", err)
	}
}

func TestACSVStatsLogOfThePreviousColumnsIsRotatedAwayNotAppendedTo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.csv")
	old := "time,id,check,target,status,latency_seconds,attempts,consecutive_failures,availability_percent,error\n" +
		"2026-11-23T03:00:00Z,dns:example.com,dns,example.com,up,0.01,1,0,100,\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c := config.StatsLog{Enabled: true, Path: path, Format: "csv", MaxSize: 1 << 20, BackupCount: 5}
	at, results, next := statsSweep(0)
	if err := appendStatsLog(c, at, results, next); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path + ".1"); string(b) != old {
		t.Errorf("%s.1 = %q; want the old file as it was", path, b)
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), string(csvHeader())) {
		t.Errorf("%s starts %q; want the new header", path, b[:min(len(b), 80)])
	}
}

func TestTheREADMEsUpgradeExampleIsTheGoldenFiles(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "statslog", "two-sweeps.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	// The header, the http target's line and the overall line of the first sweep.
	for _, l := range []string{lines[0], lines[2], lines[linesPerSweep]} {
		if !strings.Contains(string(readme), "  "+l+"\n") {
			t.Errorf("README.md's stats log example lacks the golden line\n%s", l)
		}
	}
}
