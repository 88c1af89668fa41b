// Package lambda is pingpanda's AWS Lambda runtime: each invocation is a
// sweep whose deadline is the invocation's, selected and shaped by the
// event (event.go), and whose result is the JSON report. The configuration
// is read and the Sweeper (with its connection pools and Redis client) is
// built once per cold start.
package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/sweep"
	"github.com/pingpanda/pingpanda/probe"
)

// Margin is the end of an invocation kept for releasing the lease
// (sweep.UnlockTimeout) and returning the report.
const Margin = sweep.UnlockTimeout + 2*time.Second

// InitAWS bounds reading AWS references at a cold start: Lambda
// allows the init phase 10 s, and a clear message needs to get out first.
const InitAWS = 8 * time.Second

// stateFile is the state file in Lambda when none is configured.
const stateFile = "/tmp/pingpanda/state.json"

// Env is the process's outside world, as the command gives it.
type Env struct {
	Stderr  io.Writer
	Environ []string
	// Start builds the Sweeper from the configuration and logs its
	// warnings; on failure it has said why and returns the exit code.
	Start func(ctx context.Context, cfg *config.Config, warnings []string) (sw *sweep.Sweeper, closeAll func(), code int)
}

// Exit codes of Run (SPEC §1).
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

// Run serves Lambda invocations until the runtime ends the process; it
// returns the exit code when it cannot serve at all.
func Run(env Env) int {
	initCtx, cancelInit := context.WithTimeout(context.Background(), InitAWS)
	cfg, warnings, err := config.Load(initCtx, config.Sources{Environ: env.Environ})
	cancelInit()
	var ce *config.Error
	if errors.As(err, &ce) && ce.Transient {
		// AWS throttled, timed out or failed: exiting makes Lambda start
		// the function afresh on the next invocation, which reads the
		// references again, instead of failing every invocation of this
		// execution environment.
		fmt.Fprintf(env.Stderr, "pingpanda: %v\npingpanda: exiting, so that the next invocation reads the configuration again\n", err)
		return exitFailed
	}
	if err != nil {
		// Report the problem on every invocation, where it is seen.
		fmt.Fprintf(env.Stderr, "pingpanda: %v\n", err)
		awslambda.Start(failure{fmt.Errorf("configuration: %w", err)})
		return exitConfig
	}
	warnings = append(warnings, Fit(cfg)...)
	sw, closeAll, code := env.Start(context.Background(), cfg, warnings)
	if sw == nil {
		return code
	}
	defer closeAll()
	FitSweeper(sw)
	awslambda.Start(Handler{sw})
	return exitOK
}

// Fit adapts the configuration to Lambda: JSON logs, a state file in
// /tmp when none is configured; it returns the warnings that says.
func Fit(cfg *config.Config) []string {
	var warnings []string
	cfg.Log.Format = "json"
	if cfg.RedisURL == "" && cfg.StateFile == "" {
		// Lambda's only writable place; it lasts as long as the warm
		// execution environment.
		cfg.StateFile = stateFile
	}
	if cfg.RedisURL == "" && (cfg.StateFile == "/tmp" || strings.HasPrefix(filepath.Clean(cfg.StateFile), "/tmp/")) {
		warnings = append(warnings, "REDIS_URL is not set: state lives in "+cfg.StateFile+
			" and is lost on every cold start, so failure counts and alerts reset; set REDIS_URL")
	}
	if cfg.PingMode != probe.PingTCP && hasCheck(cfg.Targets, probe.Ping) {
		warnings = append(warnings, noICMP)
	}
	return warnings
}

// failure fails every invocation with err, whatever the payload:
// a configuration error shows in each invocation's result and in Lambda's
// error metrics, rather than as a crash loop.
type failure struct{ err error }

// Invoke implements lambda.Handler.
func (f failure) Invoke(context.Context, []byte) ([]byte, error) { return nil, f.err }

// noICMP says why ping targets are unsupported in Lambda.
const noICMP = "ICMP is not available in AWS Lambda: ping targets are reported unsupported (never down); " +
	"set PING_MODE=tcp to check them by TCP connect time instead"

// FitSweeper fits a Sweeper to Lambda: ICMP cannot leave a Lambda
// function (no raw sockets, and datagram ICMP is dropped), so a ping
// would only ever time out and raise false alerts.
func FitSweeper(sw *sweep.Sweeper) {
	if sw.Config().PingMode != probe.PingTCP {
		sw.SetProber(probe.Ping, probe.Unsupported{Reason: noICMP})
	}
}

func hasCheck(targets []probe.Target, c probe.Check) bool {
	for _, t := range targets {
		if t.Check == c {
			return true
		}
	}
	return false
}

// Handler is what each invocation runs: the event says what to
// sweep; the sweep ends Margin before the invocation's deadline and
// its report is the result. The sweeper, with its Redis client and
// connection pools, lives as long as the execution environment. It takes
// the payload as bytes (lambda.Handler), so that an empty payload is an
// event too and every decoding error is pingpanda's own.
type Handler struct {
	Sweeper *sweep.Sweeper
}

// Invoke implements lambda.Handler.
func (h Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	rep, err := h.sweep(ctx, payload)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		return nil, fmt.Errorf("cannot encode the report: %w", err)
	}
	return buf.Bytes(), nil
}

// sweep runs the sweep the event asks for.
func (h Handler) sweep(ctx context.Context, event []byte) (*report.Report, error) {
	sw := h.Sweeper
	started := sw.Now()
	cfg, log := sw.Config(), sw.Log()
	inv, err := parseLambdaEvent(event)
	if err != nil {
		// Retrying the same event cannot help, but failing the
		// invocation is what shows in Lambda's error metrics.
		log.Error("the invocation's event is not one pingpanda accepts", "err", err)
		return nil, err
	}
	targets, partial := cfg.Targets, false
	if len(inv.Targets) > 0 {
		if targets, err = selectTargets(inv.Targets, cfg.Targets, cfg.AllTargets); err != nil {
			log.Error("the invocation's event selects no known target", "err", err)
			return nil, err
		}
		partial = true
	}
	dryRun := inv.DryRun != nil && *inv.DryRun
	trig := &report.Trigger{Kind: inv.Trigger, Schedule: inv.Schedule, Attempt: inv.Attempt, Warnings: inv.Warnings}
	for _, w := range inv.Warnings {
		log.Warn("lambda event: "+w, "trigger", inv.Trigger)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		trig.RequestID = lc.AwsRequestID
	}
	if !inv.Scheduled.IsZero() {
		at := inv.Scheduled.UTC()
		lag := report.Round(started.Sub(at).Seconds(), 3)
		trig.Scheduled, trig.LagSeconds = &at, &lag
	}
	log.Info("invocation", "trigger", trig.Kind, "request_id", trig.RequestID, "schedule", trig.Schedule,
		"lag_seconds", trig.LagSeconds, "dry_run", dryRun, "targets", len(targets), "partial", partial)

	dl, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("the invocation has no deadline")
	}
	// End the sweep early enough to release the lease and post the
	// report: past the deadline Lambda kills the invocation, the
	// report is lost and asynchronous invocations are retried.
	ctx, cancel := context.WithDeadline(ctx, dl.Add(-Margin))
	defer cancel()
	var rep *report.Report
	if dryRun {
		rep, _ = sw.Probe(ctx, targets)
		rep.Partial = partial
	} else {
		rep, err = sw.Sweep(ctx, targets, partial)
	}
	if err != nil {
		// The invocation fails, so the error shows in Lambda's
		// metrics; what was probed is in the log.
		log.Error("the sweep could not complete", "err", err)
		return nil, err
	}
	rep.DryRun, rep.Trigger = dryRun, trig
	return rep, nil
}
