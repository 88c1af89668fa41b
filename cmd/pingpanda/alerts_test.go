package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver stands in for a webhook provider: it records every request
// body and answers with the status its mode function gives.
type receiver struct {
	mu     sync.Mutex
	bodies []string
	status func() int // nil: 200
	hang   bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if rc.hang {
		<-r.Context().Done()
		return
	}
	rc.mu.Lock()
	code := http.StatusOK
	if rc.status != nil {
		code = rc.status()
	}
	if code < 300 {
		rc.bodies = append(rc.bodies, string(b))
	}
	rc.mu.Unlock()
	w.WriteHeader(code)
}

// delivered returns and forgets the bodies accepted so far.
func (rc *receiver) delivered() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	b := rc.bodies
	rc.bodies = nil
	return b
}

var eventIDPattern = regexp.MustCompile(`Event ID[^0-9a-f]*([0-9a-f]{24})`)

// alertWorld is a flaky target, three receivers and a state file.
type alertWorld struct {
	down                  func(bool)
	target                string // the flaky target's URL; any path answers alike
	slack, teams, discord *receiver
	env                   []string
	clock                 time.Time
}

func newAlertWorld(t *testing.T, extra ...string) *alertWorld {
	srv, down := flakyServer(t)
	w := &alertWorld{down: down.Store, target: srv.URL, slack: &receiver{}, teams: &receiver{}, discord: &receiver{},
		clock: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	hooks := http.NewServeMux()
	hooks.Handle("/slack/T0/B0/secret-token", w.slack)
	hooks.Handle("/teams/workflow/secret-token", w.teams)
	hooks.Handle("/discord/123/secret-token", w.discord)
	hs := httptest.NewServer(hooks)
	t.Cleanup(hs.Close)
	w.env = append(loopbackEnv(srv.URL),
		"STATE_FILE="+filepath.Join(t.TempDir(), "state.json"),
		"ENABLE_ADAPTIVE_BACKOFF=false", "ALERT_THRESHOLD=3", "ALERT_SOURCE_NAME=probe-host",
		"NOTIFICATION_RETRY_BACKOFF_SECONDS=0",
		"SLACK_WEBHOOK_URL="+hs.URL+"/slack/T0/B0/secret-token",
		"TEAMS_WEBHOOK_URL="+hs.URL+"/teams/workflow/secret-token",
		"DISCORD_WEBHOOK_URL="+hs.URL+"/discord/123/secret-token")
	w.env = append(w.env, extra...)
	return w
}

// sweep runs one invocation a minute after the last.
func (w *alertWorld) sweep(t *testing.T, args ...string) (sweepReport, string) {
	t.Helper()
	now := w.clock
	w.clock = w.clock.Add(time.Minute)
	code, out, errOut := runCLIAt(t, func() time.Time { return now }, w.env, append([]string{"--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, "secret-token") {
		t.Fatalf("a webhook token leaked into the report or the log:\n%s\n%s", out, errOut)
	}
	return decodeReport(t, out), errOut
}

func TestEachIncidentIsAnnouncedOncePerProviderAndItsRecoveryOnce(t *testing.T) {
	w := newAlertWorld(t)
	w.down(true)
	steps := []struct {
		name string
		down bool
		want string // the alert each provider receives, by the word in its title
	}{
		{"first failure", true, ""},
		{"second failure", true, ""},
		{"third failure crosses the threshold", true, "🔴"},
		{"still down", true, ""},
		{"recovered", false, "✅"},
		{"still up", false, ""},
	}
	for _, st := range steps {
		w.down(st.down)
		w.sweep(t)
		for name, rc := range map[string]*receiver{"slack": w.slack, "teams": w.teams, "discord": w.discord} {
			got := rc.delivered()
			switch {
			case st.want == "" && len(got) != 0:
				t.Fatalf("%s: %s received %d messages, want none:\n%v", st.name, name, len(got), got)
			case st.want != "" && (len(got) != 1 || !strings.Contains(got[0], st.want)):
				t.Fatalf("%s: %s received %v, want exactly one %s message", st.name, name, got, st.want)
			}
		}
	}
}

func TestAnAlertAWebhookRefusesArrivesOnceWhenItRecoversWithTheSameEventID(t *testing.T) {
	w := newAlertWorld(t, "ALERT_THRESHOLD=1", "NOTIFICATION_RETRY_ATTEMPTS=2")
	failing := true
	var mu sync.Mutex
	w.slack.status = func() int {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	w.down(true)
	rep, _ := w.sweep(t) // the down alert: Slack refuses, Discord and Teams take it
	first := w.discord.delivered()
	if len(first) != 1 || len(w.teams.delivered()) != 1 {
		t.Fatalf("first sweep: Discord and Teams should have the alert at once")
	}
	if rep.Alerts.Delivered != 2 || rep.Alerts.Pending != 1 || rep.Alerts.Tally("slack").Pending != 1 {
		t.Errorf("first sweep: alerts %+v; want 2 delivered, Slack's pending", rep.Alerts)
	}
	rep, _ = w.sweep(t) // Slack still refuses
	if got := w.slack.delivered(); len(got) != 0 || rep.Alerts.Pending != 1 {
		t.Fatalf("second sweep: Slack accepted %v while refusing (alerts %+v)", got, rep.Alerts)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	rep, _ = w.sweep(t)
	got := w.slack.delivered()
	if len(got) != 1 || rep.Alerts.Delivered != 1 || rep.Alerts.Pending != 0 {
		t.Fatalf("third sweep: Slack received %d messages (alerts %+v), want exactly the one queued", len(got), rep.Alerts)
	}
	want := eventIDPattern.FindStringSubmatch(first[0])
	m := eventIDPattern.FindStringSubmatch(got[0])
	if want == nil || m == nil || m[1] != want[1] || !strings.Contains(got[0], "🔴") {
		t.Fatalf("Slack's late message should be the same down alert, with the event ID Discord got (%v):\n%s", want, got[0])
	}
	w.sweep(t)
	if again := w.slack.delivered(); len(again) != 0 || len(w.discord.delivered()) != 0 {
		t.Fatalf("the alert was sent again after delivery: %v", again)
	}
}

func TestAWebhookThatNeverAnswersCannotPushTheSweepPastItsDeadline(t *testing.T) {
	w := newAlertWorld(t, "ALERT_THRESHOLD=1")
	w.slack.hang = true
	w.down(true)
	start := time.Now()
	_, log := w.sweep(t, "--timeout", "3s")
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("the sweep took %v with --timeout 3s", took)
	}
	if len(w.discord.delivered()) != 1 {
		t.Errorf("Discord should not wait for Slack")
	}
	if !strings.Contains(log, `"msg":"alert not delivered; it stays in the outbox for the next sweep","provider":"slack"`) {
		t.Errorf("the log should say Slack's alert waits for the next sweep:\n%s", log)
	}
}

func TestAlertsAreDeliveredEvenWhenATargetHangsUntilAShortDeadline(t *testing.T) {
	for _, timeout := range []string{"3s", "6s"} {
		t.Run("with --timeout "+timeout, func(t *testing.T) {
			silent := silentServer(t)
			w := newAlertWorld(t, "ALERT_THRESHOLD=1", "CHECK_WEBSITE="+silent.URL)
			rep, log := w.sweep(t, "--timeout", timeout)
			if len(w.slack.delivered()) != 1 || len(w.discord.delivered()) != 1 || rep.Alerts.Delivered != 3 {
				t.Fatalf("alerts %+v; a target hanging to the deadline must leave time to deliver:\n%s", rep.Alerts, log)
			}
		})
	}
}
