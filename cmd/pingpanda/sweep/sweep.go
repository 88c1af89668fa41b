// Package sweep owns the sweep sequence of ARCHITECTURE.md, one explicit
// step each: take the lease, load every target's state, probe what is due,
// apply the results, save, deliver the alerts, publish the metrics,
// release the lease. A Sweeper is built once per process (or Lambda cold
// start) and keeps its probers' connection pools and its state store
// between sweeps.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// Options are what a Sweeper is built from.
type Options struct {
	Config *config.Config
	Log    *slog.Logger
	// Now is the sweep's clock: every step, the store and the probers
	// read time from it alone.
	Now func() time.Time
	// Version is pingpanda's, named in the report and the User-Agent.
	Version string
	// Source is the host named in alerts (see SourceName).
	Source string
	// Environ is the process environment (the state file's default
	// place is read from it); Host is this host's name, for the lock.
	Environ []string
	Host    string
	// Outlets receive each full sweep's metrics besides the configured
	// Pushgateway and textfile (serve mode's /metrics).
	Outlets []Outlet
	// KeepConnections keeps the http check's idle connections after a
	// sweep, for a next sweep in the same process to reuse (serve).
	KeepConnections bool
	// AfterLoad, when set, runs between loading and saving state; tests
	// use it to break the store at that point.
	AfterLoad func()
}

// Sweeper runs sweeps of the configured targets.
type Sweeper struct {
	cfg    *config.Config
	log    *slog.Logger
	now    func() time.Time
	opts   Options
	runner *probe.Runner
	// store is nil for a Sweeper that only probes (NewProber).
	store state.Store
	// notifiers deliver alerts.
	notifiers []alert.Notifier
	// outlets publish the metrics: the Pushgateway, the textfile, and
	// Options.Outlets.
	outlets []Outlet
}

// New builds the probers and opens the state store.
func New(ctx context.Context, o Options) (*Sweeper, error) {
	s, err := NewProber(o)
	if err != nil {
		return nil, err
	}
	if s.store, err = OpenStore(ctx, o.Config, StoreEnv{Now: o.Now, Environ: o.Environ, Host: o.Host}); err != nil {
		return nil, err
	}
	return s, nil
}

// NewProber builds a Sweeper that can only Probe: it opens no store, so it
// reads and writes no state, sends no alert and publishes nothing (a dry
// run).
func NewProber(o Options) (*Sweeper, error) {
	if o.Now == nil {
		return nil, errors.New("sweep: Options.Now (the sweep's clock) is required")
	}
	cfg := o.Config
	dnsProber, err := probe.NewDNS(probe.DNSOptions{Server: cfg.DNSServer, Type: cfg.DNSRecordType})
	if err != nil {
		return nil, err
	}
	log := o.Log
	s := &Sweeper{
		cfg: cfg, log: log, now: o.Now, opts: o,
		outlets: append(configuredOutlets(cfg.Metrics, cfg.Shard), o.Outlets...),
		runner: &probe.Runner{
			Probers: map[probe.Check]probe.Prober{
				probe.DNS:  dnsProber,
				probe.Ping: probe.NewPing(probe.PingOptions{Mode: cfg.PingMode, Count: cfg.PingCount, TCPPort: cfg.PingTCPPort, Timeout: cfg.Timeouts[probe.Ping]}),
				probe.HTTP: probe.NewHTTP(probe.HTTPOptions{Success: cfg.SuccessCodes, RootCAs: cfg.RootCAs, MaxConns: cfg.Concurrency, UserAgent: "pingpanda/" + o.Version}),
				probe.TLS:  probe.NewTLS(probe.TLSOptions{RootCAs: cfg.RootCAs, WarnDays: cfg.SSLWarnDays, CriticalDays: cfg.SSLCriticalDays, Now: o.Now}),
				probe.TCP:  probe.NewTCP(probe.TCPOptions{RootCAs: cfg.RootCAs}),
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
				probe.TCP:  cfg.Timeouts[probe.TCP],
			},
		},
	}
	if s.notifiers, err = newNotifiers(cfg.Routing, cfg.RootCAs); err != nil {
		return nil, err
	}
	return s, nil
}

// SetProber replaces the prober of one check (Lambda, which has no ICMP,
// reports ping targets unsupported).
func (s *Sweeper) SetProber(c probe.Check, p probe.Prober) { s.runner.Probers[c] = p }

// Config is the configuration the Sweeper was built with.
func (s *Sweeper) Config() *config.Config { return s.cfg }

// Log is the Sweeper's logger.
func (s *Sweeper) Log() *slog.Logger { return s.log }

// Now reads the sweep's clock.
func (s *Sweeper) Now() time.Time { return s.now() }

// StoreEnv is what a state store takes from the process: the sweep's
// clock, the environment (for the state file's default place) and the
// host's name (for the lock's holder).
type StoreEnv struct {
	Now     func() time.Time
	Environ []string
	Host    string
}

// getenv reads the environment's key.
func (e StoreEnv) getenv(key string) string {
	for _, kv := range slices.Backward(e.Environ) {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// OpenStore opens Redis when REDIS_URL is set, else the state file.
func OpenStore(ctx context.Context, cfg *config.Config, env StoreEnv) (state.Store, error) {
	now := env.Now
	if cfg.RedisURL != "" {
		st, err := state.NewRedisStore(ctx, state.RedisOptions{URL: cfg.RedisURL, Namespace: cfg.Namespace, Shard: cfg.Shard, Now: now})
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		return st, nil
	}
	path := cfg.StateFile
	if path == "" {
		p, err := state.DefaultStatePath(env.getenv)
		if err != nil {
			return nil, err
		}
		path = p
	}
	st, err := state.NewFileStore(path, state.FileOptions{Now: now, Host: env.Host})
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return st, nil
}

// Close releases the state store.
func (s *Sweeper) Close() error {
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

// UnlockTimeout bounds releasing the lease after the sweep's deadline (one
// Redis round trip, or a file unlock). Lambda leaves room for it.
const UnlockTimeout = time.Second

// window is one sweep's time: its context, bounded by the sweep deadline,
// and the earlier deadline of the probes, which leaves the reserve.
type window struct {
	start    time.Time
	deadline time.Time
	kept     time.Duration
}

// open bounds ctx by SWEEP_TIMEOUT_SECONDS when it has no deadline of its
// own (a Lambda invocation's deadline wins unless the key was set).
func (s *Sweeper) open(ctx context.Context) (context.Context, context.CancelFunc, window) {
	w := window{start: s.now()}
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok || s.cfg.SweepTimeoutSet {
		ctx, cancel = context.WithTimeout(ctx, s.cfg.SweepTimeout)
	}
	w.deadline, _ = ctx.Deadline()
	w.kept = reserve(time.Until(w.deadline))
	return ctx, cancel, w
}

// Probe probes the targets and reports what it found; it reads and writes
// no state, sends no alert and publishes nothing (a dry run).
func (s *Sweeper) Probe(ctx context.Context, targets []probe.Target) (*report.Report, []probe.Result) {
	ctx, cancel, w := s.open(ctx)
	defer cancel()
	probeCtx, cancelProbes := context.WithDeadline(ctx, w.deadline.Add(-w.kept))
	defer cancelProbes()
	s.logStart(targets, w, true)
	results := s.runner.Run(probeCtx, targets)
	rep := report.New(s.opts.Version, w.start, s.now(), results)
	rep.DryRun = true
	s.logResults(results, rep)
	return rep, results
}

// Sweep runs one sweep of the targets (ARCHITECTURE.md). A partial sweep
// (a Lambda event that selected some targets) saves what it learned about
// them but publishes no metrics: a push would replace the series of every
// other target in the Pushgateway group. The error says why the sweep
// could not complete; the report is returned whenever probing happened,
// even then.
func (s *Sweeper) Sweep(ctx context.Context, targets []probe.Target, partial bool) (*report.Report, error) {
	if s.store == nil {
		return nil, errors.New("sweep: this Sweeper was built to probe only (NewProber)")
	}
	ctx, cancel, w := s.open(ctx)
	defer cancel()
	s.logStart(targets, w, false)
	lease, err := s.store.Lock(ctx, time.Until(w.deadline)+leaseMargin)
	if errors.Is(err, state.ErrLocked) {
		s.log.Info("another sweep is in progress; this one does nothing", "store", s.store.String(), "detail", err.Error())
		rep := report.New(s.opts.Version, w.start, s.now(), nil)
		rep.Locked = true
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state store %s: cannot take the lease: %w", s.store, err)
	}
	defer s.unlock(ctx, lease)
	sw := &sweep{Sweeper: s, w: w, lease: lease, targets: targets, partial: partial}
	return sw.run(ctx)
}

func (s *Sweeper) logStart(targets []probe.Target, w window, dryRun bool) {
	s.log.Debug("sweep starting", "targets", len(targets), "shard", s.cfg.Shard, "concurrency", s.cfg.Concurrency,
		"deadline", w.deadline.UTC().Format(time.RFC3339Nano), "dry_run", dryRun)
}

// unlock releases the lease, even when ctx has ended; the lease would
// expire anyway.
func (s *Sweeper) unlock(ctx context.Context, lease state.Lease) {
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), UnlockTimeout)
	defer ucancel()
	if err := s.store.Unlock(uctx, lease); err != nil {
		s.log.Warn("cannot release the lease; it expires on its own", "store", s.store.String(), "err", err)
	}
}

// closeIdle closes the http check's idle keep-alive connections once the
// probes are done, unless KeepConnections says a next sweep reuses them:
// at a concurrency of 512 they are hundreds of sockets, each with two
// goroutines and 8 KiB of buffers, held through the end of the sweep
// (saving state, alerts, metrics), where the process's memory peaks.
func (s *Sweeper) closeIdle() {
	if s.opts.KeepConnections {
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
func (s *Sweeper) probeDue(ctx context.Context, targets []probe.Target, prev []state.TargetState, now time.Time) []probe.Result {
	var skipped []probe.Result // in target order, with the due ones left zero
	var due []probe.Target
	var dueAt []int
	for i, t := range targets {
		ok, note := true, ""
		if t.Spec != nil && t.Spec.Every > 0 {
			ok, note = state.DueEvery(&prev[i], t.Spec.Every, now)
		}
		if ok {
			ok, note = state.Due(&prev[i], now, s.cfg.Policy)
		}
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
func (s *Sweeper) logResults(results []probe.Result, rep *report.Report) {
	for _, r := range results {
		s.logResult(r)
	}
	s.log.Info("sweep done", "targets", rep.Summary.Targets, "up", rep.Summary.Up, "down", rep.Summary.Down,
		"skipped", rep.Summary.Skipped, "unsupported", rep.Summary.Unsupported, "events", len(rep.Events),
		"duration_seconds", rep.DurationSeconds)
}

func (s *Sweeper) logResult(r probe.Result) {
	up := r.Status == probe.StatusUp
	if (s.cfg.ShowOnlySuccess && !up) || (s.cfg.ShowOnlyFailure && up) {
		return
	}
	attrs := []any{"id", r.Target.ID(), "status", string(r.Status), "attempts", r.Attempts,
		"latency_seconds", r.Latency.Seconds()}
	switch r.Status {
	case probe.StatusUp:
		if r.Degraded {
			attrs = append(attrs, "degraded", true)
		}
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
func (s *Sweeper) logEvents(events []state.Event) {
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
		case state.KindRecovered, state.KindFlapResolved, state.KindCertOK, state.KindDegradedResolved:
			s.log.Info("event "+string(e.Kind), append(attrs, "duration_seconds", e.Duration.Seconds())...)
		default:
			s.log.Warn("event "+string(e.Kind), attrs...)
		}
	}
}
