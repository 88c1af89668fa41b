package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/state"
)

// DefaultPagerDutyURL is the Events API v2 endpoint (PagerDuty's US
// service region; the EU one is https://events.eu.pagerduty.com/v2/enqueue).
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyOptions configures a PagerDuty Events API v2 channel.
type PagerDutyOptions struct {
	Name string // the channel's name; "" is "pagerduty"
	// RoutingKey is the integration key of an Events API v2 integration
	// (32 characters). It is a secret: no error shows it.
	RoutingKey string
	URL        string // "" is DefaultPagerDutyURL
	// SeverityLabel names the monitor label whose value, when it is one
	// of PagerDuty's severities (critical, error, warning, info), is the
	// event's severity; "" is "severity".
	SeverityLabel string
	Client        HTTPDoer // nil: an http.Client with a 30 s timeout
}

// PagerDuty sends events to PagerDuty's Events API v2: a trigger for each
// event that opens or repeats an incident, a resolve for the event that
// ends it, both with the incident's ID as dedup_key, so that a retry, a
// reminder and the recovery all address the one PagerDuty alert.
type PagerDuty struct {
	opts   PagerDutyOptions
	client HTTPDoer
}

var _ Notifier = (*PagerDuty)(nil)

// NewPagerDuty returns a PagerDuty notifier.
func NewPagerDuty(o PagerDutyOptions) *PagerDuty {
	if o.URL == "" {
		o.URL = DefaultPagerDutyURL
	}
	if o.SeverityLabel == "" {
		o.SeverityLabel = "severity"
	}
	return &PagerDuty{opts: o, client: defaultClient(o.Client)}
}

// Name is the channel's name, "pagerduty" unless the options name it.
func (p *PagerDuty) Name() string {
	if p.opts.Name == "" {
		return "pagerduty"
	}
	return p.opts.Name
}

// Limits of the Events API v2.
const (
	pagerDutySummaryMax = 1024      // characters of payload.summary
	pagerDutyEventMax   = 512 << 10 // bytes of the whole event
)

// PagerDuty's severities, most severe first.
var pagerDutySeverities = []string{"critical", "error", "warning", "info"}

type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"` // trigger or resolve
	DedupKey    string            `json:"dedup_key"`
	Payload     *pagerDutyPayload `json:"payload,omitempty"` // trigger only
	Client      string            `json:"client,omitempty"`  // trigger only
}

type pagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// buildRequestBody is the event PagerDuty is sent for m. A resolving kind
// (Kind.Resolves) is a resolve, which carries only the routing key and the
// dedup_key; every other kind is a trigger: a reminder re-triggers the
// alert its down opened, a certificate going from warning to critical
// raises the severity of the one alert of the target's certificate.
func (p *PagerDuty) buildRequestBody(m Message) ([]byte, error) {
	ev := pagerDutyEvent{
		RoutingKey:  p.opts.RoutingKey,
		EventAction: pagerDutyAction(m.Kind),
		DedupKey:    m.Event.Incident(),
	}
	if ev.EventAction == "trigger" {
		ev.Client = "PingPanda"
		ev.Payload = p.payload(m)
	}
	body, err := json.Marshal(ev)
	if err != nil || len(body) <= pagerDutyEventMax {
		return body, err
	}
	// Only the details can be that long (the summary is cut, the rest is
	// short): say they were left out rather than lose the page.
	ev.Payload.CustomDetails = map[string]any{
		"note": fmt.Sprintf("details left out: they made the event longer than PagerDuty's %d KB", pagerDutyEventMax>>10),
	}
	return json.Marshal(ev)
}

// payload is a trigger's payload for m.
func (p *PagerDuty) payload(m Message) *pagerDutyPayload {
	e := m.Event
	details := make(map[string]any, len(m.Facts)+1)
	for _, f := range m.Facts {
		details[f.Name] = f.Value
	}
	if len(e.Labels) > 0 {
		details["labels"] = e.Labels
	}
	source := m.Source
	if source == "" {
		source = "pingpanda" // PagerDuty requires one
	}
	return &pagerDutyPayload{
		Summary:       truncate(pagerDutySummary(m), pagerDutySummaryMax),
		Source:        source,
		Severity:      p.severity(m),
		Timestamp:     m.At.UTC().Format(time.RFC3339),
		Component:     e.Target,
		Group:         e.Group,
		Class:         e.Check,
		CustomDetails: details,
	}
}

// pagerDutySummary is what an on-call person reads first, in an SMS or a
// push notification: "DOWN: HTTP check for Shop (https://shop.example.com):
// HTTP 503 Service Unavailable".
func pagerDutySummary(m Message) string {
	s := fmt.Sprintf("%s: %s check for %s", m.Status, m.Check, m.Target)
	if msg := strings.Join(strings.Fields(m.Event.Message), " "); msg != "" {
		s += ": " + msg
	}
	return s
}

// severity is the value of the severity label when it is one of
// PagerDuty's four (in any case), else critical for a danger message and
// warning for the others.
func (p *PagerDuty) severity(m Message) string {
	if v, ok := m.Event.Labels[p.opts.SeverityLabel]; ok {
		v = strings.ToLower(strings.TrimSpace(v))
		for _, s := range pagerDutySeverities {
			if v == s {
				return s
			}
		}
	}
	if m.Severity == SeverityDanger {
		return "critical"
	}
	return "warning"
}

// Send makes one attempt to send m's event. PagerDuty answers 202 when it
// accepted the event; 400 when the event is invalid (ErrRejected: its
// errors array is in the *SendError's Body), unless what is invalid is the
// routing key (ErrChannelBroken, as are 401, 403 and 404); 429 and 5xx are
// retryable, a 429's Retry-After (seconds) reported.
func (p *PagerDuty) Send(ctx context.Context, m Message) error {
	body, err := p.buildRequestBody(m)
	if err != nil {
		return &SendError{Provider: p.Name(), Type: "pagerduty", Err: errEncode(err)}
	}
	err = postWith(ctx, p.client, p.opts.URL, body, nil, routingKeyForms(p.opts.RoutingKey)...)
	var se *SendError
	if errors.As(err, &se) {
		se.Provider, se.Type = p.Name(), "pagerduty"
		if se.Status == http.StatusBadRequest && blamesRoutingKey(se.Body) {
			se.class = answerBroken
		}
	}
	return err
}

// routingKeyForms are the ways an answer may write the routing key: as it
// is and JSON-escaped.
func routingKeyForms(key string) []string {
	if key == "" {
		return nil
	}
	quoted, _ := json.Marshal(key)
	return []string{key, strings.Trim(string(quoted), `"`)}
}

// blamesRoutingKey reports whether a 400's body says the routing key is
// what is wrong: {"status": "invalid event", "message": "Event object is
// invalid", "errors": ["Length of 'routing_key' is incorrect (should be 32
// characters)"]}. Then no event can get through: the channel is broken.
// A body cut short of valid JSON is searched as text.
func blamesRoutingKey(body string) bool {
	var answer struct {
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	text := body
	if json.Unmarshal([]byte(body), &answer) == nil {
		text = answer.Message + "\n" + strings.Join(answer.Errors, "\n")
	}
	text = strings.ToLower(text)
	return strings.Contains(text, "routing_key") || strings.Contains(text, "routing key")
}

// pagerDutyDiagnosis is Diagnosis for a broken PagerDuty channel.
func pagerDutyDiagnosis(e *SendError) string {
	what := e.channelTitle("PagerDuty")
	switch e.Status {
	case 0:
		return what + "'s events URL does not parse"
	case http.StatusBadRequest:
		return what + " answered HTTP 400: PagerDuty refused its routing_key; it must be the 32-character integration key of an Events API v2 integration"
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("%s answered HTTP %d: its routing_key is not accepted; check that it is the integration key of an enabled Events API v2 integration", what, e.Status)
	case http.StatusNotFound, http.StatusGone:
		return fmt.Sprintf("%s answered HTTP %d: its events URL is wrong or its routing_key unknown", what, e.Status)
	}
	return fmt.Sprintf("%s answered HTTP %d: check its routing_key and events URL", what, e.Status)
}

// pagerDutyAction is the event_action a kind is sent as.
func pagerDutyAction(k state.Kind) string {
	if k.Resolves() {
		return "resolve"
	}
	return "trigger"
}
