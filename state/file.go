package state

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pingpanda/pingpanda/state/atomicfile"
)

// fileVersion is the version of the state file's document. A file of
// another version is moved aside with a warning, like a corrupt one.
const fileVersion = 1

// FileOptions configure a FileStore.
type FileOptions struct {
	// Now is the sweep's clock, for lease times, the retention, the
	// outbox's age limit and the names of corrupt files moved aside. It is
	// required: a store never reads the wall clock behind its caller's back.
	Now func() time.Time
}

// FileStore keeps the state in one JSON file on local disk, the store used
// when no Redis is configured:
//
//	{"version":1,"targets":{"<id>":<record>,…},"saved":{"<id>":<unix ms>,…},
//	 "outbox":{"<event id>":<entry>,…}}
//
// "saved" is when each record was last saved, for the retention; "outbox"
// holds the alert outbox, ordered by each entry's queued_at. Records and
// entries are kept verbatim, so one this build cannot read costs only its
// own target or event (an unreadable entry counts as queued at the epoch:
// the OutboxPolicy drops it first).
//
// The lease is an flock(2) on "<path>.lock", which also holds the holder's
// pid, host and start time for the ErrLocked message. The kernel releases
// it when the process dies, so it needs no expiry: the ttl given to Lock
// only sets Lease.Expires, and Save's fence is that this store still holds
// the flock on the lock file at that path. Shards sharing one file share
// one lease, so they take turns, and one outbox, so each delivers the
// others' alerts too; give each shard on a host its own file.
//
// Save writes a temporary file beside the state file, syncs it, renames it
// over the old one and syncs the directory, so a crash leaves the old or
// the new file, never a torn one. A file that is not a state document at
// all is moved aside to "<path>.corrupt-<unix seconds>" with a Warning
// whose ID is "*", and the store continues empty.
type FileStore struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	held *fileLease // nil while this store holds no lease
}

// fileLease is the flock a FileStore holds.
type fileLease struct {
	f     *os.File
	token string
}

// lockHolder is what the holder of a lock writes into the lock file.
type lockHolder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

var _ Store = (*FileStore)(nil)

// DefaultStatePath is where the state file lives when STATE_FILE is not
// set: $XDG_STATE_HOME/pingpanda/state.json, or
// ~/.local/state/pingpanda/state.json when XDG_STATE_HOME is unset or not
// an absolute path (as the XDG Base Directory specification requires).
func DefaultStatePath() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "pingpanda", "state.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no place for the state file (set STATE_FILE): %w", err)
	}
	return filepath.Join(home, ".local", "state", "pingpanda", "state.json"), nil
}

// NewFileStore returns a store keeping its state at path (DefaultStatePath
// when path is empty). It creates the directory, mode 0700, if missing; it
// neither reads nor creates the file itself.
func NewFileStore(path string, opts FileOptions) (*FileStore, error) {
	if opts.Now == nil {
		return nil, errors.New("state: FileOptions.Now (the sweep's clock) is required")
	}
	if path == "" {
		p, err := DefaultStatePath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("state file %s: %w", abs, err)
	}
	return &FileStore{path: abs, now: opts.Now}, nil
}

// Path is the state file's absolute path.
func (s *FileStore) Path() string { return s.path }

func (s *FileStore) lockPath() string { return s.path + ".lock" }

// String names the store for logs.
func (s *FileStore) String() string { return "file " + s.path }

// Lock takes the flock on "<path>.lock". It never waits: when another
// process (or another FileStore) holds it, it returns an error wrapping
// ErrLocked that names the holder's pid, host and start time.
func (s *FileStore) Lock(ctx context.Context, ttl time.Duration) (Lease, error) {
	if ttl <= 0 {
		return Lease{}, fmt.Errorf("lock %s: ttl %v is not positive", s.lockPath(), ttl)
	}
	if err := ctx.Err(); err != nil {
		return Lease{}, fmt.Errorf("lock %s: %w", s.lockPath(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		return Lease{}, fmt.Errorf("%w: %s is already held by this store", ErrLocked, s.lockPath())
	}
	f, err := s.flock()
	if err != nil {
		return Lease{}, err
	}
	now := s.now()
	host, _ := os.Hostname()
	info, _ := json.Marshal(lockHolder{PID: os.Getpid(), Host: host, Since: now.UTC()})
	if err := writeHolder(f, append(info, '\n')); err != nil {
		f.Close() // releases the flock
		return Lease{}, fmt.Errorf("lock %s: %w", s.lockPath(), err)
	}
	s.held = &fileLease{f: f, token: rand.Text()}
	return Lease{Token: s.held.token, Expires: now.Add(ttl)}, nil
}

// flock opens the lock file and locks it, retrying when the file it
// locked was replaced in the meantime (a lock on an unlinked file guards
// nothing).
func (s *FileStore) flock() (*os.File, error) {
	path := s.lockPath()
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("%w: %s is held by %s", ErrLocked, path, holder)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if same, err := samePath(f, path); err != nil || !same {
			f.Close()
			continue
		}
		return f, nil
	}
	return nil, fmt.Errorf("lock %s: the lock file keeps being replaced", path)
}

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, pi), nil
}

func writeHolder(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(b, 0)
	return err
}

// readHolder describes the holder recorded in a lock file.
func readHolder(f *os.File) string {
	b := make([]byte, 1024)
	n, _ := f.ReadAt(b, 0)
	var h lockHolder
	if err := json.Unmarshal(b[:n], &h); err != nil || h.PID == 0 {
		return "a process that has not said who it is"
	}
	return fmt.Sprintf("pid %d on %s since %s", h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// holds reports whether lease is the flock this store holds on the lock
// file now at its path.
func (s *FileStore) holds(lease Lease) bool {
	if s.held == nil || lease.Token == "" || lease.Token != s.held.token {
		return false
	}
	same, err := samePath(s.held.f, s.lockPath())
	return err == nil && same
}

// Unlock releases the flock if lease is the one this store holds;
// otherwise it does nothing.
func (s *FileStore) Unlock(ctx context.Context, lease Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil || lease.Token != s.held.token {
		return nil
	}
	return s.release()
}

// release drops the held flock. The lock file stays: removing it would let
// two processes lock two different files of the same name.
func (s *FileStore) release() error {
	f := s.held.f
	s.held = nil
	if same, _ := samePath(f, s.lockPath()); same {
		_ = f.Truncate(0)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unlock %s: %w", s.lockPath(), err)
	}
	return nil
}

// Close releases the flock if held.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		return nil
	}
	return s.release()
}

// Load returns the records of ids in the file, and its outbox. It reads
// the file a record at a time, decoding only those of ids.
func (s *FileStore) Load(ctx context.Context, ids []string) (Loaded, error) {
	at := make(map[string]int, len(ids)) // where each id's record goes
	for i, id := range ids {
		at[id] = i
	}
	states := make([]TargetState, len(ids))
	bad := map[string]Warning{}
	doc, warns, err := s.read(ctx, true, func(id string, raw []byte) {
		i, ok := at[id]
		if !ok {
			return
		}
		// Of an ID stored twice, the last record counts, as in a map.
		delete(bad, id)
		if err := decodeAt(&states[i], id, raw); err != nil {
			bad[id] = Warning{ID: id, Err: err}
		}
	}, func() {
		clear(states)
		clear(bad)
	})
	if err != nil {
		return Loaded{}, err
	}
	for i, id := range ids {
		if w, ok := bad[id]; ok {
			warns = append(warns, w)
			delete(bad, id) // an id asked for twice is warned about once
		}
		if j := at[id]; j != i {
			states[i] = states[j] // asked for twice: decoded into the last place
		}
	}
	out := Loaded{States: states, Warnings: warns}
	out.Outbox, out.OutboxWarnings = decodeOutbox(doc.Outbox)
	return out, nil
}

// LoadAll returns every record in the file.
func (s *FileStore) LoadAll(ctx context.Context) (map[string]TargetState, []Warning, error) {
	states := map[string]TargetState{}
	bad := map[string]Warning{}
	_, warns, err := s.read(ctx, false, func(id string, raw []byte) {
		var st TargetState
		delete(states, id)
		delete(bad, id)
		if err := decodeAt(&st, id, raw); err != nil {
			bad[id] = Warning{ID: id, Err: err}
			return
		}
		states[id] = st
	}, func() {
		clear(states)
		clear(bad)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, id := range sortedKeys(bad) {
		warns = append(warns, bad[id])
	}
	return states, warns, nil
}

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

// read streams the file's document, passing each record to record (see
// scanFileDoc): nothing when there is no file, and a Warning when the file
// is not a state document, after calling reset to drop the records
// passed. moveAside renames such a file out of the way; only a caller
// holding the lock (a sweep, about to rewrite it) may do that — `pingpanda
// status` only reads.
func (s *FileStore) read(ctx context.Context, moveAside bool, record func(id string, raw []byte), reset func()) (fileDoc, []Warning, error) {
	empty := fileDoc{Version: fileVersion, Saved: map[string]int64{}, Outbox: map[string]json.RawMessage{}}
	if err := ctx.Err(); err != nil {
		return empty, nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil, nil
	}
	if err != nil {
		return empty, nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	doc, bad := scanFileDoc(bufio.NewReaderSize(f, 64<<10), record, reset)
	f.Close()
	if bad == nil {
		return doc, nil, nil
	}
	reset()
	var pathErr *fs.PathError
	if errors.As(bad, &pathErr) {
		// The file could not be read, which says nothing of its content.
		return empty, nil, fmt.Errorf("read %s: %w", s.path, bad)
	}
	if !moveAside {
		return empty, []Warning{{ID: "*", Err: fmt.Errorf("state file %s is unreadable; the next sweep moves it aside and starts afresh: %w", s.path, bad)}}, nil
	}
	aside, err := s.moveAside()
	if err != nil {
		return empty, nil, fmt.Errorf("state file %s is unreadable (%v) and could not be moved aside: %w", s.path, bad, err)
	}
	return empty, []Warning{{ID: "*", Err: fmt.Errorf("state file %s is unreadable, moved to %s; starting afresh: %w", s.path, aside, bad)}}, nil
}

// moveAside renames the state file to "<path>.corrupt-<unix seconds>",
// never over an earlier one.
func (s *FileStore) moveAside() (string, error) {
	base := s.path + ".corrupt-" + strconv.FormatInt(s.now().Unix(), 10)
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		aside = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(s.path, aside); err != nil {
		return "", err
	}
	return aside, nil
}

// record is one encoded TargetState.
type record struct {
	id  string
	raw []byte
}

// encodeAll encodes states for a Save, refusing the whole request if one
// of them cannot be stored, so that nothing is half written.
func encodeAll(states []TargetState) ([]record, error) {
	// One buffer for all the records, sliced once it stops growing.
	recs := make([]record, 0, len(states))
	ends := make([]int, 0, len(states))
	buf := make([]byte, 0, 256*len(states))
	for i := range states {
		st := &states[i]
		if st.ID == "" {
			return nil, fmt.Errorf("state %d of %d has no target id", i+1, len(states))
		}
		var err error
		if buf, err = appendRecord(buf, st); err != nil {
			return nil, fmt.Errorf("encode %s: %w", st.ID, err)
		}
		ends = append(ends, len(buf))
	}
	start := 0
	for i, end := range ends {
		recs = append(recs, record{id: states[i].ID, raw: buf[start:end:end]})
		start = end
	}
	return recs, nil
}

// decodeAt decodes the record stored under id into *dst. When it cannot,
// *dst is left zero (a target never seen) and the error says why, for a
// Warning.
func decodeAt(dst *TargetState, id string, raw []byte) error {
	err := decodeRecordInto(dst, raw, id)
	if err == nil && dst.ID != id {
		err = fmt.Errorf("record is for target %q", dst.ID)
	}
	if err != nil {
		*dst = TargetState{}
		return fmt.Errorf("state of %s reset: %w", id, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
