package probe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Runner probes many targets concurrently with a bounded number of attempts
// in flight. A target whose attempt fails waits (1 s, 2 s, 4 s … capped at
// 10 s by default) and tries again, up to Attempts times; the wait does not
// hold a worker, so slow or failing targets never starve the others.
type Runner struct {
	// Probers holds one Prober per check. A target whose check has none is
	// reported down with an error saying so.
	Probers map[Check]Prober
	// Concurrency is the number of attempts in flight at once (≥1).
	Concurrency int
	// Attempts is the number of attempts per target (≥1): RETRY_COUNT.
	Attempts int
	// AttemptTimeout bounds one attempt of each check. Zero means only the
	// sweep deadline bounds it.
	AttemptTimeout map[Check]time.Duration
	// RetryWait gives the wait after failed attempt n (1-based). Nil means
	// DefaultRetryWait.
	RetryWait func(n int) time.Duration
	// OnAttempt, when set, is called after every attempt with its result
	// (Attempts is the attempt's number), from the worker that made it.
	OnAttempt func(Result)
}

// DefaultRetryWait is 1 s after the first failure, doubling, capped at 10 s.
func DefaultRetryWait(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 4 {
		return 10 * time.Second
	}
	return min(time.Second<<(n-1), 10*time.Second)
}

// The causes recorded for checks cut short: by the sweep's deadline, or by
// the sweep being cancelled (SIGTERM, say).
var (
	ErrSweepDeadline  = errors.New("sweep deadline reached")
	ErrSweepCancelled = errors.New("sweep cancelled")
)

// Run probes every target and returns one Result per target, in the order
// given. It returns by parent's deadline, or as soon as parent is
// cancelled, whatever the targets do: checks still running or never started
// are reported as down with TimedOut set, their error saying which ended the
// sweep. Run waits for its workers to see the cancellation, which
// well-behaved Probers do at once.
func (r *Runner) Run(parent context.Context, targets []Target) []Result {
	results := make([]Result, len(targets))
	if len(targets) == 0 {
		return results
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	s := r.newSweep(parent, ctx, targets, results)
	workers := min(max(r.Concurrency, 1), len(targets))
	s.wg.Add(workers)
	for range workers {
		go s.worker()
	}
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	cancel()
	s.wg.Wait()
	s.cutShort()
	return results
}

// A sweep is the state one Run shares among its workers and retry timers.
// It lives no longer than that call, whose contexts it holds.
type sweep struct {
	r        *Runner
	parent   context.Context // Run's: its error tells a deadline from a cancellation
	ctx      context.Context // parent, cancelled when Run returns
	targets  []Target
	results  []Result
	attempts int
	wait     func(n int) time.Duration
	// queue holds the targets due for an attempt. Each target sits in it
	// at most once at a time, so a buffer of len(targets) means a send
	// never blocks.
	queue chan int
	tries []int // attempts made; only the worker holding i touches tries[i]
	// worker is s.work, made once: handing over to a new worker then
	// costs no allocation.
	worker func()
	wg     sync.WaitGroup

	mu        sync.Mutex
	remaining int           // targets without a final result
	done      chan struct{} // closed when remaining reaches 0
	timers    []*time.Timer
	// last holds the failed attempt of a target waiting to retry (a map:
	// most targets never retry, and a Result is 144 bytes).
	last map[int]Result
}

// newSweep returns the sweep of targets, every one of them queued for its
// first attempt, whose results go to results.
func (r *Runner) newSweep(parent, ctx context.Context, targets []Target, results []Result) *sweep {
	s := &sweep{
		r:         r,
		parent:    parent,
		ctx:       ctx,
		targets:   targets,
		results:   results,
		attempts:  max(r.Attempts, 1),
		wait:      r.RetryWait,
		queue:     make(chan int, len(targets)),
		tries:     make([]int, len(targets)),
		remaining: len(targets),
		done:      make(chan struct{}),
		last:      map[int]Result{},
	}
	if s.wait == nil {
		s.wait = DefaultRetryWait
	}
	s.worker = s.work
	for i := range targets {
		s.queue <- i
	}
	return s
}

// work makes attempts from the queue until every target is done or the
// sweep is cut short.
func (s *sweep) work() {
	defer s.wg.Done()
	for {
		var i int
		select {
		case i = <-s.queue:
		case <-s.done:
			return
		case <-s.ctx.Done():
			return
		}
		if s.ctx.Err() != nil {
			// select picks at random among ready cases: never
			// start an attempt the deadline already cut off.
			return
		}
		t := s.targets[i]
		s.tries[i]++
		res := s.r.attempt(s.ctx, t)
		res.Target, res.Attempts = t, s.tries[i]
		if s.r.OnAttempt != nil {
			s.r.OnAttempt(res)
		}
		s.record(i, res)
		if _, deep := s.r.Probers[t.Check].(deepStacked); deep {
			// Hand over to a new worker and let this one, and its
			// stack, go.
			s.wg.Add(1)
			go s.worker()
			return
		}
	}
}

// record files the result of an attempt at targets[i], or schedules the
// next attempt.
func (s *sweep) record(i int, res Result) {
	if res.Status != StatusUp && deadlinePassed(s.ctx) {
		res.TimedOut = true
		res.Error = cutShortText(s.parent, s.tries[i]) + ": " + res.Error
		s.finish(i, res)
		return
	}
	attempts := s.attempts
	if spec := s.targets[i].Spec; spec != nil && spec.Attempts > 0 {
		attempts = spec.Attempts
	}
	if res.Status == StatusUp || res.final || s.tries[i] >= attempts {
		s.finish(i, res)
		return
	}
	w := s.wait(s.tries[i])
	if dl, ok := s.ctx.Deadline(); ok && time.Until(dl) < w {
		// The next attempt could not start before the deadline:
		// report this failure as it stands.
		s.finish(i, res)
		return
	}
	s.mu.Lock()
	s.last[i] = res
	s.timers = append(s.timers, time.AfterFunc(w, func() { s.queue <- i }))
	s.mu.Unlock()
}

// finish files the final result of targets[i].
func (s *sweep) finish(i int, res Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[i] = res
	s.remaining--
	if s.remaining == 0 {
		close(s.done)
	}
}

// cutShort, once the workers have returned, stops the retry timers and
// fills in the result of every target the sweep's end cut short: its
// last failure for one waiting to retry, else a timeout.
func (s *sweep) cutShort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tm := range s.timers {
		tm.Stop()
	}
	if s.remaining == 0 {
		return
	}
	for i := range s.results {
		if s.results[i].Status != "" {
			continue
		}
		if res, ok := s.last[i]; ok {
			// Cut off while waiting to retry: every attempt made
			// failed, so the failure stands, marked as cut short.
			res.Error = fmt.Sprintf("%s (retries cut short: %s)", res.Error, cutShortText(s.parent, -1))
			s.results[i] = res
			continue
		}
		s.results[i] = Result{
			Target:   s.targets[i],
			Status:   StatusDown,
			Error:    cutShortText(s.parent, s.tries[i]),
			Attempts: s.tries[i],
			TimedOut: true,
		}
	}
}

// deepStacked is implemented by the probers whose attempts grow a
// goroutine's stack several times past what the other checks need: the
// tls check, whose handshake and chain verification run in the attempt's
// goroutine. A worker keeps the stack its deepest call grew, shrunk by at
// most half per GC, through the checks that follow; so the Runner ends a
// worker after such an attempt and starts a new one, whose stack starts
// small. At 512 in flight, in a mixed sweep of 10,000 targets, that cut
// the stacks at the peak from about 12 to 7.5 MiB. An http attempt's stack
// is deep too, but growing it afresh for every attempt cost a fifth more
// CPU in an http sweep, for half a MiB.
type deepStacked interface{ deepStack() }

// deadlinePassed reports whether ctx has ended or its deadline has come.
// A prober's socket deadline, taken from ctx, can fire a moment before
// ctx's own timer; such a failure was still cut short by the deadline.
func deadlinePassed(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// cutShortText says what cut a check short and when.
func cutShortText(parent context.Context, tries int) string {
	cause := ErrSweepDeadline
	if errors.Is(parent.Err(), context.Canceled) {
		cause = ErrSweepCancelled
	}
	switch tries {
	case -1:
		return cause.Error()
	case 0:
		return cause.Error() + " before the check started"
	}
	return fmt.Sprintf("%s during attempt %d", cause, tries)
}

// attempt makes one attempt within its own timeout and the sweep deadline.
func (r *Runner) attempt(ctx context.Context, t Target) Result {
	p, ok := r.Probers[t.Check]
	if !ok {
		return Result{Status: StatusDown, Error: fmt.Sprintf("check %q is not enabled", t.Check), final: true}
	}
	d := r.AttemptTimeout[t.Check]
	if t.Spec != nil && t.Spec.Timeout > 0 {
		d = t.Spec.Timeout
	}
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	res := p.Probe(ctx, t)
	if res.Status == "" {
		res.Status = StatusDown
	}
	if res.Error != "" && t.Spec != nil && t.Spec.Secrets.Longest() > 0 {
		// The monitor's headers and body hold secrets; an error
		// quoting what the server echoed must not carry them on.
		res.Error = t.Spec.Secrets.String(res.Error)
	}
	return res
}
