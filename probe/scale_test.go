package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scaleSlack is how long after its deadline a sweep may take to return:
// the time its workers need to see the cancellation and unwind.
const scaleSlack = 500 * time.Millisecond

// TestSweepOf2000LoopbackTargetsAreAllUpByTheDeadline: 2,000 mixed farm
// targets, 512 in flight, are all reported up, and the sweep ends by its
// deadline. The sweep takes about 0.5 s on an idle machine; the deadline is
// generous so that a loaded CI machine tests behaviour, not speed (speed is
// measured by BenchmarkSweep).
func TestSweepOf2000LoopbackTargetsAreAllUpByTheDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000-target sweep skipped in -short mode")
	}
	const deadline = 20 * time.Second
	const n = 2000
	scaleNeedFiles(t, 4096)
	f := farmStart(t)
	r := f.runner(t, 512, 3)
	targets := f.targets(t, n)

	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	results := r.Run(ctx, targets)
	elapsed := time.Since(start)

	t.Logf("%d targets in %v (ping mode %s)%s", n, elapsed.Round(time.Millisecond), f.pingMode, scaleRetried(results))
	if elapsed > deadline+scaleSlack {
		t.Errorf("sweep took %v, want at most %v (deadline %v plus %v)", elapsed, deadline+scaleSlack, deadline, scaleSlack)
	}
	if len(results) != n {
		t.Fatalf("%d results for %d targets", len(results), n)
	}
	if down := scaleNotUp(results); down != "" {
		t.Errorf("every farm target should be up:\n%s", down)
	}
}

func TestATargetThatNeverAnswersCannotPushTheSweepPastItsDeadline(t *testing.T) {
	const deadline = time.Second
	f := farmStart(t)

	// An http server whose handler waits for the request to be abandoned.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	// A TCP listener that accepts and never says a word of TLS.
	mute := farmServeTCP(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	// A UDP socket that reads dns queries and never replies.
	deaf := scaleDeafUDP(t)
	deafDNS, err := NewDNS(DNSOptions{Server: deaf})
	if err != nil {
		t.Fatal(err)
	}

	r := f.runner(t, 512, 3)
	// The one dns prober of a Runner asks one server: send the silent
	// names to the deaf one.
	r.Probers[DNS] = scaleSplitProber{
		silent: deafDNS,
		other:  r.Probers[DNS],
		is:     func(t Target) bool { return strings.HasPrefix(t.Address, "silent") },
	}
	// Attempt timeouts far beyond the sweep deadline: only the deadline
	// can end these attempts.
	for c := range r.AttemptTimeout {
		r.AttemptTimeout[c] = time.Minute
	}

	healthy := f.targets(t, 40)
	var silent []Target
	for i := range 4 {
		for _, s := range []struct {
			c   Check
			raw string
		}{
			{HTTP, fmt.Sprintf("%s/hang%d", hang.URL, i)},
			{TLS, mute},
			{DNS, fmt.Sprintf("silent%d.farm.test", i)},
		} {
			tg, err := ParseTarget(s.c, s.raw)
			if err != nil {
				t.Fatal(err)
			}
			tg.Name = fmt.Sprintf("silent-%s-%d", s.c, i)
			silent = append(silent, tg)
		}
	}
	// Silent targets first, so they hold workers from the start.
	targets := append(append([]Target(nil), silent...), healthy...)

	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	results := r.Run(ctx, targets)
	elapsed := time.Since(start)

	t.Logf("%d targets (%d silent) in %v", len(targets), len(silent), elapsed.Round(time.Millisecond))
	if elapsed > deadline+scaleSlack {
		t.Errorf("sweep took %v, want at most %v (deadline %v plus %v)", elapsed, deadline+scaleSlack, deadline, scaleSlack)
	}
	if len(results) != len(targets) {
		t.Fatalf("%d results for %d targets", len(results), len(targets))
	}
	unmarked := false
	for _, res := range results[:len(silent)] {
		if res.Status != StatusDown || !res.TimedOut {
			t.Errorf("%s (%s): status %q, timed out %v, error %q; want down and timed out",
				res.Target.ID(), res.Target.Name, res.Status, res.TimedOut, res.Error)
			unmarked = unmarked || (res.Status == StatusDown && res.Attempts == 1)
		}
	}
	if unmarked {
		t.Log("a single attempt ran into the sweep deadline, yet the runner saw ctx.Err() == nil: " +
			"a socket deadline taken from ctx can fire before ctx's own timer does")
	}
	if down := scaleNotUp(results[len(silent):]); down != "" {
		t.Errorf("healthy targets should be up despite the silent ones:\n%s", down)
	}
}

// scaleSplitProber sends the targets is picks to silent, the rest to other.
type scaleSplitProber struct {
	silent, other Prober
	is            func(Target) bool
}

func (p scaleSplitProber) Probe(ctx context.Context, t Target) Result {
	if p.is(t) {
		return p.silent.Probe(ctx, t)
	}
	return p.other.Probe(ctx, t)
}

// scaleDeafUDP opens a loopback UDP socket that reads and discards every
// datagram until tb ends, and returns its host:port.
func scaleDeafUDP(tb testing.TB) string {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := pc.ReadFrom(buf); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String()
}

// scaleNotUp describes the results that are not up, grouped by check and
// error with a count and one example each; "" when all are up.
func scaleNotUp(results []Result) string {
	type key struct {
		check Check
		err   string
	}
	count := map[key]int{}
	example := map[key]string{}
	for _, r := range results {
		if r.Status == StatusUp {
			continue
		}
		// Group "timeout after 1.234s" and the like by their words alone.
		k := key{r.Target.Check, strings.Map(func(c rune) rune {
			if c >= '0' && c <= '9' {
				return '#'
			}
			return c
		}, string(r.Status)+": "+r.Error)}
		if count[k] == 0 {
			example[k] = fmt.Sprintf("%s (attempts %d, timed out %v): %s", r.Target.ID(), r.Attempts, r.TimedOut, r.Error)
		}
		count[k]++
	}
	var lines []string
	for k, n := range count {
		lines = append(lines, fmt.Sprintf("  %5d × %s, e.g. %s", n, k.check, example[k]))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// scaleRetried says how many targets of each check needed more than one
// attempt, or "" when none did.
func scaleRetried(results []Result) string {
	retried := map[Check]int{}
	for _, r := range results {
		if r.Attempts > 1 {
			retried[r.Target.Check]++
		}
	}
	var s string
	for _, c := range Checks {
		if retried[c] > 0 {
			s += fmt.Sprintf(" %s %d", c, retried[c])
		}
	}
	if s == "" {
		return ""
	}
	return "; retried:" + s
}

// scaleNeedFiles makes sure the process may open at least n files, raising
// its soft limit towards the hard one if need be.
func scaleNeedFiles(tb testing.TB, n uint64) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		unavailable(tb, "this test needs %d open files; the hard limit is %d (ulimit -Hn)", n, lim.Max)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		unavailable(tb, "raising the open-files limit to %d: %v", lim.Max, err)
	}
	tb.Logf("open-files soft limit raised to %d", lim.Max)
}
