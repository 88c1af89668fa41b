package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// WebhookOptions configures a generic webhook channel.
type WebhookOptions struct {
	Name string // the channel's name; "" is "webhook"
	URL  string // where events are POSTed; a secret (it may carry a token)
	// Secret, when set, is the key of the HMAC-SHA256 signature sent in
	// X-PingPanda-Signature. It is a secret.
	Secret string
	Client HTTPDoer // nil: an http.Client with a 30 s timeout
}

// Webhook POSTs each event, as the JSON document WebhookEvent describes,
// to a URL of the user's.
type Webhook struct {
	opts   WebhookOptions
	client HTTPDoer
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook returns a webhook notifier.
func NewWebhook(o WebhookOptions) *Webhook {
	return &Webhook{opts: o, client: defaultClient(o.Client)}
}

// Name is the channel's name, "webhook" unless the options name it.
func (w *Webhook) Name() string {
	if w.opts.Name == "" {
		return "webhook"
	}
	return w.opts.Name
}

// WebhookVersion is the version of the webhook's event document; it
// changes only when a field changes meaning or goes away, not when one is
// added.
const WebhookVersion = 1

// WebhookEvent is the JSON document a webhook is sent, one per event.
// Every field is always present; times are RFC 3339 in UTC.
//
//	version           number   WebhookVersion (1)
//	id                string   the event's ID: the same for every retry and
//	                           re-send of this event (deduplicate on it)
//	incident          string   the incident's ID, shared by the events of one
//	                           incident: down, its reminders and its recovered;
//	                           flapping and flap_resolved; degraded and
//	                           degraded_resolved; a target's cert_* events
//	kind              string   down, reminder, recovered, flapping,
//	                           flap_resolved, degraded, degraded_resolved,
//	                           cert_warning, cert_critical, cert_expired, cert_ok
//	status            string   the kind for people: "DOWN", "STILL DOWN",
//	                           "RECOVERED", "CERTIFICATE EXPIRING", …
//	check             string   dns, ping, http, tls or tcp
//	target            string   the address probed (URL, host, host:port)
//	target_id         string   the target's stable ID ("http:https://…")
//	name              string   the target's name; "" when it has none
//	group             string   the monitor's group; "" when it has none
//	labels            object   the monitor's labels, strings; {} when none
//	since             string   when the condition began (the first failure,
//	                           the start of flapping, …); null if unknown
//	at                string   when the event happened
//	duration_seconds  number   how long the condition has lasted at "at"
//	                           (the outage, for recovered); 0 if unknown
//	error             string   the check's message (the error, the latency,
//	                           the certificate's expiry); "" when none
//	title             string   the one-line summary the chat channels show
//	text              string   the message's body as plain text, one
//	                           "Name: value" per line
//	source            string   the host (or Lambda function) that saw it
//	locations         array    the probe locations that saw it; empty for now
type WebhookEvent struct {
	Version         int               `json:"version"`
	ID              string            `json:"id"`
	Incident        string            `json:"incident"`
	Kind            string            `json:"kind"`
	Status          string            `json:"status"`
	Check           string            `json:"check"`
	Target          string            `json:"target"`
	TargetID        string            `json:"target_id"`
	Name            string            `json:"name"`
	Group           string            `json:"group"`
	Labels          map[string]string `json:"labels"`
	Since           *string           `json:"since"`
	At              string            `json:"at"`
	DurationSeconds float64           `json:"duration_seconds"`
	Error           string            `json:"error"`
	Title           string            `json:"title"`
	Text            string            `json:"text"`
	Source          string            `json:"source"`
	Locations       []string          `json:"locations"`
}

// NewWebhookEvent is the webhook document for m.
func NewWebhookEvent(m Message) WebhookEvent {
	e := m.Event
	labels := e.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	var sinceText *string
	if !e.Since.IsZero() {
		s := e.Since.UTC().Format(time.RFC3339)
		sinceText = &s
	}
	return WebhookEvent{
		Version:         WebhookVersion,
		ID:              m.EventID,
		Incident:        e.Incident(),
		Kind:            string(m.Kind),
		Status:          m.Status,
		Check:           e.Check,
		Target:          e.Target,
		TargetID:        e.TargetID,
		Name:            e.Name,
		Group:           e.Group,
		Labels:          labels,
		Since:           sinceText,
		At:              m.At.UTC().Format(time.RFC3339),
		DurationSeconds: orElapsed(e.Duration, e.Since, e.At).Seconds(),
		Error:           e.Message,
		Title:           m.Title,
		Text:            m.Text,
		Source:          m.Source,
		Locations:       []string{},
	}
}

// buildRequestBody is the JSON the webhook is sent for m.
func (w *Webhook) buildRequestBody(m Message) ([]byte, error) {
	return json.Marshal(NewWebhookEvent(m))
}

// Webhook request headers.
const (
	HeaderEventID   = "X-PingPanda-Event-Id"
	HeaderEventKind = "X-PingPanda-Event-Kind"
	// HeaderTimestamp is the event's time in Unix seconds. It is not
	// signed: a receiver that needs the time should trust the body's "at".
	HeaderTimestamp = "X-PingPanda-Timestamp"
	// HeaderSignature is "sha256=" and the lower-case hex HMAC-SHA256 of
	// the request's body, keyed with the channel's secret; sent only when
	// the channel has one.
	HeaderSignature = "X-PingPanda-Signature"
)

// Sign is the X-PingPanda-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Send makes one attempt to POST m's event. Any 2xx is delivered. 401,
// 403, 404 and 410 say the channel is broken (ErrChannelBroken: a wrong
// URL, or a receiver refusing the signature); 408, 429 and 5xx are
// retryable, a 429's Retry-After (seconds) reported; any other 4xx
// refuses the message (ErrRejected).
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body, err := w.buildRequestBody(m)
	if err != nil {
		return &SendError{Provider: w.Name(), Type: "webhook", Err: errEncode(err)}
	}
	h := http.Header{}
	h.Set(HeaderEventID, m.EventID)
	h.Set(HeaderEventKind, string(m.Kind))
	h.Set(HeaderTimestamp, strconv.FormatInt(m.At.Unix(), 10))
	if w.opts.Secret != "" {
		h.Set(HeaderSignature, Sign(w.opts.Secret, body))
	}
	err = postWith(ctx, w.client, w.opts.URL, body, h, w.opts.Secret)
	var se *SendError
	if errors.As(err, &se) {
		se.Provider, se.Type = w.Name(), "webhook"
		se.class = webhookAnswer(se.Status)
	}
	return err
}

// webhookAnswer is what a receiver's HTTP status means; answerByStatus
// (the common reading) for no status at all.
func webhookAnswer(status int) answerClass {
	switch {
	case status == 0:
		return answerByStatus
	case brokenStatus(status):
		return answerBroken
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return answerRetry
	case status >= 400:
		return answerRejected
	}
	return answerKeep // a redirect not followed
}

// webhookDiagnosis is Diagnosis for a broken webhook channel.
func webhookDiagnosis(e *SendError) string {
	what := e.channelTitle("webhook")
	var why string
	switch e.Status {
	case 0:
		return what + "'s URL does not parse"
	case http.StatusUnauthorized, http.StatusForbidden:
		why = "the receiver refused the request; check the channel's secret (the receiver's signature key) and the URL's credentials"
	case http.StatusNotFound:
		why = "the URL is wrong or the receiver's endpoint was removed"
	case http.StatusGone:
		why = "the receiver's endpoint is gone"
	default:
		why = "check the channel's URL"
	}
	return fmt.Sprintf("%s answered HTTP %d: %s", what, e.Status, why)
}
