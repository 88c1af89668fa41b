package main

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state"
	"github.com/pingpanda/pingpanda/state/redistest"
)

// TestTenSimultaneousInvocationsAlertOnce starts ten sweeps at the same
// moment, five rounds in a row, against one failing target and a real
// redis-server: the lease lets one sweep of each round apply its results,
// and the threshold is crossed, and announced, exactly once.
func TestTenSimultaneousInvocationsAlertOnce(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	srv, down := flakyServer(t)
	down.Store(true)
	env := append(loopbackEnv(srv.URL), "REDIS_URL="+rs.URL(), "ALERT_THRESHOLD=3", "ENABLE_ADAPTIVE_BACKOFF=false")
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

	var (
		mu     sync.Mutex
		downs  []string
		locked int
	)
	for round := range 5 {
		now := clock.Add(time.Duration(round) * time.Minute)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var stdout, stderr syncLog // go-redis may log from its own goroutines
				code := run(context.Background(), []string{"--json"}, stdio{
					stdout: &stdout, stderr: &stderr, environ: env, now: func() time.Time { return now },
				})
				if code != exitOK {
					t.Errorf("round %d: exit %d: %s", round, code, stderr.String())
					return
				}
				rep := decodeReport(t, stdout.String())
				mu.Lock()
				defer mu.Unlock()
				if rep.Locked {
					locked++
				}
				for _, e := range rep.Events {
					if e.Kind == "down" {
						downs = append(downs, e.ID)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	if len(downs) != 1 {
		t.Fatalf("%d down events in 50 invocations, want exactly 1: %v", len(downs), downs)
	}
	if locked == 0 {
		t.Errorf("no invocation found the lease held; the test did not exercise it")
	}
	t.Logf("%d of 50 invocations found the lease held", locked)
}

// TestRedisKilledBetweenLoadAndSave kills redis-server after the sweep
// loaded its state and before it saved: the sweep exits 1 naming the
// store, and the state stored before it is exactly what a restarted server
// holds.
func TestRedisKilledBetweenLoadAndSave(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{Persist: true})
	srv, down := flakyServer(t)
	down.Store(true)
	env := append(loopbackEnv(srv.URL), "REDIS_URL="+rs.URL(), "ENABLE_ADAPTIVE_BACKOFF=false")
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	if code, _, errOut := runCLIAt(t, now, env); code != exitOK {
		t.Fatalf("first sweep: exit %d: %s", code, errOut)
	}
	before := storedRecords(t, rs.URL())
	if len(before) != 1 || !strings.Contains(before[0], `"consecutive_failures":1`) {
		t.Fatalf("after the first sweep the store holds %v", before)
	}

	clock = clock.Add(time.Minute)
	var stdout, stderr syncLog // go-redis may log from its own goroutines
	code := run(context.Background(), []string{"--timeout", "5s"}, stdio{
		stdout: &stdout, stderr: &stderr, environ: env, now: now, afterLoad: rs.Kill,
	})
	if code != exitFailed {
		t.Fatalf("exit %d, want 1; log:\n%s", code, stderr.String())
	}
	if log := stderr.String(); !strings.Contains(log, "the sweep could not complete") || !strings.Contains(log, "cannot save; the stored state is as before this sweep") || !strings.Contains(log, rs.Addr) {
		t.Errorf("the log should say why, naming the store:\n%s", log)
	}

	rs.Restart(t)
	if after := storedRecords(t, rs.URL()); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("stored state changed:\nbefore %v\nafter  %v", before, after)
	}
}

// storedRecords reads every record from Redis, in ID order, as the JSON of
// TargetState's struct tags (readable field names, unlike the stored
// version 2 array).
func storedRecords(t *testing.T, url string) []string {
	t.Helper()
	st, err := state.NewRedisStore(context.Background(), state.RedisOptions{URL: url, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, warnings, err := st.LoadAll(context.Background())
	if err != nil || len(warnings) > 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(all)) {
		b, err := json.Marshal(all[id])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
