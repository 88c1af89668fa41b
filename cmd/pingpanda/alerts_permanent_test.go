package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
)

// scriptedStatus answers the first len(script) requests from script, then
// 200, and counts the requests.
type scriptedStatus struct {
	mu     sync.Mutex
	script []int
	calls  int
}

func (s *scriptedStatus) next() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.script) == 0 {
		return http.StatusOK
	}
	code := s.script[0]
	s.script = s.script[1:]
	return code
}

func (s *scriptedStatus) set(script ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script, s.calls = script, 0
}

func (s *scriptedStatus) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// threeDownTargets is a world whose three http targets all go down at
// once, so that one sweep queues three down alerts for every provider,
// with the metrics in a textfile.
func threeDownTargets(t *testing.T) (*alertWorld, string) {
	textfile := filepath.Join(t.TempDir(), "pingpanda.prom")
	w := newAlertWorld(t, "ALERT_THRESHOLD=1", "NOTIFICATION_RETRY_ATTEMPTS=3", "METRICS_TEXTFILE="+textfile)
	w.env = append(w.env, "CHECK_WEBSITE="+w.target+"/a,"+w.target+"/b,"+w.target+"/c")
	w.down(true)
	return w, textfile
}

// logLines are the JSON log lines whose msg starts with prefix.
func logLines(t *testing.T, log, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, m)
		}
	}
	return out
}

func textfileHas(t *testing.T, path string, series ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		if !strings.Contains(string(b), s+"\n") {
			t.Errorf("the metrics lack %s:\n%s", s, b)
		}
	}
}

func TestARejectedAlertIsDroppedAndTheProvidersNextAlertsGoOut(t *testing.T) {
	w, textfile := threeDownTargets(t)
	slack := &scriptedStatus{script: []int{http.StatusBadRequest}}
	w.slack.status = slack.next

	rep, log := w.sweep(t)
	if got := len(w.slack.delivered()); got != 2 || slack.requests() != 3 {
		t.Fatalf("Slack took %d of 3 alerts in %d requests; want the 2 after the rejected one, the 400 not retried:\n%s", got, slack.requests(), log)
	}
	tally := rep.Alerts.Tally("slack")
	if tally.Rejected != 1 || tally.Delivered != 2 || tally.Pending != 0 || tally.Broken != nil || rep.Alerts.Rejected != 1 {
		t.Errorf("slack's alerts %+v (rejected in all %d); want 1 rejected, 2 delivered, none pending", *tally, rep.Alerts.Rejected)
	}
	if len(w.teams.delivered()) != 3 || len(w.discord.delivered()) != 3 || rep.Alerts.Delivered != 8 || rep.Alerts.Pending != 0 {
		t.Errorf("alerts %+v; Teams and Discord should have all three", rep.Alerts)
	}
	lines := logLines(t, log, "alert rejected by the provider and dropped")
	if len(lines) != 1 {
		t.Fatalf("%d rejection log lines, want 1:\n%s", len(lines), log)
	}
	l := lines[0]
	if l["level"] != "ERROR" || l["provider"] != "slack" || l["http_status"] != float64(400) || l["kind"] != "down" ||
		!strings.HasPrefix(l["id"].(string), "http:"+w.target+"/") || len(l["event_id"].(string)) != 24 {
		t.Errorf("the rejection should be an ERROR naming provider, event, target and status: %v", l)
	}
	textfileHas(t, textfile, `pingpanda_alerts_rejected{provider="slack"} 1`, `pingpanda_alerts_rejected{provider="teams"} 0`,
		`pingpanda_alert_channel_broken{provider="slack"} 0`)

	rep, _ = w.sweep(t)
	if got := w.slack.delivered(); len(got) != 0 || slack.requests() != 3 || rep.Alerts.Pending != 0 {
		t.Errorf("the next sweep sent Slack %d more requests (alerts %+v); the rejected alert must not come back", slack.requests()-3, rep.Alerts)
	}
	textfileHas(t, textfile, `pingpanda_alerts_rejected{provider="slack"} 0`)
}

func TestABrokenWebhookKeepsItsAlertsAndSaysSoEverywhere(t *testing.T) {
	w, textfile := threeDownTargets(t)
	slack := &scriptedStatus{}
	slack.set(http.StatusNotFound, http.StatusNotFound)
	w.slack.status = slack.next

	rep, log := w.sweep(t)
	if slack.requests() != 1 || len(w.slack.delivered()) != 0 {
		t.Fatalf("Slack got %d requests; want 1: a broken channel is not tried again in the sweep", slack.requests())
	}
	tally := rep.Alerts.Tally("slack")
	want := report.BrokenChannel{HTTPStatus: 404, Reason: "the Slack webhook answered HTTP 404: the webhook was deleted or its URL is wrong", Fix: "SLACK_WEBHOOK_URL"}
	if tally.Broken == nil || *tally.Broken != want || tally.Pending != 3 || tally.Rejected != 0 || !slices.Equal(rep.Alerts.ChannelsBroken, []string{"slack"}) {
		t.Errorf("slack's alerts %+v, broken %+v, channels broken %v; want all 3 pending and the channel broken", *tally, tally.Broken, rep.Alerts.ChannelsBroken)
	}
	if len(w.teams.delivered()) != 3 || len(w.discord.delivered()) != 3 {
		t.Errorf("Teams and Discord should have all three alerts")
	}
	lines := logLines(t, log, "alert channel broken: ")
	if len(lines) != 1 || lines[0]["level"] != "ERROR" || lines[0]["provider"] != "slack" ||
		lines[0]["msg"] != "alert channel broken: the Slack webhook answered HTTP 404: the webhook was deleted or its URL is wrong; fix SLACK_WEBHOOK_URL; its alerts stay in the outbox and are sent once it is fixed" {
		t.Errorf("want one ERROR saying what to fix, got %v:\n%s", lines, log)
	}
	textfileHas(t, textfile, `pingpanda_alert_channel_broken{provider="slack"} 1`, `pingpanda_alert_channel_broken{provider="discord"} 0`,
		`pingpanda_alerts_pending 3`)

	// `pingpanda status` reads it back from the outbox, as JSON and as a table.
	code, out, errOut := runCLIAt(t, func() time.Time { return w.clock }, w.env, "status", "--json")
	var st struct {
		Channels []report.StatusChannel `json:"channels"`
	}
	if err := json.Unmarshal([]byte(out), &st); code != exitOK || err != nil {
		t.Fatalf("status: exit %d, %v: %s", code, err, errOut)
	}
	if len(st.Channels) != 3 || st.Channels[0].Provider != "slack" || st.Channels[0].Pending != 3 || st.Channels[0].Broken == nil ||
		*st.Channels[0].Broken != want || st.Channels[1].Broken != nil || st.Channels[1].Pending != 0 {
		t.Errorf("status channels %+v; want slack broken with 3 pending, the others fine", st.Channels)
	}
	_, table, _ := runCLIAt(t, func() time.Time { return w.clock }, w.env, "status")
	if !strings.Contains(table, "alerts slack: 3 pending since 2026-11-24T03:00:00Z; CHANNEL BROKEN: the Slack webhook answered HTTP 404: the webhook was deleted or its URL is wrong; fix SLACK_WEBHOOK_URL\n") ||
		!strings.Contains(table, "alerts teams: nothing pending\n") {
		t.Errorf("the status table should say the Slack channel is broken:\n%s", table)
	}

	// Still broken: the sweep's table says so too, and tries Slack once.
	now := w.clock
	w.clock = w.clock.Add(time.Minute)
	code, out, _ = runCLIAt(t, func() time.Time { return now }, w.env)
	if code != exitOK || slack.requests() != 2 ||
		!strings.Contains(out, "\nALERT CHANNEL BROKEN: the Slack webhook answered HTTP 404: the webhook was deleted or its URL is wrong; fix SLACK_WEBHOOK_URL; 3 alerts wait in the outbox\n") {
		t.Errorf("exit %d after %d Slack requests; the sweep's table should say the channel is broken:\n%s", code, slack.requests(), out)
	}
	if strings.Contains(out+table, "secret-token") {
		t.Fatalf("a webhook token leaked:\n%s\n%s", out, table)
	}

	// Fixed: the three alerts go out, oldest first, and the channel is well.
	rep, _ = w.sweep(t)
	if got := w.slack.delivered(); len(got) != 3 || rep.Alerts.Tally("slack").Delivered != 3 || rep.Alerts.Pending != 0 || len(rep.Alerts.ChannelsBroken) != 0 {
		t.Errorf("after the fix Slack took %d alerts (alerts %+v); want the 3 kept", len(got), rep.Alerts)
	}
	textfileHas(t, textfile, `pingpanda_alert_channel_broken{provider="slack"} 0`, `pingpanda_alerts_pending 0`)
}
