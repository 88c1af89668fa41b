package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
