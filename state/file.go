package state

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
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
	// Host names the lock's holder for a sweep that finds it taken.
	Host string
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
// Silences are kept beside the state file, in "<path>.silences", which a
// sweep's Save never rewrites (see file_silence.go).
//
// Save writes a temporary file beside the state file, syncs it, renames it
// over the old one and syncs the directory, so a crash leaves the old or
// the new file, never a torn one. A file that is not a state document at
// all is moved aside to "<path>.corrupt-<unix seconds>" with a Warning
// whose ID is "*", and the store continues empty.
type FileStore struct {
	path string
	now  func() time.Time

	host string
	mu   sync.Mutex
	held *fileLease // nil while this store holds no lease
}

var _ Store = (*FileStore)(nil)

// DefaultStatePath is where the state file lives when STATE_FILE is not
// set, with getenv reading the process's environment: $XDG_STATE_HOME/pingpanda/state.json, or
// ~/.local/state/pingpanda/state.json when XDG_STATE_HOME is unset or not
// an absolute path (as the XDG Base Directory specification requires).
func DefaultStatePath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "pingpanda", "state.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("no place for the state file (set STATE_FILE): $HOME is not defined")
	}
	return filepath.Join(home, ".local", "state", "pingpanda", "state.json"), nil
}

// NewFileStore returns a store keeping its state at path (see
// DefaultStatePath). It creates the directory, mode 0700, if missing; it
// neither reads nor creates the file itself.
func NewFileStore(path string, opts FileOptions) (*FileStore, error) {
	if opts.Now == nil {
		return nil, errors.New("state: FileOptions.Now (the sweep's clock) is required")
	}
	if path == "" {
		return nil, errors.New("state: the state file's path is empty (see DefaultStatePath)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("state file %s: %w", abs, err)
	}
	return &FileStore{path: abs, now: opts.Now, host: opts.Host}, nil
}

// Path is the state file's absolute path.
func (s *FileStore) Path() string { return s.path }

func (s *FileStore) lockPath() string { return s.path + ".lock" }

// String names the store for logs.
func (s *FileStore) String() string { return "file " + s.path }

// Load returns the records of ids in the file, its outbox, and the
// silences of the silences file. It reads the file a record at a time,
// decoding only those of ids.
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
	out.Silences, out.SilenceWarnings = s.loadSilences(ctx)
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
