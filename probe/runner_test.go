package probe

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// proberFunc turns a function into a Prober, for tests of the runner alone.
type proberFunc func(ctx context.Context, t Target) Result

func (f proberFunc) Probe(ctx context.Context, t Target) Result { return f(ctx, t) }

// deepProberFunc is a proberFunc that says its attempts grow deep stacks,
// as the tls check does.
type deepProberFunc func(ctx context.Context, t Target) Result

func (f deepProberFunc) Probe(ctx context.Context, t Target) Result { return f(ctx, t) }
func (deepProberFunc) deepStack()                                   {}

// goroutineID is the number runtime.Stack gives the calling goroutine.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf)) // "goroutine 42 [running]: ..."
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

func targetsN(check Check, n int) []Target {
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{Check: check, Address: fmt.Sprintf("t%d.test", i)}
	}
	return ts
}

func TestRunnerRetriesUntilSuccessAndReportsOnlyTheLastAttemptsLatency(t *testing.T) {
	var calls atomic.Int32
	p := proberFunc(func(ctx context.Context, t Target) Result {
		if calls.Add(1) < 3 {
			return Result{Status: StatusDown, Error: "boom", Latency: time.Second}
		}
		return Result{Status: StatusUp, Latency: 7 * time.Millisecond}
	})
	var waits []int
	r := Runner{Probers: map[Check]Prober{DNS: p}, Concurrency: 4, Attempts: 3,
		RetryWait: func(n int) time.Duration { waits = append(waits, n); return time.Millisecond }}
	res := r.Run(context.Background(), targetsN(DNS, 1))
	if got := res[0]; got.Status != StatusUp || got.Attempts != 3 || got.Latency != 7*time.Millisecond || got.Error != "" {
		t.Fatalf("result = %+v; want up after 3 attempts with the last attempt's latency", got)
	}
	if fmt.Sprint(waits) != "[1 2]" {
		t.Errorf("waits asked for after attempts %v, want [1 2]", waits)
	}
}

func TestRunnerStopsAtAttemptsAndAtFinalFailures(t *testing.T) {
	tests := []struct {
		name         string
		final        bool
		wantAttempts int
	}{
		{"a failing target is tried RETRY_COUNT times", false, 3},
		{"a final failure is not retried", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := proberFunc(func(ctx context.Context, _ Target) Result {
				return Result{Status: StatusDown, Error: "no", final: tt.final}
			})
			r := Runner{Probers: map[Check]Prober{DNS: p}, Concurrency: 1, Attempts: 3,
				RetryWait: func(int) time.Duration { return 0 }}
			got := r.Run(context.Background(), targetsN(DNS, 1))[0]
			if got.Status != StatusDown || got.Attempts != tt.wantAttempts || got.Error != "no" || got.TimedOut {
				t.Fatalf("result = %+v; want down after %d attempts", got, tt.wantAttempts)
			}
		})
	}
}

func TestDefaultRetryWaitDoublesAndCapsAtTenSeconds(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := DefaultRetryWait(i + 1); got != w {
			t.Errorf("DefaultRetryWait(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestRunnerNeverExceedsItsConcurrency(t *testing.T) {
	var inFlight, peak atomic.Int32
	probe := func(ctx context.Context, _ Target) Result {
		n := inFlight.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		return Result{Status: StatusUp}
	}
	tests := []struct {
		name string
		p    Prober
	}{
		{"workers", proberFunc(probe)},
		{"a new worker after each deep-stack attempt", deepProberFunc(probe)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peak.Store(0)
			r := Runner{Probers: map[Check]Prober{DNS: tt.p}, Concurrency: 8, Attempts: 1}
			res := r.Run(context.Background(), targetsN(DNS, 200))
			if peak.Load() > 8 {
				t.Fatalf("%d attempts in flight at once, want at most 8", peak.Load())
			}
			for i, got := range res {
				if got.Status != StatusUp || got.Target.Address != fmt.Sprintf("t%d.test", i) {
					t.Fatalf("result %d = %+v; want up, in target order", i, got)
				}
			}
		})
	}
}

func TestRunnerEndsTheWorkerOfADeepStackAttempt(t *testing.T) {
	// One worker at a time: the goroutines that made the attempts are
	// one for the light check, one per attempt for the deep one.
	tests := []struct {
		name string
		deep bool
		want int
	}{
		{"light check: one worker for all", false, 1},
		{"deep-stack check: a new worker per attempt", true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := map[string]bool{}
			probe := func(context.Context, Target) Result {
				ids[goroutineID()] = true // one at a time: no race
				return Result{Status: StatusUp}
			}
			var p Prober = proberFunc(probe)
			if tt.deep {
				p = deepProberFunc(probe)
			}
			r := Runner{Probers: map[Check]Prober{TLS: p}, Concurrency: 1, Attempts: 1}
			for _, res := range r.Run(context.Background(), targetsN(TLS, 4)) {
				if res.Status != StatusUp {
					t.Fatalf("result %+v; want up", res)
				}
			}
			if len(ids) != tt.want || ids[""] {
				t.Fatalf("attempts made by goroutines %v, want %d of them", ids, tt.want)
			}
		})
	}
}

func TestRunnerRetryWaitsDoNotHoldAWorker(t *testing.T) {
	// One worker; the first target fails and waits 200 ms before its
	// retry. The other targets must be probed during that wait.
	var order []string
	p := proberFunc(func(ctx context.Context, t Target) Result {
		order = append(order, t.Address) // one worker: no race
		if t.Address == "t0.test" && len(order) == 1 {
			return Result{Status: StatusDown, Error: "first try fails"}
		}
		return Result{Status: StatusUp}
	})
	r := Runner{Probers: map[Check]Prober{DNS: p}, Concurrency: 1, Attempts: 2,
		RetryWait: func(int) time.Duration { return 200 * time.Millisecond }}
	res := r.Run(context.Background(), targetsN(DNS, 3))
	if got := strings.Join(order, " "); got != "t0.test t1.test t2.test t0.test" {
		t.Fatalf("probe order = %q; the retry should come after the others", got)
	}
	if res[0].Status != StatusUp || res[0].Attempts != 2 {
		t.Fatalf("t0 = %+v; want up on attempt 2", res[0])
	}
}

func TestRunnerEndsByTheDeadlineWhateverTheTargetsDo(t *testing.T) {
	// Every probe hangs until cancelled; 10 targets, 2 workers: two
	// start and are cut off, eight never start.
	p := proberFunc(func(ctx context.Context, _ Target) Result {
		<-ctx.Done()
		return Result{Status: StatusDown, Error: "cancelled"}
	})
	r := Runner{Probers: map[Check]Prober{DNS: p}, Concurrency: 2, Attempts: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res := r.Run(ctx, targetsN(DNS, 10))
	var started, notStarted int
	for _, got := range res {
		if got.Status != StatusDown || !got.TimedOut {
			t.Fatalf("result = %+v; want down and timed out", got)
		}
		switch got.Attempts {
		case 0:
			notStarted++
			if !strings.Contains(got.Error, "before the check started") {
				t.Errorf("error %q should say the check never started", got.Error)
			}
		case 1:
			started++
			if !strings.Contains(got.Error, "sweep deadline reached during attempt 1") {
				t.Errorf("error %q should name the attempt the deadline cut", got.Error)
			}
		default:
			t.Errorf("attempts = %d; a cut-off check is not retried", got.Attempts)
		}
	}
	if started+notStarted != 10 || started < 1 || started > 2 {
		t.Fatalf("started %d, not started %d; want 1 or 2 started (2 workers) and no attempt begun after the deadline", started, notStarted)
	}
}

func TestRunnerDoesNotRetryWhenTheWaitWouldPassTheDeadline(t *testing.T) {
	var calls atomic.Int32
	p := proberFunc(func(ctx context.Context, _ Target) Result {
		calls.Add(1)
		return Result{Status: StatusDown, Error: "refused"}
	})
	r := Runner{Probers: map[Check]Prober{DNS: p}, Concurrency: 1, Attempts: 3,
		RetryWait: func(int) time.Duration { return time.Hour }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := r.Run(ctx, targetsN(DNS, 1))[0]
	if calls.Load() != 1 || got.Error != "refused" || got.TimedOut {
		t.Fatalf("calls = %d, result = %+v; want the first failure reported as it stands", calls.Load(), got)
	}
}

func TestRunnerGivesEachAttemptItsOwnTimeout(t *testing.T) {
	p := proberFunc(func(ctx context.Context, _ Target) Result {
		dl, ok := ctx.Deadline()
		if !ok || time.Until(dl) > time.Second {
			return Result{Status: StatusDown, Error: "no attempt deadline"}
		}
		return Result{Status: StatusUp}
	})
	r := Runner{Probers: map[Check]Prober{HTTP: p}, Attempts: 1, AttemptTimeout: map[Check]time.Duration{HTTP: time.Second}}
	if got := r.Run(context.Background(), targetsN(HTTP, 1))[0]; got.Status != StatusUp {
		t.Fatalf("result = %+v", got)
	}
}

func TestRunnerReportsACheckWithNoProber(t *testing.T) {
	r := Runner{Probers: map[Check]Prober{}, Attempts: 3}
	got := r.Run(context.Background(), targetsN(TLS, 1))[0]
	if got.Status != StatusDown || got.Attempts != 1 || !strings.Contains(got.Error, `check "tls" is not enabled`) {
		t.Fatalf("result = %+v", got)
	}
}

func TestRunnerCountsAFailureAtTheDeadlineAsTimedOutEvenBeforeTheContextSaysSo(t *testing.T) {
	// A socket deadline taken from ctx can fire a moment before ctx's
	// own timer; the prober then returns with ctx.Err() still nil.
	p := proberFunc(func(ctx context.Context, _ Target) Result {
		dl, _ := ctx.Deadline()
		time.Sleep(time.Until(dl))
		return Result{Status: StatusDown, Error: "i/o timeout"}
	})
	r := Runner{Probers: map[Check]Prober{DNS: p}, Attempts: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	got := r.Run(ctx, targetsN(DNS, 1))[0]
	if !got.TimedOut || !strings.HasPrefix(got.Error, "sweep deadline reached during attempt 1: ") {
		t.Fatalf("result = %+v; want it marked as cut short by the sweep deadline", got)
	}
}

func TestRunnerSaysWhenTheSweepWasCancelledRatherThanTimedOut(t *testing.T) {
	p := proberFunc(func(ctx context.Context, _ Target) Result {
		<-ctx.Done()
		return Result{Status: StatusDown, Error: "cancelled"}
	})
	r := Runner{Probers: map[Check]Prober{DNS: p}, Concurrency: 1, Attempts: 1}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	res := r.Run(ctx, targetsN(DNS, 2))
	if got := res[0].Error; !res[0].TimedOut || !strings.HasPrefix(got, "sweep cancelled during attempt 1") {
		t.Errorf("running check: %+v", res[0])
	}
	if got := res[1].Error; !res[1].TimedOut || got != "sweep cancelled before the check started" {
		t.Errorf("waiting check: %+v", res[1])
	}
}

func TestRunnerKeepsTheRealFailureOfATargetCutOffWhileWaitingToRetry(t *testing.T) {
	var calls atomic.Int32
	p := proberFunc(func(ctx context.Context, _ Target) Result {
		calls.Add(1)
		return Result{Status: StatusDown, Error: "connection refused"}
	})
	var seen []int
	r := Runner{Probers: map[Check]Prober{DNS: p}, Attempts: 3,
		RetryWait: func(int) time.Duration { return time.Hour },
		OnAttempt: func(res Result) { seen = append(seen, res.Attempts) }}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	got := r.Run(ctx, targetsN(DNS, 1))[0]
	if got.Status != StatusDown || got.TimedOut || got.Attempts != 1 ||
		got.Error != "connection refused (retries cut short: sweep cancelled)" {
		t.Fatalf("result = %+v; want the failure as it stood, noting the cut", got)
	}
	if fmt.Sprint(seen) != "[1]" {
		t.Errorf("OnAttempt saw attempts %v, want [1]", seen)
	}
}
