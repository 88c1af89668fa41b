package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/servertest"
)

// runCLI runs the whole command in-process and returns its exit code,
// stdout and stderr. The environment holds only env.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runCLIAt(t, time.Now, env, args...)
}

// runCLIAt is runCLI with a clock. Unless env names one, the state file is
// in a temporary directory, never the user's.
func runCLIAt(t *testing.T, now func() time.Time, env []string, args ...string) (int, string, string) {
	t.Helper()
	env = testEnv(t, env)
	var stdout, stderr syncLog // go-redis may log from its own goroutines
	code := run(context.Background(), args, stdio{
		stdout:  &stdout,
		stderr:  &stderr,
		environ: env,
		dir:     t.TempDir(),
		now:     now,
	})
	return code, stdout.String(), stderr.String()
}

// runCLIContext is runCLI with a context, for commands that run until it
// ends.
func runCLIContext(t *testing.T, ctx context.Context, env []string, args ...string) (int, string, string) {
	t.Helper()
	env = testEnv(t, env)
	var stdout, stderr syncLog
	code := run(ctx, args, stdio{stdout: &stdout, stderr: &stderr, environ: env, dir: t.TempDir(), now: time.Now})
	return code, stdout.String(), stderr.String()
}

// syncLog is a buffer safe to write from several goroutines: the Redis
// client logs through the process-wide logger from goroutines of its own
// (a dial still under way when a sweep ends), which may be another test's.
type syncLog = servertest.SyncBuffer

// testEnv makes an environment safe for a test: the state file in a
// temporary directory, and the built-in default targets (google.com,
// 1.1.1.1) off unless the test turns them on, so that no test ever sends
// traffic beyond loopback.
func testEnv(t *testing.T, env []string) []string {
	env = slices.Clone(env)
	if !hasKey(env, "STATE_FILE") {
		env = append(env, "STATE_FILE="+filepath.Join(t.TempDir(), "state.json"))
	}
	for _, k := range []string{"ENABLE_DNS", "ENABLE_PING"} {
		if !hasKey(env, k) {
			env = append(env, k+"=false")
		}
	}
	return env
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// loopbackEnv configures one http target per URL and nothing else.
func loopbackEnv(urls ...string) []string {
	return []string{
		"ENABLE_DNS=false", "ENABLE_PING=false",
		"ENABLE_WEBSITE_CHECK=true", "CHECK_WEBSITE=" + strings.Join(urls, ","),
		"RETRY_COUNT=1", "SWEEP_TIMEOUT_SECONDS=10",
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "--version")
	if code != exitOK || out != "pingpanda dev\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown command", []string{"launch"}, `unknown command "launch"`},
		{"an unknown flag", []string{"--jsn"}, "flag provided but not defined: -jsn"},
		{"a bad timeout", []string{"--timeout", "soon"}, `"soon" is not a duration like 30s or 2m`},
		{"a command given twice", []string{"sweep", "config"}, `unexpected argument "config"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, tt.args...)
			if code != exitConfig || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage: pingpanda") {
				t.Fatalf("exit %d, stderr %q; want 2 with %q and the usage", code, errOut, tt.want)
			}
		})
	}
}

func TestAConfigurationErrorListsEveryProblemAndExitsTwo(t *testing.T) {
	code, out, errOut := runCLI(t, []string{"ALERT_THRESHOLD=three", "RETRY_COUNT=0"})
	want := "pingpanda: the configuration has 2 problems:\n" +
		"  RETRY_COUNT: 0 is out of range (1 to 20)\n" +
		"  ALERT_THRESHOLD: \"three\" is not a whole number\n"
	if code != exitConfig || out != "" || !strings.HasSuffix(errOut, want) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and\n%s", code, out, errOut, want)
	}
}

func TestConfigCommandRedactsSecrets(t *testing.T) {
	const token = "XyZsecret123"
	env := []string{
		"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/" + token,
		"REDIS_URL=rediss://pp:" + token + "@redis.internal:6380/0",
		"PUSHGATEWAY_PASSWORD=" + token,
	}
	for _, args := range [][]string{{"config"}, {"config", "--json"}} {
		code, out, errOut := runCLI(t, env, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if strings.Contains(out+errOut, token) {
			t.Fatalf("%v: the secret appears in the output:\n%s\n%s", args, out, errOut)
		}
		if !strings.Contains(out, "hooks.slack.com/REDACTED") || !strings.Contains(out, "rediss://pp:REDACTED@redis.internal:6380") {
			t.Errorf("%v: redacted values should still name the endpoint:\n%s", args, out)
		}
	}
}

func TestConfigCommandPrintsSourcesAndTargets(t *testing.T) {
	code, out, _ := runCLI(t, []string{"DOMAINS=example.com", "ENABLE_DNS=true", "ENABLE_PING=true"}, "config", "--show-only-failure")
	for _, want := range []string{"DOMAINS=example.com", "# environment", "SHOW_ONLY_FAILURE=true", "# flag", "RETRY_COUNT=3", "# default", "#   dns:example.com", "#   ping:1.1.1.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
}

func TestSweepJSONReport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, loopbackEnv(srv.URL+"/ok", srv.URL+"/bad"), "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Results []map[string]any `json:"results"`
		Events  []any            `json:"events"`
		Alerts  map[string]int   `json:"alerts"`
		Dur     *float64         `json:"duration_seconds"`
		Summary map[string]int   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	if len(rep.Results) != 2 || rep.Events == nil || rep.Alerts == nil || rep.Dur == nil {
		t.Fatalf("report lacks results, events, alerts or duration: %s", out)
	}
	ok, bad := rep.Results[0], rep.Results[1]
	for _, k := range []string{"id", "check", "target", "status", "latency_seconds", "error", "attempts", "http_status"} {
		if _, has := ok[k]; !has {
			t.Errorf("result lacks %q: %v", k, ok)
		}
	}
	if ok["status"] != "up" || ok["http_status"] != 200.0 || ok["check"] != "http" || ok["id"] != "http:"+srv.URL+"/ok" {
		t.Errorf("first result = %v", ok)
	}
	if bad["status"] != "down" || bad["http_status"] != 500.0 || !strings.Contains(bad["error"].(string), "500") {
		t.Errorf("second result = %v", bad)
	}
	if rep.Summary["up"] != 1 || rep.Summary["down"] != 1 {
		t.Errorf("summary = %v", rep.Summary)
	}
}

func TestSweepTableAndFilters(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	env := loopbackEnv(srv.URL+"/ok", srv.URL+"/bad")
	tests := []struct {
		name          string
		args          []string
		wantOK, wantB bool
	}{
		{"the table shows every target", nil, true, true},
		{"--show-only-failure hides targets that are up", []string{"--show-only-failure"}, false, true},
		{"--show-only-success hides targets that are down", []string{"--show-only-success"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runCLI(t, env, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d", code)
			}
			if !strings.HasPrefix(out, "CHECK") || !strings.Contains(out, "2 targets: 1 up, 1 down in ") {
				t.Errorf("table lacks its header or summary:\n%s", out)
			}
			if got := strings.Contains(out, "/ok"); got != tt.wantOK {
				t.Errorf("row for /ok shown = %v, want %v:\n%s", got, tt.wantOK, out)
			}
			if got := strings.Contains(out, "status 503"); got != tt.wantB {
				t.Errorf("row for /bad shown = %v, want %v:\n%s", got, tt.wantB, out)
			}
		})
	}
}

func TestFailOnDownExitsThree(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close() // nothing listens there now
	for _, tt := range []struct {
		args []string
		want int
	}{{nil, exitOK}, {[]string{"--fail-on-down"}, exitDown}} {
		if code, _, _ := runCLI(t, loopbackEnv(closed), tt.args...); code != tt.want {
			t.Errorf("%v: exit %d, want %d", tt.args, code, tt.want)
		}
	}
}

func TestLogsAreJSONOffATerminalAndNeverShowSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	const token = "tok-9f8e7d"
	env := append(loopbackEnv(srv.URL), "DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/1/"+token, "VERBOSE=true")
	code, out, errOut := runCLI(t, env)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out+errOut, token) {
		t.Fatalf("the webhook token leaked:\n%s\n%s", out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
	}
	if !strings.Contains(errOut, `"level":"DEBUG"`) || !strings.Contains(errOut, `"msg":"sweep done"`) {
		t.Errorf("VERBOSE should log at DEBUG; logs:\n%s", errOut)
	}
}

// silentServer accepts requests and never answers them, until the client
// gives up or the test ends.
func silentServer(t *testing.T) *httptest.Server {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	return srv
}

func TestTheTimeoutFlagBoundsTheSweep(t *testing.T) {
	// A server that never answers, a 10 s attempt timeout, and --timeout 1s.
	srv := silentServer(t)
	start := time.Now()
	code, out, _ := runCLI(t, loopbackEnv(srv.URL), "--timeout", "1s", "--json")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("the sweep took %v with --timeout 1s", elapsed)
	}
	if code != exitOK || !strings.Contains(out, `"timed_out": true`) || !strings.Contains(out, "sweep deadline reached") {
		t.Fatalf("exit %d; want the target reported as timed out:\n%s", code, out)
	}
}

func TestAnInterruptedSweepPrintsItsReportAndExitsOne(t *testing.T) {
	srv := silentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel) // as SIGTERM would
	var stdout, stderr syncLog                   // go-redis may log from its own goroutines
	statePath := filepath.Join(t.TempDir(), "state.json")
	env := append(loopbackEnv(srv.URL), "STATE_FILE="+statePath)
	code := run(ctx, []string{"--json"}, stdio{stdout: &stdout, stderr: &stderr, environ: env, now: time.Now})
	if code != exitFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	out := stdout.String()
	if !strings.Contains(out, `"interrupted": true`) || !strings.Contains(out, "sweep cancelled during attempt 1") {
		t.Fatalf("report should say the sweep was interrupted:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "sweep interrupted") {
		t.Errorf("log should say the sweep was interrupted:\n%s", stderr.String())
	}
	// The state was saved, and the check the signal cut short did not
	// count as a failure of its target.
	_, st, _ := runCLI(t, env, "status", "--json")
	if !strings.Contains(st, `"checks": 0`) || !strings.Contains(st, `"failures": 0`) || !strings.Contains(st, `"status": "unknown"`) {
		t.Errorf("stored state after the interrupted sweep:\n%s", st)
	}
}
