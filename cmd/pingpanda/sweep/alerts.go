package sweep

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/state"
)

// newNotifiers returns a notifier per configured provider, in a fixed order.
func newNotifiers(c config.Alerts) []alert.Notifier {
	var ns []alert.Notifier
	if c.SlackURL != "" {
		ns = append(ns, alert.NewSlack(alert.SlackOptions{URL: c.SlackURL, Channel: c.SlackChannel, Username: c.SlackUsername, IconEmoji: c.SlackIcon}))
	}
	if c.TeamsURL != "" {
		ns = append(ns, alert.NewTeams(alert.TeamsOptions{URL: c.TeamsURL}))
	}
	if c.DiscordURL != "" {
		ns = append(ns, alert.NewDiscord(alert.DiscordOptions{URL: c.DiscordURL, Username: c.DiscordUsername, AvatarURL: c.DiscordAvatar}))
	}
	return ns
}

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

// enqueue turns the events to announce into outbox entries, pending for
// every configured provider. Without providers nothing is queued: events
// are still reported and logged.
func (s *Sweeper) enqueue(events []state.Event, at time.Time) []state.OutboxEntry {
	if len(s.notifiers) == 0 {
		return nil
	}
	var names []string
	for _, n := range s.notifiers {
		names = append(names, n.Name())
	}
	var out []state.OutboxEntry
	for _, e := range events {
		if e.Kind.Alert() {
			// A millisecond apart (the stores keep milliseconds), so that
			// the outbox's oldest-first order is the order they happened
			// in: flap_resolved before the status it releases.
			queued := at.Add(time.Duration(len(out)) * time.Millisecond)
			out = append(out, state.OutboxEntry{Event: e, Pending: slices.Clone(names), QueuedAt: queued})
		}
	}
	return out
}

// deliver sends every pending alert, oldest first, each provider on its
// own, until deliverBy; it fills rep and returns the function that records
// the outcome in the outbox (one round trip), for the caller to run. Alerts
// that fail stay for the next sweep. After a signal, delivery is left to
// the next sweep.
func (s *Sweeper) deliver(ctx context.Context, deliverBy time.Time, lease state.Lease, outbox []state.OutboxEntry, dropped []state.DroppedEntry, out *report.Alerts) (record func(context.Context)) {
	rep := out
	nothing := func(context.Context) {}
	for _, d := range dropped {
		rep.Dropped++
		for _, p := range d.Entry.Pending {
			rep.Tally(p).Dropped++
		}
		s.log.Error("alert dropped from the outbox, never delivered", "event_id", d.Entry.Event.ID, "kind", string(d.Entry.Event.Kind),
			"id", d.Entry.Event.TargetID, "reason", string(d.Reason), "pending", strings.Join(d.Entry.Pending, ","), "attempts", d.Entry.Attempts)
	}
	if len(outbox) == 0 {
		return nothing
	}

	configured := map[string]alert.Notifier{}
	for _, n := range s.notifiers {
		configured[n.Name()] = n
	}
	update := state.OutboxUpdate{Delivered: map[string][]string{}, Failed: map[string]string{}}
	perProvider := map[string][]alert.Message{}
	for _, e := range outbox {
		for _, p := range e.Pending {
			if _, ok := configured[p]; !ok {
				// The provider was removed from the configuration: its
				// alerts can never be delivered.
				s.log.Warn("alert dropped for a provider no longer configured", "event_id", e.Event.ID, "provider", p)
				update.Delivered[e.Event.ID] = append(update.Delivered[e.Event.ID], p)
				rep.Dropped++
				rep.Tally(p).Dropped++
				continue
			}
			perProvider[p] = append(perProvider[p], alert.NewMessage(e.Event, s.opts.Source))
		}
	}

	var outcomes []alert.Outcome
	if ctx.Err() == nil {
		dctx, cancel := context.WithDeadline(ctx, deliverBy)
		retry := alert.Retry{Attempts: s.cfg.Alerts.Attempts, Backoff: s.cfg.Alerts.Backoff}
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for _, n := range s.notifiers {
			msgs := perProvider[n.Name()]
			if len(msgs) == 0 {
				continue
			}
			wg.Go(func() {
				o := alert.DeliverAll(dctx, []alert.Notifier{n}, msgs, retry)
				mu.Lock()
				outcomes = append(outcomes, o...)
				mu.Unlock()
			})
		}
		wg.Wait()
		cancel()
	} else {
		s.log.Info("the sweep was interrupted: alerts wait in the outbox for the next sweep")
	}

	for _, o := range outcomes {
		if o.Err == nil {
			update.Delivered[o.EventID] = append(update.Delivered[o.EventID], o.Provider)
			rep.Delivered++
			rep.Tally(o.Provider).Delivered++
			s.log.Info("alert delivered", "provider", o.Provider, "event_id", o.EventID)
			continue
		}
		if !errors.Is(o.Err, alert.ErrHeldBack) {
			update.Failed[o.EventID] = report.Truncate(o.Err.Error(), 300)
		}
		s.log.Warn("alert not delivered; it stays in the outbox for the next sweep", "provider", o.Provider, "event_id", o.EventID, "err", o.Err)
	}
	for _, e := range outbox {
		for _, p := range e.Pending {
			if _, ok := configured[p]; ok && !slices.Contains(update.Delivered[e.Event.ID], p) {
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
