package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/redistest"
)

// silenceMonitors is a monitors file of four monitors, two in group shop;
// nothing listens at their addresses, and no test probes them.
const silenceMonitors = `groups:
  - name: shop
    labels: {severity: page}
    monitors:
      - {name: shop-api, check: http, target: "http://127.0.0.1:9/health"}
      - {name: shop-web, check: http, target: "http://127.0.0.1:9/"}
monitors:
  - {name: login, check: http, target: "http://127.0.0.1:9/login", labels: {team: web}}
  - {check: tcp, target: "127.0.0.1:9"}
`

// silenceEnv is an environment with silenceMonitors, the user ada and a
// state file of its own, plus more.
func silenceEnv(t *testing.T, more ...string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "monitors.yaml")
	if err := os.WriteFile(path, []byte(silenceMonitors), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"TARGETS_FILE=" + path, "USER=ada", "STATE_FILE=" + filepath.Join(t.TempDir(), "state.json")}
	return append(env, more...)
}

var silenceStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clockAt reads *at, so a test moves time by setting it.
func clockAt(at *time.Time) func() time.Time { return func() time.Time { return *at } }

var silenceIDPattern = regexp.MustCompile(`^s-[0-9a-f]{8}$`)

// addSilence runs silence add and returns the ID it printed.
func addSilence(t *testing.T, now func() time.Time, env []string, args ...string) (id, stderr string) {
	t.Helper()
	code, stdout, stderr := runCLIAt(t, now, env, append([]string{"silence", "add"}, args...)...)
	if code != exitOK {
		t.Fatalf("silence add: exit %d: %s", code, stderr)
	}
	id = strings.TrimSuffix(stdout, "\n")
	if !silenceIDPattern.MatchString(id) {
		t.Fatalf("silence add printed %q, want one silence ID", stdout)
	}
	return id, stderr
}

// listedSilences is silence list --json.
func listedSilences(t *testing.T, now func() time.Time, env []string, args ...string) []silenceJSON {
	t.Helper()
	code, stdout, stderr := runCLIAt(t, now, env, append([]string{"silence", "list", "--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("silence list: exit %d: %s", code, stderr)
	}
	var got []silenceJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("silence list --json printed %q: %v", stdout, err)
	}
	return got
}

func TestSilenceAddListRm(t *testing.T) {
	backends := map[string]func(t *testing.T) []string{
		"on the state file": func(t *testing.T) []string {
			return silenceEnv(t)
		},
		"on redis-server": func(t *testing.T) []string {
			rs := redistest.Start(t, redistest.Options{})
			return silenceEnv(t, "REDIS_URL="+rs.URL())
		},
	}
	for name, env := range backends {
		t.Run(name, func(t *testing.T) {
			env := env(t)
			now := silenceStart
			clock := clockAt(&now)

			id, stderr := addSilence(t, clock, env, "--match", "group=shop", "--for", "2h", "--reason", "shop deploy\tv2")
			if want := "silences 2 of 4 monitors until 2026-03-01T14:00:00Z"; !strings.Contains(stderr, want) {
				t.Errorf("stderr %q, want %q", stderr, want)
			}
			other, _ := addSilence(t, clock, env, "--match=tcp", "--for=3d", "--reason=network work")

			got := listedSilences(t, clock, env)
			if len(got) != 2 || got[0].ID != id || got[1].ID != other {
				t.Fatalf("listed %+v, want %s then %s", got, id, other)
			}
			s := got[0]
			if s.Match != "group=shop" || s.Reason != "shop deploy\tv2" || s.By != "ada" || !s.Active ||
				!s.Created.Equal(silenceStart) || !s.Expires.Equal(silenceStart.Add(2*time.Hour)) {
				t.Errorf("listed %+v", s)
			}
			if !got[1].Expires.Equal(silenceStart.Add(72 * time.Hour)) {
				t.Errorf("--for 3d expires %v", got[1].Expires)
			}

			code, stdout, stderr := runCLIAt(t, clock, env, "silence", "list")
			if code != exitOK {
				t.Fatalf("silence list: exit %d: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != 3 || !regexp.MustCompile(`^ID +MATCH +UNTIL +BY +REASON$`).MatchString(lines[0]) ||
				!regexp.MustCompile(`^`+id+` +group=shop +2026-03-01T14:00:00Z +ada +shop deploy v2$`).MatchString(lines[1]) {
				t.Errorf("silence list printed:\n%s", stdout)
			}

			code, _, stderr = runCLIAt(t, clock, env, "silence", "rm", id)
			if code != exitOK || !strings.Contains(stderr, id) {
				t.Errorf("silence rm: exit %d: %s", code, stderr)
			}
			if got := listedSilences(t, clock, env); len(got) != 1 || got[0].ID != other {
				t.Errorf("after rm, listed %+v, want only %s", got, other)
			}
			code, _, stderr = runCLIAt(t, clock, env, "silence", "rm", id)
			if code != exitFailed || !strings.Contains(stderr, "no silence "+id) {
				t.Errorf("silence rm of a removed silence: exit %d: %s; want 1 saying there is no such silence", code, stderr)
			}
		})
	}
}

func TestSilenceCountsWhatItMatches(t *testing.T) {
	env := silenceEnv(t)
	for _, tc := range []struct {
		match, want string
	}{
		{"label:severity=page", "silences 2 of 4 monitors"},
		{"label:team=web", "silences 1 of 4 monitors"},
		{"TCP", "silences 1 of 4 monitors"},
		{"http:*", "silences 3 of 4 monitors"},
		{"shop-*", "silences 2 of 4 monitors"}, // by name
		{"*", "silences 4 of 4 monitors"},
		{"group=nosuch", "silences 0 of 4 monitors until 2026-03-01T13:00:00Z; group=nosuch matches none now"},
	} {
		t.Run(tc.match, func(t *testing.T) {
			_, stderr := addSilence(t, clockAt(&silenceStart), env, "--match", tc.match, "--for", "1h", "--reason", "r")
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want %q", stderr, tc.want)
			}
		})
	}
}

func TestSilenceEndsByTheClock(t *testing.T) {
	env := silenceEnv(t)
	now := silenceStart
	clock := clockAt(&now)
	id, _ := addSilence(t, clock, env, "--match", "login", "--for", "90m", "--reason", "r")

	now = silenceStart.Add(90*time.Minute - time.Nanosecond)
	if got := listedSilences(t, clock, env); len(got) != 1 || got[0].ID != id || !got[0].Active {
		t.Errorf("just before it ends: listed %+v, want %s in force", got, id)
	}
	now = silenceStart.Add(90 * time.Minute)
	if got := listedSilences(t, clock, env); len(got) != 0 {
		t.Errorf("once it ended: listed %+v, want none", got)
	}
	if got := listedSilences(t, clock, env, "--all"); len(got) != 1 || got[0].ID != id || got[0].Active {
		t.Errorf("--all once it ended: listed %+v, want %s, not active", got, id)
	}
	code, stdout, _ := runCLIAt(t, clock, env, "silence", "list")
	if code != exitOK || !strings.Contains(stdout, "no silences in force") {
		t.Errorf("silence list: exit %d: %q", code, stdout)
	}
	code, stdout, _ = runCLIAt(t, clock, env, "silence", "list", "--all")
	if code != exitOK || !strings.Contains(stdout, "2026-03-01T13:30:00Z (ended)") {
		t.Errorf("silence list --all: exit %d: %q", code, stdout)
	}
}

func TestSilenceRefusesBadArguments(t *testing.T) {
	env := silenceEnv(t)
	good := []string{"--match", "group=shop", "--for", "2h", "--reason", "deploy"}
	without := func(flag string) []string {
		var out []string
		for i := 0; i < len(good); i += 2 {
			if good[i] != flag {
				out = append(out, good[i], good[i+1])
			}
		}
		return out
	}
	with := func(flag, value string) []string { return append(without(flag), flag, value) }
	add := func(args ...string) []string { return append([]string{"silence", "add"}, args...) }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --match", add(without("--match")...), "--match is required"},
		{"an empty group", add(with("--match", "group=")...), "--match: selector \"group=\""},
		{"a label without a value", add(with("--match", "label:team")...), "--match: selector \"label:team\""},
		{"no --for", add(without("--for")...), "--for is required"},
		{"a --for that is no duration", add(with("--for", "2 hours")...), `--for: "2 hours" is not a duration`},
		{"a --for of zero", add(with("--for", "0s")...), `--for: "0s" is not a positive duration`},
		{"a negative --for", add(with("--for", "-1h")...), `--for: "-1h" is not a positive duration`},
		{"a --for over 90 days", add(with("--for", "91d")...), `--for: "91d" is longer than 90 days`},
		{"a --for of 90 days and a minute", add(with("--for", "90d1m")...), `--for: "90d1m" is longer than 90 days`},
		{"no --reason", add(without("--reason")...), "--reason is required"},
		{"a blank --reason", add(with("--reason", "  ")...), "--reason is required"},
		{"--all with add", add(append(good, "--all")...), "--all applies to silence list only"},
		{"--json with add", add(append(good, "--json")...), "--json applies to silence list only"},
		{"--match with list", []string{"silence", "list", "--match", "x"}, "--match applies to silence add only"},
		{"--match without silence", []string{"status", "--match", "x"}, "--match applies to the silence command only"},
		{"an argument to add", add(append(good, "extra")...), `unexpected argument "extra"`},
		{"rm without an ID", []string{"silence", "rm"}, "silence rm needs the silence's ID"},
		{"rm of two IDs", []string{"silence", "rm", "s-1", "s-2"}, `unexpected argument "s-2"`},
		{"no action", []string{"silence"}, "silence needs an action: add, list or rm"},
		{"an unknown action", []string{"silence", "mute"}, `unknown silence action "mute" (want add, list or rm)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLIAt(t, clockAt(&silenceStart), env, tc.args...)
			if code != exitUsageErr || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", code, stdout, stderr, tc.want)
			}
		})
	}
	if got := listedSilences(t, clockAt(&silenceStart), env); len(got) != 0 {
		t.Errorf("refused silences were stored: %+v", got)
	}
}

func TestSilenceForAcceptsDays(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"2h": 2 * time.Hour, "90m": 90 * time.Minute, "3d": 72 * time.Hour, "1d12h": 36 * time.Hour,
		"90d": 90 * 24 * time.Hour, "1s": time.Second,
	} {
		if got, err := parseSilenceFor(in); err != nil || got != want {
			t.Errorf("parseSilenceFor(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "3", "1.5d", "3days", "1d-1h", "99999999999999999999d", "2160h1ns"} {
		if got, err := parseSilenceFor(in); err == nil {
			t.Errorf("parseSilenceFor(%q) = %v, want an error", in, got)
		}
	}
}

func TestSilenceRmOfAnUnknownID(t *testing.T) {
	code, stdout, stderr := runCLIAt(t, clockAt(&silenceStart), silenceEnv(t), "silence", "rm", "s-00000000")
	if code != exitFailed || stdout != "" || !strings.Contains(stderr, "no silence s-00000000 in file ") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming the ID and the store", code, stdout, stderr)
	}
}

func TestSilenceByIsUserAtHost(t *testing.T) {
	var stdout, stderr syncLog
	env := testEnv(t, silenceEnv(t))
	code := run(context.Background(), []string{"silence", "add", "--match", "tcp", "--for", "1h", "--reason", "r"},
		stdio{stdout: &stdout, stderr: &stderr, environ: env, now: clockAt(&silenceStart), hostname: "laptop"})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := listedSilences(t, clockAt(&silenceStart), env); len(got) != 1 || got[0].By != "ada@laptop" {
		t.Errorf("listed %+v, want one by ada@laptop", got)
	}
}

// The URL's password appears in no output, whatever fails.
func TestSilenceNeverShowsTheRedisPassword(t *testing.T) {
	const password = "hunter2secret"
	rs := redistest.Start(t, redistest.Options{}) // wants no password: AUTH fails
	down := redistest.Start(t, redistest.Options{})
	down.Kill() // nothing listens there
	for name, url := range map[string]string{
		"refused by the server": "redis://user:" + password + "@" + rs.Addr + "/0",
		"nothing listening":     "redis://:" + password + "@" + down.Addr + "/0",
	} {
		t.Run(name, func(t *testing.T) {
			env := silenceEnv(t, "REDIS_URL="+url)
			commands := [][]string{
				{"silence", "add", "--match", "tcp", "--for", "1h", "--reason", "r"},
				{"silence", "list"},
				{"silence", "list", "--json", "--all"},
				{"silence", "rm", "s-00000000"},
			}
			if name == "nothing listening" {
				commands = commands[:1] // each waits out the client's retries
			}
			for _, args := range commands {
				code, stdout, stderr := runCLIAt(t, clockAt(&silenceStart), env, args...)
				if code != exitFailed {
					t.Errorf("%v: exit %d, want 1: %s", args, code, stderr)
				}
				if strings.Contains(stdout+stderr, password) {
					t.Errorf("%v shows the password:\n%s%s", args, stdout, stderr)
				}
			}
		})
	}
}

func TestUsageNamesTheSilenceCommand(t *testing.T) {
	code, _, stderr := runCLIAt(t, time.Now, nil, "help")
	if code != exitOK || !strings.Contains(stderr, "silence add --match SELECTOR --for 2h --reason TEXT") {
		t.Errorf("help: exit %d: %s", code, stderr)
	}
	code, _, stderr = runCLIAt(t, time.Now, nil, "mute")
	if code != exitUsageErr || !strings.Contains(stderr, "want sweep, serve, status, config or silence") {
		t.Errorf("an unknown command: exit %d: %s", code, stderr)
	}
}

// A sweep rewrites the state it loaded; a silence added from another
// process between its Load and its Save is not lost, on either store.
func TestSilenceAddedDuringASweepSurvivesIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	backends := map[string]func(t *testing.T) []string{
		"on the state file": func(t *testing.T) []string {
			return []string{"STATE_FILE=" + filepath.Join(t.TempDir(), "state.json")}
		},
		"on redis-server": func(t *testing.T) []string {
			return []string{"REDIS_URL=" + redistest.Start(t, redistest.Options{}).URL()}
		},
	}
	for name, store := range backends {
		t.Run(name, func(t *testing.T) {
			env := testEnv(t, append(loopbackEnv(srv.URL), store(t)...))
			var id string
			var stdout, stderr syncLog
			code := run(context.Background(), nil, stdio{
				stdout: &stdout, stderr: &stderr, environ: env, now: clockAt(&silenceStart),
				afterLoad: func() {
					id, _ = addSilence(t, clockAt(&silenceStart), env, "--match", "http:*", "--for", "1h", "--reason", "r")
				},
			})
			if code != exitOK {
				t.Fatalf("sweep: exit %d: %s", code, stderr.String())
			}
			if got := listedSilences(t, clockAt(&silenceStart), env); len(got) != 1 || got[0].ID != id {
				t.Errorf("after the sweep, listed %+v, want %s", got, id)
			}
		})
	}
}
