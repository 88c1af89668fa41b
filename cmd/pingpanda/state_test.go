package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/state"
)

// flakyServer answers 503 while down is set, else 200.
func flakyServer(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &down
}

type sweepReport struct {
	Locked     bool   `json:"locked"`
	PushFailed bool   `json:"push_failed"`
	PushError  string `json:"push_error"`
	Results    []struct {
		ID, Status, Error, Reason string
		SilencedUntil             string `json:"silenced_until"`
		SilencedBy                string `json:"silenced_by"`
	} `json:"results"`
	Events []struct {
		ID, Kind, Check, Target, Since string
		DurationSeconds                float64 `json:"duration_seconds"`
	} `json:"events"`
	Summary map[string]int `json:"summary"`
	Alerts  report.Alerts  `json:"alerts"`
}

func decodeReport(t *testing.T, out string) sweepReport {
	t.Helper()
	var rep sweepReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, out)
	}
	return rep
}

func eventKinds(rep sweepReport) string {
	var k []string
	for _, e := range rep.Events {
		k = append(k, e.Kind)
	}
	return strings.Join(k, " ")
}

func TestStateCarriesAcrossInvocations(t *testing.T) {
	srv, down := flakyServer(t)
	env := append(loopbackEnv(srv.URL+"/health"),
		"STATE_FILE="+filepath.Join(t.TempDir(), "state.json"),
		"ALERT_THRESHOLD=3", "ENABLE_ADAPTIVE_BACKOFF=false")
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	sweep := func() sweepReport {
		t.Helper()
		code, out, errOut := runCLIAt(t, now, env, "--json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		clock = clock.Add(time.Minute)
		return decodeReport(t, out)
	}
	down.Store(true)
	steps := []struct {
		name   string
		down   bool
		events string
	}{
		{"the first failure raises nothing", true, ""},
		{"the second failure raises nothing", true, ""},
		{"the third failure, in a third process, raises down", true, "down"},
		{"a fourth failure raises nothing more", true, ""},
		{"the recovery is announced once", false, "recovered"},
		{"and only once", false, ""},
	}
	var downID string
	for _, st := range steps {
		down.Store(st.down)
		rep := sweep()
		if got := eventKinds(rep); got != st.events {
			t.Fatalf("%s: events %q, want %q", st.name, got, st.events)
		}
		for _, e := range rep.Events {
			switch e.Kind {
			case "down":
				downID = e.ID
			case "recovered":
				if e.DurationSeconds != 240 || e.ID == downID || e.Since != "2026-11-24T03:00:00Z" {
					t.Errorf("recovered = %+v; want a 4-minute outage since the first failure", e)
				}
			}
		}
	}
}

func TestBackoffSkipsAFailingTargetWithTheReason(t *testing.T) {
	srv, down := flakyServer(t)
	down.Store(true)
	env := append(loopbackEnv(srv.URL), "STATE_FILE="+filepath.Join(t.TempDir(), "state.json"))
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	if code, _, errOut := runCLIAt(t, now, env, "--json"); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	clock = clock.Add(10 * time.Second) // the backoff after one failure is 20 s
	_, out, _ := runCLIAt(t, now, env, "--json")
	rep := decodeReport(t, out)
	if r := rep.Results[0]; r.Status != "skipped" || !strings.HasPrefix(r.Reason, "backing off after 1 failures, until 2026-11-24T03:00:20Z") || rep.Summary["skipped"] != 1 {
		t.Fatalf("result = %+v, summary %v; want skipped with the reason", r, rep.Summary)
	}
	clock = clock.Add(10 * time.Second)
	_, out, _ = runCLIAt(t, now, env, "--json")
	if r := decodeReport(t, out).Results[0]; r.Status != "down" {
		t.Fatalf("after the backoff: %+v; want probed again", r)
	}
}

func TestASweepWhileAnotherHoldsTheLeaseDoesNothingAndExitsZero(t *testing.T) {
	srv, _ := flakyServer(t)
	path := filepath.Join(t.TempDir(), "state.json")
	holder, err := state.NewFileStore(path, state.FileOptions{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	lease, err := holder.Lock(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Unlock(context.Background(), lease)
	code, out, errOut := runCLI(t, append(loopbackEnv(srv.URL), "STATE_FILE="+path), "--json")
	if code != exitOK || !decodeReport(t, out).Locked || !strings.Contains(errOut, "another sweep is in progress") {
		t.Fatalf("exit %d, report %s, log %s; want 0, locked, and a log line", code, out, errOut)
	}
	if _, err := os.Stat(path); err == nil {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), srv.URL) {
			t.Errorf("the locked-out sweep wrote state: %s", b)
		}
	}
}

func TestDryRunLeavesNoState(t *testing.T) {
	srv, _ := flakyServer(t)
	path := filepath.Join(t.TempDir(), "state.json")
	if code, _, errOut := runCLI(t, append(loopbackEnv(srv.URL), "STATE_FILE="+path), "--dry-run"); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote %s (%v)", path, err)
	}
}

func TestStatusShowsTheStoredState(t *testing.T) {
	srv, down := flakyServer(t)
	env := append(loopbackEnv(srv.URL+"/a"), "STATE_FILE="+filepath.Join(t.TempDir(), "state.json"), "ENABLE_ADAPTIVE_BACKOFF=false")
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	for _, d := range []bool{false, false, true, true} {
		down.Store(d)
		runCLIAt(t, now, env)
		clock = clock.Add(time.Minute)
	}
	// At 03:04 the target has been up from 03:00 to 03:02 and down since:
	// the minute since the last sweep counts as down too.
	code, out, errOut := runCLIAt(t, now, env, "status")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"CHECK", "CIRCUIT", "http", srv.URL + "/a", "DOWN", "2026-11-24T03:02:00Z", "50.00%", "status 503", "1 target: 0 up, 1 down, 0 unknown; availability 50.00%"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLIAt(t, now, env, "status", "--json")
	var js struct {
		Targets []report.StatusTarget `json:"targets"`
		Summary report.StatusSummary  `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(js.Targets) != 1 || js.Targets[0].Checks != 4 || js.Targets[0].Failures != 2 || js.Summary.Down != 1 {
		t.Errorf("status --json = %+v", js)
	}
}

func TestStatsLogAppendsALinePerTargetPerSweep(t *testing.T) {
	srv, _ := flakyServer(t)
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "stats."+format)
			env := append(loopbackEnv(srv.URL+"/a", srv.URL+"/b"), "STATE_FILE="+filepath.Join(t.TempDir(), "state.json"),
				"STORE_STATS_LOG=true", "STATS_LOG_FILE="+logPath, "STATS_LOG_FORMAT="+format)
			runCLI(t, env)
			runCLI(t, env)
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			want := 6 // two sweeps of two targets and an OVERALL line
			if !strings.Contains(lines[len(lines)-1], "OVERALL") {
				t.Errorf("last line = %q, want the OVERALL line", lines[len(lines)-1])
			}
			if format == "csv" {
				want = 7 // and a header
				if !strings.HasPrefix(lines[0], "time,id,check,target,status,") {
					t.Errorf("header = %q", lines[0])
				}
			} else {
				var m map[string]any
				if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m["status"] != "up" || m["latency_seconds"] == nil {
					t.Errorf("line = %s (%v)", lines[0], err)
				}
			}
			if len(lines) != want {
				t.Errorf("%d lines, want %d:\n%s", len(lines), want, b)
			}
		})
	}
}

func TestFailOnDownCountsATargetStillDownWhileItsBackoffSkipsIt(t *testing.T) {
	srv, down := flakyServer(t)
	down.Store(true)
	env := append(loopbackEnv(srv.URL), "STATE_FILE="+filepath.Join(t.TempDir(), "state.json"))
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	if code, _, _ := runCLIAt(t, now, env, "--fail-on-down"); code != exitDown {
		t.Fatalf("first sweep: exit %d, want 3", code)
	}
	clock = clock.Add(5 * time.Second) // inside the 20 s backoff
	code, out, _ := runCLIAt(t, now, env, "--fail-on-down", "--json")
	rep := decodeReport(t, out)
	if code != exitDown || rep.Summary["still_down"] != 1 || rep.Summary["skipped"] != 1 {
		t.Fatalf("exit %d, summary %v; want 3 with the skipped target still down", code, rep.Summary)
	}
}
