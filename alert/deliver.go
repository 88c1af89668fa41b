package alert

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxRetryAfter caps the wait a server may ask for with Retry-After.
const maxRetryAfter = 60 * time.Second

// maxBackoff caps one wait of the exponential backoff.
const maxBackoff = 60 * time.Second

// Retry delivers a message with several attempts.
type Retry struct {
	// Attempts is the most attempts per message; less than 1 means 1.
	Attempts int
	// Backoff is the wait after the first failed attempt; it doubles after
	// each further one (capped at 60 s). A server's Retry-After replaces
	// it (capped at 60 s).
	Backoff time.Duration
	// Sleep waits d or until ctx ends, whichever is first, and returns
	// ctx's error in the second case. nil: a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Send delivers m through n with up to r.Attempts attempts. Only retryable
// failures (see SendError.Retryable) are retried; others return at once.
// It never waits past ctx's deadline: when the next wait would cross it,
// the last error is returned straight away. The error returned is the
// last attempt's, so errors.As finds its *SendError.
func (r Retry) Send(ctx context.Context, n Notifier, m Message) error {
	attempts := max(r.Attempts, 1)
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for k := 1; ; k++ {
		err := n.Send(ctx, m)
		if err == nil {
			return nil
		}
		if k == attempts || !retryable(err) || ctx.Err() != nil {
			return gaveUp(k, err)
		}
		wait := r.wait(k, err)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return gaveUp(k, err)
		}
		if sleep(ctx, wait) != nil {
			return gaveUp(k, err)
		}
	}
}

// wait is how long to wait after failed attempt k (1-based).
func (r Retry) wait(k int, err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return min(se.RetryAfter, maxRetryAfter)
	}
	d := max(r.Backoff, 0)
	for i := 1; i < k && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// retryable reports whether err says another attempt may succeed. Errors
// that do not say (they lack a Retryable method) are not retried.
func retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

func gaveUp(attempts int, err error) error {
	if attempts == 1 {
		return err
	}
	return fmt.Errorf("after %d attempts: %w", attempts, err)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Outcome is the result of delivering one message to one provider.
type Outcome struct {
	EventID  string
	Provider string
	Err      error // nil: delivered
}

// ErrHeldBack is the Outcome error of a message that was not attempted
// because an earlier message to the same provider failed with a retryable
// error (the provider looks unavailable), or because ctx ended first. The
// message keeps its place: delivering it now would put it before the one
// that failed.
var ErrHeldBack = errors.New("held back behind an undelivered earlier message")

// DeliverAll sends every message to every notifier with r, the providers in
// parallel and independently (one goroutine each, so a slow or failing
// provider never delays another), each provider's messages in the order
// given (oldest first). After a retryable failure the provider's later
// messages are not attempted (ErrHeldBack); after a non-retryable one (a
// payload the provider rejects) the next message is tried. Every goroutine
// ends with ctx. The outcomes are in notifier order, then message order.
func DeliverAll(ctx context.Context, notifiers []Notifier, msgs []Message, r Retry) []Outcome {
	out := make([]Outcome, len(notifiers)*len(msgs))
	var wg sync.WaitGroup
	for i, n := range notifiers {
		row := out[i*len(msgs) : (i+1)*len(msgs)]
		wg.Go(func() { deliverOne(ctx, n, msgs, r, row) })
	}
	wg.Wait()
	return out
}

// deliverOne delivers msgs through n in order, filling out.
func deliverOne(ctx context.Context, n Notifier, msgs []Message, r Retry, out []Outcome) {
	var blocked error
	for j, m := range msgs {
		out[j] = Outcome{EventID: m.EventID, Provider: n.Name()}
		switch {
		case blocked != nil:
			out[j].Err = blocked
		case ctx.Err() != nil:
			out[j].Err = fmt.Errorf("%w: %w", ErrHeldBack, ctx.Err())
		default:
			out[j].Err = r.Send(ctx, n, m)
			if out[j].Err != nil && (retryable(out[j].Err) || ctx.Err() != nil) {
				blocked = fmt.Errorf("%w (%s)", ErrHeldBack, m.EventID)
			}
		}
	}
}
