package state

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fileVersion is the version of the state file's document. A file of
// another version is moved aside with a warning, like a corrupt one.
const fileVersion = 1

// FileOptions configure a FileStore.
type FileOptions struct {
	// Now is the clock for lease times, retention and the names of
	// corrupt files moved aside; nil means time.Now.
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

// fileDoc is the state file.
type fileDoc struct {
	Version int                        `json:"version"`
	Targets map[string]json.RawMessage `json:"targets"`
	Saved   map[string]int64           `json:"saved,omitempty"`
	Outbox  map[string]json.RawMessage `json:"outbox,omitempty"`
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
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &FileStore{path: abs, now: now}, nil
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

// Load returns the records of ids in the file, and its outbox.
func (s *FileStore) Load(ctx context.Context, ids []string) (Loaded, error) {
	doc, warns, err := s.read(ctx, true)
	if err != nil {
		return Loaded{}, err
	}
	out := Loaded{States: make(map[string]TargetState, len(ids))}
	for _, id := range ids {
		if raw, ok := doc.Targets[id]; ok {
			warns = decodeInto(out.States, warns, id, raw)
		}
	}
	out.Warnings = warns
	out.Outbox, out.OutboxWarnings = decodeOutbox(doc.Outbox)
	return out, nil
}

// LoadAll returns every record in the file.
func (s *FileStore) LoadAll(ctx context.Context) (map[string]TargetState, []Warning, error) {
	doc, warns, err := s.read(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]TargetState, len(doc.Targets))
	for _, id := range sortedKeys(doc.Targets) {
		warns = decodeInto(out, warns, id, doc.Targets[id])
	}
	return out, warns, nil
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
	// A corrupt file is moved aside here too; its warning was (or would
	// have been) given by Load.
	doc, _, err := s.read(ctx, true)
	if err != nil {
		return SaveResult{}, err
	}
	now := clock.UnixMilli()
	for _, r := range recs {
		doc.Targets[r.id] = r.raw
		doc.Saved[r.id] = now
	}
	for _, id := range req.Delete {
		delete(doc.Targets, id)
		delete(doc.Saved, id)
	}
	if req.Retention > 0 {
		cutoff := now - req.Retention.Milliseconds()
		for id, at := range doc.Saved {
			if at < cutoff {
				delete(doc.Targets, id)
				delete(doc.Saved, id)
			}
		}
	}
	for id := range doc.Saved {
		if _, ok := doc.Targets[id]; !ok {
			delete(doc.Saved, id)
		}
	}
	if err := enqueueFile(doc.Outbox, enq); err != nil {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.path, err)
	}
	res := SaveResult{Dropped: applyOutboxPolicy(doc.Outbox, req.Outbox, clock)}
	if err := s.write(ctx, doc); err != nil {
		return SaveResult{}, err
	}
	return res, nil
}

// write replaces the file with doc, unless ctx has ended.
func (s *FileStore) write(ctx context.Context, doc fileDoc) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	if err := writeFileAtomic(s.path, append(b, '\n')); err != nil {
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
	doc, _, err := s.read(ctx, true)
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
	return s.write(ctx, doc)
}

// read returns the file's document: empty when there is no file, and
// empty with a Warning when the file is not a state document. moveAside
// renames such a file out of the way; only a caller holding the lock (a
// sweep, about to rewrite it) may do that — `pingpanda status` only reads.
func (s *FileStore) read(ctx context.Context, moveAside bool) (fileDoc, []Warning, error) {
	empty := fileDoc{Version: fileVersion, Targets: map[string]json.RawMessage{}, Saved: map[string]int64{}, Outbox: map[string]json.RawMessage{}}
	if err := ctx.Err(); err != nil {
		return empty, nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil, nil
	}
	if err != nil {
		return empty, nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	doc, bad := parseFileDoc(b)
	if bad == nil {
		return doc, nil, nil
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

// parseFileDoc reads a state document, or says why b is not one.
func parseFileDoc(b []byte) (fileDoc, error) {
	var doc fileDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fileDoc{}, fmt.Errorf("not a state document: %w", err)
	}
	if doc.Version != fileVersion {
		return fileDoc{}, fmt.Errorf("%w %d of the state file (this build reads %d)", ErrVersion, doc.Version, fileVersion)
	}
	if doc.Targets == nil {
		doc.Targets = map[string]json.RawMessage{}
	}
	if doc.Saved == nil {
		doc.Saved = map[string]int64{}
	}
	if doc.Outbox == nil {
		doc.Outbox = map[string]json.RawMessage{}
	}
	return doc, nil
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

// writeFileAtomic replaces path with b: a temporary file in the same
// directory, synced, renamed over path, and the directory synced.
func writeFileAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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

// decodeInto decodes the record stored under id into out, or appends a
// Warning for it.
func decodeInto(out map[string]TargetState, warns []Warning, id string, raw []byte) []Warning {
	st, err := decodeRecord(raw, id)
	if err == nil && st.ID != id {
		err = fmt.Errorf("record is for target %q", st.ID)
	}
	if err != nil {
		return append(warns, Warning{ID: id, Err: fmt.Errorf("state of %s reset: %w", id, err)})
	}
	out[id] = st
	return warns
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
