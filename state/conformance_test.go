package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
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
	// pokeOutbox writes raw as event id's outbox entry the same way (in
	// Redis, into the outbox hash only, not its queue).
	pokeOutbox func(t *testing.T, id string, raw []byte)
	// pokeSilences writes each raw as the stored silence of its ID the
	// same way (in the file store, added to the silences file).
	pokeSilences func(t *testing.T, silences map[string][]byte)
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
		got, warns, err := loadStates(ctx, s, []string{"dns:nowhere.example", "ping:192.0.2.1"})
		if err != nil || len(got) != 0 || len(warns) != 0 {
			t.Errorf("Load = %v, %v, %v; want nothing", got, warns, err)
		}
		got, warns, err = loadStates(ctx, s, nil)
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
		got, warns, err := loadStates(ctx, b.open(t), ids)
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
		_, err := s.Save(ctx, Lease{}, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
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
		_, err := s1.Save(ctx, old, SaveRequest{States: []TargetState{after, plainState("dns:new.example")}, Delete: []string{before.ID}})
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
		_, err := s1.Save(ctx, forged, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Save with a forged lease: %v, want ErrLeaseLost", err)
		}
		assertStates(t, loadAll(t, s2))
	})

	t.Run("a state without an id is refused and nothing is written", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		lease := mustLock(t, s, ttl)
		_, err := s.Save(ctx, lease, SaveRequest{States: []TargetState{plainState("dns:a.example"), {}}})
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
		got, warns, err := loadStates(ctx, s, []string{a.ID, c.ID})
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

	t.Run("records load in the order of the ids asked for, an id asked for twice in both places", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		x, y := plainState("dns:x.example"), plainState("dns:y.example")
		saveOK(t, s, SaveRequest{States: []TargetState{x, y}})
		ids := []string{y.ID, "dns:none.example", x.ID, y.ID}
		l, err := s.Load(ctx, ids)
		if err != nil || len(l.Warnings) != 0 {
			t.Fatalf("Load: %v, %v", err, l.Warnings)
		}
		if _, err := found(ids, l.States); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{y.ID, "", x.ID, y.ID} {
			if l.States[i].ID != want {
				t.Errorf("state %d is %q, want %q", i, l.States[i].ID, want)
			}
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

				got, warns, err := loadStates(ctx, s, []string{bad, good.ID})
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

		got, warns, err := loadStates(ctx, s, []string{future, good.ID})
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
		got, warns, err := loadStates(ctx, s, []string{id})
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

	t.Run("outbox", func(t *testing.T) { testOutboxConformance(t, setup) })
	t.Run("silences", func(t *testing.T) { testSilenceConformance(t, setup) })
}

// testOutboxConformance is what every Store must do with the alert
// outbox (SPEC §5).
func testOutboxConformance(t *testing.T, setup func(t *testing.T) (conformanceBackend, *testClock)) {
	const ttl = time.Minute
	ctx := context.Background()

	t.Run("the outbox is empty until something is queued", func(t *testing.T) {
		b, _ := setup(t)
		s := b.open(t)
		for _, ids := range [][]string{nil, {"dns:a.example"}} {
			l, err := s.Load(ctx, ids)
			if err != nil || len(l.Outbox) != 0 || len(l.OutboxWarnings) != 0 || len(mustFind(t, ids, l.States)) != 0 || len(l.Warnings) != 0 {
				t.Errorf("Load(%q) = %+v, %v; want nothing", ids, l, err)
			}
		}
		res := saveOK(t, s, SaveRequest{States: []TargetState{plainState("dns:a.example")}, Outbox: OutboxPolicy{MaxEntries: 1, MaxAge: time.Second}})
		if len(res.Dropped) != 0 {
			t.Errorf("Dropped %v from an empty outbox", res.Dropped)
		}
		assertOutbox(t, loadOutbox(t, s))
	})

	t.Run("Save returns the outbox it wrote: the loaded entries with what it queued, less what it dropped", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		t0 := clock.Now().Add(-time.Hour)
		old := queued(t0.Add(-48*time.Hour), "ping:old", "slack")
		a := queued(t0, "tls:a", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{old, a}})
		loaded := loadOutbox(t, s)
		again := queued(t0, "tls:a", "discord") // the same event, for another provider
		c := queued(t0.Add(time.Minute), "http:c", "teams")
		res := saveOK(t, s, SaveRequest{Loaded: loaded, Enqueue: []OutboxEntry{c, again}, Outbox: OutboxPolicy{MaxAge: 24 * time.Hour}})
		if len(res.Dropped) != 1 || res.Dropped[0].Entry.Event.ID != old.Event.ID {
			t.Fatalf("Dropped %+v; want the entry over the age limit", res.Dropped)
		}
		assertOutbox(t, res.Outbox, loadOutbox(t, s)...)
		if len(res.Outbox) != 2 || res.Outbox[0].Event.ID != a.Event.ID || !slices.Equal(res.Outbox[0].Pending, []string{"discord", "slack"}) {
			t.Errorf("Outbox %+v; want tls:a pending for discord and slack, then http:c", res.Outbox)
		}
	})

	t.Run("queued entries load oldest first, then by event id, in the same save as the records", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		t0 := clock.Now().Add(-time.Hour)
		c := queued(t0.Add(2*time.Minute), "ping:c", "slack")
		a := queued(t0, "tls:a", "slack", "discord")
		bb := queued(t0, "http:b", "teams")
		now := queued(time.Time{}, "dns:now", "slack") // queued at the store's clock
		st := plainState("dns:a.example")
		saveOK(t, s, SaveRequest{States: []TargetState{st}, Enqueue: []OutboxEntry{c, a, bb, now}})

		l, err := b.open(t).Load(ctx, []string{st.ID})
		if err != nil || len(l.Warnings)+len(l.OutboxWarnings) != 0 {
			t.Fatalf("Load: %v, %v, %v", err, l.Warnings, l.OutboxWarnings)
		}
		assertStates(t, mustFind(t, []string{st.ID}, l.States), st)
		a.Pending = []string{"discord", "slack"}
		now.QueuedAt = clock.Now()
		ids := []string{a.Event.ID, bb.Event.ID}
		if ids[1] < ids[0] {
			a, bb = bb, a
		}
		assertOutbox(t, l.Outbox, a, bb, c, now)
	})

	t.Run("an entry loads back as queued: its event byte for byte, its time in UTC to the millisecond, its providers sorted once", func(t *testing.T) {
		b, clock := setup(t)
		e := queued(clock.Now().Add(-time.Minute+123456789).In(time.FixedZone("", -7*3600)), "tls:example.com:443", "slack", "discord", "slack")
		saveOK(t, b.open(t), SaveRequest{Enqueue: []OutboxEntry{e}})
		e.Pending = []string{"discord", "slack"}
		e.QueuedAt = clock.Now().Add(-time.Minute + 123*time.Millisecond).UTC()
		got := loadOutbox(t, b.open(t))
		assertOutbox(t, got, e)
		if len(got) == 1 && (got[0].QueuedAt.Location() != time.UTC || !got[0].QueuedAt.Equal(e.QueuedAt)) {
			t.Errorf("QueuedAt %v, want %v", got[0].QueuedAt, e.QueuedAt)
		}
	})

	t.Run("queueing a queued event again keeps one entry, in its place, with the providers of both", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		t0 := clock.Now()
		e := queued(t0, "dns:a.example", "slack")
		other := queued(t0.Add(time.Second), "dns:b.example", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e, other}})
		updateOK(t, s, OutboxUpdate{Failed: map[string]string{e.Event.ID: "slack: HTTP 503"}})

		clock.Advance(5 * time.Minute)
		again := queued(clock.Now(), "dns:a.example", "discord", "slack")
		again.Event.Message = "a later copy"
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{again, queued(clock.Now(), "dns:a.example", "teams")}})

		e.Pending = []string{"discord", "slack", "teams"}
		e.Attempts, e.LastError = 1, "slack: HTTP 503"
		assertOutbox(t, loadOutbox(t, b.open(t)), e, other)
	})

	t.Run("a provider that delivered an event is not queued for it again", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		e := queued(clock.Now(), "dns:a.example", "discord", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e}})
		updateOK(t, s, OutboxUpdate{Delivered: map[string][]string{e.Event.ID: {"slack"}}})
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{queued(clock.Now(), "dns:a.example", "slack", "teams")}})
		e.Pending, e.Delivered = []string{"discord", "teams"}, []string{"slack"}
		assertOutbox(t, loadOutbox(t, s), e)

		// Nothing new to send: the entry is left as it was.
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{queued(clock.Now(), "dns:a.example", "slack")}})
		assertOutbox(t, loadOutbox(t, s), e)
	})

	t.Run("a delivery removes the provider, and the entry once none is pending", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		e := queued(clock.Now(), "tls:example.com:443", "discord", "slack")
		f := queued(clock.Now(), "dns:f.example", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e, f}})

		updateOK(t, s, OutboxUpdate{Delivered: map[string][]string{
			e.Event.ID:           {"slack", "teams"}, // teams was never pending
			f.Event.ID:           {"slack"},
			"never-queued-event": {"slack"},
		}})
		e.Pending, e.Delivered = []string{"discord"}, []string{"slack"}
		assertOutbox(t, loadOutbox(t, b.open(t)), e)

		updateOK(t, s, OutboxUpdate{Delivered: map[string][]string{e.Event.ID: {"discord"}}})
		assertOutbox(t, loadOutbox(t, b.open(t)))
	})

	t.Run("a failure counts an attempt and keeps the last error, and the event is untouched", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		e := queued(clock.Now(), "tls:example.com:443", "discord", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e}})
		updateOK(t, s, OutboxUpdate{Failed: map[string]string{e.Event.ID: "slack: HTTP 500", "never-queued-event": "x"}})
		updateOK(t, s, OutboxUpdate{Failed: map[string]string{e.Event.ID: `discord: "timeout" </a> — 日本`}})
		e.Attempts, e.LastError = 2, `discord: "timeout" </a> — 日本`
		assertOutbox(t, loadOutbox(t, b.open(t)), e)

		// Slack delivered and Discord failed, in one round.
		updateOK(t, s, OutboxUpdate{
			Delivered: map[string][]string{e.Event.ID: {"slack"}},
			Failed:    map[string]string{e.Event.ID: "discord: HTTP 502"},
		})
		e.Pending, e.Delivered, e.Attempts, e.LastError = []string{"discord"}, []string{"slack"}, 3, "discord: HTTP 502"
		assertOutbox(t, loadOutbox(t, b.open(t)), e)

		// Delivered to the last one: gone, whatever else is said of it.
		updateOK(t, s, OutboxUpdate{
			Delivered: map[string][]string{e.Event.ID: {"discord"}},
			Failed:    map[string]string{e.Event.ID: "a failure reported with the delivery"},
		})
		assertOutbox(t, loadOutbox(t, b.open(t)))
	})

	t.Run("dropped entries are gone and unknown ids are ignored", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		e, f := queued(clock.Now(), "dns:e.example", "slack"), queued(clock.Now(), "dns:f.example", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e, f}})
		updateOK(t, s, OutboxUpdate{Drop: []string{e.Event.ID, "never-queued-event"}})
		assertOutbox(t, loadOutbox(t, s), f)
		updateOK(t, s, OutboxUpdate{})
		assertOutbox(t, loadOutbox(t, s), f)
	})

	t.Run("with a stale, foreign or no lease nothing is queued or updated: ErrLeaseLost", func(t *testing.T) {
		b, clock := setup(t)
		s1, s2 := b.open(t), b.open(t)
		e := queued(clock.Now(), "dns:e.example", "discord", "slack")
		saveOK(t, s2, SaveRequest{Enqueue: []OutboxEntry{e}})

		old := mustLock(t, s1, ttl)
		if err := s1.Unlock(ctx, old); err != nil {
			t.Fatal(err)
		}
		mustLock(t, s2, ttl)
		forged := Lease{Token: "not-the-holders-token", Expires: time.Now().Add(ttl)}
		for name, lease := range map[string]Lease{"stale": old, "foreign": forged, "none": {}} {
			err := s1.UpdateOutbox(ctx, lease, OutboxUpdate{
				Delivered: map[string][]string{e.Event.ID: {"slack"}},
				Failed:    map[string]string{e.Event.ID: "discord: HTTP 500"},
				Drop:      []string{e.Event.ID},
			})
			if !errors.Is(err, ErrLeaseLost) {
				t.Errorf("UpdateOutbox with %s lease: %v, want ErrLeaseLost", name, err)
			}
			_, err = s1.Save(ctx, lease, SaveRequest{
				Enqueue: []OutboxEntry{queued(clock.Now(), "dns:e.example", "teams"), queued(clock.Now(), "dns:new.example", "slack")},
				Outbox:  OutboxPolicy{MaxEntries: 1, MaxAge: time.Nanosecond},
			})
			if !errors.Is(err, ErrLeaseLost) {
				t.Errorf("Save with %s lease: %v, want ErrLeaseLost", name, err)
			}
		}
		assertOutbox(t, loadOutbox(t, s2), e)
	})

	t.Run("an entry without an event id or a pending provider is refused and nothing is written", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		good := queued(clock.Now(), "dns:good.example", "slack")
		noID := queued(clock.Now(), "dns:x.example", "slack")
		noID.Event.ID = ""
		deliveredAll := queued(clock.Now(), "dns:y.example", "slack")
		deliveredAll.Delivered = []string{"slack"}
		for name, bad := range map[string]OutboxEntry{
			"no event id":         noID,
			"no provider":         queued(clock.Now(), "dns:z.example"),
			"an empty provider":   queued(clock.Now(), "dns:z.example", "slack", ""),
			"every one delivered": deliveredAll,
		} {
			lease := mustLock(t, s, ttl)
			_, err := s.Save(ctx, lease, SaveRequest{States: []TargetState{plainState("dns:a.example")}, Enqueue: []OutboxEntry{good, bad}})
			if err == nil {
				t.Errorf("Save of an entry with %s succeeded", name)
			}
			if err := s.Unlock(ctx, lease); err != nil {
				t.Fatal(err)
			}
		}
		assertStates(t, loadAll(t, s))
		assertOutbox(t, loadOutbox(t, s))
	})

	t.Run("entries queued longer ago than MaxAge are dropped and reported", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		t0 := clock.Now()
		old := queued(t0, "dns:old.example", "slack")
		edge := queued(t0.Add(time.Minute), "dns:edge.example", "slack")
		young := queued(t0.Add(30*time.Minute), "dns:young.example", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{young, old, edge}})
		updateOK(t, s, OutboxUpdate{Failed: map[string]string{old.Event.ID: "slack: HTTP 500"}})

		clock.Advance(61 * time.Minute) // old: 61 min, edge: exactly 60, young: 31
		res := saveOK(t, s, SaveRequest{Outbox: OutboxPolicy{MaxAge: time.Hour}})
		old.Attempts, old.LastError = 1, "slack: HTTP 500"
		assertDropped(t, res.Dropped, DropExpired, old)
		assertOutbox(t, loadOutbox(t, b.open(t)), edge, young)
	})

	t.Run("beyond MaxEntries the oldest are dropped and reported, after those too old", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		t0 := clock.Now()
		var entries []OutboxEntry
		for i := range 5 {
			entries = append(entries, queued(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("dns:%d.example", i), "slack"))
		}
		saveOK(t, s, SaveRequest{Enqueue: entries[:3]})
		clock.Advance(10 * time.Minute)
		res := saveOK(t, s, SaveRequest{Enqueue: entries[3:], Outbox: OutboxPolicy{MaxEntries: 3}})
		assertDropped(t, res.Dropped, DropOverflow, entries[:2]...)
		assertOutbox(t, loadOutbox(t, s), entries[2:]...)

		// Age first (entry 2 is 8 minutes old, entry 3 exactly 7), then
		// the cap.
		late := queued(clock.Now(), "dns:late.example", "slack")
		res = saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{late}, Outbox: OutboxPolicy{MaxEntries: 2, MaxAge: 7 * time.Minute}})
		if len(res.Dropped) != 2 || res.Dropped[0].Reason != DropExpired || res.Dropped[1].Reason != DropOverflow {
			t.Fatalf("Dropped %+v, want entry 2 expired then entry 3 over the cap", res.Dropped)
		}
		assertDropped(t, res.Dropped[:1], DropExpired, entries[2])
		assertDropped(t, res.Dropped[1:], DropOverflow, entries[3])
		assertOutbox(t, loadOutbox(t, s), entries[4], late)
	})

	t.Run("the outbox survives the store: a new one on the same backend has it", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		e := queued(clock.Now(), "tls:example.com:443", "discord", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e}})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		next := b.open(t)
		assertOutbox(t, loadOutbox(t, next), e)
		updateOK(t, next, OutboxUpdate{Delivered: map[string][]string{e.Event.ID: {"discord"}}})
		e.Pending, e.Delivered = []string{"slack"}, []string{"discord"}
		assertOutbox(t, loadOutbox(t, b.open(t)), e)
	})

	t.Run("a corrupt entry is reported by its event id and the others load", func(t *testing.T) {
		other := queued(time.Now(), "dns:other.example", "slack")
		otherEvent, _ := json.Marshal(other.Event)
		for _, garbage := range [][]byte{
			[]byte("\x00\xff not json {"),
			[]byte(`"a string"`),
			[]byte(`{"v":1}`),
			[]byte(`{"pending":["slack"]}`),
			[]byte(`{"v":2,"event":"{}","pending":["slack"],"hologram":true}`),
			[]byte(`{"v":1,"event":"not json","pending":["slack"],"queued_at":"2026-03-01T12:00:00Z"}`),
			[]byte(`{"v":1,"event":"{\"id\":\"dns:bad\"}","pending":[],"queued_at":"2026-03-01T12:00:00Z"}`),
			[]byte(`{"v":1,"event":"{\"id\":\"dns:bad\"}","pending":"slack","queued_at":"2026-03-01T12:00:00Z"}`),
			[]byte(`{"v":1,"event":` + strconv.Quote(string(otherEvent)) + `,"pending":["slack"],"queued_at":"2026-03-01T12:00:00Z"}`),
			{},
		} {
			t.Run(fmt.Sprintf("%q", garbage), func(t *testing.T) {
				b, clock := setup(t)
				s := b.open(t)
				good := queued(clock.Now(), "dns:good", "slack")
				st := plainState("dns:a.example")
				saveOK(t, s, SaveRequest{States: []TargetState{st}, Enqueue: []OutboxEntry{good}})
				const bad = "dns:bad"
				b.pokeOutbox(t, bad, garbage)

				l, err := s.Load(ctx, []string{st.ID})
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				assertStates(t, mustFind(t, []string{st.ID}, l.States), st)
				if len(l.Warnings) != 0 {
					t.Errorf("target warnings %v", l.Warnings)
				}
				assertOutbox(t, l.Outbox, good)
				assertWarnedAbout(t, l.OutboxWarnings, bad)

				// Updates pass it by; it is only dropped.
				updateOK(t, s, OutboxUpdate{
					Delivered: map[string][]string{bad: {"slack"}, good.Event.ID: {"slack"}},
					Failed:    map[string]string{bad: "x"},
				})
				l, err = s.Load(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				assertOutbox(t, l.Outbox)
				assertWarnedAbout(t, l.OutboxWarnings, bad)
				updateOK(t, s, OutboxUpdate{Drop: []string{bad}})
				assertOutbox(t, loadOutbox(t, s))
			})
		}
	})

	t.Run("queueing an event whose entry is unreadable replaces the entry", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		e := queued(clock.Now(), "dns:e.example", "slack")
		b.pokeOutbox(t, e.Event.ID, []byte(`{"v":1,"event":"garbage","pending":["discord"]}`))
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e}})
		assertOutbox(t, loadOutbox(t, s), e)
	})

	t.Run("an unreadable entry is the first the policy drops, reported by its event id", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		e := queued(clock.Now(), "dns:e.example", "slack")
		saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e}})
		b.pokeOutbox(t, "dns:bad", []byte("garbage"))
		res := saveOK(t, s, SaveRequest{Outbox: OutboxPolicy{MaxEntries: 1}})
		if len(res.Dropped) != 1 || res.Dropped[0].Entry.Event.ID != "dns:bad" || res.Dropped[0].Err == nil || res.Dropped[0].Reason != DropOverflow {
			t.Errorf("Dropped %+v, want the unreadable entry, with its error", res.Dropped)
		}
		assertOutbox(t, loadOutbox(t, s), e)

		b.pokeOutbox(t, "dns:bad", []byte("garbage"))
		res = saveOK(t, s, SaveRequest{Outbox: OutboxPolicy{MaxAge: 365 * 24 * time.Hour}})
		if len(res.Dropped) != 1 || res.Dropped[0].Entry.Event.ID != "dns:bad" || res.Dropped[0].Reason != DropExpired {
			t.Errorf("Dropped %+v, want the unreadable entry as expired", res.Dropped)
		}
		assertOutbox(t, loadOutbox(t, s), e)
	})

	t.Run("a large outbox is queued, loaded and updated whole", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		var entries []OutboxEntry
		delivered := map[string][]string{}
		for i := range 500 {
			e := queued(clock.Now().Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("http:https://%03d.example/", i), "discord", "slack")
			entries = append(entries, e)
			if i%2 == 0 {
				delivered[e.Event.ID] = []string{"discord", "slack"}
			}
		}
		saveOK(t, s, SaveRequest{Enqueue: entries, Outbox: OutboxPolicy{MaxEntries: 1000, MaxAge: time.Hour}})
		assertOutbox(t, loadOutbox(t, b.open(t)), entries...)
		updateOK(t, s, OutboxUpdate{Delivered: delivered})
		var left []OutboxEntry
		for i, e := range entries {
			if i%2 == 1 {
				left = append(left, e)
			}
		}
		assertOutbox(t, loadOutbox(t, b.open(t)), left...)
	})
}

// updateOK applies u under a lease of its own, and unlocks.
func updateOK(t *testing.T, s Store, u OutboxUpdate) {
	t.Helper()
	lease := mustLock(t, s, time.Minute)
	if err := s.UpdateOutbox(context.Background(), lease, u); err != nil {
		t.Fatalf("UpdateOutbox: %v", err)
	}
	if err := s.Unlock(context.Background(), lease); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

// loadOutbox is the store's outbox, which must be readable.
func loadOutbox(t *testing.T, s Store) []OutboxEntry {
	t.Helper()
	l, err := s.Load(context.Background(), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(l.OutboxWarnings) != 0 || len(l.Warnings) != 0 {
		t.Fatalf("Load warnings %v, outbox warnings %v", l.Warnings, l.OutboxWarnings)
	}
	return l.Outbox
}

// assertOutbox checks that got is want, in order, compared by encoding;
// want's QueuedAt is taken in UTC to the millisecond.
func assertOutbox(t *testing.T, got []OutboxEntry, want ...OutboxEntry) {
	t.Helper()
	if len(got) != len(want) {
		ids := make([]string, len(got))
		for i, e := range got {
			ids[i] = e.Event.ID
		}
		t.Errorf("%d outbox entries, want %d: %v", len(got), len(want), ids)
		return
	}
	for i := range want {
		assertEntry(t, got[i], want[i])
	}
}

// assertDropped checks that dropped are want, in order, all for reason.
func assertDropped(t *testing.T, dropped []DroppedEntry, reason DropReason, want ...OutboxEntry) {
	t.Helper()
	if len(dropped) != len(want) {
		t.Fatalf("dropped %+v, want %d entries", dropped, len(want))
	}
	for i, d := range dropped {
		if d.Reason != reason || d.Err != nil {
			t.Errorf("dropped %s: reason %q, error %v; want %q", d.Entry.Event.ID, d.Reason, d.Err, reason)
		}
		assertEntry(t, d.Entry, want[i])
	}
}

// loadStates is Load's target records.
func loadStates(ctx context.Context, s Store, ids []string) (map[string]TargetState, []Warning, error) {
	l, err := s.Load(ctx, ids)
	if err != nil {
		return nil, l.Warnings, err
	}
	got, err := found(ids, l.States)
	return got, l.Warnings, err
}

// found is the records Load returned for ids, by ID: those that are not
// the zero TargetState. A record out of its place is an error.
func found(ids []string, states []TargetState) (map[string]TargetState, error) {
	if len(states) != len(ids) {
		return nil, fmt.Errorf("Load of %d ids returned %d states", len(ids), len(states))
	}
	got := map[string]TargetState{}
	for i, st := range states {
		if st.V == 0 {
			if !reflect.DeepEqual(st, TargetState{}) {
				return nil, fmt.Errorf("state %d (%s) has no version but is not zero: %+v", i, ids[i], st)
			}
			continue
		}
		if st.ID != ids[i] {
			return nil, fmt.Errorf("state %d is %q, want %q's", i, st.ID, ids[i])
		}
		got[st.ID] = st
	}
	return got, nil
}

// mustFind is found, failing the test on an error.
func mustFind(t *testing.T, ids []string, states []TargetState) map[string]TargetState {
	t.Helper()
	got, err := found(ids, states)
	if err != nil {
		t.Fatal(err)
	}
	return got
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
func saveOK(t *testing.T, s Store, req SaveRequest) SaveResult {
	t.Helper()
	lease := mustLock(t, s, time.Minute)
	res, err := s.Save(context.Background(), lease, req)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	if err := s.Unlock(context.Background(), lease); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	return res
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
