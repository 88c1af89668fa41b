package main

// The fault-injection suite (make faults; RELIABILITY.md): every test here
// is named TestFault… and breaks one thing the sweep depends on, at one
// step, then checks three things: a clear exit status, a store that holds
// the old state or the new one and never a mixture, and no alert sent
// twice under two event IDs or lost. Each test logs one summary line per
// fault class (fault).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pingpanda/pingpanda/state/redistest"
)

// fault starts the summary line of one fault class: when the test ends it
// logs "FAULT <class>: ok (<detail>)", or FAILED, which make faults shows.
func fault(t *testing.T, class string) *faultLine {
	f := &faultLine{}
	t.Cleanup(func() {
		verdict := "ok"
		if t.Failed() {
			verdict = "FAILED"
		}
		t.Logf("FAULT %s: %s (%s)", class, verdict, f.detail)
	})
	return f
}

type faultLine struct{ detail string }

func (f *faultLine) set(format string, args ...any) { f.detail = fmt.Sprintf(format, args...) }

// hook is a loopback Slack webhook that records, by event ID, every alert
// whose body it received (seen) and every one it accepted with a 2xx
// (accepted). mode decides the answer; nil accepts.
type hook struct {
	mu       sync.Mutex
	seen     []string // event IDs, in arrival order
	accepted []string
	kinds    map[string]string // event ID → "down", "recovered", "reminder"…
	mode     func(w http.ResponseWriter, r *http.Request) bool
	onAccept func()
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	id := ""
	if m := eventIDPattern.FindSubmatch(b); m != nil {
		id = string(m[1])
	}
	h.mu.Lock()
	h.seen = append(h.seen, id)
	if h.kinds == nil {
		h.kinds = map[string]string{}
	}
	switch {
	case bytes.Contains(b, []byte("🔴")):
		h.kinds[id] = "down"
	case bytes.Contains(b, []byte("✅")):
		h.kinds[id] = "recovered"
	default:
		h.kinds[id] = "other"
	}
	mode, onAccept := h.mode, h.onAccept
	h.mu.Unlock()
	if mode != nil && !mode(w, r) {
		return
	}
	h.mu.Lock()
	h.accepted = append(h.accepted, id)
	h.mu.Unlock()
	if onAccept != nil {
		onAccept()
	}
	w.WriteHeader(http.StatusOK)
}

func (h *hook) setMode(mode func(http.ResponseWriter, *http.Request) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mode = mode
}

// counts returns how many requests arrived, how many were accepted, and
// how many distinct event IDs were accepted.
func (h *hook) counts() (seen, accepted, distinct int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen), len(h.accepted), len(slices.Compact(slices.Sorted(slices.Values(h.accepted))))
}

// distinctOf returns the distinct accepted event IDs of a kind.
func (h *hook) distinctOf(kind string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, id := range h.accepted {
		if h.kinds[id] == kind && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// faultWorld is one flaky http target, a webhook and a state store, swept
// in-process with an injected clock a minute apart.
type faultWorld struct {
	down  *atomic.Bool
	hook  *hook
	env   []string
	clock time.Time
}

func newFaultWorld(t *testing.T, store string, extra ...string) *faultWorld {
	t.Helper()
	srv, down := flakyServer(t)
	w := &faultWorld{down: down, hook: &hook{}, clock: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	hs := httptest.NewServer(w.hook)
	t.Cleanup(hs.Close)
	w.env = append(loopbackEnv(srv.URL+"/health"), store,
		"ENABLE_ADAPTIVE_BACKOFF=false", "FLAP_THRESHOLD=0", "ALERT_SOURCE_NAME=probe-host",
		"NOTIFICATION_RETRY_ATTEMPTS=1", "NOTIFICATION_RETRY_BACKOFF_SECONDS=0",
		"SLACK_WEBHOOK_URL="+hs.URL+"/services/T0/B0/secret-token")
	w.env = append(w.env, extra...)
	return w
}

// sweep runs one invocation at the world's clock, then moves the clock a
// minute on. It returns the exit code, the report (zero when none was
// printed) and the log.
func (w *faultWorld) sweep(t *testing.T, afterLoad func(), args ...string) (int, sweepReport, string) {
	t.Helper()
	now := w.clock
	w.clock = w.clock.Add(time.Minute)
	var stdout, stderr syncLog
	code := run(context.Background(), append([]string{"--json"}, args...), stdio{
		stdout: &stdout, stderr: &stderr, environ: testEnv(t, w.env), dir: t.TempDir(),
		now: func() time.Time { return now }, afterLoad: afterLoad,
	})
	out, log := stdout.String(), stderr.String()
	if strings.Contains(out+log, "secret-token") || strings.Contains(out+log, "hunter2") {
		t.Fatalf("a secret leaked into the report or the log:\n%s\n%s", out, log)
	}
	var rep sweepReport
	if strings.TrimSpace(out) != "" {
		rep = decodeReport(t, out)
	}
	return code, rep, log
}

// mustSweep is sweep that fails the test unless the exit code is want.
func (w *faultWorld) mustSweep(t *testing.T, want int, afterLoad func(), args ...string) (sweepReport, string) {
	t.Helper()
	code, rep, log := w.sweep(t, afterLoad, args...)
	if code != want {
		t.Fatalf("exit %d, want %d; log:\n%s", code, want, log)
	}
	return rep, log
}

// TestFaultRedis breaks redis-server at each step of a sweep.
func TestFaultRedis(t *testing.T) {
	t.Run("down before the sweep", func(t *testing.T) {
		f := fault(t, "redis-down-before-sweep")
		rs := redistest.Start(t, redistest.Options{Persist: true})
		w := newFaultWorld(t, "REDIS_URL="+rs.URL(), "ALERT_THRESHOLD=2")
		w.down.Store(true)
		w.mustSweep(t, exitOK, nil)
		before := storedRecords(t, rs.URL())
		rs.Kill()
		start := time.Now()
		_, log := w.mustSweep(t, exitFailed, nil)
		took := time.Since(start)
		if !strings.Contains(log, "cannot take the lease") || !strings.Contains(log, rs.Addr) {
			t.Errorf("the log should say the store could not be reached, naming it:\n%s", log)
		}
		rs.Restart(t)
		if after := storedRecords(t, rs.URL()); !slices.Equal(after, before) {
			t.Fatalf("stored state changed:\nbefore %v\nafter  %v", before, after)
		}
		w.mustSweep(t, exitOK, nil) // the second failure crosses the threshold
		seen, accepted, distinct := w.hook.counts()
		if accepted != 1 || distinct != 1 {
			t.Fatalf("%d alerts accepted (%d seen), want the one down alert", accepted, seen)
		}
		f.set("exit 1 in %v, state unchanged, then 1 alert", took.Round(10*time.Millisecond))
	})

	t.Run("unreachable, with a password in its URL", func(t *testing.T) {
		f := fault(t, "redis-unreachable-password-kept-secret")
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t)) // nothing listens there
		w := newFaultWorld(t, "REDIS_URL=redis://:hunter2@"+addr+"/0")
		// sweep fails the test if hunter2 appears in the report or the log.
		start := time.Now()
		_, log := w.mustSweep(t, exitFailed, nil)
		took := time.Since(start)
		if !strings.Contains(log, "redis://:xxxxx@"+addr) {
			t.Errorf("the log should name the store, password masked:\n%s", log)
		}
		if _, _, distinct := w.hook.counts(); distinct != 0 {
			t.Errorf("alerts sent by a sweep that could not take its lease")
		}
		f.set("exit 1 in %v, the store named with its password masked", took.Round(10*time.Millisecond))
	})

	t.Run("killed between load and save", func(t *testing.T) {
		f := fault(t, "redis-killed-between-load-and-save")
		rs := redistest.Start(t, redistest.Options{Persist: true})
		w := newFaultWorld(t, "REDIS_URL="+rs.URL(), "ALERT_THRESHOLD=2")
		w.down.Store(true)
		w.mustSweep(t, exitOK, nil)
		before := storedRecords(t, rs.URL())
		start := time.Now()
		_, log := w.mustSweep(t, exitFailed, rs.Kill, "--timeout", "5s")
		took := time.Since(start)
		if !strings.Contains(log, "cannot save; the stored state is as before this sweep") {
			t.Errorf("the log should say the state was not saved:\n%s", log)
		}
		rs.Restart(t)
		if after := storedRecords(t, rs.URL()); !slices.Equal(after, before) {
			t.Fatalf("stored state changed:\nbefore %v\nafter  %v", before, after)
		}
		if _, accepted, _ := w.hook.counts(); accepted != 0 {
			t.Fatalf("%d alerts from a sweep that saved nothing", accepted)
		}
		// The failed sweep could not release its lease (Redis was down);
		// the restarted server still has it, until it expires.
		if rep, _ := w.mustSweep(t, exitOK, nil); !rep.Locked {
			t.Fatalf("the next sweep should find the dead sweep's lease and do nothing")
		}
		expireLease(t, rs.Addr, 20*time.Second)
		w.mustSweep(t, exitOK, nil)
		if _, accepted, distinct := w.hook.counts(); accepted != 1 || distinct != 1 {
			t.Fatalf("%d alerts accepted, want the one down alert", accepted)
		}
		f.set("exit 1 in %v (deadline 5s), state unchanged, no alert from the failed sweep, then 1 alert", took.Round(10*time.Millisecond))
	})

	t.Run("killed during the outbox update", func(t *testing.T) {
		f := fault(t, "redis-killed-during-outbox-update")
		rs := redistest.Start(t, redistest.Options{Persist: true})
		w := newFaultWorld(t, "REDIS_URL="+rs.URL(), "ALERT_THRESHOLD=1")
		var once sync.Once
		// The webhook takes the alert, and Redis dies before the sweep
		// records the delivery.
		w.hook.onAccept = func() { once.Do(rs.Kill) }
		w.down.Store(true)
		code, rep, log := w.sweep(t, nil, "--timeout", "5s")
		if code != exitOK || rep.Alerts.Delivered != 1 {
			t.Fatalf("exit %d, alerts %+v; want 0 with the alert delivered:\n%s", code, rep.Alerts, log)
		}
		if !strings.Contains(log, "cannot record alert deliveries; they will be sent again next sweep") {
			t.Errorf("the log should say the delivery was not recorded:\n%s", log)
		}
		rs.Restart(t)
		after := storedRecords(t, rs.URL())
		if len(after) != 1 || !strings.Contains(after[0], `"consecutive_failures":1`) || !strings.Contains(after[0], `"alerted_at"`) {
			t.Fatalf("the saved state should be the new one: %v", after)
		}
		expireLease(t, rs.Addr, 20*time.Second)
		w.mustSweep(t, exitOK, nil) // sends the unrecorded alert again
		w.mustSweep(t, exitOK, nil) // and then nothing
		seen, accepted, distinct := w.hook.counts()
		if distinct != 1 || accepted != 2 {
			t.Fatalf("%d deliveries of %d event IDs; want the one alert delivered again once, under the same event ID", accepted, distinct)
		}
		f.set("exit 0, new state kept, the alert re-sent once under the same event ID (%d deliveries, %d event ID, %d requests)", accepted, distinct, seen)
	})

	t.Run("restarted empty between sweeps", func(t *testing.T) {
		f := fault(t, "redis-restarted-empty")
		rs := redistest.Start(t, redistest.Options{})
		w := newFaultWorld(t, "REDIS_URL="+rs.URL(), "ALERT_THRESHOLD=2")
		w.down.Store(true)
		w.mustSweep(t, exitOK, nil)
		w.mustSweep(t, exitOK, nil) // the down alert
		rs.Restart(t)               // no persistence: everything is gone
		rep, _ := w.mustSweep(t, exitOK, nil)
		if len(rep.Events) != 0 {
			t.Fatalf("the first sweep after the restart raised %s", eventKinds(rep))
		}
		if got := storedRecords(t, rs.URL()); len(got) != 1 || !strings.Contains(got[0], `"consecutive_failures":1`) {
			t.Fatalf("the store should start afresh: %v", got)
		}
		w.mustSweep(t, exitOK, nil) // the threshold again: the incident is announced again
		w.down.Store(false)
		w.mustSweep(t, exitOK, nil) // the recovery, once
		w.mustSweep(t, exitOK, nil)
		downs, recovered := w.hook.distinctOf("down"), w.hook.distinctOf("recovered")
		_, accepted, distinct := w.hook.counts()
		if len(downs) != 2 || len(recovered) != 1 || accepted != distinct {
			t.Fatalf("down alerts %v, recovered %v, %d deliveries of %d event IDs; want 2 down (the store forgot the first), 1 recovered, none twice",
				downs, recovered, accepted, distinct)
		}
		f.set("exit 0, state starts afresh; the open incident is announced again under a new event ID after ALERT_THRESHOLD failures; %d alerts, none twice", accepted)
	})

	t.Run("slow by 200 ms a round trip", func(t *testing.T) {
		f := fault(t, "redis-slow-200ms")
		rs := redistest.Start(t, redistest.Options{})
		proxy := slowProxy(t, rs.Addr, 200*time.Millisecond)
		w := newFaultWorld(t, "REDIS_URL=redis://"+proxy+"/0", "ALERT_THRESHOLD=1")
		w.down.Store(true)
		start := time.Now()
		rep, _ := w.mustSweep(t, exitOK, nil, "--timeout", "5s")
		took := time.Since(start)
		if took > 5*time.Second {
			t.Fatalf("the sweep took %v with --timeout 5s", took)
		}
		if rep.Alerts.Delivered != 1 {
			t.Fatalf("alerts %+v, want 1 delivered", rep.Alerts)
		}
		got := storedRecords(t, rs.URL())
		if len(got) != 1 || !strings.Contains(got[0], `"consecutive_failures":1`) {
			t.Fatalf("the store should hold the new state: %v", got)
		}
		w.mustSweep(t, exitOK, nil, "--timeout", "5s")
		if _, accepted, distinct := w.hook.counts(); accepted != 1 || distinct != 1 {
			t.Fatalf("%d deliveries, want 1", accepted)
		}
		f.set("exit 0 in %v against a 5 s deadline, new state, 1 alert", took.Round(10*time.Millisecond))
	})
}

// TestFaultLeaseExpiryIsFenced stalls a sweep between load and save until
// its lease expires, runs the next sweep to completion meanwhile, then
// lets the stalled one go on: its save must be refused (the fence), so
// what the newer sweep wrote stays.
func TestFaultLeaseExpiryIsFenced(t *testing.T) {
	f := fault(t, "lease-expiry-fencing")
	rs := redistest.Start(t, redistest.Options{})
	w := newFaultWorld(t, "REDIS_URL="+rs.URL(), "ALERT_THRESHOLD=2")
	w.down.Store(true)
	w.mustSweep(t, exitOK, nil) // one failure stored

	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	const leaseKey = "{pingpanda}:lease:0-of-1"
	var newer sweepReport
	newerCode := -1
	stall := func() {
		// The stall outlasts the lease: expire it now and wait until
		// Redis has dropped it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rdb.PExpire(ctx, leaseKey, time.Millisecond).Err(); err != nil {
			t.Errorf("expire the lease: %v", err)
			return
		}
		for rdb.Exists(ctx, leaseKey).Val() != 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		newerCode, newer, _ = w.sweep(t, nil) // the next sweep, at the next minute
	}
	code, _, log := w.sweep(t, stall)
	if newerCode != exitOK || len(newer.Events) != 1 || newer.Events[0].Kind != "down" {
		t.Fatalf("the newer sweep: exit %d, events %q; want 0 and the down event", newerCode, eventKinds(newer))
	}
	if code != exitFailed || !strings.Contains(log, "lease lost") {
		t.Fatalf("the stalled sweep: exit %d; want 1 and the lease said lost:\n%s", code, log)
	}
	got := storedRecords(t, rs.URL())
	if len(got) != 1 || !strings.Contains(got[0], `"consecutive_failures":2`) || !strings.Contains(got[0], `"last_probe_at":"2026-11-24T03:02:00Z"`) {
		t.Fatalf("the store should hold the newer sweep's state (2 failures, checked at 03:02): %v", got)
	}
	if _, accepted, distinct := w.hook.counts(); accepted != 1 || distinct != 1 {
		t.Fatalf("%d alerts accepted, want the newer sweep's one", accepted)
	}
	f.set("stalled sweep exit 1 (lease lost), newer sweep exit 0, newer state kept, 1 alert")
}

// TestFaultClockJumps moves the injected clock back two hours, then five
// hours forward, while a target stays down with a 10-minute reminder.
func TestFaultClockJumps(t *testing.T) {
	f := fault(t, "clock-jumps")
	w := newFaultWorld(t, "STATE_FILE="+t.TempDir()+"/state.json", "ALERT_THRESHOLD=1", "REALERT_INTERVAL_SECONDS=600")
	w.down.Store(true)
	t0 := w.clock
	negative := regexp.MustCompile(`"[a-z_]*(seconds|days[a-z_]*)": ?-`)
	steps := []struct {
		name  string
		at    time.Time
		down  bool
		kinds string
	}{
		{"down", t0, true, "down"},
		{"a minute later", t0.Add(time.Minute), true, ""},
		{"two hours back", t0.Add(-2 * time.Hour), true, ""},
		{"a minute after the jump back", t0.Add(-2*time.Hour + time.Minute), true, ""},
		{"five hours forward", t0.Add(5 * time.Hour), true, "reminder"},
		{"a minute after the jump forward", t0.Add(5*time.Hour + time.Minute), true, ""},
		{"recovered", t0.Add(5*time.Hour + 2*time.Minute), false, "recovered"},
	}
	for _, st := range steps {
		w.clock = st.at
		w.down.Store(st.down)
		var stdout, stderr syncLog // go-redis may log from its own goroutines
		at := st.at
		code := run(context.Background(), []string{"--json"}, stdio{stdout: &stdout, stderr: &stderr,
			environ: testEnv(t, w.env), dir: t.TempDir(), now: func() time.Time { return at }})
		if code != exitOK {
			t.Fatalf("%s: exit %d:\n%s", st.name, code, stderr.String())
		}
		rep := decodeReport(t, stdout.String())
		if got := eventKinds(rep); got != st.kinds {
			t.Fatalf("%s: events %q, want %q", st.name, got, st.kinds)
		}
		if m := negative.FindString(stdout.String()); m != "" {
			t.Fatalf("%s: a negative duration in the report: %s\n%s", st.name, m, stdout.String())
		}
		for _, e := range rep.Events {
			if e.DurationSeconds < 0 {
				t.Fatalf("%s: event %s has duration %v", st.name, e.Kind, e.DurationSeconds)
			}
		}
	}
	_, status, _ := runCLI(t, w.env, "status", "--json")
	if m := negative.FindString(status); m != "" {
		t.Fatalf("a negative duration in the status: %s\n%s", m, status)
	}
	_, accepted, distinct := w.hook.counts()
	if accepted != 3 || distinct != 3 {
		t.Fatalf("%d alerts (%d event IDs); want down, one reminder, recovered", accepted, distinct)
	}
	f.set("exit 0 throughout; back 2 h: no reminder; forward 5 h: 1 reminder, not 30; no negative duration; %d alerts", accepted)
}

// expireLease checks that a lease a failed sweep left behind is set to
// expire within ttl, then deletes it, as its expiry would.
func expireLease(t *testing.T, addr string, ttl time.Duration) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	const leaseKey = "{pingpanda}:lease:0-of-1"
	left, err := rdb.PTTL(ctx, leaseKey).Result()
	if err != nil || left <= 0 || left > ttl {
		t.Fatalf("the lease left behind expires in %v (%v); want within %v", left, err, ttl)
	}
	if err := rdb.Del(ctx, leaseKey).Err(); err != nil {
		t.Fatal(err)
	}
}

// slowProxy forwards loopback TCP to upstream, holding every chunk the
// client sends for delay: each request/answer round trip takes delay
// longer. It returns its host:port.
func slowProxy(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.DialTimeout("tcp", upstream, time.Second)
			if err != nil {
				c.Close()
				continue
			}
			wg.Go(func() {
				// Upstream to client at once; closing either end ends both.
				io.Copy(c, u)
				c.Close()
			})
			wg.Go(func() {
				defer u.Close()
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						select {
						case <-time.After(delay):
						case <-done:
							return
						}
						if _, werr := u.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	return l.Addr().String()
}
