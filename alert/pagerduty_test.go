package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pingpanda/pingpanda/state"
)

// pagerDutyStandIn is a loopback Events API v2: it checks each event
// against the API's schema and answers as PagerDuty does, 202 for a valid
// event and 400 with the list of what is wrong for an invalid one, unless
// a status is scripted.
type pagerDutyStandIn struct {
	srv *httptest.Server

	mu     sync.Mutex
	script []int // statuses to answer instead, in order; 0: check and answer
	events []pdReceived
}

type pdReceived struct {
	raw   map[string]any
	event pdEvent
}

// pdEvent is an event as PagerDuty reads it.
type pdEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Client      string `json:"client"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Group         string         `json:"group"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

func newPagerDutyStandIn(t *testing.T, script ...int) *pagerDutyStandIn {
	t.Helper()
	pd := &pagerDutyStandIn{script: script}
	pd.srv = httptest.NewServer(http.HandlerFunc(pd.serve))
	t.Cleanup(pd.srv.Close)
	return pd
}

func (pd *pagerDutyStandIn) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var ev pdEvent
	var raw map[string]any
	problems := pdValidate(r, body, &ev, &raw)

	pd.mu.Lock()
	pd.events = append(pd.events, pdReceived{raw: raw, event: ev})
	status := 0
	if len(pd.script) > 0 {
		status, pd.script = pd.script[0], pd.script[1:]
	}
	pd.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(status)
		io.WriteString(w, `{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}`)
	case status != 0:
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":"error","message":%q}`, http.StatusText(status))
	case len(problems) > 0:
		// PagerDuty names what is wrong; this stand-in, unlike PagerDuty,
		// also quotes the routing key it was given, to show it scrubbed.
		problems = append(problems, "event of integration "+ev.RoutingKey)
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": problems})
	default:
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
	}
}

// pdValidate checks a request against the Events API v2, returning what
// is wrong in PagerDuty's words.
func pdValidate(r *http.Request, body []byte, ev *pdEvent, raw *map[string]any) []string {
	var problems []string
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		problems = append(problems, "not POST /v2/enqueue: "+r.Method+" "+r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		problems = append(problems, "Content-Type is "+ct)
	}
	if len(body) > 512<<10 {
		problems = append(problems, "event is larger than 512 KB")
	}
	if err := json.Unmarshal(body, raw); err != nil {
		return append(problems, "JSON is invalid: "+err.Error())
	}
	if err := json.Unmarshal(body, ev); err != nil {
		return append(problems, "JSON does not fit the schema: "+err.Error())
	}
	switch {
	case ev.RoutingKey == "":
		problems = append(problems, "'routing_key' is missing or blank")
	case len(ev.RoutingKey) != 32:
		problems = append(problems, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	if !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, ev.EventAction) {
		problems = append(problems, "'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
	}
	if ev.EventAction != "trigger" && ev.DedupKey == "" {
		problems = append(problems, "'dedup_key' is missing or blank")
	}
	if utf8.RuneCountInString(ev.DedupKey) > 255 {
		problems = append(problems, "'dedup_key' is longer than 255 characters")
	}
	if ev.EventAction != "trigger" {
		return problems
	}
	p := ev.Payload
	if p == nil {
		return append(problems, "'payload' is missing")
	}
	if p.Summary == "" || utf8.RuneCountInString(p.Summary) > 1024 {
		problems = append(problems, "'payload.summary' is missing, blank or longer than 1024 characters")
	}
	if p.Source == "" {
		problems = append(problems, "'payload.source' is missing or blank")
	}
	if !slices.Contains(pagerDutySeverities, p.Severity) {
		problems = append(problems, "'payload.severity' is invalid (must be one of critical, error, warning, info)")
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); p.Timestamp != "" && err != nil {
		problems = append(problems, "'payload.timestamp' is not ISO 8601")
	}
	return problems
}

func (pd *pagerDutyStandIn) received() []pdReceived {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	return slices.Clone(pd.events)
}

func (pd *pagerDutyStandIn) notifier(o PagerDutyOptions) *PagerDuty {
	o.URL = pd.srv.URL + "/v2/enqueue"
	if o.RoutingKey == "" {
		o.RoutingKey = testRoutingKey
	}
	return NewPagerDuty(o)
}

// outage is an incident's events as the state machine makes them: down,
// a reminder, recovered, one Since for all three.
func outage() []state.Event {
	since := fixedAt.Add(-10 * time.Minute)
	mk := func(kind state.Kind, at time.Time, id string) state.Event {
		return state.Event{
			ID: id, Kind: kind, TargetID: "http:https://shop.example.com/health", Check: "http",
			Target: "https://shop.example.com/health", Name: "Shop", At: at, Since: since,
			Message: "HTTP 503 Service Unavailable", Group: "shop", Labels: map[string]string{"team": "web"},
		}
	}
	return []state.Event{
		mk(state.KindDown, since, "e-down"),
		mk(state.KindReminder, fixedAt, "e-reminder"),
		mk(state.KindRecovered, fixedAt.Add(5*time.Minute), "e-recovered"),
	}
}

func TestPagerDutyAnOutageIsOneAlertTriggeredTwiceAndResolved(t *testing.T) {
	pd := newPagerDutyStandIn(t)
	n := pd.notifier(PagerDutyOptions{})
	for _, e := range outage() {
		if err := n.Send(context.Background(), NewMessage(e, "prober-1")); err != nil {
			t.Fatalf("%s: %v", e.Kind, err)
		}
	}
	got := pd.received()
	if len(got) != 3 {
		t.Fatalf("PagerDuty got %d events, want 3", len(got))
	}
	wantKey := outage()[0].Incident()
	for i, want := range []string{"trigger", "trigger", "resolve"} {
		ev := got[i].event
		if ev.EventAction != want || ev.DedupKey != wantKey || ev.RoutingKey != testRoutingKey {
			t.Errorf("event %d: action %q, dedup_key %q, routing key %q; want %q, %q and the channel's",
				i+1, ev.EventAction, ev.DedupKey, ev.RoutingKey, want, wantKey)
		}
	}
	down := got[0].event
	if p := down.Payload; p == nil || p.Summary != "DOWN: HTTP check for Shop (https://shop.example.com/health): HTTP 503 Service Unavailable" ||
		p.Source != "prober-1" || p.Severity != "critical" || p.Timestamp != "2026-11-24T02:50:00Z" ||
		p.Component != "https://shop.example.com/health" || p.Group != "shop" || p.Class != "http" || down.Client != "PingPanda" {
		t.Errorf("trigger = %+v, payload %+v", down, p)
	}
	if d := down.Payload.CustomDetails; d["Event ID"] != "e-down" || fmt.Sprint(d["labels"]) != "map[team:web]" {
		t.Errorf("custom_details = %v", d)
	}
	if p := got[1].event.Payload; p == nil || !strings.HasPrefix(p.Summary, "STILL DOWN: ") {
		t.Errorf("reminder payload = %+v", p)
	}
	t.Run("the resolve carries routing_key, dedup_key and event_action only", func(t *testing.T) {
		var keys []string
		for k := range got[2].raw {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"dedup_key", "event_action", "routing_key"}) {
			t.Errorf("resolve has %v", keys)
		}
	})
}

func TestPagerDutyActionAndSeverityOfEveryKind(t *testing.T) {
	for _, tt := range []struct {
		kind     state.Kind
		action   string
		severity string // "" for a resolve
	}{
		{state.KindDown, "trigger", "critical"},
		{state.KindReminder, "trigger", "critical"},
		{state.KindRecovered, "resolve", ""},
		{state.KindFlapping, "trigger", "warning"},
		{state.KindFlapResolved, "resolve", ""},
		{state.KindDegraded, "trigger", "warning"},
		{state.KindDegradedResolved, "resolve", ""},
		{state.KindCertWarning, "trigger", "warning"},
		{state.KindCertCritical, "trigger", "critical"},
		{state.KindCertExpired, "trigger", "critical"},
		{state.KindCertOK, "resolve", ""},
	} {
		name := fmt.Sprintf("%s is a %s", tt.kind, tt.action)
		if tt.severity != "" {
			name += " of severity " + tt.severity
		}
		t.Run(name, func(t *testing.T) {
			pd := newPagerDutyStandIn(t)
			e := testEvent(tt.kind)
			if err := pd.notifier(PagerDutyOptions{}).Send(context.Background(), NewMessage(e, "prober-1")); err != nil {
				t.Fatal(err)
			}
			ev := pd.received()[0].event
			sev := ""
			if ev.Payload != nil {
				sev = ev.Payload.Severity
			}
			if ev.EventAction != tt.action || sev != tt.severity || ev.DedupKey != e.Incident() {
				t.Errorf("action %q, severity %q, dedup_key %q; want %q, %q, %q", ev.EventAction, sev, ev.DedupKey, tt.action, tt.severity, e.Incident())
			}
		})
	}
}

func TestPagerDutySeverityComesFromTheLabel(t *testing.T) {
	for _, tt := range []struct {
		name   string
		label  string // the options' SeverityLabel
		labels map[string]string
		kind   state.Kind
		want   string
	}{
		{"severity=error makes a down an error", "", map[string]string{"severity": "error"}, state.KindDown, "error"},
		{"severity=info makes a down info", "", map[string]string{"severity": "info"}, state.KindDown, "info"},
		{"severity=Critical (any case) makes a flapping critical", "", map[string]string{"severity": "Critical"}, state.KindFlapping, "critical"},
		{"severity=page is not PagerDuty's: a down stays critical", "", map[string]string{"severity": "page"}, state.KindDown, "critical"},
		{"severity=page is not PagerDuty's: a degraded stays warning", "", map[string]string{"severity": "page"}, state.KindDegraded, "warning"},
		{"no labels: a down is critical", "", nil, state.KindDown, "critical"},
		{"a label of another name is read when the options name it", "pd_severity", map[string]string{"pd_severity": "warning", "severity": "info"}, state.KindDown, "warning"},
		{"the severity label is ignored when the options name another", "pd_severity", map[string]string{"severity": "info"}, state.KindDown, "critical"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd := newPagerDutyStandIn(t)
			e := testEvent(tt.kind)
			e.Labels = tt.labels
			if err := pd.notifier(PagerDutyOptions{SeverityLabel: tt.label}).Send(context.Background(), NewMessage(e, "prober-1")); err != nil {
				t.Fatal(err)
			}
			if got := pd.received()[0].event.Payload.Severity; got != tt.want {
				t.Errorf("severity %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPagerDutyKeepsToTheAPIsLimits(t *testing.T) {
	t.Run("a summary is cut to 1024 characters", func(t *testing.T) {
		pd := newPagerDutyStandIn(t)
		e := testEvent(state.KindDown)
		e.Message = strings.Repeat("é", 5000)
		if err := pd.notifier(PagerDutyOptions{}).Send(context.Background(), NewMessage(e, "prober-1")); err != nil {
			t.Fatal(err)
		}
		s := pd.received()[0].event.Payload.Summary
		if n := utf8.RuneCountInString(s); n != 1024 || !strings.HasSuffix(s, "…") {
			t.Errorf("summary of %d characters ending %q", n, s[len(s)-8:])
		}
	})
	t.Run("an event over 512 KB is sent without its details", func(t *testing.T) {
		pd := newPagerDutyStandIn(t)
		e := testEvent(state.KindDown)
		e.Labels = map[string]string{"huge": strings.Repeat("x", 600<<10)}
		if err := pd.notifier(PagerDutyOptions{}).Send(context.Background(), NewMessage(e, "prober-1")); err != nil {
			t.Fatal(err)
		}
		d := pd.received()[0].event.Payload.CustomDetails
		if _, ok := d["labels"]; ok || !strings.Contains(fmt.Sprint(d["note"]), "512 KB") {
			t.Errorf("custom_details = %.200v", d)
		}
	})
	t.Run("an event without a source names pingpanda", func(t *testing.T) {
		pd := newPagerDutyStandIn(t)
		if err := pd.notifier(PagerDutyOptions{}).Send(context.Background(), NewMessage(testEvent(state.KindDown), "")); err != nil {
			t.Fatal(err)
		}
		if s := pd.received()[0].event.Payload.Source; s != "pingpanda" {
			t.Errorf("source %q", s)
		}
	})
}

func TestPagerDutyAnswersGetTheirVerdict(t *testing.T) {
	for _, tt := range []struct {
		name     string
		script   []int
		key      string // "" is testRoutingKey
		want     verdict
		attempts int
		has      []string // in the error's text
	}{
		{"202 is delivered", nil, "", vDelivered, 1, nil},
		{"400 for an invalid event is rejected and keeps PagerDuty's errors",
			nil, "", vRejected, 1, []string{"HTTP 400", "Event object is invalid", `'payload.source' is missing or blank`}},
		{"400 for a routing key of the wrong length is a broken channel",
			nil, "SECRETTOKEN-too-short", vBroken, 1, []string{"HTTP 400", "Length of 'routing_key' is incorrect"}},
		{"429 is retried, as asked, and then delivered", []int{429}, "", vDelivered, 2, nil},
		{"429 at every attempt stays retryable", []int{429, 429, 429}, "", vRetry, 3, []string{"HTTP 429", "retry after 2s"}},
		{"500 is retried and then delivered", []int{500}, "", vDelivered, 2, nil},
		{"503 at every attempt stays retryable", []int{503, 503, 503}, "", vRetry, 3, []string{"HTTP 503"}},
		{"401 is a broken channel", []int{401}, "", vBroken, 1, []string{"HTTP 401"}},
		{"403 is a broken channel", []int{403}, "", vBroken, 1, []string{"HTTP 403"}},
		{"404 is a broken channel", []int{404}, "", vBroken, 1, []string{"HTTP 404"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd := newPagerDutyStandIn(t, tt.script...)
			o := PagerDutyOptions{Name: "pager", RoutingKey: tt.key}
			if tt.want == vRejected {
				o.Client = blankingSource(t)
			}
			n := pd.notifier(o)
			m := NewMessage(testEvent(state.KindDown), "prober-1")
			var s sleepRecorder
			err := Retry{Attempts: 3, Backoff: time.Second, Sleep: s.sleep}.Send(context.Background(), n, m)
			if got := verdictOf(err); got != tt.want {
				t.Fatalf("%v is %q, want %q", err, got, tt.want)
			}
			if got := len(pd.received()); got != tt.attempts {
				t.Errorf("%d requests, want %d", got, tt.attempts)
			}
			if slices.Equal(tt.script, []int{429}) && !slices.Equal(s.waits(), []time.Duration{2 * time.Second}) {
				t.Errorf("waits %v, want the 2 s PagerDuty asked for", s.waits())
			}
			if err == nil {
				return
			}
			var se *SendError
			if !errors.As(err, &se) || se.Provider != "pager" || se.Type != "pagerduty" {
				t.Fatalf("err = %#v, want a *SendError of channel pager, type pagerduty", err)
			}
			for _, s := range tt.has {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error text lacks %q: %v", s, err)
				}
			}
			if tt.want == vBroken && !strings.Contains(se.Diagnosis(), `PagerDuty channel "pager"`) || tt.want == vBroken && !strings.Contains(se.Diagnosis(), "routing_key") {
				t.Errorf("diagnosis %q does not name the channel and its routing_key", se.Diagnosis())
			}
			for _, text := range append(errorTexts(err), se.Body, se.Diagnosis()) {
				for _, secret := range []string{testRoutingKey, secretToken} {
					if strings.Contains(text, secret) {
						t.Errorf("an error text holds the routing key: %s", text)
					}
				}
			}
		})
	}
}

// blankingSource is a client that blanks the trigger's payload.source
// on the way, making an event PagerDuty refuses: our own never lacks one.
func blankingSource(t *testing.T) HTTPDoer {
	return doerFunc(func(r *http.Request) (*http.Response, error) {
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Error(err)
		}
		ev["payload"].(map[string]any)["source"] = ""
		body, _ := json.Marshal(ev)
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(string(body))), int64(len(body))
		return http.DefaultClient.Do(r)
	})
}
