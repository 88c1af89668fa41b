package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// queued is an entry for an event of target, queued at at, pending for
// providers. Its event has the awkward values an encoding can lose: an
// outage of 200 days in nanoseconds, a fraction of a day, times in
// another zone, HTML and non-ASCII text.
func queued(at time.Time, target string, providers ...string) OutboxEntry {
	zone := time.FixedZone("", 5*3600+30*60)
	start := time.Date(2025, 8, 13, 7, 6, 5, 123456789, zone)
	check, _, _ := strings.Cut(target, ":")
	ev := Event{
		Kind: KindRecovered, TargetID: target, Check: check, Target: target, Name: "Shop <prod> & \u2028co",
		At: start.Add(200*24*time.Hour + 987654321), Since: start, Duration: 200*24*time.Hour + 987654321,
		Message: `x509: "Evil <CA>" — 日本 / \ end`, CertLevel: "critical", DaysLeft: 6.499999999999999,
	}
	ev.ID = eventID(target, ev.Kind, ev.Since)
	return OutboxEntry{Event: ev, Pending: providers, QueuedAt: at}
}

// assertEntry checks that got is want, compared by encoding; want's
// QueuedAt is taken in UTC to the millisecond.
func assertEntry(t *testing.T, got, want OutboxEntry) {
	t.Helper()
	want.QueuedAt = want.QueuedAt.UTC().Truncate(time.Millisecond)
	gb, err := encodeOutboxEntry(got)
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := encodeOutboxEntry(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("outbox entry %s:\n got %s\nwant %s", want.Event.ID, gb, wb)
	}
}

func TestOutboxEntryEncoding(t *testing.T) {
	e := queued(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "tls:example.com:443", "discord", "slack")
	e.Delivered, e.Attempts, e.LastError = []string{"teams"}, 2, "slack: HTTP 503"
	raw, err := encodeOutboxEntry(e)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("it is versioned and keeps its event as a string", func(t *testing.T) {
		var fields map[string]any
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatal(err)
		}
		if fields["v"] != float64(OutboxVersion) {
			t.Errorf("v = %v, want %d", fields["v"], OutboxVersion)
		}
		if _, ok := fields["event"].(string); !ok {
			t.Errorf("event is %T, want a string", fields["event"])
		}
	})

	t.Run("it decodes to what was encoded", func(t *testing.T) {
		got, err := decodeOutboxEntry(e.Event.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		assertEntry(t, got, e)
		if got.Event.Duration != e.Event.Duration || got.Event.DaysLeft != e.Event.DaysLeft || got.Event.Message != e.Event.Message {
			t.Errorf("event %+v, want %+v", got.Event, e.Event)
		}
	})

	t.Run("an entry of another version or for another event is refused", func(t *testing.T) {
		future := strings.Replace(string(raw), `"v":1`, `"v":2`, 1)
		if _, err := decodeOutboxEntry(e.Event.ID, []byte(future)); !errors.Is(err, ErrVersion) {
			t.Errorf("version 2: %v, want ErrVersion", err)
		}
		if _, err := decodeOutboxEntry("another-event", raw); err == nil || !strings.Contains(err.Error(), e.Event.ID) {
			t.Errorf("under another id: %v, want an error naming the entry's event", err)
		}
	})
}

func TestPrepareEnqueue(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 987654321, time.UTC)
	a := queued(time.Time{}, "dns:a.example", "slack", "discord", "slack")
	a2 := queued(now.Add(time.Hour), "dns:a.example", "teams", "discord")
	b := queued(now.Add(-time.Minute), "dns:b.example", "slack")
	b.Delivered = []string{"slack", "discord", "slack"}
	b.Pending = append(b.Pending, "discord", "teams")

	got, err := prepareEnqueue([]OutboxEntry{a, b, a2}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].entry.Event.ID != a.Event.ID || got[1].entry.Event.ID != b.Event.ID {
		t.Fatalf("prepared %+v, want a then b", got)
	}
	ga, gb := got[0].entry, got[1].entry
	if want := []string{"discord", "slack", "teams"}; !slices.Equal(ga.Pending, want) {
		t.Errorf("a pending %v, want %v (sorted, once each, with the second copy's)", ga.Pending, want)
	}
	if want := now.Truncate(time.Millisecond); !ga.QueuedAt.Equal(want) {
		t.Errorf("a queued at %v, want the clock to the millisecond, %v", ga.QueuedAt, want)
	}
	if !slices.Equal(gb.Pending, []string{"teams"}) || !slices.Equal(gb.Delivered, []string{"discord", "slack"}) {
		t.Errorf("b pending %v, delivered %v; want [teams], [discord slack]", gb.Pending, gb.Delivered)
	}
	for _, q := range got {
		dec, err := decodeOutboxEntry(q.entry.Event.ID, q.raw)
		if err != nil {
			t.Fatal(err)
		}
		assertEntry(t, dec, q.entry)
	}
}

// FuzzDecodeOutboxEntry: whatever bytes an outbox entry holds, decoding
// fails or succeeds without panicking, and what it decodes encodes back
// to the same entry.
func FuzzDecodeOutboxEntry(f *testing.F) {
	good, _ := encodeOutboxEntry(queued(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "dns:x", "slack"))
	f.Add("dns:x", good)
	f.Add("dns:x", []byte(`{"v":1,"event":"{\"id\":\"dns:x\"}","pending":["slack"],"queued_at":"2026-03-01T12:00:00Z"}`))
	f.Add("dns:x", []byte(`{"v":1,"event":"{\"id\":\"dns:x\"}","pending":{},"attempts":1.5}`))
	f.Add("x", []byte(`{"v":"1"}`))
	f.Add("", []byte(`[]`))
	f.Fuzz(func(t *testing.T, id string, b []byte) {
		e, err := decodeOutboxEntry(id, b)
		if err != nil {
			return
		}
		if e.Event.ID != id || len(e.Pending) == 0 {
			t.Fatalf("decoded %q under %q with pending %v", e.Event.ID, id, e.Pending)
		}
		raw, err := encodeOutboxEntry(e)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", b, err)
		}
		again, err := decodeOutboxEntry(id, raw)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", raw, err)
		}
		if raw2, _ := encodeOutboxEntry(again); string(raw2) != string(raw) {
			t.Errorf("not stable:\n%s\n%s", raw, raw2)
		}
	})
}
