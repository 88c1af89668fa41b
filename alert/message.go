// Package alert turns state.Events into messages for people and delivers
// them to Slack, Microsoft Teams and Discord webhooks, PagerDuty's Events
// API v2, generic JSON webhooks, Prometheus Alertmanager and mail servers
// (SMTP).
//
// Each provider lives in its own file behind the Notifier interface. A
// Notifier's Send makes exactly one attempt; Retry adds attempts, backoff and
// the server's Retry-After, and Deliver takes, per notifier, the messages it
// owes and delivers them, every provider at once so that one slow or failing
// provider never delays another, returning each message's Outcome.
//
// Failures say what the caller should do through errors.Is: ErrRejected
// (the provider refuses this message for good: drop it), ErrChannelBroken
// (the webhook is bad or revoked: keep the messages, fix the
// configuration), ErrHeldBack (not attempted); anything else is worth
// another try on the next sweep.
//
// Webhook URLs are secrets (the token is in the path or the query), as are
// PagerDuty routing keys and webhook signing keys: no error this package
// returns contains one.
package alert

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pingpanda/pingpanda/state"
)

// Severity is how a message should be coloured. The values are Slack's
// named attachment colours; the other providers map them to their own.
type Severity string

// Severities.
const (
	SeverityGood    Severity = "good"    // recovered, renewed, stable or fast again
	SeverityDanger  Severity = "danger"  // down, still down, certificate expired or critical
	SeverityWarning Severity = "warning" // flapping, degraded, certificate expiring
)

// Fact is one labelled line of a message's body.
type Fact struct {
	Name  string
	Value string
}

// Message is an event formatted for people. It is provider-neutral: each
// Notifier lays it out in its own payload. Build it with NewMessage.
type Message struct {
	// EventID is the event's deterministic ID: a retried or re-sent message
	// about the same incident carries the same ID.
	EventID string
	Kind    state.Kind
	// Check is the check's display name: "DNS", "Ping", "HTTP", "TLS",
	// "TCP".
	Check string
	// Target is the target for display: its name, if it has one, with the
	// address in parentheses.
	Target string
	// Title is the one-line summary:
	// "PingPanda: 🔴 HTTP check for Shop (https://shop.example.com)".
	Title    string
	Severity Severity
	// Status is a few upper-case words: "DOWN", "RECOVERED", "DEGRADED", …
	Status string
	// Facts are the body's lines in order; Text is the same as plain text,
	// one "Name: value" per line.
	Facts []Fact
	Text  string
	// Source is the host (or Lambda function) that saw the event.
	Source string
	// At is when the event happened, in UTC.
	At time.Time
	// Event is the event the message was made from, for providers whose
	// payload is structured (pagerduty, alertmanager, webhook): its
	// Incident, Since, Labels, Group and Message.
	Event state.Event
	// Resend marks a message that re-sends an alert still firing, which
	// Alertmanager's clients must do every sweep: it is not in the
	// outbox, and its outcome is recorded nowhere.
	Resend bool
}

// kindInfo is how each event kind is presented.
var kindInfo = map[state.Kind]struct {
	severity Severity
	status   string
}{
	state.KindDown:         {SeverityDanger, "DOWN"},
	state.KindReminder:     {SeverityDanger, "STILL DOWN"},
	state.KindRecovered:    {SeverityGood, "RECOVERED"},
	state.KindFlapping:     {SeverityWarning, "FLAPPING"},
	state.KindFlapResolved: {SeverityGood, "STABLE"},
	state.KindCertWarning:  {SeverityWarning, "CERTIFICATE EXPIRING"},
	state.KindCertCritical: {SeverityDanger, "CERTIFICATE EXPIRING SOON"},
	state.KindCertExpired:  {SeverityDanger, "CERTIFICATE EXPIRED"},
	state.KindCertOK:       {SeverityGood, "CERTIFICATE RENEWED"},

	state.KindDegraded:         {SeverityWarning, "DEGRADED"},
	state.KindDegradedResolved: {SeverityGood, "LATENCY RECOVERED"},
}

// NewMessage formats e for people. source is the host name shown in the
// body (ALERT_SOURCE_NAME). Kinds that are not meant for people
// (Kind.Alert() false) still get a readable warning-coloured message.
func NewMessage(e state.Event, source string) Message {
	info, ok := kindInfo[e.Kind]
	if !ok {
		info.severity = SeverityWarning
		info.status = strings.ToUpper(strings.ReplaceAll(string(e.Kind), "_", " "))
	}
	at := e.At.UTC()
	m := Message{
		EventID:  e.ID,
		Kind:     e.Kind,
		Check:    checkName(e.Check),
		Target:   displayTarget(e.Name, e.Target),
		Severity: info.severity,
		Status:   info.status,
		Source:   source,
		At:       at,
		Event:    e,
	}
	m.Title = fmt.Sprintf("PingPanda: %s %s check for %s", icon(m.Severity), m.Check, m.Target)

	add := func(name, value string) {
		if value != "" {
			m.Facts = append(m.Facts, Fact{name, value})
		}
	}
	add("Host", source)
	add("Time", at.Format(time.RFC3339))
	add("Status", m.Status)
	add("Message", e.Message)
	switch e.Kind {
	case state.KindDown:
		if !e.Since.IsZero() && !e.Since.Equal(e.At) {
			add("Down since", e.Since.UTC().Format(time.RFC3339))
		}
	case state.KindReminder:
		add("Down for", HumanDuration(orElapsed(e.Duration, e.Since, e.At)))
		add("Down since", since(e.Since))
	case state.KindRecovered:
		add("Outage", HumanDuration(orElapsed(e.Duration, e.Since, e.At)))
		add("Down since", since(e.Since))
	case state.KindFlapResolved:
		add("Flapped for", HumanDuration(orElapsed(0, e.Since, e.At)))
	case state.KindDegraded:
		// Since is the first slow result; with alert_threshold 1 it is
		// this one.
		if !e.Since.IsZero() && !e.Since.Equal(e.At) {
			add("Degraded since", e.Since.UTC().Format(time.RFC3339))
		}
	case state.KindDegradedResolved:
		add("Degraded for", HumanDuration(orElapsed(e.Duration, e.Since, e.At)))
		add("Degraded since", since(e.Since))
	case state.KindCertWarning, state.KindCertCritical, state.KindCertExpired, state.KindCertOK:
		// The event carries days left as measured at e.At; the expiry is
		// that far from it (to within the probe's own duration). Once
		// expired, the message says how long ago, never a negative count.
		expiry := at.Add(time.Duration(e.DaysLeft * float64(24*time.Hour))).Round(time.Minute)
		label := "Expired"
		if e.DaysLeft >= 0 {
			label = "Expires"
			add("Days left", fmt.Sprintf("%.1f", e.DaysLeft))
		}
		add(label, expiry.Format("2006-01-02 15:04 UTC"))
	}
	add("Event ID", e.ID)

	lines := make([]string, len(m.Facts))
	for i, f := range m.Facts {
		lines[i] = f.Name + ": " + f.Value
	}
	m.Text = strings.Join(lines, "\n")
	return m
}

// checkName is a check ID's display name.
func checkName(check string) string {
	switch strings.ToLower(check) {
	case "dns":
		return "DNS"
	case "ping":
		return "Ping"
	case "http":
		return "HTTP"
	case "tls":
		return "TLS"
	case "tcp":
		return "TCP"
	case "":
		return "Unknown"
	}
	return check
}

// displayTarget is "name (target)", or whichever of the two is set.
func displayTarget(name, target string) string {
	switch {
	case name == "" || name == target:
		return target
	case target == "":
		return name
	}
	return name + " (" + target + ")"
}

func icon(s Severity) string {
	switch s {
	case SeverityGood:
		return "✅"
	case SeverityDanger:
		return "🔴"
	}
	return "⚠️"
}

func since(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// orElapsed is d, or the time from since to at when d is not set.
func orElapsed(d time.Duration, since, at time.Time) time.Duration {
	if d > 0 || since.IsZero() {
		return d
	}
	return max(at.Sub(since), 0)
}

// HumanDuration writes d in words, to its two largest units, rounded down:
// "45 s", "4 min", "4 min 30 s", "1 h 2 min", "3 d 4 h". Durations under a
// second are "0 s".
func HumanDuration(d time.Duration) string {
	if d < time.Second {
		return "0 s"
	}
	units := []struct {
		size time.Duration
		name string
	}{
		{24 * time.Hour, "d"},
		{time.Hour, "h"},
		{time.Minute, "min"},
		{time.Second, "s"},
	}
	for i, u := range units {
		if d < u.size {
			continue
		}
		out := fmt.Sprintf("%d %s", d/u.size, u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if n := (d % u.size) / next.size; n > 0 {
				out += fmt.Sprintf(" %d %s", n, next.name)
			}
		}
		return out
	}
	return "0 s" // unreachable: d ≥ 1 s
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
