package sweep

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/alert/route"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// newNotifiers returns a notifier per channel, in the configuration's
// order: the environment's (slack, teams, discord), then the monitors
// file's.
func newNotifiers(r config.Routing, roots *x509.CertPool) ([]alert.Notifier, error) {
	var ns []alert.Notifier
	for _, c := range r.Channels {
		n, err := newNotifier(c, roots)
		if err != nil {
			return nil, fmt.Errorf("channel %s (%s): %w", c.Name, c.Where, err)
		}
		if n != nil {
			ns = append(ns, n)
		}
	}
	return ns, nil
}

// newNotifier builds one channel's notifier; a mail server's certificate
// is verified against roots (SSL_CA_FILE's and the system's).
func newNotifier(c config.Channel, roots *x509.CertPool) (alert.Notifier, error) {
	switch c.Type {
	case "slack":
		return alert.NewSlack(alert.SlackOptions{Name: c.Name, URL: c.URL, Channel: c.SlackChannel, Username: c.Username, IconEmoji: c.IconEmoji}), nil
	case "teams":
		return alert.NewTeams(alert.TeamsOptions{Name: c.Name, URL: c.URL}), nil
	case "discord":
		return alert.NewDiscord(alert.DiscordOptions{Name: c.Name, URL: c.URL, Username: c.Username, AvatarURL: c.AvatarURL}), nil
	case "pagerduty":
		return alert.NewPagerDuty(alert.PagerDutyOptions{Name: c.Name, RoutingKey: c.RoutingKey, URL: c.URL, SeverityLabel: c.SeverityLabel}), nil
	case "webhook":
		return alert.NewWebhook(alert.WebhookOptions{Name: c.Name, URL: c.URL, Secret: c.Secret}), nil
	case "alertmanager":
		return alert.NewAlertmanager(alert.AlertmanagerOptions{Name: c.Name, URLs: c.URLs}), nil
	case "email":
		return alert.NewEmail(alert.EmailOptions{Name: c.Name, SMTP: c.SMTP, From: c.From, To: c.To, RootCAs: roots})
	}
	return nil, fmt.Errorf("no provider %q", c.Type)
}

// Subject is what routes, silences and maintenance windows see of t.
func Subject(t probe.Target) route.Subject {
	s := route.Subject{ID: t.ID(), Check: string(t.Check), Target: t.Shown(), Name: t.Name}
	if t.Spec != nil {
		s.Group, s.Labels = t.Spec.Group, t.Spec.Labels
	}
	return s
}

// Hold is why a target's alerts are held back now, and until when.
type Hold struct {
	Until time.Time
	// By is the silence's ID ("s-1a2b3c4d") or the maintenance window's
	// place ("maintenance monitors.yaml:40").
	By string
}

// Active reports whether there is a hold.
func (h Hold) Active() bool { return !h.Until.IsZero() }

// HoldOf is the hold on s at now: the silences and maintenance windows
// that apply to it, the one that lasts longest.
func HoldOf(s route.Subject, silences []state.Silence, selectors []route.Selector, windows []route.Window, now time.Time) Hold {
	h := silenceHold(s, silences, selectors, now)
	for i := range windows {
		w := &windows[i]
		if !w.Match.Matches(s, "") {
			continue
		}
		if until, ok := w.Active(now); ok && until.After(h.Until) {
			h = Hold{Until: until, By: "maintenance " + w.Where}
		}
	}
	return h
}

// Selectors parses the silences' selectors; one that no longer parses
// (written by another version) matches nothing.
func Selectors(silences []state.Silence) []route.Selector {
	out := make([]route.Selector, len(silences))
	for i, s := range silences {
		out[i], _ = route.ParseSelector(s.Match)
	}
	return out
}

// holds works out each target's hold at the sweep's start.
func (sw *sweep) holds(silences []state.Silence) []Hold {
	windows := sw.cfg.Routing.Maintenance
	if len(windows) == 0 && !slices.ContainsFunc(silences, func(s state.Silence) bool { return s.Active(sw.w.start) }) {
		return nil
	}
	return holdsOf(len(sw.targets), func(i int) route.Subject { return Subject(sw.targets[i]) }, silences, windows, sw.w.start)
}

// holdsOf is HoldOf of n subjects, the same holds, with each window's
// occurrences worked out once rather than per subject: whether a window
// is open at now, and until when, does not depend on the subject.
func holdsOf(n int, subject func(int) route.Subject, silences []state.Silence, windows []route.Window, now time.Time) []Hold {
	sels := Selectors(silences)
	var open []Hold // the windows open at now, in order
	var openMatch []*route.Match
	for i := range windows {
		if until, ok := windows[i].Active(now); ok {
			open = append(open, Hold{Until: until, By: "maintenance " + windows[i].Where})
			openMatch = append(openMatch, &windows[i].Match)
		}
	}
	out := make([]Hold, n)
	for i := range out {
		s := subject(i)
		h := silenceHold(s, silences, sels, now)
		for j, w := range open {
			if w.Until.After(h.Until) && openMatch[j].Matches(s, "") {
				h = w
			}
		}
		out[i] = h
	}
	return out
}

// silenceHold is the hold the silences put on s at now: the one that
// lasts longest.
func silenceHold(s route.Subject, silences []state.Silence, selectors []route.Selector, now time.Time) Hold {
	var h Hold
	for i, sil := range silences {
		if sil.Active(now) && selectors[i].Matches(s) && sil.Expires.After(h.Until) {
			h = Hold{Until: sil.Expires.UTC(), By: sil.ID}
		}
	}
	return h
}

// routeEvents holds back what a silence or maintenance holds, releases
// what a hold that ended kept, and routes the rest: the outbox entries
// to queue, each pending for the channels its route names. Events are
// given the monitor's group and labels first, so that a later delivery
// still has them. Without channels nothing is queued: events are still
// reported and logged.
func (sw *sweep) routeEvents(events []state.Event, at time.Time) []state.OutboxEntry {
	byTarget := map[string][]state.Event{}
	for _, e := range events {
		byTarget[e.TargetID] = append(byTarget[e.TargetID], e)
	}
	table := &sw.cfg.Routing.Table
	var out []state.OutboxEntry
	for i, t := range sw.targets {
		if i >= len(sw.next) {
			break
		}
		s := &sw.next[i]
		evs := byTarget[t.ID()]
		if len(evs) == 0 && len(s.Held) == 0 {
			continue
		}
		subj := Subject(t)
		for j := range evs {
			evs[j].Group, evs[j].Labels = subj.Group, subj.Labels
		}
		held := i < len(sw.hold) && sw.hold[i].Active()
		send, what := state.HoldEvents(s, evs, held)
		for j, w := range what {
			switch w {
			case state.Kept:
				sw.routed.Held++
				sw.log.Info("alert held by a silence or maintenance", "id", t.ID(), "kind", string(evs[j].Kind), "event_id", evs[j].ID,
					"by", sw.hold[i].By, "until", sw.hold[i].Until)
			case state.Withheld:
				sw.routed.Withheld++
				sw.log.Info("alert withheld: it began and ended inside a silence or maintenance, or repeats one held", "id", t.ID(),
					"kind", string(evs[j].Kind), "event_id", evs[j].ID)
			}
		}
		for _, e := range send {
			if !e.Kind.Alert() || len(sw.notifiers) == 0 {
				continue
			}
			channels := table.Channels(subj, e.Kind)
			if len(channels) == 0 {
				sw.routed.Unrouted++
				sw.log.Info("alert matches no route: sent nowhere", "id", t.ID(), "kind", string(e.Kind), "event_id", e.ID)
				continue
			}
			// A millisecond apart (the stores keep milliseconds), so that
			// the outbox's oldest-first order is the order they happened
			// in: flap_resolved before the status it releases.
			queued := at.Add(time.Duration(len(out)) * time.Millisecond)
			out = append(out, state.OutboxEntry{Event: e, Pending: channels, QueuedAt: queued})
		}
	}
	return out
}

// routedCounts are what routing did with this sweep's events.
type routedCounts struct {
	Held, Withheld, Unrouted int
}

// resend is, for each Alertmanager channel, the alerts still firing that
// its routes send it, to post again this sweep (Alertmanager resolves an
// alert its client stops sending). Alerts whose message is in the outbox
// for the channel are left to it; held ones are not firing yet.
func (sw *sweep) resend(channel string, owed map[string]bool) []alert.Message {
	table := &sw.cfg.Routing.Table
	var out []alert.Message
	for i, t := range sw.targets {
		if i >= len(sw.next) {
			break
		}
		s := &sw.next[i]
		subj := Subject(t)
		// A hold holds new events; an alert announced before it began
		// keeps firing (Alertmanager would resolve it otherwise, and fire
		// it anew when the hold ends). One whose opening event the hold
		// keeps has not been announced: it is left out below.
		for _, e := range openEvents(s) {
			if owed[e.ID] || slices.ContainsFunc(s.Held, func(h state.Event) bool { return h.Kind.Condition() == e.Kind.Condition() }) {
				continue
			}
			if !slices.Contains(table.Channels(subj, e.Kind), channel) {
				continue
			}
			e.Group, e.Labels = subj.Group, subj.Labels
			m := alert.NewMessage(e, sw.opts.Source)
			m.Resend = true
			out = append(out, m)
		}
	}
	return out
}

// openEvents are the events that opened s's conditions still open, as
// they were first raised: the latched down, flapping, degraded, a
// certificate level short of ok.
func openEvents(s *state.TargetState) []state.Event {
	base := state.Event{TargetID: s.ID, Check: s.Check, Target: s.Target, Name: s.Name}
	var out []state.Event
	add := func(kind state.Kind, since, at time.Time, msg string) *state.Event {
		e := base
		e.Kind, e.Since, e.At, e.Message = kind, since, at, msg
		e.ID = state.EventID(s.ID, kind, since)
		out = append(out, e)
		return &out[len(out)-1]
	}
	if !s.AlertedAt.IsZero() {
		since := s.AlertedIncident
		if since.IsZero() {
			since = s.AlertedAt
		}
		add(state.KindDown, since, s.AlertedAt, s.LastError)
	}
	if s.Flapping {
		add(state.KindFlapping, s.FlappingSince, s.FlappingSince, "")
	}
	if s.Degraded {
		add(state.KindDegraded, s.DegradedSince, s.DegradedSince, "")
	}
	kind, ok := map[probe.CertLevel]state.Kind{
		probe.CertWarning: state.KindCertWarning, probe.CertCritical: state.KindCertCritical, probe.CertExpired: state.KindCertExpired,
	}[probe.CertLevel(s.CertLevel)]
	if ok {
		// A certificate's condition has no start of its own: its
		// Alertmanager alert starts when first posted.
		e := add(kind, time.Time{}, s.LastProbeAt, "")
		e.CertLevel, e.DaysLeft = s.CertLevel, s.CertDays
	}
	return out
}

// silencedUntil is, per target, when its hold ends (zero: none), or nil
// when nothing holds any target.
func (sw *sweep) silencedUntil() []time.Time {
	if sw.hold == nil {
		return nil
	}
	out := make([]time.Time, len(sw.hold))
	for i, h := range sw.hold {
		out[i] = h.Until
	}
	return out
}
