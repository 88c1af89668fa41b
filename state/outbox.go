package state

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// OutboxVersion is the encoding version of an outbox entry. An entry of
// another version is not guessed at: it is left out with a warning.
const OutboxVersion = 1

// OutboxEntry is an alert event waiting to be delivered (SPEC §5: a
// message not delivered stays in the outbox and is retried on the next
// sweep). The store keeps one entry per Event.ID.
type OutboxEntry struct {
	Event Event
	// Pending are the providers (e.g. "discord", "slack") still to
	// deliver to, sorted. An entry leaves the outbox when none is left.
	Pending []string
	// Delivered are the providers that have delivered it, sorted, so that
	// queueing the same event again does not send it to them twice.
	Delivered []string
	// Attempts counts the UpdateOutbox calls that reported a failure.
	Attempts  int
	LastError string
	// QueuedAt is when the entry was first queued, in UTC to the
	// millisecond (the store rounds it down; a zero one is the store's
	// clock). The outbox is ordered by it, then by event ID.
	QueuedAt time.Time
}

// OutboxPolicy bounds the outbox; Save enforces it after queueing.
type OutboxPolicy struct {
	// MaxEntries caps the outbox: beyond it, the oldest entries are
	// dropped. Zero means no cap.
	MaxEntries int
	// MaxAge drops entries queued longer ago than this, by the store's
	// clock. Zero means no age limit.
	MaxAge time.Duration
}

// OutboxUpdate is what a delivery round did to the outbox. Entries it
// names that are no longer queued (dropped, or delivered by a sweep in
// between) are ignored, as are providers that are not pending.
type OutboxUpdate struct {
	// Delivered: event ID → providers that have now delivered it. They
	// leave Pending for Delivered; an entry with nothing pending is
	// removed.
	Delivered map[string][]string
	// Failed: event ID → the last error. The entry's Attempts goes up by
	// one and LastError is replaced. It applies after Delivered, so an
	// entry delivered to its last pending provider is gone and its
	// failure ignored.
	Failed map[string]string
	// Drop removes entries outright, e.g. those Load reported unreadable.
	Drop []string
}

// DropReason says why Save dropped an outbox entry.
type DropReason string

// Reasons for dropping an entry, as OutboxPolicy sets them.
const (
	DropExpired  DropReason = "expired"  // queued longer ago than MaxAge
	DropOverflow DropReason = "overflow" // beyond MaxEntries, oldest first
)

// DroppedEntry is an outbox entry Save dropped under the OutboxPolicy,
// undelivered, for the caller to log as an error.
type DroppedEntry struct {
	Entry  OutboxEntry
	Reason DropReason
	// Err is set when the stored entry could not be read; then Entry
	// holds only Event.ID.
	Err error
}

// SaveResult is what Save reports besides its error.
type SaveResult struct {
	// Dropped are the outbox entries the OutboxPolicy removed, oldest
	// first (those over the age limit, then those over the cap).
	Dropped []DroppedEntry
	// Outbox is the outbox as this Save wrote it, oldest first: the
	// SaveRequest's Loaded entries with what it queued, merged by event
	// ID, less what it dropped. It is what delivery works from.
	Outbox []OutboxEntry
}

// Loaded is what Load reads, in one round trip.
type Loaded struct {
	// States are the records of the requested targets, in the order of
	// the ids Load was given: States[i] is the record of ids[i], or the
	// zero TargetState (a target never seen) when there is none or it
	// could not be read.
	States []TargetState
	// Warnings name the target records that could not be read, which
	// are zero in States (they start afresh); ID "*" is a whole state
	// file moved aside.
	Warnings []Warning
	// Outbox is every queued entry, oldest first (QueuedAt, then event
	// ID).
	Outbox []OutboxEntry
	// OutboxWarnings name, by event ID, the entries that could not be
	// read and are left out. They stay stored until UpdateOutbox drops
	// them or the OutboxPolicy does.
	OutboxWarnings []Warning
	// Silences are every stored silence, expired ones included, by
	// Expires then ID (see Silence.Active).
	Silences []Silence
	// SilenceWarnings name, by silence ID, the stored silences that could
	// not be read and are left out ("*": all of them, the silences' file
	// or key being unreadable). They stay stored.
	SilenceWarnings []Warning
}

// outboxRecord is an entry as stored. The event is kept as its JSON text
// inside a JSON string, so that the Redis scripts, which rewrite entries
// with Lua's cjson, pass it through untouched: cjson would round its
// numbers (an outage's nanoseconds) to 14 digits.
type outboxRecord struct {
	V         int       `json:"v"`
	Event     string    `json:"event"`
	Pending   []string  `json:"pending"`
	Delivered []string  `json:"delivered,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	QueuedAt  time.Time `json:"queued_at"`
}

// encodeOutboxEntry returns an entry as stored.
func encodeOutboxEntry(e OutboxEntry) ([]byte, error) {
	ev, err := json.Marshal(e.Event)
	if err != nil {
		return nil, err
	}
	return json.Marshal(outboxRecord{
		V: OutboxVersion, Event: string(ev),
		Pending: e.Pending, Delivered: e.Delivered,
		Attempts: e.Attempts, LastError: e.LastError, QueuedAt: e.QueuedAt,
	})
}

// decodeOutboxEntry reads the entry stored under id. It fails, never
// panics, on bytes that are not an entry of this OutboxVersion for id.
func decodeOutboxEntry(id string, b []byte) (OutboxEntry, error) {
	var probe struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return OutboxEntry{}, fmt.Errorf("undecodable outbox entry: %w", err)
	}
	if probe.V == nil {
		return OutboxEntry{}, fmt.Errorf("%w: outbox entry has no version", ErrVersion)
	}
	if *probe.V != OutboxVersion {
		return OutboxEntry{}, fmt.Errorf("%w %d of an outbox entry (this build reads %d)", ErrVersion, *probe.V, OutboxVersion)
	}
	var r outboxRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return OutboxEntry{}, fmt.Errorf("undecodable outbox entry: %w", err)
	}
	var ev Event
	if err := json.Unmarshal([]byte(r.Event), &ev); err != nil {
		return OutboxEntry{}, fmt.Errorf("undecodable event in outbox entry: %w", err)
	}
	if ev.ID != id {
		return OutboxEntry{}, fmt.Errorf("outbox entry is for event %q", ev.ID)
	}
	if len(r.Pending) == 0 {
		return OutboxEntry{}, fmt.Errorf("outbox entry has no provider pending")
	}
	return OutboxEntry{
		Event: ev, Pending: r.Pending, Delivered: r.Delivered,
		Attempts: r.Attempts, LastError: r.LastError, QueuedAt: r.QueuedAt.UTC(),
	}, nil
}

// queuedEntry is an encoded entry ready to be written.
type queuedEntry struct {
	entry OutboxEntry
	raw   []byte
}

// prepareEnqueue checks and encodes a Save's entries before anything is
// written, refusing the whole request if one cannot be queued. It sorts
// and de-duplicates providers, drops delivered ones from Pending, sets a
// zero QueuedAt to now, rounds QueuedAt down to the millisecond in UTC,
// and merges entries of the same event as Save merges them with a queued
// one (the first keeps its place).
func prepareEnqueue(entries []OutboxEntry, now time.Time) ([]queuedEntry, error) {
	out := make([]queuedEntry, 0, len(entries))
	at := make(map[string]int, len(entries))
	for i, e := range entries {
		id := e.Event.ID
		if id == "" {
			return nil, fmt.Errorf("outbox entry %d of %d has no event id", i+1, len(entries))
		}
		if slices.Contains(e.Pending, "") || slices.Contains(e.Delivered, "") {
			return nil, fmt.Errorf("outbox entry %s names an empty provider", id)
		}
		e.Delivered = sortedSet(e.Delivered)
		e.Pending = without(sortedSet(e.Pending), e.Delivered)
		if len(e.Pending) == 0 {
			return nil, fmt.Errorf("outbox entry %s has no provider pending", id)
		}
		if e.QueuedAt.IsZero() {
			e.QueuedAt = now
		}
		e.QueuedAt = e.QueuedAt.UTC().Truncate(time.Millisecond)
		if j, ok := at[id]; ok {
			out[j].entry.merge(e)
			e = out[j].entry
		}
		raw, err := encodeOutboxEntry(e)
		if err != nil {
			return nil, fmt.Errorf("encode outbox entry %s: %w", id, err)
		}
		if j, ok := at[id]; ok {
			out[j].raw = raw
			continue
		}
		at[id] = len(out)
		out = append(out, queuedEntry{entry: e, raw: raw})
	}
	return out, nil
}

// merge adds newer's pending providers, but those that delivered e
// already, to e; e keeps the rest (its event, its place in the queue,
// its attempts). The Redis save script does the same.
func (e *OutboxEntry) merge(newer OutboxEntry) bool {
	pending := without(sortedSet(append(slices.Clone(e.Pending), newer.Pending...)), e.Delivered)
	if slices.Equal(pending, e.Pending) {
		return false
	}
	e.Pending = pending
	return true
}

// deliver moves providers from Pending to Delivered, and reports whether
// anything changed. The Redis update script does the same.
func (e *OutboxEntry) deliver(providers []string) bool {
	var done []string
	for _, p := range providers {
		if slices.Contains(e.Pending, p) {
			done = append(done, p)
		}
	}
	if len(done) == 0 {
		return false
	}
	e.Pending = without(e.Pending, done)
	e.Delivered = sortedSet(append(slices.Clone(e.Delivered), done...))
	return true
}

// sortedSet returns s sorted, without duplicates, in a new slice.
func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// without returns s less the elements of drop, in a new slice.
func without(s, drop []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

// decodeOutbox decodes a stored outbox, oldest first, and reports by
// event ID the entries it cannot read.
func decodeOutbox[B ~[]byte | ~string](stored map[string]B) ([]OutboxEntry, []Warning) {
	var entries []OutboxEntry
	var warns []Warning
	for _, id := range sortedKeys(stored) {
		e, err := decodeOutboxEntry(id, []byte(stored[id]))
		if err != nil {
			warns = append(warns, Warning{ID: id, Err: fmt.Errorf("outbox entry %s left out: %w", id, err)})
			continue
		}
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(a, b OutboxEntry) int { return a.QueuedAt.Compare(b.QueuedAt) })
	return entries, warns
}

// droppedEntry reads an entry the policy dropped; one it cannot read is
// reported by its ID, with the reason it cannot.
func droppedEntry(id string, raw []byte, reason DropReason) DroppedEntry {
	e, err := decodeOutboxEntry(id, raw)
	if err != nil {
		return DroppedEntry{Entry: OutboxEntry{Event: Event{ID: id}}, Reason: reason, Err: err}
	}
	return DroppedEntry{Entry: e, Reason: reason}
}

// outboxCutoff is the exclusive age cutoff (unix ms) of the policy at now:
// entries queued before it are dropped. ok is false without an age limit.
func outboxCutoff(p OutboxPolicy, now time.Time) (cutoff int64, ok bool) {
	if p.MaxAge <= 0 {
		return 0, false
	}
	return now.UnixMilli() - p.MaxAge.Milliseconds(), true
}

// outboxAfter is the outbox as a Save left it: what was loaded, plus what
// it queued (merged by event ID), minus what it dropped; oldest first.
func outboxAfter(loaded []OutboxEntry, queued []queuedEntry, dropped []DroppedEntry) []OutboxEntry {
	byID := map[string]*OutboxEntry{}
	var order []*OutboxEntry
	queuedEntries := make([]OutboxEntry, len(queued))
	for i, q := range queued {
		queuedEntries[i] = q.entry
	}
	for _, list := range [][]OutboxEntry{loaded, queuedEntries} {
		for _, e := range list {
			if have, ok := byID[e.Event.ID]; ok {
				for _, p := range e.Pending {
					if !slices.Contains(have.Pending, p) && !slices.Contains(have.Delivered, p) {
						have.Pending = append(have.Pending, p)
					}
				}
				slices.Sort(have.Pending) // as the stores keep them
				continue
			}
			e.Pending = slices.Clone(e.Pending) // merged into below, not into the caller's
			byID[e.Event.ID] = &e
			order = append(order, &e)
		}
	}
	gone := map[string]bool{}
	for _, d := range dropped {
		gone[d.Entry.Event.ID] = true
	}
	var out []OutboxEntry
	for _, e := range order {
		if !gone[e.Event.ID] {
			out = append(out, *e)
		}
	}
	slices.SortStableFunc(out, func(a, b OutboxEntry) int {
		return cmp.Or(a.QueuedAt.Compare(b.QueuedAt), cmp.Compare(a.Event.ID, b.Event.ID))
	})
	return out
}
