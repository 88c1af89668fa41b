package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/sweep"
	"github.com/pingpanda/pingpanda/push"
)

// serveShutdown bounds the HTTP server's graceful stop.
const serveShutdown = 300 * time.Millisecond

// runServe is the original's long-running mode: a sweep every INTERVAL ±
// JITTER_SECONDS/2 (never two at once: a sweep longer than the interval is
// followed at once by the next), /metrics and /healthz on
// PROMETHEUS_BIND_ADDRESS:PROMETHEUS_PORT when ENABLE_PROMETHEUS is true,
// until ctx ends (SIGTERM, SIGINT): then the running sweep is cancelled,
// what it learned is saved, and it exits 0. With dryRun every sweep only
// probes: no state, no alerts, no pushes (/metrics still shows them).
func runServe(ctx context.Context, cfg *config.Config, warnings []string, sys stdio, dryRun bool) int {
	latest := &push.Latest{}
	sw, closeAll, code := startSweeper(ctx, cfg, warnings, sys, sweepMode{
		dryRun: dryRun, outlets: []sweep.Outlet{sweep.LatestOutlet(latest)}, keepConnections: true,
	})
	if sw == nil {
		return code
	}
	defer closeAll()
	log := sw.Log()
	health := &healthState{}

	var srv *http.Server
	if cfg.Serve.Listen {
		ln, err := net.Listen("tcp", cfg.Serve.Addr)
		if err != nil {
			log.Error("cannot serve /metrics: is another process using the port? set PROMETHEUS_PORT or PROMETHEUS_BIND_ADDRESS",
				"addr", cfg.Serve.Addr, "err", err)
			return exitFailed
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", latest.Handler())
		mux.Handle("/healthz", health)
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		log.Info("serving /metrics and /healthz", "addr", ln.Addr().String())
	}

	var lastSummary time.Time
	for ctx.Err() == nil {
		start := sys.now()
		rep, err := serveSweep(ctx, sw, latest, dryRun)
		health.record(start, err)
		if err != nil {
			log.Error("the sweep could not complete; the next one tries again", "err", err)
		}
		if si := cfg.Serve.SummaryInterval; si > 0 && rep != nil && sys.now().Sub(lastSummary) >= si {
			lastSummary = sys.now()
			log.Info("summary", "targets", rep.Summary.Targets, "up", rep.Summary.Up, "down", rep.Summary.Down+rep.Summary.StillDown,
				"skipped", rep.Summary.Skipped, "alerts_pending", rep.Alerts.Pending)
		}
		wait := nextWait(cfg.Serve.Interval, cfg.Serve.Jitter, sys.now().Sub(start), rand.Float64())
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	log.Info("stopping: the last sweep's state is saved")
	stopping := sys.now()
	defer func() { log.Debug("stopped", "seconds", sys.now().Sub(stopping).Seconds()) }()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdown)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	}
	return exitOK
}

// nextWait is the pause before the next sweep: interval ± jitter/2 (u is a
// uniform random number in [0,1)), less the time the sweep took, never
// negative.
func nextWait(interval, jitter, took time.Duration, u float64) time.Duration {
	d := interval + time.Duration((u-0.5)*float64(jitter)) - took
	return max(d, 0)
}

// healthState answers /healthz: 200 while the last sweep completed, 503
// when it could not (state store unreachable), with the reason.
type healthState struct {
	mu      sync.Mutex
	last    time.Time
	lastErr error
}

func (h *healthState) record(at time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last, h.lastErr = at, err
}

func (h *healthState) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	last, lastErr := h.last, h.lastErr
	h.mu.Unlock()
	body := map[string]any{"status": "ok"}
	code := http.StatusOK
	if !last.IsZero() {
		body["last_sweep"] = last.UTC().Format(time.RFC3339)
	}
	if lastErr != nil {
		code = http.StatusServiceUnavailable
		body["status"] = "failing"
		body["error"] = fmt.Sprint(lastErr)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// serveSweep runs one of serve's sweeps. A dry run only probes, and still
// shows what it probed on /metrics; nothing is pushed or written.
func serveSweep(ctx context.Context, sw *sweep.Sweeper, latest *push.Latest, dryRun bool) (*report.Report, error) {
	if !dryRun {
		return sw.Sweep(ctx, sw.Config().Targets, false)
	}
	start := sw.Now()
	rep, results := sw.Probe(ctx, sw.Config().Targets)
	latest.SetSweep(push.Sweep{At: start, Duration: sw.Now().Sub(start), Results: results})
	return rep, nil
}
