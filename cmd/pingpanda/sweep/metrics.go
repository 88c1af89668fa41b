package sweep

import (
	"context"
	"errors"
	"fmt"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/push"
)

// Outlet is where a full sweep's metrics go. Each writes them from the
// sweep as it goes (push.WriteText) rather than from a registry, which at
// 10,000 targets would be some 20 MB at the end of the sweep, where memory
// peaks. The sweep it is given must not change afterwards: serve mode's
// /metrics reads it until the next sweep's.
type Outlet interface {
	Publish(ctx context.Context, sw push.Sweep) error
}

// OutletFunc adapts a function to Outlet.
type OutletFunc func(ctx context.Context, sw push.Sweep) error

// Publish calls f.
func (f OutletFunc) Publish(ctx context.Context, sw push.Sweep) error { return f(ctx, sw) }

// LatestOutlet is serve mode's /metrics: it holds the newest sweep.
func LatestOutlet(l *push.Latest) Outlet {
	return OutletFunc(func(_ context.Context, sw push.Sweep) error {
		l.SetSweep(sw)
		return nil
	})
}

// configuredOutlets are the textfile (METRICS_TEXTFILE) and the
// Pushgateway (PUSHGATEWAY_URL), when set; each failure names its key.
func configuredOutlets(c config.Metrics, instance string) []Outlet {
	var out []Outlet
	if c.Textfile != "" {
		path := c.Textfile
		out = append(out, OutletFunc(func(_ context.Context, sw push.Sweep) error {
			if err := push.WriteTextfile(path, sw); err != nil {
				return fmt.Errorf("METRICS_TEXTFILE: %w", err)
			}
			return nil
		}))
	}
	if c.PushgatewayURL != "" {
		pg := push.NewPushgateway(push.PushgatewayOptions{
			URL: c.PushgatewayURL, Job: c.Job, Instance: instance, Username: c.Username, Password: c.Password,
		})
		out = append(out, OutletFunc(func(ctx context.Context, sw push.Sweep) error {
			if err := pg.Push(ctx, sw); err != nil {
				return fmt.Errorf("PUSHGATEWAY_URL: %w", err)
			}
			return nil
		}))
	}
	return out
}

// publish hands the sweep's metrics to every outlet. A failure is logged
// and returned; it never touches state or alerts.
func (s *Sweeper) publish(ctx context.Context, sw push.Sweep) error {
	var errs []error
	for _, o := range s.outlets {
		if err := o.Publish(ctx, sw); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("cannot publish the sweep's metrics; state and alerts are unaffected", "err", err)
	}
	return err
}
