package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pingpanda/pingpanda/probe/secret"
	"github.com/pingpanda/pingpanda/state"
)

// AlertmanagerOptions configures a Prometheus Alertmanager channel.
type AlertmanagerOptions struct {
	// Name is the channel's name; "" is "alertmanager".
	Name string
	// URLs are Alertmanagers' base URLs (http://alertmanager:9093, with a
	// route prefix if it has one). Several are an HA cluster: every alert
	// is sent to each.
	URLs   []string
	Client HTTPDoer // nil: an http.Client with a 30 s timeout
}

// Alertmanager posts alerts to Alertmanager's API v2 (POST
// /api/v2/alerts).
//
// Alertmanager keeps an alert firing only while its client re-sends it:
// one it is not sent again resolves itself after its resolve_timeout
// (5 m by default). Re-sending the alerts still firing every sweep
// (Message.Resend) is the caller's job; Alertmanager takes them in batches
// (it is a Batcher), one request per batch. Every message about one
// incident has the same labels, so Alertmanager keeps one alert for it,
// however often it is sent.
type Alertmanager struct {
	name   string
	urls   []string
	client HTTPDoer
}

var _ Batcher = (*Alertmanager)(nil)

// alertmanagerMaxBatch is the most alerts posted in one request: a few
// hundred KiB of JSON, well within what Alertmanager takes.
const alertmanagerMaxBatch = 256

// NewAlertmanager returns an Alertmanager notifier. URLs are checked when
// sending: one that does not parse makes the channel broken.
func NewAlertmanager(o AlertmanagerOptions) *Alertmanager {
	name := o.Name
	if name == "" {
		name = "alertmanager"
	}
	return &Alertmanager{name: name, urls: slices.Clone(o.URLs), client: defaultClient(o.Client)}
}

// Name is the channel's name, "alertmanager" unless the options gave one.
func (a *Alertmanager) Name() string { return a.name }

// MaxBatch is 256.
func (a *Alertmanager) MaxBatch() int { return alertmanagerMaxBatch }

// alertmanagerAlert is one alert of API v2's postableAlerts.
type alertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alertNames are the alertname labels, by the condition (Kind.Condition)
// an event opens or closes.
var alertNames = map[state.Kind]string{
	state.KindDown:        "PingPandaTargetDown",
	state.KindFlapping:    "PingPandaTargetFlapping",
	state.KindDegraded:    "PingPandaTargetDegraded",
	state.KindCertWarning: "PingPandaCertificateExpiring",
}

// alertName is the alertname of an event kind: its condition's, or for a
// kind outside the table "PingPanda" and the kind in camel case.
func alertName(k state.Kind) string {
	if n, ok := alertNames[k.Condition()]; ok {
		return n
	}
	var b strings.Builder
	b.WriteString("PingPanda")
	for _, w := range strings.FieldsFunc(string(k.Condition()), func(r rune) bool { return r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return sanitizeLabelName(b.String())
}

// alertFor is the alert sent for m. Its labels depend only on the target
// and the condition, so every message of one incident names one alert;
// startsAt is the incident's start, and a message that resolves it sets
// endsAt (a firing one leaves it to Alertmanager's resolve_timeout).
func alertFor(m Message) alertmanagerAlert {
	e := m.Event
	labels := monitorLabels(e.Labels)
	set := func(name, value string) {
		if value = strings.ToValidUTF8(value, "\uFFFD"); value != "" {
			labels[name] = value
		}
	}
	set("group", e.Group)
	set("alertname", alertName(m.Kind))
	set("check", e.Check)
	set("target", e.Target)
	set("id", e.TargetID)

	a := alertmanagerAlert{
		Labels: labels,
		Annotations: map[string]string{
			"summary":     m.Title,
			"description": m.Text,
			"event_id":    m.EventID,
			"incident":    e.Incident(),
		},
	}
	for k, v := range a.Annotations {
		if v == "" {
			delete(a.Annotations, k)
		}
	}
	starts := e.Since
	if starts.IsZero() {
		starts = m.At
	}
	if m.Kind.Resolves() && !m.At.IsZero() {
		// Alertmanager refuses an alert that ends before it starts.
		starts = minTime(starts, m.At)
		a.EndsAt = apiTime(m.At)
	}
	a.StartsAt = apiTime(starts)
	return a
}

// monitorLabels is a copy of a monitor's labels fit for Alertmanager:
// names made to match [a-zA-Z_][a-zA-Z0-9_]* (every other character
// becomes "_"), empty values left out. A name that is valid as written
// wins over one that only becomes it.
func monitorLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in)+5)
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	slices.Sort(names)
	for pass := range 2 {
		for _, k := range names {
			name := sanitizeLabelName(k)
			if (name == k) != (pass == 0) || in[k] == "" {
				continue
			}
			if _, taken := out[name]; !taken {
				out[name] = strings.ToValidUTF8(in[k], "\uFFFD")
			}
		}
	}
	return out
}

// sanitizeLabelName makes name a valid Prometheus label name: every
// character outside [a-zA-Z0-9_] becomes "_", and a leading digit (or an
// empty name) gets a "_" in front.
func sanitizeLabelName(name string) string {
	var b strings.Builder
	for i, r := range name {
		digit := '0' <= r && r <= '9'
		if i == 0 && digit {
			b.WriteByte('_')
		}
		if digit || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// buildRequestBody is the JSON array of alerts Alertmanager is sent for
// ms.
func (a *Alertmanager) buildRequestBody(ms []Message) ([]byte, error) {
	alerts := make([]alertmanagerAlert, len(ms))
	for i, m := range ms {
		alerts[i] = alertFor(m)
	}
	return json.Marshal(alerts)
}

// Send makes one attempt to post m's alert to every URL.
func (a *Alertmanager) Send(ctx context.Context, m Message) error {
	return a.SendBatch(ctx, []Message{m})
}

// SendBatch makes one attempt to post the alerts of ms, in one request, to
// every URL at once. It succeeds when at least one Alertmanager took them:
// the peers of an HA cluster share their alerts. When none did, the error
// names how many failed and why, and it wraps the failure that decides
// what the caller does: the first retryable one if any (an Alertmanager
// that is down or restarting), otherwise the first that shows the channel
// broken (404: a wrong URL or route prefix), otherwise the first (400:
// alerts it refuses).
func (a *Alertmanager) SendBatch(ctx context.Context, ms []Message) error {
	body, err := a.buildRequestBody(ms)
	if err != nil {
		return &SendError{Provider: a.name, Err: errEncode(err)}
	}
	if len(a.urls) == 0 {
		return &SendError{Provider: a.name, Err: errInvalidURL}
	}
	errs := make([]error, len(a.urls))
	var wg sync.WaitGroup
	for i, u := range a.urls {
		wg.Go(func() { errs[i] = a.post(ctx, u, body) })
	}
	wg.Wait()
	if slices.Contains(errs, nil) {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	shown := make([]string, len(a.urls))
	for i, u := range a.urls {
		shown[i] = secret.URL(u)
	}
	return &alertmanagerFailure{provider: a.name, urls: shown, errs: errs}
}

// post sends body to the alerts endpoint under base. Only the password of
// the URL's userinfo is secret: the rest of an Alertmanager URL names it.
func (a *Alertmanager) post(ctx context.Context, base string, body []byte) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &SendError{Provider: a.name, Err: errInvalidURL}
	}
	var secrets []string
	if pass, ok := u.User.Password(); ok {
		secrets = secret.BasicAuth(u.User.Username(), pass)
	}
	endpoint := strings.TrimRight(base, "/") + "/api/v2/alerts"
	return named(a.name, postScrubbed(ctx, a.client, endpoint, body, nil, secret.NewScrubber(secrets...)))
}

// alertmanagerFailure is the failure of a post to several Alertmanagers,
// every one of which failed.
type alertmanagerFailure struct {
	provider string
	urls     []string // as they may be shown: without their userinfo
	errs     []error  // each a *SendError, one per URL
}

func (f *alertmanagerFailure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: all %d Alertmanagers failed", f.provider, len(f.errs))
	for i, err := range f.errs {
		text := strings.TrimPrefix(err.Error(), f.provider+": ")
		fmt.Fprintf(&b, "; %s: %s", f.urls[i], text)
	}
	return b.String()
}

// Unwrap is the failure that decides what the caller does (see
// SendBatch), so errors.As finds its *SendError and errors.Is its
// classification.
func (f *alertmanagerFailure) Unwrap() error {
	for _, err := range f.errs {
		if retryable(err) {
			return err
		}
	}
	for _, err := range f.errs {
		if errors.Is(err, ErrChannelBroken) {
			return err
		}
	}
	return f.errs[0]
}
