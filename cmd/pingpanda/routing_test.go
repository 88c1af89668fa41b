package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/redistest"
)

// routingWorld is two monitors of one flaky server, one of them paging,
// and two channels: pager (a webhook) and team (Slack's format).
type routingWorld struct {
	*alertWorld
	pager, team *receiver
}

func newRoutingWorld(t *testing.T, extraYAML string) *routingWorld {
	srv, down := flakyServer(t)
	w := &routingWorld{alertWorld: &alertWorld{down: down.Store, target: srv.URL, clock: time.Date(2030, 5, 6, 2, 0, 0, 0, time.UTC)},
		pager: &receiver{}, team: &receiver{}}
	hooks := http.NewServeMux()
	hooks.Handle("/pager/secret-token", w.pager)
	hooks.Handle("/team/secret-token", w.team)
	hs := httptest.NewServer(hooks)
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	file := filepath.Join(dir, "monitors.yaml")
	body := fmt.Sprintf(`channels:
  pager: {type: webhook, url: "${PAGER_URL}", secret: "${PAGER_SECRET}"}
  team:  {type: slack, url: "%s/team/secret-token"}
routes:
  - match: {labels: {severity: page}}
    channels: [pager, team]
  - match: {check: tcp}
    channels: []
  - channels: [team]
groups:
  - name: shop
    labels: {severity: page}
    monitors:
      - {name: checkout, check: http, target: "%s/checkout"}
monitors:
  - {name: blog, check: http, target: "%s/blog"}
  - {name: port, check: tcp, target: "127.0.0.1:1"}
%s`, hs.URL, srv.URL, srv.URL, extraYAML)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = []string{"ENABLE_DNS=false", "ENABLE_PING=false", "RETRY_COUNT=1", "SWEEP_TIMEOUT_SECONDS=10",
		"TARGETS_FILE=" + file, "STATE_FILE=" + filepath.Join(dir, "state.json"),
		"ENABLE_ADAPTIVE_BACKOFF=false", "ALERT_THRESHOLD=1", "NOTIFICATION_RETRY_BACKOFF_SECONDS=0",
		"PAGER_URL=" + hs.URL + "/pager/secret-token", "PAGER_SECRET=hmac-secret-token"}
	return w
}

func TestEventsGoWhereTheirRoutesSay(t *testing.T) {
	w := newRoutingWorld(t, "")
	w.down(true)
	rep, _ := w.sweep(t)
	if got := len(w.pager.delivered()); got != 1 {
		t.Errorf("pager received %d alerts; want 1, the paging monitor's", got)
	}
	team := w.team.delivered()
	if len(team) != 2 || !strings.Contains(strings.Join(team, ""), "checkout") || !strings.Contains(strings.Join(team, ""), "blog") {
		t.Errorf("team received %d alerts, want checkout's and blog's:\n%v", len(team), team)
	}
	// The tcp monitor (a closed port) is down too, and its route sends
	// it nowhere: counted.
	if rep.Alerts.Unrouted != 1 {
		t.Errorf("unrouted %d; want the tcp monitor's down", rep.Alerts.Unrouted)
	}
	w.down(false)
	w.sweep(t)
	if got := len(w.pager.delivered()); got != 1 {
		t.Errorf("pager received %d recoveries; want 1", got)
	}
	if got := len(w.team.delivered()); got != 2 {
		t.Errorf("team received %d recoveries; want 2", got)
	}
}

func TestAMaintenanceWindowHoldsAlertsAndAnnouncesWhatIsStillDownWhenItEnds(t *testing.T) {
	// From 03:00 UTC for an hour, every day, for the shop group.
	w := newRoutingWorld(t, "maintenance:\n  - {match: {group: shop}, schedule: \"0 3 * * *\", duration: 1h}\n")
	w.clock = time.Date(2030, 5, 6, 3, 10, 0, 0, time.UTC)
	w.down(true)
	rep, _ := w.sweep(t)
	if got := w.pager.delivered(); len(got) != 0 {
		t.Fatalf("pager received %d alerts inside the window", len(got))
	}
	if got := w.team.delivered(); len(got) != 1 || !strings.Contains(got[0], "blog") {
		t.Fatalf("team received %v; want blog's alert alone (blog is not in the window)", got)
	}
	if rep.Alerts.Held != 1 || rep.Summary["silenced"] != 1 {
		t.Errorf("report: held %d, silenced %d; want 1 and 1", rep.Alerts.Held, rep.Summary["silenced"])
	}
	// Still down at 03:30: nothing more.
	w.clock = time.Date(2030, 5, 6, 3, 30, 0, 0, time.UTC)
	w.sweep(t)
	if n := len(w.pager.delivered()) + len(w.team.delivered()); n != 0 {
		t.Fatalf("%d alerts inside the window", n)
	}
	// The window ends at 04:00; checkout is still down: its down, once.
	w.clock = time.Date(2030, 5, 6, 4, 0, 0, 0, time.UTC)
	w.sweep(t)
	if got := w.pager.delivered(); len(got) != 1 || !strings.Contains(got[0], `"kind":"down"`) {
		t.Fatalf("pager received %v after the window; want checkout's down", got)
	}
	if got := w.team.delivered(); len(got) != 1 || !strings.Contains(got[0], "checkout") {
		t.Fatalf("team received %v after the window; want checkout's down", got)
	}
	w.sweep(t)
	if n := len(w.pager.delivered()) + len(w.team.delivered()); n != 0 {
		t.Fatalf("the released down was announced again: %d alerts", n)
	}
}

func TestAnIncidentInsideAMaintenanceWindowIsNeverAnnounced(t *testing.T) {
	w := newRoutingWorld(t, "maintenance:\n  - {match: {group: shop}, schedule: \"0 3 * * *\", duration: 1h}\n")
	w.clock = time.Date(2030, 5, 6, 3, 10, 0, 0, time.UTC)
	w.down(true)
	w.sweep(t)
	w.down(false)
	w.clock = time.Date(2030, 5, 6, 3, 20, 0, 0, time.UTC)
	rep, _ := w.sweep(t)
	if rep.Alerts.Withheld != 1 {
		t.Errorf("withheld %d; want the recovery", rep.Alerts.Withheld)
	}
	w.clock = time.Date(2030, 5, 6, 4, 30, 0, 0, time.UTC)
	w.sweep(t)
	if got := w.pager.delivered(); len(got) != 0 {
		t.Fatalf("pager received %d alerts of an incident inside the window", len(got))
	}
}

// TestASilenceSetByAnotherProcessHoldsTheSweepsOfThisOne sets a silence
// with the built binary, as from a laptop, against the Redis the sweeps
// use: the sweeps hold the silenced monitors' alerts, and once the
// silence is removed the incident still open is announced, once.
func TestASilenceSetByAnotherProcessHoldsTheSweepsOfThisOne(t *testing.T) {
	bin := buildBinary(t, "")
	w := newRoutingWorld(t, "")
	w.env = append(w.env, "REDIS_URL="+redistest.Start(t, redistest.Options{}).URL())
	// The binary reads the wall clock; so do these sweeps, from it on.
	w.clock = time.Now().UTC()
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "USER=ops"}, w.env...)
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("pingpanda %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	id := cli("silence", "add", "--match", "group=shop", "--for", "2h", "--reason", "deploy")

	w.down(true)
	rep, _ := w.sweep(t)
	if got := w.pager.delivered(); len(got) != 0 {
		t.Fatalf("pager received %d alerts of a silenced monitor", len(got))
	}
	if got := w.team.delivered(); len(got) != 1 || !strings.Contains(got[0], "blog") {
		t.Fatalf("team received %v; want blog's alert alone", got)
	}
	silenced := map[string]string{}
	for _, r := range rep.Results {
		silenced[r.ID] = r.SilencedBy
	}
	if rep.Summary["silenced"] != 1 || rep.Alerts.Held != 1 {
		t.Errorf("silenced %d (%v), held %d; want the shop group's monitor silenced and its down held", rep.Summary["silenced"], silenced, rep.Alerts.Held)
	}
	var sawID bool
	for _, by := range silenced {
		sawID = sawID || by == id
	}
	if !sawID {
		t.Errorf("no result names silence %s: %v", id, silenced)
	}

	cli("silence", "rm", id)
	w.sweep(t)
	if got := w.pager.delivered(); len(got) != 1 || !strings.Contains(got[0], `"kind":"down"`) {
		t.Fatalf("pager received %v once the silence was removed; want checkout's down", got)
	}
	w.sweep(t)
	if n := len(w.pager.delivered()); n != 0 {
		t.Fatalf("the released down was sent again: %d", n)
	}
}

func TestStatusAndConfigRoutesShowSilencesAndRoutes(t *testing.T) {
	w := newRoutingWorld(t, "maintenance:\n  - {match: {check: tcp}, schedule: \"0 2 * * *\", duration: 3h}\n")
	at := w.clock // 02:00 UTC: the window is open
	clock := func() time.Time { return at }
	code, out, errOut := runCLIAt(t, clock, w.env, "silence", "add", "--match", "label:severity=page", "--for", "2h", "--reason", "deploy of the shop")
	if code != exitOK {
		t.Fatalf("silence add: exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	code, out, errOut = runCLIAt(t, clock, w.env, "status", "--json")
	if code != exitOK {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st struct {
		Targets []struct {
			Name          string
			SilencedUntil string `json:"silenced_until"`
			SilencedBy    string `json:"silenced_by"`
		}
		Silences []struct {
			ID, Match, Reason, Expires string
			Monitors                   int
		}
		Channels []struct{ Provider string }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(st.Silences) != 1 || st.Silences[0].ID != id || st.Silences[0].Monitors != 1 || st.Silences[0].Expires != "2030-05-06T04:00:00Z" {
		t.Errorf("silences %+v; want %s holding checkout until 04:00", st.Silences, id)
	}
	silenced := map[string]string{}
	for _, r := range st.Targets {
		silenced[r.Name] = r.SilencedBy + "@" + r.SilencedUntil
	}
	if got := silenced["checkout"]; got != id+"@2030-05-06T04:00:00Z" {
		t.Errorf("checkout silenced %q", got)
	}
	if got := silenced["port"]; !strings.HasPrefix(got, "maintenance ") || !strings.HasSuffix(got, "@2030-05-06T05:00:00Z") {
		t.Errorf("port silenced %q; want the maintenance window until 05:00", got)
	}
	if got := silenced["blog"]; got != "@" {
		t.Errorf("blog silenced %q", got)
	}
	var names []string
	for _, c := range st.Channels {
		names = append(names, c.Provider)
	}
	if strings.Join(names, ",") != "pager,team" {
		t.Errorf("status channels %v; want the monitors file's", names)
	}

	code, out, errOut = runCLIAt(t, clock, w.env, "config", "--routes")
	if code != exitOK {
		t.Fatalf("config --routes: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"pager  webhook", "label severity=page", "→ pager, team", "open now, until 2030-05-06T05:00:00Z", "checkout"} {
		if !strings.Contains(out, want) {
			t.Errorf("config --routes lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-token") {
		t.Errorf("config --routes shows a secret:\n%s", out)
	}
	if code, _, errOut := runCLIAt(t, clock, w.env, "status", "--routes"); code != exitUsageErr || !strings.Contains(errOut, "--routes applies to the config command") {
		t.Errorf("status --routes: exit %d: %s", code, errOut)
	}
}
