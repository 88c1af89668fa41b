package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/alert/alerttest"
	"github.com/pingpanda/pingpanda/state"
)

// channelWorld is one flaky http server whose paths are the monitors of
// a monitors file with channels: the test writes, and a state file, swept
// through the CLI with an injected clock a minute apart.
type channelWorld struct {
	down   func(bool)
	target string // the flaky server's URL
	dir    string
	env    []string
	clock  time.Time
}

// newChannelWorld writes monitors (TARGET in it is the flaky server's
// URL) and sets the environment of every sweep: extra after the common
// settings.
func newChannelWorld(t *testing.T, clock time.Time, monitors string, extra ...string) *channelWorld {
	srv, down := flakyServer(t)
	w := &channelWorld{down: down.Store, target: srv.URL, dir: t.TempDir(), clock: clock}
	file := filepath.Join(w.dir, "monitors.yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(monitors, "TARGET", srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = append([]string{"ENABLE_DNS=false", "ENABLE_PING=false", "RETRY_COUNT=1", "SWEEP_TIMEOUT_SECONDS=10",
		"TARGETS_FILE=" + file, "STATE_FILE=" + filepath.Join(w.dir, "state.json"),
		"ENABLE_ADAPTIVE_BACKOFF=false", "ALERT_THRESHOLD=1", "NOTIFICATION_RETRY_BACKOFF_SECONDS=0",
		"ALERT_SOURCE_NAME=probe-host"}, extra...)
	return w
}

// sweep runs one invocation at the clock, then moves the clock a minute
// on; it fails the test unless the sweep exits 0.
func (w *channelWorld) sweep(t *testing.T, args ...string) (rep sweepReport, stdout, stderr string) {
	t.Helper()
	now := w.clock
	w.clock = w.clock.Add(time.Minute)
	code, out, errOut := runCLIAt(t, func() time.Time { return now }, w.env, append([]string{"--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("sweep at %s: exit %d:\n%s", now.Format(time.TimeOnly), code, errOut)
	}
	return decodeReport(t, out), out, errOut
}

// cli runs another command at the clock (which it leaves alone).
func (w *channelWorld) cli(t *testing.T, args ...string) (string, string) {
	t.Helper()
	now := w.clock
	code, out, errOut := runCLIAt(t, func() time.Time { return now }, w.env, args...)
	if code != exitOK {
		t.Fatalf("pingpanda %s: exit %d:\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// eventHook is a loopback receiver of the webhook channel: it counts the
// events it accepted by X-PingPanda-Event-Id, and answers with fail's
// status while fail is set.
type eventHook struct {
	mu       sync.Mutex
	accepted []string // event IDs, in arrival order
	kinds    []string // X-PingPanda-Event-Kind, likewise
	requests int
	fail     func(w http.ResponseWriter, r *http.Request, body []byte) bool // true: it answered (an error)
}

func (h *eventHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.requests++
	fail := h.fail
	h.mu.Unlock()
	if fail != nil && fail(w, r, body) {
		return
	}
	h.mu.Lock()
	h.accepted = append(h.accepted, r.Header.Get(alert.HeaderEventID))
	h.kinds = append(h.kinds, r.Header.Get(alert.HeaderEventKind))
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// take returns and forgets the event kinds accepted so far.
func (h *eventHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := h.kinds
	h.kinds = nil
	return k
}

// ids is every event ID accepted so far.
func (h *eventHook) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.accepted)
}

func startEventHook(t *testing.T) (*eventHook, *httptest.Server) {
	h := &eventHook{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// TestAlertmanagerShowsOneFiringAlertPerIncidentThenResolvesIt runs a
// real Alertmanager. A monitor labelled team=web, severity=page is down
// for 10 sweeps, then recovers; another, routed to a webhook, is down
// too.
func TestAlertmanagerShowsOneFiringAlertPerIncidentThenResolvesIt(t *testing.T) {
	am := alerttest.StartAlertmanager(t)
	hook, hs := startEventHook(t)
	// Alertmanager validates alerts against its own (wall) clock: an
	// alert posted without endsAt ends at now + resolve_timeout (5 m),
	// and one that starts after it ends is refused; a resolved one is one
	// whose endsAt is before Alertmanager's now. So the injected clock
	// runs in the recent past: from 20 minutes ago, the 12 sweeps end
	// 8 minutes ago, startsAt is always before Alertmanager's now and the
	// recovery's endsAt already past when it arrives.
	w := newChannelWorld(t, time.Now().UTC().Add(-20*time.Minute).Truncate(time.Second), fmt.Sprintf(`channels:
  am:   {type: alertmanager, url: "%s"}
  hook: {type: webhook, url: "%s/hook"}
routes:
  - match: {labels: {severity: page}}
    channels: [am]
  - channels: [hook]
monitors:
  - {name: shop, check: http, target: "TARGET/shop", labels: {team: web, severity: page}}
  - {name: blog, check: http, target: "TARGET/blog"}
`, am.URL(), hs.URL))
	w.down(true)
	var since time.Time
	var fingerprint string
	var updated time.Time
	for i := range 10 {
		rep, _, _ := w.sweep(t)
		if i == 0 {
			if len(rep.Events) != 2 {
				t.Fatalf("first sweep: events %+v; want both monitors down", rep.Events)
			}
			var err error
			if since, err = time.Parse(time.RFC3339Nano, rep.Events[0].Since); err != nil {
				t.Fatalf("event since %q: %v", rep.Events[0].Since, err)
			}
		}
		alerts := am.Alerts(t)
		if len(alerts) != 1 {
			t.Fatalf("sweep %d: Alertmanager holds %d alerts; want exactly one, shop's: %+v", i+1, len(alerts), alerts)
		}
		a := alerts[0]
		want := map[string]string{"alertname": "PingPandaTargetDown", "check": "http", "target": w.target + "/shop",
			"team": "web", "severity": "page"}
		for k, v := range want {
			if a.Labels[k] != v {
				t.Errorf("sweep %d: label %s=%q; want %q (labels %v)", i+1, k, a.Labels[k], v, a.Labels)
			}
		}
		if a.Labels["id"] == "" {
			t.Errorf("sweep %d: no id label: %v", i+1, a.Labels)
		}
		if i == 0 {
			fingerprint = a.Fingerprint
		} else if a.Fingerprint != fingerprint {
			t.Errorf("sweep %d: fingerprint %s; want the first sweep's %s (one alert per incident)", i+1, a.Fingerprint, fingerprint)
		}
		if !a.StartsAt.Equal(since) {
			t.Errorf("sweep %d: startsAt %v; want the incident's start %v", i+1, a.StartsAt, since)
		}
		// Every sweep posts the firing alert again (the down itself
		// went out once, from the outbox): Alertmanager's updatedAt moves
		// on, and endsAt stays ahead of its clock.
		if !a.UpdatedAt.After(updated) || !a.EndsAt.After(time.Now()) {
			t.Errorf("sweep %d: updatedAt %v (before: %v), endsAt %v: the firing alert was not re-sent", i+1, a.UpdatedAt, updated, a.EndsAt)
		}
		updated = a.UpdatedAt
		if t.Failed() {
			t.FailNow()
		}
	}
	if got := hook.take(); len(got) != 1 || got[0] != "down" {
		t.Fatalf("the webhook received %v; want blog's down, once", got)
	}
	w.down(false)
	w.sweep(t)
	if alerts := am.Alerts(t); len(alerts) != 0 {
		t.Fatalf("after the recovery Alertmanager still holds %+v", alerts)
	}
	w.sweep(t) // nothing is re-sent once resolved
	if alerts := am.Alerts(t); len(alerts) != 0 {
		t.Fatalf("a sweep after the recovery: Alertmanager holds %+v", alerts)
	}
	if got := hook.take(); len(got) != 1 || got[0] != "recovered" {
		t.Fatalf("the webhook received %v; want blog's recovery", got)
	}
}

// TestSMTPDeliversTheDownAlertWithBothPartsOverVerifiedSTARTTLS runs a
// real aiosmtpd requiring STARTTLS and a login; the sweep verifies its
// certificate against SSL_CA_FILE.
func TestSMTPDeliversTheDownAlertWithBothPartsOverVerifiedSTARTTLS(t *testing.T) {
	const password = "smtp-pass-Zq8wX3"
	smtp := alerttest.StartSMTP(t, alerttest.SMTPOptions{TLS: "starttls", User: "pp", Password: password})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, smtp.RootCAsPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	w := newChannelWorld(t, time.Date(2030, 5, 6, 2, 0, 0, 0, time.UTC), fmt.Sprintf(`channels:
  mail: {type: email, smtp: "smtp://pp:${SMTP_PASSWORD}@%s", from: "PingPanda <pp@example.com>", to: ["ops@example.com"]}
monitors:
  - {name: shop, check: http, target: "TARGET/shop"}
`, smtp.Addr), "SMTP_PASSWORD="+password, "SSL_CA_FILE="+ca, "VERBOSE=true")
	w.down(true)
	rep, out, errOut := w.sweep(t)
	if rep.Alerts.Delivered != 1 || rep.Alerts.Pending != 0 {
		t.Fatalf("alerts %+v; want the down delivered:\n%s", rep.Alerts, errOut)
	}
	msgs := smtp.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("the server accepted %d messages; want 1", len(msgs))
	}
	got := msgs[0]
	if !got.TLS || got.Login != "pp" || len(got.RcptTos) != 1 || got.RcptTos[0] != "ops@example.com" {
		t.Errorf("session: tls %v, login %q, rcpt %v; want STARTTLS, pp, ops@example.com", got.TLS, got.Login, got.RcptTos)
	}
	m, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	title := alert.NewMessage(state.Event{Kind: state.KindDown, Check: "http", Name: "shop", Target: w.target + "/shop"}, "").Title
	if subject != title {
		t.Errorf("subject %q; want the alert's title %q", subject, title)
	}
	parts := mimeParts(t, m)
	if len(parts["text/plain"]) == 0 || len(parts["text/html"]) == 0 {
		t.Errorf("parts %v; want text/plain and text/html", slices.Sorted(mapKeys(parts)))
	}
	for typ, body := range parts {
		if !strings.Contains(body, "shop") {
			t.Errorf("the %s part does not name the monitor:\n%s", typ, body)
		}
	}
	w.down(false)
	_, out2, errOut2 := w.sweep(t)
	if n := len(smtp.Messages(t)); n != 2 {
		t.Errorf("%d messages after the recovery; want 2", n)
	}
	stateFile, _ := os.ReadFile(filepath.Join(w.dir, "state.json"))
	monitors, _ := w.cli(t, "config", "--monitors")
	for where, s := range map[string]string{"stdout": out + out2, "stderr": errOut + errOut2, "state file": string(stateFile),
		"config --monitors": monitors, "the mail": string(got.Data)} {
		if strings.Contains(s, password) {
			t.Errorf("the SMTP password is in the %s", where)
		}
	}
}

// mimeParts is every leaf part of m by content type, decoded.
func mimeParts(t *testing.T, m *mail.Message) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(header map[string][]string, body io.Reader)
	walk = func(header map[string][]string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(mail.Header(header).Get("Content-Type"))
		if err != nil {
			t.Fatalf("content type %q: %v", mail.Header(header).Get("Content-Type"), err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			r := multipart.NewReader(body, params["boundary"])
			for {
				p, err := r.NextPart() // decodes quoted-printable
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header, p)
			}
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		out[mt] += string(b)
	}
	walk(m.Header, m.Body)
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// pdEvent is an Events API v2 event as the stand-in decoded it.
type pdEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary  string `json:"summary"`
		Source   string `json:"source"`
		Severity string `json:"severity"`
	} `json:"payload"`
}

// pagerDuty is a loopback stand-in for PagerDuty's Events API v2: POST
// /v2/enqueue, each event checked against the schema; a valid one is
// answered 202 as PagerDuty does, an invalid one 400 with its errors.
// answer, when set, answers instead (429, 500…) before any check.
type pagerDuty struct {
	t        *testing.T
	key      string // the routing key it takes
	mu       sync.Mutex
	events   []pdEvent // accepted, in order
	requests int
	invalid  []string // the errors of every 400
	answer   func(w http.ResponseWriter, body []byte) bool
}

func (p *pagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.requests++
	answer := p.answer
	p.mu.Unlock()
	if answer != nil && answer(w, body) {
		return
	}
	var ev pdEvent
	var errs []string
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		errs = append(errs, fmt.Sprintf("%s %s: want POST /v2/enqueue", r.Method, r.URL.Path))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		errs = append(errs, "Content-Type "+ct+": want application/json")
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		errs = append(errs, "Event object is invalid: "+err.Error())
	}
	if ev.RoutingKey != p.key {
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	if ev.DedupKey == "" || len(ev.DedupKey) > 255 {
		errs = append(errs, "'dedup_key' is missing or too long")
	}
	switch ev.EventAction {
	case "trigger":
		switch {
		case ev.Payload == nil:
			errs = append(errs, "'payload' is missing")
		default:
			if ev.Payload.Summary == "" || len(ev.Payload.Summary) > 1024 {
				errs = append(errs, "'payload.summary' is missing or longer than 1024")
			}
			if ev.Payload.Source == "" {
				errs = append(errs, "'payload.source' is missing")
			}
			if !slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity) {
				errs = append(errs, "'payload.severity' is invalid (must be one of critical, error, warning, info)")
			}
		}
	case "resolve", "acknowledge":
	default:
		errs = append(errs, "'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
	}
	w.Header().Set("Content-Type", "application/json")
	if len(errs) > 0 {
		p.mu.Lock()
		p.invalid = append(p.invalid, errs...)
		p.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
		return
	}
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

// take returns and forgets the events accepted so far, and fails the test
// if any request was invalid.
func (p *pagerDuty) take() []pdEvent {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.invalid) > 0 {
		p.t.Fatalf("invalid Events API v2 requests: %v", p.invalid)
	}
	ev := p.events
	p.events = nil
	return ev
}

func (p *pagerDuty) setAnswer(f func(w http.ResponseWriter, body []byte) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answer = f
}

// pdRoutingKey is a routing key of the right length (32).
const pdRoutingKey = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey32"

func startPagerDuty(t *testing.T) (*pagerDuty, *httptest.Server) {
	p := &pagerDuty{t: t, key: pdRoutingKey}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

// TestPagerDutyTriggersRemindsAndResolvesOneDedupKey: down triggers, the
// reminder re-triggers the same dedup_key, the recovery resolves it; the
// severity is the monitor's label's (or critical without one), and the
// channel's url is set in the monitors file, or by PAGERDUTY_EVENTS_URL.
func TestPagerDutyTriggersRemindsAndResolvesOneDedupKey(t *testing.T) {
	for _, tt := range []struct {
		name, labels, severity string
		byEnv                  bool
	}{
		{name: "severity label error", labels: "{severity: error}", severity: "error"},
		{name: "no severity label", labels: "{team: web}", severity: "critical"},
		{name: "PAGERDUTY_EVENTS_URL", labels: "{severity: warning}", severity: "warning", byEnv: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd, srv := startPagerDuty(t)
			url := `, url: "${PD_URL}"`
			env := []string{"PD_KEY=" + pdRoutingKey, "PD_URL=" + srv.URL + "/v2/enqueue", "REALERT_INTERVAL_SECONDS=120"}
			if tt.byEnv {
				url = ""
				env = append(env, "PAGERDUTY_EVENTS_URL="+srv.URL+"/v2/enqueue")
			}
			w := newChannelWorld(t, time.Date(2030, 5, 6, 2, 0, 0, 0, time.UTC), `channels:
  pager: {type: pagerduty, routing_key: "${PD_KEY}"`+url+`}
monitors:
  - {name: shop, check: http, target: "TARGET/shop", labels: `+tt.labels+`}
`, env...)
			w.down(true)
			var dedup string
			for i, want := range []string{"trigger", "", "trigger", "", "trigger"} { // down, then a reminder every 2 minutes
				w.sweep(t)
				got := pd.take()
				if want == "" {
					if len(got) != 0 {
						t.Fatalf("sweep %d: %d events; want none", i+1, len(got))
					}
					continue
				}
				if len(got) != 1 || got[0].EventAction != want {
					t.Fatalf("sweep %d: events %+v; want one %s", i+1, got, want)
				}
				if dedup == "" {
					dedup = got[0].DedupKey
				} else if got[0].DedupKey != dedup {
					t.Fatalf("sweep %d: dedup_key %s; want the down's %s", i+1, got[0].DedupKey, dedup)
				}
				if p := got[0].Payload; p.Severity != tt.severity || p.Source != "probe-host" || !strings.Contains(p.Summary, "shop") {
					t.Errorf("sweep %d: payload %+v; want severity %s, source probe-host, a summary naming shop", i+1, *p, tt.severity)
				}
			}
			w.down(false)
			w.sweep(t)
			got := pd.take()
			if len(got) != 1 || got[0].EventAction != "resolve" || got[0].DedupKey != dedup || got[0].Payload != nil {
				t.Fatalf("after the recovery: %+v; want one resolve of %s without a payload", got, dedup)
			}
			w.sweep(t)
			if got := pd.take(); len(got) != 0 {
				t.Fatalf("a sweep after the recovery sent %+v", got)
			}
		})
	}
}

// TestPagerDutyStandInAnswersLikePagerDuty checks the stand-in itself: an
// event missing what the schema requires gets 400 with errors, a valid
// one 202.
func TestPagerDutyStandInAnswersLikePagerDuty(t *testing.T) {
	pd, srv := startPagerDuty(t)
	post := func(body string) (int, string) {
		resp, err := http.Post(srv.URL+"/v2/enqueue", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(`{"routing_key":"` + pdRoutingKey + `","event_action":"trigger","dedup_key":"x","payload":{"summary":"s","source":"h","severity":"critical"}}`); code != http.StatusAccepted {
		t.Fatalf("valid trigger: %d %s", code, body)
	}
	if code, body := post(`{"routing_key":"short","event_action":"trigger","dedup_key":"x","payload":{"summary":"s","source":"h","severity":"fatal"}}`); code != http.StatusBadRequest ||
		!strings.Contains(body, "routing_key") || !strings.Contains(body, "payload.severity") {
		t.Fatalf("invalid trigger: %d %s", code, body)
	}
	pd.mu.Lock()
	pd.invalid = nil
	pd.mu.Unlock()
	if got := pd.take(); len(got) != 1 {
		t.Fatalf("%d events accepted; want 1", len(got))
	}
}

// TestSecretsOfChannelsAppearNowhere gives every kind of channel secret
// through ${NAME} in the monitors file, to servers that answer with
// errors echoing what they were sent (PagerDuty a 400 with the body, the
// webhook a 500 with its URL, headers and body, the mail server refusing
// the login): no secret is in any output, log, state, metric or
// configuration listing.
func TestSecretsOfChannelsAppearNowhere(t *testing.T) {
	secrets := map[string]string{
		"PD_KEY":        "PdR0utingKeySecretPdR0utingKey32",
		"SMTP_PASSWORD": "SmtpPassw0rdSecret",
		"HOOK_SECRET":   "HmacSecretValue9",
		"HOOK_TOKEN":    "UrlT0kenSecret42",
	}
	pd, pdSrv := startPagerDuty(t)
	pd.setAnswer(func(w http.ResponseWriter, body []byte) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid",
			"errors": []string{"cannot read event " + string(body)}})
		return true
	})
	hook, hs := startEventHook(t)
	hook.fail = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "cannot take %s %s\nheaders: %v\nbody: %s", r.Method, r.URL, r.Header, body)
		return true
	}
	smtp := alerttest.StartSMTP(t, alerttest.SMTPOptions{TLS: "starttls", User: "pp", Password: "the-right-one"})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, smtp.RootCAsPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"VERBOSE=true", "LOG_LEVEL=DEBUG", "SSL_CA_FILE=" + ca, "NOTIFICATION_RETRY_ATTEMPTS=2",
		"HOOK_URL=" + hs.URL + "/hook/${HOOK_TOKEN}"}
	for k, v := range secrets {
		env = append(env, k+"="+v)
	}
	metrics := filepath.Join(t.TempDir(), "pingpanda.prom")
	env = append(env, "METRICS_TEXTFILE="+metrics)
	w := newChannelWorld(t, time.Date(2030, 5, 6, 2, 0, 0, 0, time.UTC), fmt.Sprintf(`channels:
  pager: {type: pagerduty, routing_key: "${PD_KEY}", url: "%s/v2/enqueue"}
  hook:  {type: webhook, url: "%s/hook/${HOOK_TOKEN}", secret: "${HOOK_SECRET}"}
  mail:  {type: email, smtp: "smtp://pp:${SMTP_PASSWORD}@%s", from: "pp@example.com", to: ["ops@example.com"]}
monitors:
  - {name: shop, check: http, target: "TARGET/shop", labels: {severity: critical}}
`, pdSrv.URL, hs.URL, smtp.Addr), env...)
	w.down(true)
	var outs []string
	for range 2 {
		rep, out, errOut := w.sweep(t)
		outs = append(outs, out, errOut)
		if rep.Alerts.Delivered != 0 {
			t.Fatalf("alerts %+v; every channel should have failed", rep.Alerts)
		}
	}
	w.down(false)
	_, out, errOut := w.sweep(t)
	outs = append(outs, out, errOut)
	// The servers were sent the secrets they need (so they could echo
	// them): the routing key in the body, the token in the URL.
	pd.mu.Lock()
	pdRequests := pd.requests
	pd.mu.Unlock()
	hook.mu.Lock()
	hookRequests := hook.requests
	hook.mu.Unlock()
	if pdRequests == 0 || hookRequests == 0 {
		t.Fatalf("PagerDuty got %d requests, the webhook %d; want some", pdRequests, hookRequests)
	}
	// The echoes reached the log (scrubbed), so the test sees what a
	// leak would look like.
	for _, echo := range []string{"HTTP 400", "cannot read event", "HTTP 500", "cannot take POST", "535"} {
		if !strings.Contains(strings.Join(outs, ""), echo) {
			t.Fatalf("the log should show the servers' answers (%q):\n%s", echo, strings.Join(outs, "\n"))
		}
	}
	stateFile, err := os.ReadFile(filepath.Join(w.dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	metricsText, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]string{"sweeps' stdout and stderr": strings.Join(outs, "\n"), "state file": string(stateFile),
		"METRICS_TEXTFILE": string(metricsText)}
	for _, args := range [][]string{{"status", "--json"}, {"status"}, {"config"}, {"config", "--monitors"}} {
		out, errOut := w.cli(t, args...)
		places["pingpanda "+strings.Join(args, " ")] = out + errOut
	}
	for where, text := range places {
		for name, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s (%s) is in the %s", name, s, where)
			}
		}
	}
}
