package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/pingpanda/pingpanda/push"
)

// publish builds the sweep's metrics and hands them to every configured
// outlet: the Pushgateway, the textfile, serve mode's /metrics. A failure
// is logged and returned; it never touches state or alerts.
func (s *sweeper) publish(ctx context.Context, sw push.Sweep) error {
	if s.pushgateway == nil && s.cfg.Metrics.Textfile == "" && s.latest == nil {
		return nil
	}
	reg := push.Registry(sw)
	if s.latest != nil {
		s.latest.Set(reg)
	}
	var errs []error
	if s.cfg.Metrics.Textfile != "" {
		if err := push.WriteTextfile(s.cfg.Metrics.Textfile, reg); err != nil {
			errs = append(errs, fmt.Errorf("METRICS_TEXTFILE: %w", err))
		}
	}
	if s.pushgateway != nil {
		if err := s.pushgateway.Push(ctx, reg); err != nil {
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
