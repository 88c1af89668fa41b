package sweep

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/push"
	"github.com/pingpanda/pingpanda/state"
)

// SourceName is the host named in alerts: ALERT_SOURCE_NAME, else the
// Lambda function's name (from environ), else hostname.
func SourceName(c config.Alerts, environ []string, hostname string) string {
	if c.SourceName != "" {
		return c.SourceName
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_FUNCTION_NAME="); ok && v != "" {
			return v
		}
	}
	if hostname != "" {
		return hostname
	}
	return "pingpanda"
}

// deliver sends every pending alert, oldest first, each provider on its
// own, until deliverBy; it fills rep and returns the function that records
// the outcome in the outbox (one round trip), for the caller to run. Alerts
// that fail stay for the next sweep; one a provider rejects for good
// (alert.ErrRejected) is dropped for that provider; a provider whose
// channel is broken (alert.ErrChannelBroken) keeps its alerts and is not
// tried again this sweep. After a signal, delivery is left to the next
// sweep.
//
// resend, when set, gives the messages a channel is to be sent again
// besides the outbox's (the alerts still firing, for Alertmanager), told
// the event IDs the outbox owes it; their outcomes are recorded nowhere.
func (s *Sweeper) deliver(ctx context.Context, deliverBy time.Time, lease state.Lease, outbox []state.OutboxEntry, dropped []state.DroppedEntry,
	resend func(channel string, owed map[string]bool) []alert.Message, rep *report.Alerts) (record func(context.Context)) {
	s.reportDropped(dropped, rep)
	update := state.OutboxUpdate{Delivered: map[string][]string{}, Failed: map[string]string{}}
	owed := s.owed(outbox, &update, resend, rep)
	if len(owed) == 0 && len(outbox) == 0 {
		return func(context.Context) {}
	}
	var deliveries []alert.Delivery
	if ctx.Err() == nil {
		dctx, cancel := context.WithDeadline(ctx, deliverBy)
		deliveries = alert.Deliver(dctx, owed, alert.Retry{Attempts: s.cfg.Alerts.Attempts, Backoff: s.cfg.Alerts.Backoff})
		cancel()
	} else {
		s.log.Info("the sweep was interrupted: alerts wait in the outbox for the next sweep")
	}

	events := make(map[string]*state.Event, len(outbox))
	for i := range outbox {
		events[outbox[i].Event.ID] = &outbox[i].Event
	}
	failed := map[string][]string{}
	for i, d := range deliveries {
		s.recordDelivery(d, owed[i].Messages, events, &update, failed, rep)
	}
	for id, errs := range failed {
		update.Failed[id] = strings.Join(errs, "; ")
	}
	for _, e := range outbox {
		for _, p := range e.Pending {
			if s.configured(p) && !slices.Contains(update.Delivered[e.Event.ID], p) {
				rep.Pending++
				rep.Tally(p).Pending++
			}
		}
	}
	return func(ctx context.Context) {
		if err := s.store.UpdateOutbox(ctx, lease, update); err != nil {
			// Delivered alerts stay queued and are sent again next
			// sweep, with the same event ID; none is lost.
			s.log.Error("cannot record alert deliveries; they will be sent again next sweep", "store", s.store.String(), "err", err)
		}
	}
}

// reportDropped logs and counts the entries Save dropped undelivered.
func (s *Sweeper) reportDropped(dropped []state.DroppedEntry, rep *report.Alerts) {
	for _, d := range dropped {
		rep.Dropped++
		for _, p := range d.Entry.Pending {
			rep.Tally(p).Dropped++
		}
		s.log.Error("alert dropped from the outbox, never delivered", "event_id", d.Entry.Event.ID, "kind", string(d.Entry.Event.Kind),
			"id", d.Entry.Event.TargetID, "reason", string(d.Reason), "pending", strings.Join(d.Entry.Pending, ","), "attempts", d.Entry.Attempts)
	}
}

// configured reports whether provider has a notifier.
func (s *Sweeper) configured(provider string) bool {
	return slices.ContainsFunc(s.notifiers, func(n alert.Notifier) bool { return n.Name() == provider })
}

// owed is, per configured notifier, the messages of the outbox it still
// owes, oldest first. An entry pending for a provider no longer configured
// can never be delivered there: it is marked done for it in update.
func (s *Sweeper) owed(outbox []state.OutboxEntry, update *state.OutboxUpdate,
	resend func(channel string, owed map[string]bool) []alert.Message, rep *report.Alerts) []alert.Owed {
	owed := make([]alert.Owed, len(s.notifiers))
	at := map[string]int{}
	for i, n := range s.notifiers {
		owed[i].Notifier = n
		at[n.Name()] = i
	}
	for _, e := range outbox {
		for _, p := range e.Pending {
			i, ok := at[p]
			if !ok {
				s.log.Warn("alert dropped for a provider no longer configured", "event_id", e.Event.ID, "provider", p)
				update.Delivered[e.Event.ID] = append(update.Delivered[e.Event.ID], p)
				rep.Dropped++
				rep.Tally(p).Dropped++
				continue
			}
			owed[i].Messages = append(owed[i].Messages, alert.NewMessage(e.Event, s.opts.Source))
		}
	}
	if resend != nil {
		for i := range owed {
			if c := s.cfg.Routing.Channel(owed[i].Notifier.Name()); c == nil || c.Type != "alertmanager" {
				continue
			}
			ids := make(map[string]bool, len(owed[i].Messages))
			for _, m := range owed[i].Messages {
				ids[m.EventID] = true
			}
			owed[i].Messages = append(owed[i].Messages, resend(owed[i].Notifier.Name(), ids)...)
		}
	}
	return slices.DeleteFunc(owed, func(o alert.Owed) bool { return len(o.Messages) == 0 })
}

// recordDelivery logs and counts what one provider's delivery did, and
// notes in update what the outbox is to record: delivered and rejected
// messages are done for the provider; failures add to failed (event ID →
// errors), which become the entries' LastError. A message held back was
// not attempted and is left as it was.
func (s *Sweeper) recordDelivery(d alert.Delivery, sent []alert.Message, events map[string]*state.Event, update *state.OutboxUpdate, failed map[string][]string, rep *report.Alerts) {
	p := d.Provider
	if d.Broken != nil {
		rep.Broke(p, d.Broken)
		s.log.Error("alert channel broken: "+rep.Tally(p).Broken.String()+"; its alerts stay in the outbox and are sent once it is fixed",
			"provider", p, "http_status", d.Broken.Status, "kept", len(d.Outcomes), "err", d.Broken)
	}
	for j, o := range d.Outcomes {
		if j < len(sent) && sent[j].Resend {
			// A firing alert posted again: it is not in the outbox.
			if o.Err != nil && !errors.Is(o.Err, alert.ErrHeldBack) {
				s.log.Warn("a firing alert could not be posted again; the next sweep posts it", "channel", p, "event_id", o.EventID, "err", o.Err)
			}
			continue
		}
		e := events[o.EventID]
		if e == nil {
			e = &state.Event{ID: o.EventID}
		}
		switch {
		case o.Err == nil:
			update.Delivered[o.EventID] = append(update.Delivered[o.EventID], p)
			rep.Delivered++
			rep.Tally(p).Delivered++
			s.log.Info("alert delivered", "provider", p, "event_id", o.EventID)
		case errors.Is(o.Err, alert.ErrHeldBack):
			if d.Broken == nil {
				s.log.Warn("alert not delivered; it stays in the outbox for the next sweep", "provider", p, "event_id", o.EventID, "err", o.Err)
			}
		case errors.Is(o.Err, alert.ErrRejected):
			// No attempt can succeed: done for this provider, so that
			// the outbox moves on to the next message.
			update.Delivered[o.EventID] = append(update.Delivered[o.EventID], p)
			rep.Rejected++
			rep.Tally(p).Rejected++
			s.log.Error("alert rejected by the provider and dropped; it can never be delivered", "provider", p, "event_id", o.EventID,
				"kind", string(e.Kind), "id", e.TargetID, "http_status", httpStatus(o.Err), "err", o.Err)
		default:
			failed[o.EventID] = append(failed[o.EventID], report.Truncate(o.Err.Error(), 200))
			if d.Broken == nil {
				s.log.Warn("alert not delivered; it stays in the outbox for the next sweep", "provider", p, "event_id", o.EventID, "err", o.Err)
			}
		}
	}
}

// httpStatus is the status a webhook answered with err, or 0.
func httpStatus(err error) int {
	var se *alert.SendError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// channels are the configured providers' part of the metrics: what this
// sweep's delivery saw of each.
func (s *Sweeper) channels(a *report.Alerts) []push.Channel {
	out := make([]push.Channel, 0, len(s.notifiers))
	for _, n := range s.notifiers {
		c := push.Channel{Provider: n.Name()}
		if t := a.Providers[c.Provider]; t != nil {
			c.Rejected, c.Broken = t.Rejected, t.Broken != nil
		}
		out = append(out, c)
	}
	return out
}
