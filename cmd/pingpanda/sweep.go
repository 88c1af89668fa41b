package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

// sweeper runs one sweep of every configured target.
type sweeper struct {
	cfg    *Config
	log    *slog.Logger
	now    func() time.Time
	runner *probe.Runner
}

// newSweeper builds the probers.
func newSweeper(cfg *Config, log *slog.Logger, now func() time.Time) (*sweeper, error) {
	roots := cfg.RootCAs
	dnsProber, err := probe.NewDNS(probe.DNSOptions{Server: cfg.DNSServer, Type: cfg.DNSRecordType})
	if err != nil {
		return nil, err
	}
	return &sweeper{
		cfg: cfg,
		log: log,
		now: now,
		runner: &probe.Runner{
			Probers: map[probe.Check]probe.Prober{
				probe.DNS:  dnsProber,
				probe.Ping: probe.NewPing(probe.PingOptions{Mode: cfg.PingMode, Count: cfg.PingCount, TCPPort: cfg.PingTCPPort}),
				probe.HTTP: probe.NewHTTP(probe.HTTPOptions{Success: cfg.SuccessCodes, RootCAs: roots, MaxConns: cfg.Concurrency, UserAgent: "pingpanda/" + version}),
				probe.TLS:  probe.NewTLS(probe.TLSOptions{RootCAs: roots, WarnDays: cfg.SSLWarnDays, CriticalDays: cfg.SSLCriticalDays, Now: now}),
			},
			Concurrency:    cfg.Concurrency,
			Attempts:       cfg.RetryCount,
			AttemptTimeout: cfg.Timeouts,
		},
	}, nil
}

// reserve is the part of the sweep deadline kept back from the probes for
// what comes after them (saving state, delivering alerts, pushing metrics).
func reserve(total time.Duration) time.Duration {
	return min(total/10, 5*time.Second)
}

// run probes every target inside the sweep deadline and builds the report.
func (s *sweeper) run(ctx context.Context) *report {
	start := s.now()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SweepTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	probeCtx, cancelProbes := context.WithDeadline(ctx, deadline.Add(-reserve(time.Until(deadline))))
	defer cancelProbes()

	s.log.Debug("sweep starting", "targets", len(s.cfg.Targets), "concurrency", s.cfg.Concurrency,
		"deadline", deadline.UTC().Format(time.RFC3339Nano))
	results := s.runner.Run(probeCtx, s.cfg.Targets)
	rep := newReport(start, s.now(), results)
	for _, r := range results {
		s.logResult(r)
	}
	s.log.Info("sweep done", "targets", rep.Summary.Targets, "up", rep.Summary.Up, "down", rep.Summary.Down,
		"unsupported", rep.Summary.Unsupported, "duration_seconds", rep.DurationSeconds)
	return rep
}

// logResult writes a target's log line, unless SHOW_ONLY_* hides it.
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
	case probe.StatusUnsupported:
		s.log.Error("check cannot run here", append(attrs, "err", r.Error)...)
	default:
		s.log.Warn("check failed", append(attrs, "err", r.Error, "timed_out", r.TimedOut)...)
	}
}
