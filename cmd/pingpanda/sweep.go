package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/push"
	"github.com/pingpanda/pingpanda/state"
)

// sweeper runs sweeps of every configured target. It is built once per
// process (or Lambda cold start) and keeps its probers' connection pools and
// its state store between sweeps.
type sweeper struct {
	cfg    *Config
	log    *slog.Logger
	now    func() time.Time
	runner *probe.Runner
	store  state.Store
	// notifiers deliver alerts; source is the host named in them.
	notifiers []alert.Notifier
	source    string
	// Metrics outlets: the Pushgateway (nil when unset) and, in serve
	// mode, the registry /metrics serves.
	pushgateway *push.Pushgateway
	latest      *push.Latest

	// afterLoad, when set, runs between loading and saving state; tests
	// use it to break the store at that point.
	afterLoad func()
}

// newSweeper builds the probers and, unless dryRun, opens the state store.
func newSweeper(ctx context.Context, cfg *Config, log *slog.Logger, now func() time.Time, dryRun bool) (*sweeper, error) {
	roots := cfg.RootCAs
	dnsProber, err := probe.NewDNS(probe.DNSOptions{Server: cfg.DNSServer, Type: cfg.DNSRecordType})
	if err != nil {
		return nil, err
	}
	var store state.Store
	if !dryRun {
		if store, err = openStore(ctx, cfg, now); err != nil {
			return nil, err
		}
	}
	sw := &sweeper{
		cfg:         cfg,
		log:         log,
		now:         now,
		store:       store,
		notifiers:   newNotifiers(cfg.Alerts),
		pushgateway: newPushgateway(cfg.Metrics, cfg.Shard),
		runner: &probe.Runner{
			Probers: map[probe.Check]probe.Prober{
				probe.DNS:  dnsProber,
				probe.Ping: probe.NewPing(probe.PingOptions{Mode: cfg.PingMode, Count: cfg.PingCount, TCPPort: cfg.PingTCPPort, Timeout: cfg.Timeouts[probe.Ping]}),
				probe.HTTP: probe.NewHTTP(probe.HTTPOptions{Success: cfg.SuccessCodes, RootCAs: roots, MaxConns: cfg.Concurrency, UserAgent: "pingpanda/" + version}),
				probe.TLS:  probe.NewTLS(probe.TLSOptions{RootCAs: roots, WarnDays: cfg.SSLWarnDays, CriticalDays: cfg.SSLCriticalDays, Now: now}),
			},
			Concurrency: cfg.Concurrency,
			Attempts:    cfg.RetryCount,
			OnAttempt: func(r probe.Result) {
				log.Debug("attempt", "id", r.Target.ID(), "attempt", r.Attempts, "status", string(r.Status),
					"latency_seconds", r.Latency.Seconds(), "err", r.Error)
			},
			// Ping bounds its own attempts, from when its socket opens.
			AttemptTimeout: map[probe.Check]time.Duration{
				probe.DNS:  cfg.Timeouts[probe.DNS],
				probe.HTTP: cfg.Timeouts[probe.HTTP],
				probe.TLS:  cfg.Timeouts[probe.TLS],
			},
		},
	}
	return sw, nil
}

// openStore opens Redis when REDIS_URL is set, else the state file.
func openStore(ctx context.Context, cfg *Config, now func() time.Time) (state.Store, error) {
	if cfg.RedisURL != "" {
		st, err := state.NewRedisStore(ctx, state.RedisOptions{URL: cfg.RedisURL, Namespace: cfg.Namespace, Shard: cfg.Shard, Now: now})
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		return st, nil
	}
	path := cfg.StateFile
	if path == "" {
		p, err := state.DefaultStatePath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	st, err := state.NewFileStore(path, state.FileOptions{Now: now})
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return st, nil
}

// close releases the state store.
func (s *sweeper) close() error {
	if s.store == nil {
		return nil
	}
	return s.store.Close()
}

// reserve is the part of the sweep deadline kept back from the probes for
// what comes after them: saving state, delivering alerts, then recording
// the deliveries and pushing metrics (the last quarter of it, see
// recordMargin). A fifth of the deadline, at least 2 s and at most 10 s,
// and never more than half.
func reserve(total time.Duration) time.Duration {
	return min(max(total/5, 2*time.Second), 10*time.Second, total/2)
}

// recordMargin is the end of the reserve kept back from delivering alerts,
// for recording what was delivered and pushing metrics.
func recordMargin(reserve time.Duration) time.Duration { return reserve / 4 }

// leaseMargin is how long the lease outlives the sweep deadline, so that a
// sweep finishing at its deadline still holds it while it saves.
const leaseMargin = 15 * time.Second

// unlockTimeout bounds releasing the lease after the sweep's deadline (one
// Redis round trip, or a file unlock). lambdaMargin leaves room for it.
const unlockTimeout = time.Second

// run performs one sweep: lock, load, decide what is due, probe, apply,
// save, unlock (ARCHITECTURE.md). A dry run only probes. The error says why
// the sweep could not complete; the report is returned whenever probing
// happened, even then.
func (s *sweeper) run(ctx context.Context, dryRun bool) (*report, error) {
	return s.runTargets(ctx, dryRun, s.cfg.Targets, false)
}

// runTargets is run over the given targets. A partial sweep (a Lambda
// event that selected some targets) saves what it learned about them but
// publishes no metrics: a push would replace the series of every other
// target in the Pushgateway group.
func (s *sweeper) runTargets(ctx context.Context, dryRun bool, targets []probe.Target, partial bool) (*report, error) {
	start := s.now()
	// SWEEP_TIMEOUT_SECONDS bounds a sweep that has no deadline of its
	// own; a Lambda invocation's deadline wins unless the key was set.
	if _, ok := ctx.Deadline(); !ok || s.cfg.SweepTimeoutSet {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.SweepTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	kept := reserve(time.Until(deadline))
	probeCtx, cancelProbes := context.WithDeadline(ctx, deadline.Add(-kept))
	defer cancelProbes()
	s.log.Debug("sweep starting", "targets", len(targets), "partial", partial, "shard", s.cfg.Shard, "concurrency", s.cfg.Concurrency,
		"deadline", deadline.UTC().Format(time.RFC3339Nano), "dry_run", dryRun)

	if dryRun || s.store == nil {
		results := s.runner.Run(probeCtx, targets)
		rep := newReport(start, s.now(), results)
		rep.Partial = partial
		s.logResults(results, rep)
		if s.latest != nil && !partial {
			// serve --dry-run still shows what it probed on /metrics;
			// nothing is pushed or written.
			s.latest.SetSweep(push.Sweep{At: start, Duration: s.now().Sub(start), Results: results})
		}
		return rep, nil
	}

	lease, err := s.store.Lock(ctx, time.Until(deadline)+leaseMargin)
	if errors.Is(err, state.ErrLocked) {
		s.log.Info("another sweep is in progress; this one does nothing", "store", s.store.String(), "detail", err.Error())
		rep := newReport(start, s.now(), nil)
		rep.Locked = true
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state store %s: cannot take the lease: %w", s.store, err)
	}
	defer func() {
		// Unlock even when ctx has ended; the lease would expire anyway.
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer ucancel()
		if err := s.store.Unlock(uctx, lease); err != nil {
			s.log.Warn("cannot release the lease; it expires on its own", "store", s.store.String(), "err", err)
		}
	}()

	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.ID()
	}
	loaded, err := s.store.Load(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("state store %s: cannot load: %w", s.store, err)
	}
	prev, warnings := loaded.States, loaded.Warnings
	if len(prev) != len(ids) {
		return nil, fmt.Errorf("state store %s: loaded %d states for %d targets", s.store, len(prev), len(ids))
	}
	for _, w := range warnings {
		s.log.Warn("stored state unreadable; the target starts afresh", "id", w.ID, "err", w.Err)
	}
	for _, w := range loaded.OutboxWarnings {
		s.log.Error("queued alert unreadable (written by another version?); left in place until the outbox limits drop it",
			"event_id", w.ID, "err", w.Err)
	}
	if s.afterLoad != nil {
		s.afterLoad()
	}

	results := s.probeDue(probeCtx, targets, prev, start)
	s.closeIdle()
	// What probing used (connections, handshakes, buffers, the heap the
	// GC let grow to twice what was live) is garbage now: collect it and
	// hand its pages back before saving, so that the end of the sweep
	// starts from what is live rather than adding to probing's peak. At
	// 10,000 targets the process's peak RSS goes from 75-77 MiB to
	// 65-67 MiB, for one early GC (BENCHMARKS.md).
	debug.FreeOSMemory()
	obs := observations(ctx, results)
	// next is in target order, as are prev and results.
	next, events := state.Apply(prev, obs, start, s.cfg.Policy)
	// The previous states are not needed from here on: let them go before
	// the records are encoded (at 10,000 targets, 5.6 MB).
	loaded.States = nil
	end := s.now()

	// Save even when a signal cancelled the sweep: what was learned is
	// kept. The deadline still bounds it.
	saveCtx, cancelSave := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancelSave()
	queued := s.enqueue(events, start)
	saved, err := s.store.Save(saveCtx, lease, state.SaveRequest{
		States: next, Retention: s.cfg.Policy.Retention,
		Enqueue: queued, Outbox: s.cfg.Alerts.Outbox,
	})
	// The report is built once the records are saved, so that its rows
	// and the records, each megabytes at 10,000 targets, are never held
	// at once.
	rep := newReport(start, end, results)
	rep.Partial = partial
	rep.addEvents(events)
	rep.noteStillDown(next)
	s.logResults(results, rep)
	s.logEvents(events)
	if errors.Is(err, state.ErrSavedInPart) {
		// Some of this sweep's records or alerts are stored, some not:
		// the next sweep loads what is there and goes on from it.
		return rep, fmt.Errorf("state store %s: this sweep's state was saved in part; the next sweep goes on from what was stored: %w", s.store, err)
	}
	if err != nil {
		return rep, fmt.Errorf("state store %s: cannot save; the stored state is as before this sweep: %w", s.store, err)
	}
	var alertsRep alertsReport
	record := s.deliver(ctx, deadline.Add(-recordMargin(kept)), lease, outboxAfterSave(loaded.Outbox, queued, saved.Dropped), saved.Dropped, &alertsRep)
	rep.Alerts = alertsRep
	// Recording the deliveries and pushing metrics share the end of the
	// reserve, side by side, so a stuck Pushgateway cannot cost a record.
	var wg sync.WaitGroup
	wg.Go(func() { record(saveCtx) })
	// A check the signal cut short is published as what Apply learned
	// from it: nothing.
	if partial {
		s.log.Info("a partial sweep publishes no metrics; the next full sweep does", "targets", len(targets))
	} else if err := s.publish(saveCtx, push.Sweep{
		At: start, Duration: s.now().Sub(start), Results: obs, States: next, AlertsPending: rep.Alerts.Pending,
	}); err != nil {
		rep.PushFailed, rep.PushError = true, err.Error()
	}
	wg.Wait()
	if s.cfg.StatsLog.Enabled {
		if err := appendStatsLog(s.cfg.StatsLog, start, results, next); err != nil {
			s.log.Error("cannot append to the stats log", "path", s.cfg.StatsLog.Path, "err", err)
		}
	}
	return rep, nil
}

// closeIdle closes the http check's idle keep-alive connections once the
// probes are done, except in serve mode, whose next sweep may reuse them:
// at a concurrency of 512 they are hundreds of sockets, each with two
// goroutines and 8 KiB of buffers, held through the end of the sweep
// (saving state, alerts, metrics), where the process's memory peaks.
func (s *sweeper) closeIdle() {
	if s.latest != nil {
		return
	}
	for _, p := range s.runner.Probers {
		if c, ok := p.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// observations are the results Apply should learn from. When a signal
// cancelled the sweep, the checks it cut short say nothing about their
// targets: they count as skipped, not as failures.
func observations(ctx context.Context, results []probe.Result) []probe.Result {
	if !errors.Is(ctx.Err(), context.Canceled) {
		return results
	}
	out := make([]probe.Result, len(results))
	for i, r := range results {
		if r.TimedOut {
			r = probe.Result{Target: r.Target, Status: probe.StatusSkipped, Error: r.Error}
		}
		out[i] = r
	}
	return out
}

// probeDue probes the targets that are due and reports the others as
// skipped, with the reason; results come in target order.
func (s *sweeper) probeDue(ctx context.Context, targets []probe.Target, prev []state.TargetState, now time.Time) []probe.Result {
	var skipped []probe.Result // in target order, with the due ones left zero
	var due []probe.Target
	var dueAt []int
	for i, t := range targets {
		ok, note := state.Due(&prev[i], now, s.cfg.Policy)
		if !ok {
			if skipped == nil {
				skipped = make([]probe.Result, len(targets))
				due, dueAt = slices.Clone(targets[:i]), make([]int, i, len(targets))
				for j := range dueAt {
					dueAt[j] = j
				}
			}
			skipped[i] = probe.Result{Target: t, Status: probe.StatusSkipped, Error: note}
			continue
		}
		if note != "" {
			s.log.Info("circuit half-open", "id", t.ID(), "detail", note)
		}
		if skipped != nil {
			due = append(due, t)
			dueAt = append(dueAt, i)
		}
	}
	if skipped == nil {
		// Every target is due, the usual case: the runner's results are
		// the sweep's, with no second slice of them held meanwhile.
		return s.runner.Run(ctx, targets)
	}
	for j, r := range s.runner.Run(ctx, due) {
		skipped[dueAt[j]] = r
	}
	return skipped
}

// logResults writes a line per target, unless SHOW_ONLY_* hides it, and
// the summary.
func (s *sweeper) logResults(results []probe.Result, rep *report) {
	for _, r := range results {
		s.logResult(r)
	}
	s.log.Info("sweep done", "targets", rep.Summary.Targets, "up", rep.Summary.Up, "down", rep.Summary.Down,
		"skipped", rep.Summary.Skipped, "unsupported", rep.Summary.Unsupported, "events", len(rep.Events),
		"duration_seconds", rep.DurationSeconds)
}

func (s *sweeper) logResult(r probe.Result) {
	up := r.Status == probe.StatusUp
	if (s.cfg.ShowOnlySuccess && !up) || (s.cfg.ShowOnlyFailure && up) {
		return
	}
	attrs := []any{"id", r.Target.ID(), "status", string(r.Status), "attempts", r.Attempts,
		"latency_seconds", r.Latency.Seconds()}
	switch r.Status {
	case probe.StatusUp:
		s.log.Info("check up", attrs...)
	case probe.StatusSkipped:
		s.log.Info("check skipped", append(attrs, "reason", r.Error)...)
	case probe.StatusUnsupported:
		s.log.Error("check cannot run here", append(attrs, "err", r.Error)...)
	default:
		s.log.Warn("check failed", append(attrs, "err", r.Error, "timed_out", r.TimedOut)...)
	}
}

// logEvents logs every event: alerts at WARN (INFO for good news), the
// circuit breaker's transitions at INFO.
func (s *sweeper) logEvents(events []state.Event) {
	for _, e := range events {
		attrs := []any{"id", e.TargetID, "event_id", e.ID, "since", e.Since.UTC().Format(time.RFC3339)}
		if e.Message != "" {
			attrs = append(attrs, "detail", e.Message)
		}
		switch e.Kind {
		case state.KindCircuitOpened:
			s.log.Info("circuit opened", attrs...)
		case state.KindCircuitClosed:
			s.log.Info("circuit closed", attrs...)
		case state.KindRecovered, state.KindFlapResolved, state.KindCertOK:
			s.log.Info("event "+string(e.Kind), append(attrs, "duration_seconds", e.Duration.Seconds())...)
		default:
			s.log.Warn("event "+string(e.Kind), attrs...)
		}
	}
}
