package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// lambdaMargin is the end of an invocation kept for unlocking and
// returning the report.
const lambdaMargin = 2 * time.Second

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
	cfg, warnings, err := loadConfig(configSources{environ: sys.environ})
	if err != nil {
		// Report the problem on every invocation, where it is seen.
		msg := err.Error()
		lambda.Start(func(context.Context, json.RawMessage) (*report, error) {
			return nil, fmt.Errorf("configuration: %s", msg)
		})
		return exitConfig
	}
	cfg.Log.Format = "json"
	if cfg.RedisURL == "" && cfg.StateFile == "" {
		// Lambda's only writable place; it lasts as long as the warm
		// execution environment.
		cfg.StateFile = lambdaStateFile
		warnings = append(warnings, "neither REDIS_URL nor STATE_FILE is set: state lives in "+lambdaStateFile+
			" and is lost on every cold start, so failure counts and alerts reset; set REDIS_URL")
	}
	sw, closeAll, code := startSweeper(context.Background(), cfg, warnings, sys, false)
	if sw == nil {
		return code
	}
	defer closeAll()
	lambda.Start(func(ctx context.Context, event json.RawMessage) (*report, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("the invocation has no deadline")
		}
		// End the sweep early enough to release the lease and post the
		// report: past the deadline Lambda kills the invocation, the
		// report is lost and asynchronous invocations are retried.
		ctx, cancel := context.WithDeadline(ctx, dl.Add(-lambdaMargin))
		defer cancel()
		sw.log.Debug("invocation", "event_bytes", len(event))
		rep, err := sw.run(ctx, false)
		if err != nil {
			// The invocation fails, so the error shows in Lambda's
			// metrics; what was probed is in the log.
			sw.log.Error("the sweep could not complete", "err", err)
			return nil, err
		}
		return rep, nil
	})
	return exitOK
}
