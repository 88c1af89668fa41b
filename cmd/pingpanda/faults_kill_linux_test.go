package main

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pingpanda/pingpanda/state"
	"github.com/pingpanda/pingpanda/state/redistest"
)

// TestFaultSIGKILL50TimesInARow builds the command, runs it as a child
// process against one store, and
// kills it with SIGKILL at a random moment of its run, 50 times in a row,
// while the targets go down and up. After every run the store must load;
// at the end, every incident that crossed the threshold — each value the
// stored alert latch (AlertedIncident) took — must have reached the
// webhook, and under one event ID only; each recovery likewise.
func TestFaultSIGKILL50TimesInARow(t *testing.T) {
	bin := buildBinary(t, "")
	for _, store := range []string{"file", "redis"} {
		t.Run(store, func(t *testing.T) {
			f := fault(t, "sigkill-50-times-"+store)
			k := newKillWorld(t, store)
			k.bin = bin
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 0))

			// Three runs unkilled, to learn how long a run takes (the
			// longest of them, so that kills spread over whole runs).
			var span time.Duration
			for range 3 {
				took, _ := k.runChild(t, -1)
				span = max(span, took)
			}
			killed, completed := 0, 0
			for i := range 50 {
				// Down for four runs, up for four: incidents open and close.
				k.down.Store((i/4)%2 == 0)
				delay := time.Duration(rng.Int64N(int64(span + span/4)))
				if _, wasKilled := k.runChild(t, delay); wasKilled {
					killed++
				} else {
					completed++
				}
			}
			// Clean runs, the targets as they were, deliver what waits.
			for range 3 {
				k.runChild(t, -1)
			}
			outbox := k.snapshot(t)
			if outbox != 0 {
				t.Errorf("%d alerts still in the outbox after three clean runs", outbox)
			}
			downs, recs := k.hook.distinctOf("down"), k.hook.distinctOf("recovered")
			seen, accepted, _ := k.hook.counts()
			if len(downs) != len(k.incidents) {
				t.Errorf("%d distinct down alerts for %d incidents that crossed the threshold", len(downs), len(k.incidents))
			}
			if len(recs) != k.recoveries {
				t.Errorf("%d distinct recovered alerts for %d recoveries", len(recs), k.recoveries)
			}
			if completed+killed != 50 || killed == 0 {
				t.Errorf("%d runs killed, %d completed: the kills should land inside runs", killed, completed)
			}
			t.Logf("%d killed, %d completed; %d incidents, %d recoveries; %d requests, %d accepted, %d distinct event IDs",
				killed, completed, len(k.incidents), k.recoveries, seen, accepted, len(downs)+len(recs))
			f.set("%d of 50 runs killed mid-run (run ≈ %v); store loaded after each; %d incidents → %d down alerts, %d recoveries → %d recovered alerts (by event ID; %d deliveries in all)",
				killed, span.Round(time.Millisecond), len(k.incidents), len(downs), k.recoveries, len(recs), accepted)
		})
	}
}

type killWorld struct {
	bin     string
	store   string // "file" or "redis"
	env     []string
	down    *atomic.Bool
	hook    *hook
	open    func(t *testing.T) state.Store
	release func(t *testing.T) // lets the next run in after a kill

	// incidents holds every value the stored latch took, per target;
	// latched is the value now; recoveries counts latches cleared.
	incidents  map[string]bool
	latched    map[string]time.Time
	recoveries int
}

func newKillWorld(t *testing.T, store string) *killWorld {
	srv, down := flakyServer(t)
	k := &killWorld{store: store, down: down, hook: &hook{}, incidents: map[string]bool{}, latched: map[string]time.Time{}}
	hs := httptest.NewServer(k.hook)
	t.Cleanup(hs.Close)
	targets := []string{srv.URL + "/a", srv.URL + "/b", srv.URL + "/c"}
	k.env = append(loopbackEnv(targets...),
		"HOME="+t.TempDir(), "LOG_LEVEL=WARNING",
		"ENABLE_ADAPTIVE_BACKOFF=false", "FLAP_THRESHOLD=0", "ALERT_THRESHOLD=2", "ALERT_SOURCE_NAME=probe-host",
		"NOTIFICATION_RETRY_ATTEMPTS=1", "NOTIFICATION_RETRY_BACKOFF_SECONDS=0",
		"SLACK_WEBHOOK_URL="+hs.URL+"/services/T0/B0/secret-token")
	switch store {
	case "file":
		path := t.TempDir() + "/state.json"
		k.env = append(k.env, "STATE_FILE="+path)
		k.open = func(t *testing.T) state.Store {
			st, err := state.NewFileStore(path, state.FileOptions{Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		// The kernel drops a dead process's flock.
		k.release = func(*testing.T) {}
	case "redis":
		rs := redistest.Start(t, redistest.Options{})
		k.env = append(k.env, "REDIS_URL="+rs.URL())
		k.open = func(t *testing.T) state.Store {
			st, err := state.NewRedisStore(context.Background(), state.RedisOptions{URL: rs.URL(), Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		// A dead sweep's lease lasts until its expiry (the sweep timeout
		// plus 15 s); the test expires it at once.
		k.release = func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
			defer rdb.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := rdb.Del(ctx, "{pingpanda}:lease:0-of-1").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return k
}

// runChild runs one sweep in a child process and, when delay is not
// negative, SIGKILLs it after delay. It returns how long the run took and
// whether the kill landed; then it checks the store loads and notes the
// alert latches.
func (k *killWorld) runChild(t *testing.T, delay time.Duration) (time.Duration, bool) {
	t.Helper()
	cmd := exec.Command(k.bin, "--timeout", "5s")
	cmd.Env = k.env
	var stderr syncLog
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	killed := false
	if delay >= 0 {
		select {
		case err = <-exited:
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			err = <-exited
			killed = cmd.ProcessState != nil && !cmd.ProcessState.Exited()
		}
	} else {
		select {
		case err = <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Fatalf("a run took over 20 s with --timeout 5s")
		}
	}
	took := time.Since(start)
	if !killed && err != nil {
		t.Fatalf("a run that was not killed failed: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "secret-token") {
		t.Fatalf("the webhook token leaked into the log:\n%s", stderr.String())
	}
	if killed {
		k.release(t)
	}
	k.snapshot(t)
	return took, killed
}

// snapshot loads the store, fails the test if it cannot, notes the alert
// latches, and returns the number of alerts in the outbox.
func (k *killWorld) snapshot(t *testing.T) int {
	t.Helper()
	st := k.open(t)
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, warnings, err := st.LoadAll(ctx)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("the store does not load after a kill: %v %v", err, warnings)
	}
	loaded, err := st.Load(ctx, nil)
	if err != nil || len(loaded.OutboxWarnings) > 0 {
		t.Fatalf("the outbox does not load after a kill: %v %v", err, loaded.OutboxWarnings)
	}
	for id, s := range all {
		prev := k.latched[id]
		switch {
		case !s.AlertedIncident.IsZero():
			k.incidents[id+" "+s.AlertedIncident.String()] = true
		case !prev.IsZero():
			k.recoveries++
		}
		k.latched[id] = s.AlertedIncident
	}
	return len(loaded.Outbox)
}
