package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testSilenceConformance is what every Store does with silences.
func testSilenceConformance(t *testing.T, setup func(t *testing.T) (conformanceBackend, *testClock)) {
	ctx := context.Background()

	t.Run("silences are added, listed by expiry then ID, and removed", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		now := clock.Now()
		late := silenceAt("s-0000000c", now, 3*time.Hour)
		b2 := silenceAt("s-0000000b", now, time.Hour)
		a := silenceAt("s-0000000a", now, time.Hour)
		for _, sl := range []Silence{late, b2, a} {
			addOK(t, s, sl)
		}
		assertSilences(t, silencesOK(t, b.open(t)), a, b2, late)

		for _, tc := range []struct {
			id   string
			want bool
		}{{b2.ID, true}, {b2.ID, false}, {"s-nosuch00", false}} {
			got, err := s.RemoveSilence(ctx, tc.id)
			if err != nil || got != tc.want {
				t.Errorf("RemoveSilence(%s) = %v, %v; want %v", tc.id, got, err, tc.want)
			}
		}
		assertSilences(t, silencesOK(t, s), a, late)
	})

	t.Run("a silence keeps its every field, its times in UTC", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		zone := time.FixedZone("", -(3*3600 + 30*60))
		sl := Silence{
			ID: "s-0123abcd", Match: "label:team=<shop> & \u2028co", Reason: "deploy of \"v2\" — 日本",
			By: "ada@laptop", Created: clock.Now().Add(123456789).In(zone), Expires: clock.Now().Add(2*time.Hour + 1).In(zone),
		}
		addOK(t, s, sl)
		got := silencesOK(t, s)
		assertSilences(t, got, sl)
		if len(got) == 1 && (got[0].Created.Location() != time.UTC || got[0].Expires.Location() != time.UTC) {
			t.Errorf("times in %v and %v, want UTC", got[0].Created.Location(), got[0].Expires.Location())
		}
	})

	t.Run("a silence of an ID already stored replaces it", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		first := silenceAt("s-00000001", clock.Now(), time.Hour)
		addOK(t, s, first)
		second := first
		second.Reason, second.Expires = "longer", first.Expires.Add(time.Hour)
		addOK(t, s, second)
		assertSilences(t, silencesOK(t, s), second)
	})

	t.Run("a silence without an ID or a selector, or not expiring after it began, is refused and nothing is stored", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		good := silenceAt("s-00000001", clock.Now(), time.Hour)
		for _, tc := range []struct {
			name   string
			change func(*Silence)
		}{
			{"no ID", func(s *Silence) { s.ID = "" }},
			{"no selector", func(s *Silence) { s.Match = "" }},
			{"a blank selector", func(s *Silence) { s.Match = "  " }},
			{"expiring when it begins", func(s *Silence) { s.Expires = s.Created }},
			{"expiring before it begins", func(s *Silence) { s.Expires = s.Created.Add(-time.Second) }},
			{"no creation time", func(s *Silence) { s.Created = time.Time{} }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := good
				tc.change(&bad)
				if err := s.AddSilence(ctx, bad); err == nil {
					t.Errorf("AddSilence(%+v) stored it", bad)
				}
			})
		}
		assertSilences(t, silencesOK(t, s))
	})

	t.Run("Load returns the silences, expired ones too, with the records", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		st := plainState("dns:a.example")
		saveOK(t, s, SaveRequest{States: []TargetState{st}})
		old := silenceAt("s-00000001", clock.Now(), time.Minute)
		addOK(t, s, old)
		clock.Advance(time.Hour)
		cur := silenceAt("s-00000002", clock.Now(), time.Hour)
		addOK(t, s, cur)

		loaded, err := b.open(t).Load(ctx, []string{st.ID})
		if err != nil {
			t.Fatal(err)
		}
		assertStates(t, mustFind(t, []string{st.ID}, loaded.States), st)
		assertSilences(t, loaded.Silences, old, cur)
		if len(loaded.SilenceWarnings) != 0 {
			t.Errorf("silence warnings %v", loaded.SilenceWarnings)
		}
		if old.Active(clock.Now()) || !cur.Active(clock.Now()) {
			t.Error("the expired silence is active, or the current one is not")
		}
	})

	t.Run("a silence added or removed while a sweep runs survives its Save", func(t *testing.T) {
		b, clock := setup(t)
		sweep, laptop := b.open(t), b.open(t)
		gone := silenceAt("s-000000aa", clock.Now(), time.Hour)
		addOK(t, laptop, gone)

		lease := mustLock(t, sweep, time.Minute)
		loaded, err := sweep.Load(ctx, []string{"dns:a.example"})
		if err != nil {
			t.Fatal(err)
		}
		assertSilences(t, loaded.Silences, gone)
		added := silenceAt("s-000000bb", clock.Now(), 2*time.Hour)
		addOK(t, laptop, added) // needs no lease: the sweep holds it
		if ok, err := laptop.RemoveSilence(ctx, gone.ID); !ok || err != nil {
			t.Fatalf("RemoveSilence while a sweep holds the lease: %v, %v", ok, err)
		}
		st := plainState("dns:a.example")
		e := queued(clock.Now(), "dns:a.example", "slack")
		if _, err := sweep.Save(ctx, lease, SaveRequest{
			States: []TargetState{st}, Enqueue: []OutboxEntry{e}, Loaded: loaded.Outbox,
		}); err != nil {
			t.Fatal(err)
		}
		if err := sweep.UpdateOutbox(ctx, lease, OutboxUpdate{Delivered: map[string][]string{e.Event.ID: {"slack"}}}); err != nil {
			t.Fatal(err)
		}
		if err := sweep.Unlock(ctx, lease); err != nil {
			t.Fatal(err)
		}
		assertSilences(t, silencesOK(t, b.open(t)), added)
		assertStates(t, loadAll(t, b.open(t)), st)
	})

	t.Run("adding purges the silences that expired more than 7 days before the new one began", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		start := clock.Now()
		old := silenceAt("s-00000001", start, time.Hour)
		edge := silenceAt("s-00000002", start, 2*time.Hour)
		recent := silenceAt("s-00000003", start, 3*time.Hour)
		for _, sl := range []Silence{old, edge, recent} {
			addOK(t, s, sl)
		}
		// The new silence begins 7 days after edge expired: edge stays,
		// old (expired an hour earlier) goes.
		clock.Advance(2*time.Hour + ExpiredSilencesKept)
		fresh := silenceAt("s-00000004", clock.Now(), time.Hour)
		addOK(t, s, fresh)
		assertSilences(t, silencesOK(t, s), edge, recent, fresh)
	})

	t.Run("beyond MaxSilences a silence is refused with an error naming the cap, unless it replaces one or the purge makes room", func(t *testing.T) {
		b, clock := setup(t)
		s := b.open(t)
		now := clock.Now()
		many := map[string][]byte{}
		for i := range MaxSilences {
			sl := silenceAt(fmt.Sprintf("s-%08x", i), now, time.Duration(i+1)*time.Minute)
			many[sl.ID] = mustEncodeSilence(t, sl)
		}
		b.pokeSilences(t, many)
		err := s.AddSilence(ctx, silenceAt("s-ffffffff", now, time.Hour))
		if !errors.Is(err, ErrTooManySilences) || !strings.Contains(err.Error(), strconv.Itoa(MaxSilences)) {
			t.Fatalf("AddSilence at the cap: %v, want ErrTooManySilences naming %d", err, MaxSilences)
		}
		replaced := silenceAt("s-00000000", now, 24*time.Hour)
		addOK(t, s, replaced)
		got := silencesOK(t, s)
		if len(got) != MaxSilences || got[len(got)-1].ID != replaced.ID {
			t.Fatalf("%d silences after replacing one, the last %v; want %d ending with %s", len(got), got[len(got)-1].ID, MaxSilences, replaced.ID)
		}
		// A week and a day later, the first of them has been expired for
		// longer than ExpiredSilencesKept: adding purges it, and more.
		clock.Advance(ExpiredSilencesKept + 24*time.Hour)
		addOK(t, s, silenceAt("s-ffffffff", clock.Now(), time.Hour))
		if got := silencesOK(t, s); len(got) != 2 {
			t.Errorf("%d silences after the purge, want 2 (the replaced one and the new one)", len(got))
		}
	})

	t.Run("an unreadable stored silence is a warning, the others load and it can be removed", func(t *testing.T) {
		for _, garbage := range [][]byte{
			[]byte("garbage"),
			[]byte(`{"v":2,"id":"s-bad00000","match":"x","expires_ms":1}`),
			[]byte(`{"v":1,"id":"s-bad00000","match":"","created":"2026-03-01T12:00:00Z","expires":"2026-03-01T13:00:00Z"}`),
			[]byte(`{"v":1,"id":"s-bad00000","match":"x","created":"2026-03-01T12:00:00Z","expires":"2026-03-01T11:00:00Z"}`),
			[]byte(`{"v":1,"id":"s-bad00000","match":"x","created":"noon","expires":"2026-03-01T13:00:00Z"}`),
		} {
			t.Run(fmt.Sprintf("%q", garbage), func(t *testing.T) {
				b, clock := setup(t)
				s := b.open(t)
				good := silenceAt("s-00000001", clock.Now(), time.Hour)
				addOK(t, s, good)
				const bad = "s-bad00000"
				b.pokeSilences(t, map[string][]byte{bad: garbage})

				loaded, err := s.Load(ctx, nil)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				assertSilences(t, loaded.Silences, good)
				if len(loaded.SilenceWarnings) != 1 || loaded.SilenceWarnings[0].Err == nil {
					t.Fatalf("silence warnings %v, want one", loaded.SilenceWarnings)
				}
				// The file store knows an unreadable entry's ID only when
				// it can find one in it; Redis knows it from the field.
				if w := loaded.SilenceWarnings[0]; w.ID != bad && w.ID != "?" {
					t.Errorf("warning about %q, want %s", w.ID, bad)
				}

				got, err := s.Silences(ctx)
				var unreadable *UnreadableSilencesError
				if !errors.As(err, &unreadable) || len(unreadable.Warnings) != 1 {
					t.Errorf("Silences: %v, want an UnreadableSilencesError of one", err)
				}
				assertSilences(t, got, good)

				// Adding keeps it (it may be a later build's).
				next := silenceAt("s-00000002", clock.Now(), 2*time.Hour)
				addOK(t, s, next)
				if loaded, err := s.Load(ctx, nil); err != nil || len(loaded.SilenceWarnings) != 1 {
					t.Errorf("after an add: %v, warnings %v; want the unreadable one kept", err, loaded.SilenceWarnings)
				}
				if storedSilenceID(garbage) == bad || loaded.SilenceWarnings[0].ID == bad {
					if ok, err := s.RemoveSilence(ctx, bad); !ok || err != nil {
						t.Errorf("RemoveSilence of the unreadable one: %v, %v", ok, err)
					}
					assertSilences(t, silencesOK(t, s), good, next)
				}
			})
		}
	})
}

// silenceAt is a silence created at now, for d.
func silenceAt(id string, now time.Time, d time.Duration) Silence {
	return Silence{ID: id, Match: "group=shop", Reason: "deploy", By: "ada@laptop", Created: now, Expires: now.Add(d)}
}

func mustEncodeSilence(t *testing.T, s Silence) []byte {
	t.Helper()
	b, err := encodeSilence(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func addOK(t *testing.T, s Store, sl Silence) {
	t.Helper()
	if err := s.AddSilence(context.Background(), sl); err != nil {
		t.Fatalf("AddSilence(%s): %v", sl.ID, err)
	}
}

func silencesOK(t *testing.T, s Store) []Silence {
	t.Helper()
	got, err := s.Silences(context.Background())
	if err != nil {
		t.Fatalf("Silences: %v", err)
	}
	return got
}

// assertSilences checks that got is want, in order, times compared as
// instants.
func assertSilences(t *testing.T, got []Silence, want ...Silence) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d silences %v, want %d", len(got), silenceIDs(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.Match != w.Match || g.Reason != w.Reason || g.By != w.By || !g.Created.Equal(w.Created) || !g.Expires.Equal(w.Expires) {
			t.Errorf("silence %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func silenceIDs(ss []Silence) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}
