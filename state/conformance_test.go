package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// conformanceBackend is one empty backing store (a temporary directory, a
// fresh miniredis, a fresh namespace on a real server) for one subtest.
type conformanceBackend struct {
	// open returns a new Store on the backend: every Store it returns
	// shares the records and the leases, and reads the suite's clock.
	open func(t *testing.T) Store
	// poke writes raw as id's record straight into the backend, past
	// Encode, as a corrupt or foreign writer would.
	poke func(t *testing.T, id string, raw []byte)
}

// testClock is the clock every Store of a conformance subtest reads.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testStoreConformance is what every Store implementation must do.
// newBackend makes an empty backend whose stores read now.
func testStoreConformance(t *testing.T, newBackend func(t *testing.T, now func() time.Time) conformanceBackend) {
	const ttl = time.Minute
	ctx := context.Background()
	setup := func(t *testing.T) (conformanceBackend, *testClock) {
		clock := newTestClock()
		return newBackend(t, clock.Now), clock
	}

	t.Run("a lock can be taken and released", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		lease := mustLock(t, s, ttl)
		if lease.Token == "" {
			t.Error("lease has no token")
		}
		if want := clock.Now().Add(ttl); !lease.Expires.Equal(want) {
			t.Errorf("lease expires %v, want %v", lease.Expires, want)
		}
		if err := s.Unlock(ctx, lease); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
	})

	t.Run("a second lock while one is held fails with ErrLocked", func(t *testing.T) {
		b, _ := setup(t)
		s1, s2 := b.open(t), b.open(t)
		mustLock(t, s1, ttl)
		if _, err := s2.Lock(ctx, ttl); !errors.Is(err, ErrLocked) {
			t.Errorf("Lock from a second store: %v, want ErrLocked", err)
		}
		if _, err := s1.Lock(ctx, ttl); !errors.Is(err, ErrLocked) {
			t.Errorf("Lock again from the holder: %v, want ErrLocked", err)
		}
	})

	t.Run("the lock can be taken again after unlock", func(t *testing.T) {
		b, _ := setup(t)
		s1, s2 := b.open(t), b.open(t)
		lease := mustLock(t, s1, ttl)
		if err := s1.Unlock(ctx, lease); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		next := mustLock(t, s2, ttl)
		if next.Token == lease.Token {
			t.Error("a new lease has the token of the old one")
		}
	})

	t.Run("unlocking a stale lease leaves the new holder's lock alone", func(t *testing.T) {
		b, _ := setup(t)
		s1, s2, s3 := b.open(t), b.open(t), b.open(t)
		old := mustLock(t, s1, ttl)
		if err := s1.Unlock(ctx, old); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		mustLock(t, s2, ttl)
		if err := s1.Unlock(ctx, old); err != nil {
			t.Fatalf("Unlock of a stale lease: %v", err)
		}
		if _, err := s3.Lock(ctx, ttl); !errors.Is(err, ErrLocked) {
			t.Errorf("Lock after a stale unlock: %v, want ErrLocked", err)
		}
	})

	t.Run("a lock with a ttl that is not positive is refused", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		if _, err := s.Lock(ctx, 0); err == nil || errors.Is(err, ErrLocked) {
			t.Errorf("Lock(0): %v, want an error other than ErrLocked", err)
		}
		mustLock(t, s, ttl)
	})

	t.Run("loading unknown ids returns nothing", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		got, warns, err := s.Load(ctx, []string{"dns:nowhere.example", "ping:192.0.2.1"})
		if err != nil || len(got) != 0 || len(warns) != 0 {
			t.Errorf("Load = %v, %v, %v; want nothing", got, warns, err)
		}
		got, warns, err = s.Load(ctx, nil)
		if err != nil || len(got) != 0 || len(warns) != 0 {
			t.Errorf("Load(nil) = %v, %v, %v; want nothing", got, warns, err)
		}
		got, warns, err = s.LoadAll(ctx)
		if err != nil || len(got) != 0 || len(warns) != 0 {
			t.Errorf("LoadAll = %v, %v, %v; want nothing", got, warns, err)
		}
	})

	t.Run("saved records load back byte for byte", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		states := []TargetState{richState(clock.Now()), plainState("dns:example.com"), plainState("ping:[2001:db8::1]")}
		saveOK(t, s, SaveRequest{States: states, Retention: time.Hour})

		ids := []string{states[0].ID, states[1].ID, states[2].ID, "http://absent.example/"}
		got, warns, err := b.open(t).Load(ctx, ids)
		if err != nil || len(warns) != 0 {
			t.Fatalf("Load: %v, warnings %v", err, warns)
		}
		assertStates(t, got, states...)
		all, warns, err := b.open(t).LoadAll(ctx)
		if err != nil || len(warns) != 0 {
			t.Fatalf("LoadAll: %v, warnings %v", err, warns)
		}
		assertStates(t, all, states...)
	})

	t.Run("a later save replaces a record and keeps the others", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		a, c := plainState("dns:a.example"), plainState("dns:c.example")
		saveOK(t, s, SaveRequest{States: []TargetState{a, c}})
		clock.Advance(time.Minute)
		a.Status, a.ConsecutiveFailures = Down, 3
		saveOK(t, s, SaveRequest{States: []TargetState{a}})
		assertStates(t, loadAll(t, s), a, c)
	})

	t.Run("a save without a lease fails with ErrLeaseLost and writes nothing", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		err := s.Save(ctx, Lease{}, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Save: %v, want ErrLeaseLost", err)
		}
		assertStates(t, loadAll(t, s))
	})

	t.Run("a save with a stale lease fails with ErrLeaseLost and writes nothing", func(t *testing.T) {
		b, _ := setup(t)
		s1, s2 := b.open(t), b.open(t)
		before := plainState("dns:a.example")
		saveOK(t, s2, SaveRequest{States: []TargetState{before}})

		old := mustLock(t, s1, ttl)
		if err := s1.Unlock(ctx, old); err != nil {
			t.Fatal(err)
		}
		mustLock(t, s2, ttl)
		after := before
		after.Status = Down
		err := s1.Save(ctx, old, SaveRequest{States: []TargetState{after, plainState("dns:new.example")}, Delete: []string{before.ID}})
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Save with a stale lease: %v, want ErrLeaseLost", err)
		}
		assertStates(t, loadAll(t, s2), before)
	})

	t.Run("a save with a foreign lease fails with ErrLeaseLost and writes nothing", func(t *testing.T) {
		b, _ := setup(t)
		s1, s2 := b.open(t), b.open(t)
		mustLock(t, s2, ttl)
		forged := Lease{Token: "not-the-holders-token", Expires: time.Now().Add(ttl)}
		err := s1.Save(ctx, forged, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Save with a forged lease: %v, want ErrLeaseLost", err)
		}
		assertStates(t, loadAll(t, s2))
	})

	t.Run("a state without an id is refused and nothing is written", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		lease := mustLock(t, s, ttl)
		err := s.Save(ctx, lease, SaveRequest{States: []TargetState{plainState("dns:a.example"), {}}})
		if err == nil {
			t.Error("Save of a state without an id succeeded")
		}
		assertStates(t, loadAll(t, s))
	})

	t.Run("a deleted record is gone and the others stay", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		a, c := plainState("dns:a.example"), plainState("dns:c.example")
		saveOK(t, s, SaveRequest{States: []TargetState{a, c}})
		saveOK(t, s, SaveRequest{Delete: []string{a.ID, "dns:never-stored.example"}})
		assertStates(t, loadAll(t, s), c)
		got, warns, err := s.Load(ctx, []string{a.ID, c.ID})
		if err != nil || len(warns) != 0 {
			t.Fatalf("Load: %v, %v", err, warns)
		}
		assertStates(t, got, c)
	})

	t.Run("records not saved within the retention are dropped", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		old, kept := plainState("dns:old.example"), plainState("dns:kept.example")
		saveOK(t, s, SaveRequest{States: []TargetState{old, kept}, Retention: time.Hour})
		clock.Advance(40 * time.Minute)
		saveOK(t, s, SaveRequest{States: []TargetState{kept}, Retention: time.Hour})
		clock.Advance(40 * time.Minute) // old: 80 min, kept: 40 min
		fresh := plainState("dns:fresh.example")
		saveOK(t, s, SaveRequest{States: []TargetState{fresh}, Retention: time.Hour})
		assertStates(t, loadAll(t, s), kept, fresh)
	})

	t.Run("a retention of zero keeps records forever", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		old := plainState("dns:old.example")
		saveOK(t, s, SaveRequest{States: []TargetState{old}})
		clock.Advance(365 * 24 * time.Hour)
		saveOK(t, s, SaveRequest{States: []TargetState{plainState("dns:new.example")}})
		if _, ok := loadAll(t, s)[old.ID]; !ok {
			t.Error("a record was dropped with no retention set")
		}
	})

	t.Run("a corrupt record is reported by its id and the others load", func(t *testing.T) {
		for _, garbage := range [][]byte{
			[]byte("\x00\xff not json {"),
			[]byte(`"a string"`),
			[]byte(`{"v":1,"status":42}`),
			[]byte(`{"v":1,"id":"dns:someone-else.example"}`),
			[]byte(`{"status":"up"}`),
			{},
		} {
			t.Run(fmt.Sprintf("%q", garbage), func(t *testing.T) {
				b, _ := setup(t)
				s := b.open(t)
				good := plainState("dns:good.example")
				saveOK(t, s, SaveRequest{States: []TargetState{good}})
				const bad = "dns:bad.example"
				b.poke(t, bad, garbage)

				got, warns, err := s.Load(ctx, []string{bad, good.ID})
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				assertStates(t, got, good)
				assertWarnedAbout(t, warns, bad)
				got, warns, err = s.LoadAll(ctx)
				if err != nil {
					t.Fatalf("LoadAll: %v", err)
				}
				assertStates(t, got, good)
				assertWarnedAbout(t, warns, bad)
			})
		}
	})

	t.Run("a record of a future version is reported and the others load", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		good := plainState("dns:good.example")
		saveOK(t, s, SaveRequest{States: []TargetState{good}})
		const future = "dns:future.example"
		b.poke(t, future, []byte(`{"v":99,"id":"dns:future.example","status":"up","hologram":true}`))

		got, warns, err := s.Load(ctx, []string{future, good.ID})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		assertStates(t, got, good)
		assertWarnedAbout(t, warns, future)
		if !errors.Is(warns[0].Err, ErrVersion) {
			t.Errorf("warning %v does not wrap ErrVersion", warns[0].Err)
		}
	})

	t.Run("a corrupt record is replaced by the next save", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		const id = "dns:bad.example"
		b.poke(t, id, []byte("garbage"))
		fresh := plainState(id)
		saveOK(t, s, SaveRequest{States: []TargetState{fresh}})
		got, warns, err := s.Load(ctx, []string{id})
		if err != nil || len(warns) != 0 {
			t.Fatalf("Load: %v, %v", err, warns)
		}
		assertStates(t, got, fresh)
	})

	t.Run("loading everything returns every record", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		var states []TargetState
		for i := range 300 {
			st := plainState(fmt.Sprintf("http:https://%d.example/", i))
			st.Since = clock.Now().Add(-time.Duration(i) * time.Second)
			states = append(states, st)
		}
		saveOK(t, s, SaveRequest{States: states, Retention: time.Hour})
		assertStates(t, loadAll(t, b.open(t)), states...)
	})
}

// mustLock takes the lease or fails the test.
func mustLock(t *testing.T, s Store, ttl time.Duration) Lease {
	t.Helper()
	lease, err := s.Lock(context.Background(), ttl)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	return lease
}

// saveOK saves req under a lease of its own, and unlocks.
func saveOK(t *testing.T, s Store, req SaveRequest) {
	t.Helper()
	lease := mustLock(t, s, time.Minute)
	if err := s.Save(context.Background(), lease, req); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if err := s.Unlock(context.Background(), lease); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func loadAll(t *testing.T, s Store) map[string]TargetState {
	t.Helper()
	got, warns, err := s.LoadAll(context.Background())
	if err != nil {
		t.Fatalf("LoadAll: %v", err)
	}
	if len(warns) != 0 {
		t.Fatalf("LoadAll warnings: %v", warns)
	}
	return got
}

// assertStates checks that got holds exactly want, compared by encoding.
func assertStates(t *testing.T, got map[string]TargetState, want ...TargetState) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d records, want %d: %v", len(got), len(want), sortedKeys(got))
	}
	for _, w := range want {
		g, ok := got[w.ID]
		if !ok {
			t.Errorf("%s: missing", w.ID)
			continue
		}
		gb, _ := Encode(g)
		wb, _ := Encode(w)
		if !bytes.Equal(gb, wb) {
			t.Errorf("%s:\n got %s\nwant %s", w.ID, gb, wb)
		}
	}
}

// assertWarnedAbout checks that warns is one warning, about id.
func assertWarnedAbout(t *testing.T, warns []Warning, id string) {
	t.Helper()
	if len(warns) != 1 || warns[0].ID != id || warns[0].Err == nil {
		t.Fatalf("warnings %v, want one about %s", warns, id)
	}
	if !strings.Contains(warns[0].Err.Error(), id) {
		t.Errorf("warning %q does not name %s", warns[0].Err, id)
	}
}

// plainState is a target that has been up for a while.
func plainState(id string) TargetState {
	check, target, _ := strings.Cut(id, ":")
	return TargetState{
		V: Version, ID: id, Check: check, Target: target,
		Status: Up, Since: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Circuit: Closed,
		ConsecutiveSuccesses: 7,
		Stats:                Stats{Checks: 7, UptimeSeconds: 420, LatencyLast: 0.012, LatencyMin: 0.01, LatencyMax: 0.02, LatencyEWMA: 0.013},
	}
}

// richState has every field set, with the awkward values an encoding can
// lose: sub-second times in another zone, HTML and line separators in
// strings, fractions.
func richState(now time.Time) TargetState {
	zone := time.FixedZone("", 5*3600+30*60)
	at := func(d time.Duration) time.Time { return now.Add(d).In(zone) }
	return TargetState{
		V: Version, ID: "tls:example.com:443", Check: "tls", Target: "example.com:443", Name: "Shop <prod> & \u2028co",
		Status: Down, Since: at(-90*time.Minute + 123456789),
		ConsecutiveFailures: 4, IncidentStart: at(-90 * time.Minute),
		AlertedAt: at(-80 * time.Minute), LastReminderAt: at(-20 * time.Minute),
		Circuit: HalfOpen, OpenedAt: at(-5 * time.Minute), BackoffMultiplier: 32, NextProbeAt: at(time.Minute + 1),
		StatusChanges: []time.Time{at(-4 * time.Hour), at(-90 * time.Minute)}, Flapping: true, FlappingSince: at(-time.Hour),
		CertLevel: "critical", CertDays: 6.499999, NotAfter: at(6*24*time.Hour + 1),
		Stats: Stats{
			Checks: 1 << 40, Failures: 12, UptimeSeconds: 1e7 + 0.25, DowntimeSeconds: 5400.125, DowntimeEvents: 3,
			Outages:     []Outage{{Start: at(-48 * time.Hour), End: at(-47 * time.Hour)}},
			LatencyLast: 0.1, LatencyMin: 1e-6, LatencyMax: 9.75, LatencyEWMA: 0.333333333333,
		},
		LastError:   `x509: certificate signed by unknown authority "Evil <CA>" — 日本`,
		LastProbeAt: at(0), LastSeen: at(0),
	}
}
