package sweep

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/push"
	"github.com/pingpanda/pingpanda/state"
)

// sweep is one sweep under its lease: what each step hands the next.
type sweep struct {
	*Sweeper
	w       window
	lease   state.Lease
	targets []probe.Target
	partial bool

	loaded  state.Loaded
	results []probe.Result // in target order
	obs     []probe.Result // what Apply learns from
	next    []state.TargetState
	events  []state.Event
	queued  []state.OutboxEntry
	// hold is each target's silence or maintenance at the sweep's start
	// (nil: none holds any target); routed counts what routing did.
	hold   []Hold
	routed routedCounts
}

// run performs the steps after the lease: load, probe what is due, apply,
// save, then deliver the alerts and publish the metrics side by side.
func (sw *sweep) run(ctx context.Context) (*report.Report, error) {
	if err := sw.load(ctx); err != nil {
		return nil, err
	}
	probeCtx, cancelProbes := context.WithDeadline(ctx, sw.w.deadline.Add(-sw.w.kept))
	defer cancelProbes()
	sw.results = sw.probeDue(probeCtx, sw.targets, sw.loaded.States, sw.w.start)
	sw.afterProbing()
	sw.apply(ctx)
	end := sw.now()

	// Save even when a signal cancelled the sweep: what was learned is
	// kept. The deadline still bounds it.
	saveCtx, cancelSave := context.WithDeadline(context.WithoutCancel(ctx), sw.w.deadline)
	defer cancelSave()
	saved, err := sw.save(saveCtx)
	// The report is built once the records are saved, so that its rows
	// and the records, each megabytes at 10,000 targets, are never held
	// at once.
	rep := sw.report(end)
	if errors.Is(err, state.ErrSavedInPart) {
		// Some of this sweep's records or alerts are stored, some not:
		// the next sweep loads what is there and goes on from it.
		return rep, fmt.Errorf("state store %s: this sweep's state was saved in part; the next sweep goes on from what was stored: %w", sw.store, err)
	}
	if err != nil {
		return rep, fmt.Errorf("state store %s: cannot save; the stored state is as before this sweep: %w", sw.store, err)
	}
	record := sw.deliver(ctx, sw.w.deadline.Add(-recordMargin(sw.w.kept)), sw.lease, saved.Outbox, saved.Dropped, sw.resend, &rep.Alerts)
	// Recording the deliveries and pushing metrics share the end of the
	// reserve, side by side, so a stuck Pushgateway cannot cost a record.
	var wg sync.WaitGroup
	wg.Go(func() { record(saveCtx) })
	sw.publishSweep(saveCtx, rep)
	wg.Wait()
	sw.appendStats()
	return rep, nil
}

// load reads every target's state and the outbox in one round trip.
func (sw *sweep) load(ctx context.Context) error {
	ids := make([]string, len(sw.targets))
	for i, t := range sw.targets {
		ids[i] = t.ID()
	}
	loaded, err := sw.store.Load(ctx, ids)
	if err != nil {
		return fmt.Errorf("state store %s: cannot load: %w", sw.store, err)
	}
	if len(loaded.States) != len(ids) {
		return fmt.Errorf("state store %s: loaded %d states for %d targets", sw.store, len(loaded.States), len(ids))
	}
	for _, w := range loaded.Warnings {
		sw.log.Warn("stored state unreadable; the target starts afresh", "id", w.ID, "err", w.Err)
	}
	for _, w := range loaded.OutboxWarnings {
		sw.log.Error("queued alert unreadable (written by another version?); left in place until the outbox limits drop it",
			"event_id", w.ID, "err", w.Err)
	}
	sw.loaded = loaded
	for _, w := range loaded.SilenceWarnings {
		sw.log.Warn("stored silence unreadable (written by another version?); it silences nothing", "silence", w.ID, "err", w.Err)
	}
	sw.hold = sw.holds(loaded.Silences)
	if sw.opts.AfterLoad != nil {
		sw.opts.AfterLoad()
	}
	return nil
}

// afterProbing lets go of what probing used. Connections, handshakes,
// buffers, the heap the GC let grow to twice what was live, are garbage
// now: collect it and hand its pages back before saving, so that the end
// of the sweep starts from what is live rather than adding to probing's
// peak (BENCHMARKS.md, "peak RSS").
func (sw *sweep) afterProbing() {
	sw.closeIdle()
	debug.FreeOSMemory()
}

// apply turns the results into the next states and the events to announce.
func (sw *sweep) apply(ctx context.Context) {
	sw.obs = observations(ctx, sw.results)
	// next is in target order, as are the loaded states and the results.
	sw.next, sw.events = state.Apply(sw.loaded.States, sw.obs, sw.w.start, sw.cfg.Policy)
	// The previous states are not needed from here on: let them go before
	// the records are encoded (BENCHMARKS.md, "peak RSS").
	sw.loaded.States = nil
}

// save stores the next states and queues the new alerts, fenced by the
// lease, in one round trip.
func (sw *sweep) save(ctx context.Context) (state.SaveResult, error) {
	sw.queued = sw.routeEvents(sw.events, sw.w.start)
	return sw.store.Save(ctx, sw.lease, state.SaveRequest{
		States: sw.next, Retention: sw.cfg.Policy.Retention,
		Enqueue: sw.queued, Outbox: sw.cfg.Alerts.Outbox, Loaded: sw.loaded.Outbox,
	})
}

// report is the sweep's report, logged as it is built.
func (sw *sweep) report(end time.Time) *report.Report {
	rep := report.New(sw.opts.Version, sw.w.start, end, sw.results)
	rep.Partial = sw.partial
	rep.AddEvents(sw.events)
	rep.NoteStillDown(sw.next)
	for i, h := range sw.hold {
		rep.MarkSilenced(i, h.Until, h.By)
	}
	rep.Alerts.Held, rep.Alerts.Withheld, rep.Alerts.Unrouted = sw.routed.Held, sw.routed.Withheld, sw.routed.Unrouted
	sw.logResults(sw.results, rep)
	sw.logEvents(sw.events)
	return rep
}

// publishSweep hands the metrics to the outlets, unless the sweep is
// partial. A check the signal cut short is published as what Apply learned
// from it: nothing.
func (sw *sweep) publishSweep(ctx context.Context, rep *report.Report) {
	if sw.partial {
		sw.log.Info("a partial sweep publishes no metrics; the next full sweep does", "targets", len(sw.targets))
		return
	}
	if err := sw.publish(ctx, push.Sweep{
		At: sw.w.start, Duration: sw.now().Sub(sw.w.start), Results: sw.obs, States: sw.next, AlertsPending: rep.Alerts.Pending,
		Channels: sw.channels(&rep.Alerts), Silenced: sw.silencedUntil(),
	}); err != nil {
		rep.PushFailed, rep.PushError = true, err.Error()
	}
}

// appendStats writes the stats log's lines of this sweep, when it is on.
func (sw *sweep) appendStats() {
	if !sw.cfg.StatsLog.Enabled {
		return
	}
	if err := appendStatsLog(sw.cfg.StatsLog, sw.w.start, sw.results, sw.next); err != nil {
		sw.log.Error("cannot append to the stats log", "path", sw.cfg.StatsLog.Path, "err", err)
	}
}
