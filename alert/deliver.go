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
	return r.do(ctx, func() error { return n.Send(ctx, m) })
}

// SendBatch delivers ms through b in one request per attempt, with the
// attempts, waits and deadline of Send. Every message of ms shares the
// outcome. ms must not be longer than b.MaxBatch().
func (r Retry) SendBatch(ctx context.Context, b Batcher, ms []Message) error {
	return r.do(ctx, func() error { return b.SendBatch(ctx, ms) })
}

// do makes up to r.Attempts attempts of attempt, as Send describes.
func (r Retry) do(ctx context.Context, attempt func() error) error {
	attempts := max(r.Attempts, 1)
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for k := 1; ; k++ {
		err := attempt()
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

// Outcome is the result of delivering one message to one provider. Err
// says what the caller does with the message:
//
//   - nil: delivered; mark it done for the provider.
//   - errors.Is(Err, ErrHeldBack): not attempted (check this first); keep
//     it, it has not failed.
//   - errors.Is(Err, ErrRejected): the provider refused this message and
//     always will; drop it for the provider (mark it done) and log why.
//   - errors.Is(Err, ErrChannelBroken): the channel is broken (see
//     Delivery.Broken); keep it for when the channel is fixed.
//   - anything else (a 429 or 5xx left after the retries, a timeout, a
//     network error, another 4xx): keep it for the next sweep.
type Outcome struct {
	EventID  string
	Provider string
	// Resend is the message's: the outcome of a re-sent firing alert,
	// which is in no outbox, so the caller records it nowhere.
	Resend bool
	Err    error // nil: delivered
}

// Batcher is a Notifier whose provider takes many messages in one request
// (Alertmanager takes an array of alerts). Deliver sends a Batcher's
// messages in chunks of at most MaxBatch, one request (with Retry's
// attempts) per chunk, instead of one request per message.
type Batcher interface {
	Notifier
	// SendBatch makes ONE attempt to deliver every message of ms (at most
	// MaxBatch of them) in one request: they are delivered, or refused,
	// together.
	SendBatch(ctx context.Context, ms []Message) error
	// MaxBatch is the most messages SendBatch takes; less than 1 means 1.
	MaxBatch() int
}

// ErrHeldBack is the Outcome error of a message that was not attempted:
// an earlier message to the same provider failed with a retryable error
// (the provider looks unavailable) or found the channel broken (the error
// also matches ErrChannelBroken then), or ctx ended first (the error also
// matches ctx's). The message keeps its place: delivering it now would put
// it before the one that failed.
var ErrHeldBack = errors.New("held back behind an undelivered earlier message")

// Owed is what one notifier still owes: the messages not yet delivered
// through it, oldest first.
type Owed struct {
	Notifier Notifier
	Messages []Message
}

// Delivery is what Deliver did with one notifier's messages.
type Delivery struct {
	Provider string
	// Outcomes has one Outcome per message, in the order given.
	Outcomes []Outcome
	// Broken is the answer that showed the channel broken
	// (errors.Is(Broken, ErrChannelBroken); Broken.Diagnosis says what to
	// fix), or nil. The message that got it and every later one are kept
	// and were not tried again.
	Broken *SendError
	// Rejected counts the messages the provider refused (ErrRejected).
	Rejected int
}

// Deliver sends each notifier the messages it owes, with r: the notifiers
// in parallel and independently (one goroutine each, so a slow, failing or
// broken provider never delays another), each one's messages in the order
// given (oldest first). After a retryable failure or a broken channel
// (ErrChannelBroken) a provider's later messages are not attempted
// (ErrHeldBack); after a rejected message (ErrRejected) or another
// non-retryable failure the next message is tried. A Batcher's messages
// go in chunks of its MaxBatch, one request per chunk, under the same
// rules, every message of a chunk getting the chunk's outcome. Every
// goroutine ends with ctx. The deliveries are in the order of owed.
func Deliver(ctx context.Context, owed []Owed, r Retry) []Delivery {
	out := make([]Delivery, len(owed))
	var wg sync.WaitGroup
	for i, o := range owed {
		wg.Go(func() { out[i] = deliverOne(ctx, o, r) })
	}
	wg.Wait()
	return out
}

// deliverOne delivers o's messages through o.Notifier in order: one by
// one, or in chunks for a Batcher.
func deliverOne(ctx context.Context, o Owed, r Retry) Delivery {
	n := o.Notifier
	d := Delivery{Provider: n.Name(), Outcomes: make([]Outcome, len(o.Messages))}
	for j, m := range o.Messages {
		d.Outcomes[j] = Outcome{EventID: m.EventID, Provider: d.Provider, Resend: m.Resend}
	}
	if b, ok := n.(Batcher); ok {
		deliverBatches(ctx, b, o.Messages, r, &d)
		return d
	}
	var blocked error
	for j, m := range o.Messages {
		out := &d.Outcomes[j]
		switch {
		case blocked != nil:
			out.Err = blocked
			continue
		case ctx.Err() != nil:
			out.Err = fmt.Errorf("%w: %w", ErrHeldBack, ctx.Err())
			continue
		}
		out.Err = r.Send(ctx, n, m)
		blocked = d.record(ctx, out.Err, m.EventID, 1)
	}
	return d
}

// record counts err, the outcome of a delivery of count messages, the
// first with ID first, in d, and returns the error of the messages it
// holds back (nil: the next may be tried).
func (d *Delivery) record(ctx context.Context, err error, first string, count int) (blocked error) {
	var se *SendError
	switch {
	case err == nil:
	case errors.Is(err, ErrChannelBroken) && errors.As(err, &se):
		d.Broken = se
		return fmt.Errorf("%w (%s): %w", ErrHeldBack, first, se)
	case errors.Is(err, ErrRejected):
		d.Rejected += count
	case retryable(err) || ctx.Err() != nil:
		return fmt.Errorf("%w (%s)", ErrHeldBack, first)
	}
	return nil
}

// deliverBatches delivers ms through b in chunks of b.MaxBatch(), in
// order, with the rules of deliverOne applied to each chunk as to one
// message: every message of a chunk gets the chunk's outcome.
func deliverBatches(ctx context.Context, b Batcher, ms []Message, r Retry, d *Delivery) {
	size := max(b.MaxBatch(), 1)
	var blocked error
	for start := 0; start < len(ms); start += size {
		blocked = deliverChunk(ctx, b, ms, start, min(start+size, len(ms)), r, d, blocked)
	}
}

// deliverChunk delivers ms[start:end] in one request, unless blocked (the
// error of the messages held back) is set, and returns what blocks the
// next chunk. A chunk of several that the provider rejects is sent again
// one message at a time, so that only the messages it refuses are
// dropped.
func deliverChunk(ctx context.Context, b Batcher, ms []Message, start, end int, r Retry, d *Delivery, blocked error) error {
	var err error
	switch {
	case blocked != nil:
		err = blocked
	case ctx.Err() != nil:
		err = fmt.Errorf("%w: %w", ErrHeldBack, ctx.Err())
	default:
		err = r.SendBatch(ctx, b, ms[start:end])
		if end-start > 1 && errors.Is(err, ErrRejected) {
			for k := start; k < end; k++ {
				blocked = deliverChunk(ctx, b, ms, k, k+1, r, d, blocked)
			}
			return blocked
		}
		blocked = d.record(ctx, err, ms[start].EventID, end-start)
	}
	for k := start; k < end; k++ {
		d.Outcomes[k].Err = err
	}
	return blocked
}
