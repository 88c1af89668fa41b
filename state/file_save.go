package state

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/state/atomicfile"
)

// Save rewrites the file with req applied, if lease is the flock this
// store holds; otherwise it returns ErrLeaseLost and writes nothing.
// Records not saved within req.Retention are dropped; a Retention of zero
// keeps them.
func (s *FileStore) Save(ctx context.Context, lease Lease, req SaveRequest) (SaveResult, error) {
	recs, err := encodeAll(req.States)
	if err != nil {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.path, err)
	}
	clock := s.now()
	enq, err := prepareEnqueue(req.Enqueue, clock)
	if err != nil {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.holds(lease) {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.path, ErrLeaseLost)
	}
	// The old file is read a record at a time, keeping only the records
	// this save does not replace; the new one is written as it is built.
	recs = sortRecords(recs)
	replaced := func(id string) bool {
		_, ok := slices.BinarySearchFunc(recs, id, func(r record, id string) int { return strings.Compare(r.id, id) })
		return ok
	}
	deleted := make(map[string]struct{}, len(req.Delete))
	for _, id := range req.Delete {
		deleted[id] = struct{}{}
	}
	kept := map[string][]byte{}
	// A corrupt file is moved aside here too; its warning was (or would
	// have been) given by Load.
	doc, _, err := s.read(ctx, true, func(id string, raw []byte) {
		if _, gone := deleted[id]; gone || replaced(id) {
			return
		}
		kept[id] = bytes.Clone(raw)
	}, func() { clear(kept) })
	if err != nil {
		return SaveResult{}, err
	}
	now := clock.UnixMilli()
	for _, r := range recs {
		doc.Saved[r.id] = now
	}
	if len(deleted) > 0 {
		recs = slices.DeleteFunc(recs, func(r record) bool { _, gone := deleted[r.id]; return gone })
		for id := range deleted {
			delete(doc.Saved, id)
		}
	}
	if req.Retention > 0 {
		cutoff := now - req.Retention.Milliseconds()
		for id, at := range doc.Saved {
			if at < cutoff {
				delete(kept, id)
				delete(doc.Saved, id)
			}
		}
	}
	for id := range doc.Saved {
		if _, ok := kept[id]; !ok && !replaced(id) {
			delete(doc.Saved, id)
		}
	}
	if err := enqueueFile(doc.Outbox, enq); err != nil {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.path, err)
	}
	res := SaveResult{Dropped: applyOutboxPolicy(doc.Outbox, req.Outbox, clock)}
	res.Outbox = outboxAfter(req.Loaded, enq, res.Dropped)
	if err := s.write(ctx, kept, recs, doc); err != nil {
		return SaveResult{}, err
	}
	return res, nil
}

// write replaces the file with the records of kept and recs (sorted by
// ID, none in both) and doc's saved times and outbox, unless ctx has
// ended. It writes through a buffer, never holding the document whole.
func (s *FileStore) write(ctx context.Context, kept map[string][]byte, recs []record, doc fileDoc) error {
	ids := sortedKeys(kept)
	err := atomicfile.Write(s.path, func(w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := newDocWriter(w)
		i, j := 0, 0
		for i < len(ids) || j < len(recs) {
			if j == len(recs) || (i < len(ids) && ids[i] < recs[j].id) {
				d.record(ids[i], kept[ids[i]])
				i++
			} else {
				d.record(recs[j].id, recs[j].raw)
				j++
			}
		}
		return d.finish(doc.Saved, doc.Outbox)
	}, atomicfile.Options{Ready: ctx.Err})
	if err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	return nil
}

// enqueueFile queues entries in outbox, merging those of an event already
// queued (an unreadable queued entry is replaced).
func enqueueFile(outbox map[string]json.RawMessage, entries []queuedEntry) error {
	for _, q := range entries {
		id := q.entry.Event.ID
		raw, ok := outbox[id]
		if !ok {
			outbox[id] = q.raw
			continue
		}
		cur, err := decodeOutboxEntry(id, raw)
		if err != nil {
			outbox[id] = q.raw
			continue
		}
		if !cur.merge(q.entry) {
			continue
		}
		b, err := encodeOutboxEntry(cur)
		if err != nil {
			return fmt.Errorf("encode outbox entry %s: %w", id, err)
		}
		outbox[id] = b
	}
	return nil
}

// applyOutboxPolicy removes from outbox the entries p does not allow at
// now, and returns them, oldest first: those queued before the age cutoff,
// then the oldest beyond the cap. Entries are ordered by QueuedAt to the
// millisecond, then by event ID, as a Redis sorted set orders them.
func applyOutboxPolicy(outbox map[string]json.RawMessage, p OutboxPolicy, now time.Time) []DroppedEntry {
	type item struct {
		id string
		at int64
	}
	items := make([]item, 0, len(outbox))
	for id, raw := range outbox {
		var at int64 // an unreadable entry counts as queued at the epoch
		if e, err := decodeOutboxEntry(id, raw); err == nil {
			at = e.QueuedAt.UnixMilli()
		}
		items = append(items, item{id, at})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].at != items[j].at {
			return items[i].at < items[j].at
		}
		return items[i].id < items[j].id
	})
	var dropped []DroppedEntry
	drop := func(id string, reason DropReason) {
		dropped = append(dropped, droppedEntry(id, outbox[id], reason))
		delete(outbox, id)
	}
	if cutoff, ok := outboxCutoff(p, now); ok {
		for len(items) > 0 && items[0].at < cutoff {
			drop(items[0].id, DropExpired)
			items = items[1:]
		}
	}
	if p.MaxEntries > 0 {
		for len(items) > p.MaxEntries {
			drop(items[0].id, DropOverflow)
			items = items[1:]
		}
	}
	return dropped
}

// UpdateOutbox rewrites the file with u applied to its outbox, if lease is
// the flock this store holds; otherwise it returns ErrLeaseLost and
// writes nothing. Unreadable entries are only dropped (u.Drop), never
// updated. A u that changes nothing writes nothing.
func (s *FileStore) UpdateOutbox(ctx context.Context, lease Lease, u OutboxUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.holds(lease) {
		return fmt.Errorf("update outbox %s: %w", s.path, ErrLeaseLost)
	}
	kept := map[string][]byte{}
	doc, _, err := s.read(ctx, true, func(id string, raw []byte) { kept[id] = bytes.Clone(raw) }, func() { clear(kept) })
	if err != nil {
		return err
	}
	changed := false
	entries := map[string]OutboxEntry{}
	get := func(id string) (OutboxEntry, bool) {
		if e, ok := entries[id]; ok {
			return e, true
		}
		raw, ok := doc.Outbox[id]
		if !ok {
			return OutboxEntry{}, false
		}
		e, err := decodeOutboxEntry(id, raw)
		return e, err == nil
	}
	for _, id := range sortedKeys(u.Delivered) {
		if e, ok := get(id); ok && e.deliver(u.Delivered[id]) {
			entries[id], changed = e, true
		}
	}
	for _, id := range sortedKeys(u.Failed) {
		if e, ok := get(id); ok && len(e.Pending) > 0 {
			e.Attempts++
			e.LastError = u.Failed[id]
			entries[id], changed = e, true
		}
	}
	for id, e := range entries {
		if len(e.Pending) == 0 {
			delete(doc.Outbox, id)
			continue
		}
		b, err := encodeOutboxEntry(e)
		if err != nil {
			return fmt.Errorf("update outbox %s: encode %s: %w", s.path, id, err)
		}
		doc.Outbox[id] = b
	}
	for _, id := range u.Drop {
		if _, ok := doc.Outbox[id]; ok {
			delete(doc.Outbox, id)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return s.write(ctx, kept, nil, doc)
}
