package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/pingpanda/pingpanda/push"
)

// publish hands the sweep's metrics to every configured outlet: the
// Pushgateway, the textfile, serve mode's /metrics. Each writes them from
// sw as it goes (push.WriteText) rather than from a registry, which at
// 10,000 targets would be some 20 MB at the end of the sweep, where memory
// peaks. A failure is logged and returned; it never touches state or
// alerts. sw must not change afterwards: serve mode's /metrics reads it
// until the next sweep's.
func (s *sweeper) publish(ctx context.Context, sw push.Sweep) error {
	if s.pushgateway == nil && s.cfg.Metrics.Textfile == "" && s.latest == nil {
		return nil
	}
	if s.latest != nil {
		s.latest.SetSweep(sw)
	}
	var errs []error
	if s.cfg.Metrics.Textfile != "" {
		if err := push.WriteTextfile(s.cfg.Metrics.Textfile, sw); err != nil {
			errs = append(errs, fmt.Errorf("METRICS_TEXTFILE: %w", err))
		}
	}
	if s.pushgateway != nil {
		if err := s.pushgateway.Push(ctx, sw); err != nil {
			errs = append(errs, fmt.Errorf("PUSHGATEWAY_URL: %w", err))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("cannot publish the sweep's metrics; state and alerts are unaffected", "err", err)
	}
	return err
}

// newPushgateway returns the Pushgateway outlet, or nil when none is set.
func newPushgateway(c metricsConfig, instance string) *push.Pushgateway {
	if c.PushgatewayURL == "" {
		return nil
	}
	return push.NewPushgateway(push.PushgatewayOptions{
		URL: c.PushgatewayURL, Job: c.Job, Instance: instance, Username: c.Username, Password: c.Password,
	})
}
