package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pingpanda/pingpanda/probe"
)

// lambdaMargin is the end of an invocation kept for releasing the lease
// (unlockTimeout) and returning the report.
const lambdaMargin = unlockTimeout + 2*time.Second

// lambdaInitAWS bounds reading AWS references at a cold start: Lambda
// allows the init phase 10 s, and a clear message needs to get out first.
const lambdaInitAWS = 8 * time.Second

// lambdaStateFile is the state file in Lambda when none is configured.
const lambdaStateFile = "/tmp/pingpanda/state.json"

// inLambda reports whether the process was started by the AWS Lambda
// runtime.
func inLambda(environ []string) bool {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_RUNTIME_API="); ok && v != "" {
			return true
		}
	}
	return false
}

// runLambda serves Lambda invocations: each one is a sweep whose deadline
// is the invocation's (minus the reserve kept for what follows the probes),
// and whose result is the JSON report. The configuration is read and the
// probers (with their connection pools) are built once per cold start.
func runLambda(sys stdio) int {
	initCtx, cancelInit := context.WithTimeout(context.Background(), lambdaInitAWS)
	cfg, warnings, err := loadConfigContext(initCtx, configSources{environ: sys.environ})
	cancelInit()
	var ce *configError
	if errors.As(err, &ce) && ce.transient {
		// AWS throttled, timed out or failed: exiting makes Lambda start
		// the function afresh on the next invocation, which reads the
		// references again, instead of failing every invocation of this
		// execution environment.
		fmt.Fprintf(sys.stderr, "pingpanda: %v\npingpanda: exiting, so that the next invocation reads the configuration again\n", err)
		return exitFailed
	}
	if err != nil {
		// Report the problem on every invocation, where it is seen.
		fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
		lambda.Start(lambdaFailure{fmt.Errorf("configuration: %w", err)})
		return exitConfig
	}
	cfg.Log.Format = "json"
	if cfg.RedisURL == "" && cfg.StateFile == "" {
		// Lambda's only writable place; it lasts as long as the warm
		// execution environment.
		cfg.StateFile = lambdaStateFile
	}
	if cfg.RedisURL == "" && (cfg.StateFile == "/tmp" || strings.HasPrefix(filepath.Clean(cfg.StateFile), "/tmp/")) {
		warnings = append(warnings, "REDIS_URL is not set: state lives in "+cfg.StateFile+
			" and is lost on every cold start, so failure counts and alerts reset; set REDIS_URL")
	}
	if cfg.PingMode != probe.PingTCP && hasCheck(cfg.Targets, probe.Ping) {
		warnings = append(warnings, lambdaNoICMP)
	}
	sw, closeAll, code := startSweeper(context.Background(), cfg, warnings, sys, false)
	if sw == nil {
		return code
	}
	defer closeAll()
	lambdaSweeper(sw)
	lambda.Start(lambdaHandler{sw})
	return exitOK
}

// lambdaFailure fails every invocation with err, whatever the payload:
// a configuration error shows in each invocation's result and in Lambda's
// error metrics, rather than as a crash loop.
type lambdaFailure struct{ err error }

// Invoke implements lambda.Handler.
func (f lambdaFailure) Invoke(context.Context, []byte) ([]byte, error) { return nil, f.err }

// lambdaNoICMP says why ping targets are unsupported in Lambda.
const lambdaNoICMP = "ICMP is not available in AWS Lambda: ping targets are reported unsupported (never down); " +
	"set PING_MODE=tcp to check them by TCP connect time instead"

// lambdaSweeper fits a sweeper to Lambda: ICMP cannot leave a Lambda
// function (no raw sockets, and datagram ICMP is dropped), so a ping
// would only ever time out and raise false alerts.
func lambdaSweeper(sw *sweeper) {
	if sw.cfg.PingMode != probe.PingTCP {
		sw.runner.Probers[probe.Ping] = probe.Unsupported{Reason: lambdaNoICMP}
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

// lambdaHandler is what each invocation runs: the event says what to
// sweep; the sweep ends lambdaMargin before the invocation's deadline and
// its report is the result. The sweeper, with its Redis client and
// connection pools, lives as long as the execution environment. It takes
// the payload as bytes (lambda.Handler), so that an empty payload is an
// event too and every decoding error is pingpanda's own.
type lambdaHandler struct {
	sw *sweeper
}

// Invoke implements lambda.Handler.
func (h lambdaHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
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
func (h lambdaHandler) sweep(ctx context.Context, event []byte) (*report, error) {
	sw := h.sw
	started := sw.now()
	inv, err := parseLambdaEvent(event)
	if err != nil {
		// Retrying the same event cannot help, but failing the
		// invocation is what shows in Lambda's error metrics.
		sw.log.Error("the invocation's event is not one pingpanda accepts", "err", err)
		return nil, err
	}
	targets, partial := sw.cfg.Targets, false
	if len(inv.Targets) > 0 {
		if targets, err = selectTargets(inv.Targets, sw.cfg.Targets, sw.cfg.AllTargets); err != nil {
			sw.log.Error("the invocation's event selects no known target", "err", err)
			return nil, err
		}
		partial = true
	}
	dryRun := inv.DryRun != nil && *inv.DryRun
	trig := &triggerReport{Kind: inv.Trigger, Schedule: inv.Schedule, Attempt: inv.Attempt, Warnings: inv.Warnings}
	for _, w := range inv.Warnings {
		sw.log.Warn("lambda event: "+w, "trigger", inv.Trigger)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		trig.RequestID = lc.AwsRequestID
	}
	if !inv.Scheduled.IsZero() {
		at := inv.Scheduled.UTC()
		lag := round(started.Sub(at).Seconds(), 3)
		trig.Scheduled, trig.LagSeconds = &at, &lag
	}
	sw.log.Info("invocation", "trigger", trig.Kind, "request_id", trig.RequestID, "schedule", trig.Schedule,
		"lag_seconds", trig.LagSeconds, "dry_run", dryRun, "targets", len(targets), "partial", partial)

	dl, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("the invocation has no deadline")
	}
	// End the sweep early enough to release the lease and post the
	// report: past the deadline Lambda kills the invocation, the
	// report is lost and asynchronous invocations are retried.
	ctx, cancel := context.WithDeadline(ctx, dl.Add(-lambdaMargin))
	defer cancel()
	rep, err := sw.runTargets(ctx, dryRun, targets, partial)
	if err != nil {
		// The invocation fails, so the error shows in Lambda's
		// metrics; what was probed is in the log.
		sw.log.Error("the sweep could not complete", "err", err)
		return nil, err
	}
	rep.DryRun, rep.Trigger = dryRun, trig
	return rep, nil
}
