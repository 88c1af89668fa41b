package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/alert/alerttest"
	"github.com/pingpanda/pingpanda/state"
)

// amSince and amAt are an incident's start and an event's time, fixed and
// in the past, as Alertmanager (on the real clock) needs them: a firing
// alert that starts after now plus resolve_timeout would end before it
// starts.
var (
	amSince = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	amAt    = amSince.Add(3 * time.Minute)
)

// amMessage is a message of kind about the target with ID id, of the
// incident that began at amSince, from a monitor with labels.
func amMessage(kind state.Kind, id string) Message {
	e := state.Event{
		ID: "ev-" + string(kind) + "-" + id, Kind: kind, TargetID: id, Check: "http",
		Target: "https://" + id + ".example.com/health", Name: id,
		At: amAt, Since: amSince, Group: "shop",
		Labels: map[string]string{"severity": "page", "team": "web"},
	}
	if kind == state.KindDown {
		e.Message = "HTTP 503 Service Unavailable"
	}
	return NewMessage(e, "prober-1")
}

func TestAlertmanagerAlertNames(t *testing.T) {
	tests := []struct {
		kind state.Kind
		want string
	}{
		{state.KindDown, "PingPandaTargetDown"},
		{state.KindReminder, "PingPandaTargetDown"},
		{state.KindRecovered, "PingPandaTargetDown"},
		{state.KindFlapping, "PingPandaTargetFlapping"},
		{state.KindFlapResolved, "PingPandaTargetFlapping"},
		{state.KindDegraded, "PingPandaTargetDegraded"},
		{state.KindDegradedResolved, "PingPandaTargetDegraded"},
		{state.KindCertWarning, "PingPandaCertificateExpiring"},
		{state.KindCertCritical, "PingPandaCertificateExpiring"},
		{state.KindCertExpired, "PingPandaCertificateExpiring"},
		{state.KindCertOK, "PingPandaCertificateExpiring"},
		{state.KindCircuitOpened, "PingPandaCircuitOpened"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+" is "+tt.want, func(t *testing.T) {
			if got := alertName(tt.kind); got != tt.want {
				t.Errorf("alertname %q", got)
			}
		})
	}
}

func TestAlertmanagerLabels(t *testing.T) {
	t.Run("every message of one incident has the same labels", func(t *testing.T) {
		want := alertFor(amMessage(state.KindDown, "shop"))
		for _, k := range []state.Kind{state.KindReminder, state.KindRecovered} {
			got := alertFor(amMessage(k, "shop"))
			if fmt.Sprint(got.Labels) != fmt.Sprint(want.Labels) {
				t.Errorf("%s labels %v, down's %v", k, got.Labels, want.Labels)
			}
		}
	})
	t.Run("a firing alert has no endsAt and a resolving one ends when it happened", func(t *testing.T) {
		if a := alertFor(amMessage(state.KindDown, "shop")); a.EndsAt != "" || a.StartsAt != "2025-03-01T10:00:00Z" {
			t.Errorf("down: startsAt %q endsAt %q", a.StartsAt, a.EndsAt)
		}
		if a := alertFor(amMessage(state.KindRecovered, "shop")); a.EndsAt != "2025-03-01T10:03:00Z" || a.StartsAt != "2025-03-01T10:00:00Z" {
			t.Errorf("recovered: startsAt %q endsAt %q", a.StartsAt, a.EndsAt)
		}
	})
	t.Run("a resolve dated before its start starts when it ends", func(t *testing.T) {
		m := amMessage(state.KindCertOK, "shop")
		m.Event.Since = m.At.Add(time.Hour)
		if a := alertFor(m); a.StartsAt != a.EndsAt {
			t.Errorf("startsAt %q endsAt %q", a.StartsAt, a.EndsAt)
		}
	})
	names := []struct{ in, want string }{
		{"team", "team"}, {"team-name", "team_name"}, {"9lives", "_9lives"}, {"é", "_"}, {"", "_"}, {"a.b/c", "a_b_c"}, {"_x9", "_x9"},
	}
	for _, n := range names {
		t.Run(fmt.Sprintf("label name %q is sent as %q", n.in, n.want), func(t *testing.T) {
			if got := sanitizeLabelName(n.in); got != n.want {
				t.Errorf("got %q", got)
			}
		})
	}
	t.Run("a valid name wins over one that only becomes it", func(t *testing.T) {
		got := monitorLabels(map[string]string{"team-a": "sanitised", "team_a": "valid"})
		if len(got) != 1 || got["team_a"] != "valid" {
			t.Errorf("labels %v", got)
		}
	})
	t.Run("monitor labels never replace alertname, check, target or id", func(t *testing.T) {
		m := amMessage(state.KindDown, "shop")
		m.Event.Labels = map[string]string{"alertname": "x", "check": "x", "target": "x", "id": "x"}
		a := alertFor(m)
		if a.Labels["alertname"] != "PingPandaTargetDown" || a.Labels["check"] != "http" || a.Labels["id"] != "shop" || a.Labels["target"] != "https://shop.example.com/health" {
			t.Errorf("labels %v", a.Labels)
		}
	})
}

// amReceiver is a fake Alertmanager answering status to every post.
func amReceiver(t *testing.T, status int) *receiver {
	return newReceiver(t, reply{status: status, body: `{"code":` + fmt.Sprint(status) + `,"message":"nope"}`})
}

func TestAlertmanagerFailures(t *testing.T) {
	tests := []struct {
		name                                   string
		status                                 int // 0: nothing listens
		retryable, rejected, broken, delivered bool
	}{
		{"200 is delivered", 200, false, false, false, true},
		{"400 (alerts it refuses) is rejected", 400, false, true, false, false},
		{"404 (a wrong URL or route prefix) is a broken channel", 404, false, false, true, false},
		{"500 is retryable", 500, true, false, false, false},
		{"503 is retryable", 503, true, false, false, false},
		{"a refused connection is retryable", 0, true, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := refusedBase(t)
			if tt.status != 0 {
				base = amReceiver(t, tt.status).srv.URL
			}
			err := NewAlertmanager(AlertmanagerOptions{Name: "am", URLs: []string{base}}).Send(context.Background(), amMessage(state.KindDown, "shop"))
			if (err == nil) != tt.delivered || retryable(err) != tt.retryable ||
				errors.Is(err, ErrRejected) != tt.rejected || errors.Is(err, ErrChannelBroken) != tt.broken {
				t.Fatalf("err %v: retryable %v, rejected %v, broken %v", err, retryable(err), errors.Is(err, ErrRejected), errors.Is(err, ErrChannelBroken))
			}
			var se *SendError
			if err != nil && (!errors.As(err, &se) || se.Provider != "am") {
				t.Errorf("err %#v is not a *SendError of am", err)
			}
		})
	}
	t.Run("a URL that does not parse is a broken channel", func(t *testing.T) {
		for _, u := range []string{"alertmanager:9093", "ftp://am", "http://%zz"} {
			if err := NewAlertmanager(AlertmanagerOptions{URLs: []string{u}}).Send(context.Background(), amMessage(state.KindDown, "x")); !errors.Is(err, ErrChannelBroken) {
				t.Errorf("%q: err %v", u, err)
			}
		}
	})
	t.Run("no URL at all is a broken channel", func(t *testing.T) {
		if err := NewAlertmanager(AlertmanagerOptions{}).Send(context.Background(), amMessage(state.KindDown, "x")); !errors.Is(err, ErrChannelBroken) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("the name defaults to alertmanager", func(t *testing.T) {
		if n := NewAlertmanager(AlertmanagerOptions{}).Name(); n != "alertmanager" {
			t.Errorf("name %q", n)
		}
	})
	t.Run("the password in a URL is in no error", func(t *testing.T) {
		rc := newReceiver(t, reply{status: 500, body: "hunter2hunter2 is wrong"})
		u := strings.Replace(rc.srv.URL, "http://", "http://pp:hunter2hunter2@", 1)
		for _, urls := range [][]string{{u}, {u, refusedBase(t)}} {
			err := NewAlertmanager(AlertmanagerOptions{URLs: urls}).Send(context.Background(), amMessage(state.KindDown, "x"))
			for _, text := range errorTexts(err) {
				if strings.Contains(text, "hunter2") {
					t.Errorf("error shows the password: %s", text)
				}
			}
		}
	})
}

func TestAlertmanagerSeveralURLs(t *testing.T) {
	send := func(urls ...string) error {
		return NewAlertmanager(AlertmanagerOptions{Name: "am", URLs: urls}).Send(context.Background(), amMessage(state.KindDown, "shop"))
	}
	t.Run("one accepting is a delivery, and each URL was sent the alert", func(t *testing.T) {
		up, down := newReceiver(t), amReceiver(t, 503)
		if err := send(down.srv.URL, up.srv.URL); err != nil {
			t.Fatalf("err %v", err)
		}
		if len(up.received()) != 1 || len(down.received()) != 1 {
			t.Errorf("requests: up %d, down %d", len(up.received()), len(down.received()))
		}
	})
	t.Run("all failing names how many, and a retryable failure decides", func(t *testing.T) {
		err := send(amReceiver(t, 404).srv.URL, refusedBase(t))
		if err == nil || !strings.Contains(err.Error(), "all 2 Alertmanagers failed") || !retryable(err) || errors.Is(err, ErrChannelBroken) {
			t.Fatalf("err %v", err)
		}
		var se *SendError
		if !errors.As(err, &se) || se.Status != 0 {
			t.Errorf("the *SendError found is %#v, want the refused connection's", se)
		}
	})
	t.Run("all broken is broken", func(t *testing.T) {
		err := send(amReceiver(t, 404).srv.URL, amReceiver(t, 404).srv.URL)
		var se *SendError
		if !errors.Is(err, ErrChannelBroken) || !errors.As(err, &se) || se.Status != 404 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("rejected by every one is rejected", func(t *testing.T) {
		if err := send(amReceiver(t, 400).srv.URL, amReceiver(t, 400).srv.URL); !errors.Is(err, ErrRejected) || retryable(err) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestAlertmanagerBatches(t *testing.T) {
	rc := newReceiver(t)
	am := NewAlertmanager(AlertmanagerOptions{URLs: []string{rc.srv.URL + "/"}})
	ms := make([]Message, 300)
	for i := range ms {
		ms[i] = amMessage(state.KindDown, fmt.Sprintf("t%03d", i))
	}
	d := Deliver(context.Background(), []Owed{{Notifier: am, Messages: ms}}, Retry{Attempts: 1})[0]
	for _, o := range d.Outcomes {
		if o.Err != nil {
			t.Fatalf("outcome %+v", o)
		}
	}
	got := rc.received()
	if len(got) != 2 {
		t.Fatalf("%d requests for 300 alerts, want 2 (256 and 44)", len(got))
	}
	for i, want := range []int{256, 44} {
		var alerts []alertmanagerAlert
		if err := json.Unmarshal(got[i].body, &alerts); err != nil || len(alerts) != want {
			t.Errorf("request %d: %d alerts, %v; want %d", i, len(alerts), err, want)
		}
		if got[i].path != "/api/v2/alerts" {
			t.Errorf("request %d went to %s", i, got[i].path)
		}
	}
}

// The integration tests below run the real Alertmanager.

func TestAlertmanagerIntegration(t *testing.T) {
	srv := alerttest.StartAlertmanager(t)
	am := NewAlertmanager(AlertmanagerOptions{Name: "am", URLs: []string{srv.URL()}})
	ctx := context.Background()
	only := func(t *testing.T, id string) []alerttest.Alert {
		t.Helper()
		var out []alerttest.Alert
		for _, a := range srv.Alerts(t) {
			if a.Labels["id"] == id {
				out = append(out, a)
			}
		}
		return out
	}

	t.Run("a firing alert is listed with the monitor's labels and the incident's start", func(t *testing.T) {
		if err := am.Send(ctx, amMessage(state.KindDown, "fire")); err != nil {
			t.Fatal(err)
		}
		got := only(t, "fire")
		if len(got) != 1 {
			t.Fatalf("%d alerts, want 1: %+v", len(got), got)
		}
		a := got[0]
		want := map[string]string{
			"alertname": "PingPandaTargetDown", "check": "http", "target": "https://fire.example.com/health",
			"id": "fire", "group": "shop", "severity": "page", "team": "web",
		}
		if fmt.Sprint(a.Labels) != fmt.Sprint(want) {
			t.Errorf("labels %v, want %v", a.Labels, want)
		}
		if !a.StartsAt.Equal(amSince) || a.Status.State != "active" {
			t.Errorf("startsAt %v state %q, want %v active", a.StartsAt, a.Status.State, amSince)
		}
		if !a.EndsAt.After(time.Now()) {
			t.Errorf("endsAt %v is not Alertmanager's resolve timeout ahead", a.EndsAt)
		}
		if a.Annotations["event_id"] != "ev-down-fire" || !strings.HasPrefix(a.Annotations["summary"], "PingPanda: 🔴 HTTP check") || a.Annotations["incident"] == "" {
			t.Errorf("annotations %v", a.Annotations)
		}
	})

	t.Run("the same firing alert re-sent over ten sweeps stays one alert", func(t *testing.T) {
		m := amMessage(state.KindDown, "sweeps")
		for sweep := range 10 {
			m.Resend = sweep > 0
			if sweep > 5 {
				m = amMessage(state.KindReminder, "sweeps") // a reminder is the same alert too
				m.Resend = true
			}
			d := Deliver(ctx, []Owed{{Notifier: am, Messages: []Message{m}}}, Retry{Attempts: 1})[0]
			if err := d.Outcomes[0].Err; err != nil {
				t.Fatalf("sweep %d: %v", sweep, err)
			}
		}
		if got := only(t, "sweeps"); len(got) != 1 || !got[0].StartsAt.Equal(amSince) {
			t.Fatalf("alerts %+v, want exactly one, started %v", got, amSince)
		}
	})

	t.Run("a recovery resolves the alert", func(t *testing.T) {
		if err := am.Send(ctx, amMessage(state.KindDown, "heal")); err != nil {
			t.Fatal(err)
		}
		if len(only(t, "heal")) != 1 {
			t.Fatal("the firing alert is not listed")
		}
		if err := am.Send(ctx, amMessage(state.KindRecovered, "heal")); err != nil {
			t.Fatal(err)
		}
		for _, a := range only(t, "heal") {
			if a.EndsAt.After(time.Now()) {
				t.Errorf("alert still firing after the recovery: %+v", a)
			}
		}
	})

	t.Run("a batch of many alerts is taken whole", func(t *testing.T) {
		ms := make([]Message, 40)
		for i := range ms {
			ms[i] = amMessage(state.KindDegraded, fmt.Sprintf("batch-%02d", i))
		}
		if err := am.SendBatch(ctx, ms); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range srv.Alerts(t) {
			if strings.HasPrefix(a.Labels["id"], "batch-") && a.Labels["alertname"] == "PingPandaTargetDegraded" {
				n++
			}
		}
		if n != 40 {
			t.Errorf("%d alerts listed, want 40", n)
		}
	})

	t.Run("a wrong route prefix is a broken channel", func(t *testing.T) {
		err := NewAlertmanager(AlertmanagerOptions{URLs: []string{srv.URL() + "/no-such-prefix"}}).Send(ctx, amMessage(state.KindDown, "x"))
		var se *SendError
		if !errors.Is(err, ErrChannelBroken) || !errors.As(err, &se) || se.Status != http.StatusNotFound {
			t.Errorf("err %v", err)
		}
	})

	t.Run("an HA pair with one peer down still delivers", func(t *testing.T) {
		pair := NewAlertmanager(AlertmanagerOptions{URLs: []string{refusedBase(t), srv.URL()}})
		if err := pair.Send(ctx, amMessage(state.KindDown, "ha")); err != nil {
			t.Fatal(err)
		}
		if len(only(t, "ha")) != 1 {
			t.Error("the alert is not listed by the peer that is up")
		}
	})

	t.Run("an Alertmanager that is down is a retryable failure", func(t *testing.T) {
		down := alerttest.StartAlertmanager(t)
		down.Kill()
		err := NewAlertmanager(AlertmanagerOptions{URLs: []string{down.URL()}}).Send(ctx, amMessage(state.KindDown, "x"))
		if err == nil || !retryable(err) || errors.Is(err, ErrChannelBroken) || errors.Is(err, ErrRejected) {
			t.Errorf("err %v, want a retryable failure", err)
		}
	})
}
