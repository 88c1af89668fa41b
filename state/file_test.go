package state

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFileStoreConformance(t *testing.T) {
	testStoreConformance(t, func(t *testing.T, now func() time.Time) conformanceBackend {
		path := filepath.Join(t.TempDir(), "state", "state.json")
		return conformanceBackend{
			open: func(t *testing.T) Store {
				return openFileStore(t, path, now)
			},
			poke: func(t *testing.T, id string, raw []byte) {
				pokeFile(t, path, id, raw)
			},
			pokeOutbox: func(t *testing.T, id string, raw []byte) {
				pokeFileOutbox(t, path, id, raw)
			},
			pokeSilences: func(t *testing.T, silences map[string][]byte) {
				pokeFileSilences(t, path, silences)
			},
		}
	})
}

func openFileStore(t *testing.T, path string, now func() time.Time) *FileStore {
	t.Helper()
	if now == nil {
		now = fixedClock(t0)
	}
	s, err := NewFileStore(path, FileOptions{Now: now})
	if err != nil {
		t.Fatalf("NewFileStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pokeFile puts raw into the state file as id's record; bytes that are not
// JSON go in as a JSON string, the nearest a JSON document can hold.
func pokeFile(t *testing.T, path, id string, raw []byte) {
	t.Helper()
	pokeDoc(t, path, func(doc *fileDoc) { doc.Targets[id] = jsonOrString(raw) })
}

// pokeFileOutbox puts raw into the state file's outbox as event id's
// entry, as pokeFile does.
func pokeFileOutbox(t *testing.T, path, id string, raw []byte) {
	t.Helper()
	pokeDoc(t, path, func(doc *fileDoc) { doc.Outbox[id] = jsonOrString(raw) })
}

func jsonOrString(raw []byte) json.RawMessage {
	if !json.Valid(raw) {
		raw, _ = json.Marshal(string(raw))
	}
	return raw
}

// pokeDoc rewrites the state file with change applied.
func pokeDoc(t *testing.T, path string, change func(doc *fileDoc)) {
	t.Helper()
	doc := fileDoc{Version: fileVersion}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
	}
	if doc.Targets == nil {
		doc.Targets = map[string]json.RawMessage{}
	}
	if doc.Outbox == nil {
		doc.Outbox = map[string]json.RawMessage{}
	}
	change(&doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultStatePath(t *testing.T) {
	t.Run("XDG_STATE_HOME is used when absolute", func(t *testing.T) {
		assertPath(t, env{"XDG_STATE_HOME": "/var/lib/someone", "HOME": "/home/someone"}, "/var/lib/someone/pingpanda/state.json")
	})
	t.Run("a relative XDG_STATE_HOME is ignored, as the XDG specification says", func(t *testing.T) {
		assertPath(t, env{"XDG_STATE_HOME": "relative/dir", "HOME": "/home/someone"}, "/home/someone/.local/state/pingpanda/state.json")
	})
	t.Run("the home directory is used when XDG_STATE_HOME is unset", func(t *testing.T) {
		assertPath(t, env{"HOME": "/home/someone"}, "/home/someone/.local/state/pingpanda/state.json")
	})
	t.Run("no home directory is an error that says to set STATE_FILE", func(t *testing.T) {
		_, err := DefaultStatePath(env{}.get)
		if err == nil || !strings.Contains(err.Error(), "STATE_FILE") {
			t.Errorf("DefaultStatePath() error %v, want one naming STATE_FILE", err)
		}
	})
	t.Run("an empty path is refused", func(t *testing.T) {
		if _, err := NewFileStore("", FileOptions{Now: fixedClock(t0)}); err == nil {
			t.Error("NewFileStore(\"\") opened a store")
		}
	})
}

// env is an environment a test builds itself.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func assertPath(t *testing.T, e env, want string) {
	t.Helper()
	got, err := DefaultStatePath(e.get)
	if err != nil || got != want {
		t.Errorf("DefaultStatePath() = %q, %v; want %q", got, err, want)
	}
}

func TestFileStorePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "state.json")
	s := openFileStore(t, path, nil)
	saveOK(t, s, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
	for name, want := range map[string]fs.FileMode{
		dir:               fs.ModeDir | 0o700,
		filepath.Dir(dir): fs.ModeDir | 0o700,
		path:              0o600,
		path + ".lock":    0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%s holds %d files, want the state and its lock (no temporary files left)", dir, len(entries))
	}
}

func TestFileStoreLockNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	clock := newTestClock()
	mustLock(t, openFileStore(t, path, clock.Now), time.Minute)
	_, err := openFileStore(t, path, nil).Lock(context.Background(), time.Minute)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock: %v, want ErrLocked", err)
	}
	for _, want := range []string{path + ".lock", "pid " + strconv.Itoa(os.Getpid()), "since 2026-03-01T12:00:00Z"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestFileStoreCloseReleasesTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := openFileStore(t, path, nil)
	lease := mustLock(t, s, time.Minute)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mustLock(t, openFileStore(t, path, nil), time.Minute)
	if _, err := s.Save(context.Background(), lease, SaveRequest{}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Save after Close: %v, want ErrLeaseLost", err)
	}
}

// A lock file removed under its holder guards nothing: the next sweep
// locks a new file of the same name, so the old holder must not save.
func TestFileStoreLockFileReplacedUnderTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s1 := openFileStore(t, path, nil)
	old := mustLock(t, s1, time.Minute)
	if err := os.Remove(path + ".lock"); err != nil {
		t.Fatal(err)
	}
	s2 := openFileStore(t, path, nil)
	mustLock(t, s2, time.Minute)
	_, err := s1.Save(context.Background(), old, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
	if !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Save: %v, want ErrLeaseLost", err)
	}
	if err := s1.Unlock(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if _, err := openFileStore(t, path, nil).Lock(context.Background(), time.Minute); !errors.Is(err, ErrLocked) {
		t.Errorf("the old holder's unlock released the new lock: %v", err)
	}
}

// holdLockEnv makes TestHelperHoldLock, run in a child process, hold the
// lock on the state file named by its value until it is killed.
const holdLockEnv = "PINGPANDA_TEST_HOLD_LOCK"

func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv(holdLockEnv)
	if path == "" {
		t.Skip("a helper process for TestFileStoreLockOfAnotherProcessEndsWithIt")
	}
	s, err := NewFileStore(path, FileOptions{Now: fixedClock(t0)})
	if err == nil {
		_, err = s.Lock(context.Background(), time.Minute)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute) // until killed
}

func TestFileStoreLockOfAnotherProcessEndsWithIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), holdLockEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper: %q", line)
	}

	s := openFileStore(t, path, nil)
	_, err = s.Lock(context.Background(), time.Minute)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("Lock while another process holds it: %v, want ErrLocked naming pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	mustLock(t, s, time.Minute)
}

func TestFileStoreUnreadableFile(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON at all":                "\x00\x01 this is not json",
		"truncated":                      `{"version":1,"targets":{"dns:a.example":{"v":1`,
		"empty":                          "",
		"a JSON value of the wrong kind": `["version", 1]`,
		"a document of a future version": `{"version":2,"targets":{}}`,
		"a document without a version":   `{"targets":{}}`,
	} {
		t.Run(name+" is moved aside with a warning and the store starts empty", func(t *testing.T) {
			clock := newTestClock()
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := openFileStore(t, path, clock.Now)
			got, warns, err := loadStates(context.Background(), s, []string{"dns:a.example"})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(got) != 0 || len(warns) != 1 || warns[0].ID != "*" {
				t.Fatalf("Load = %v, %v; want nothing and one warning for *", got, warns)
			}
			aside := fmt.Sprintf("%s.corrupt-%d", path, clock.Now().Unix())
			if !strings.Contains(warns[0].Err.Error(), aside) {
				t.Errorf("warning %q does not say where the file went (%s)", warns[0].Err, aside)
			}
			if b, err := os.ReadFile(aside); err != nil || string(b) != content {
				t.Errorf("%s holds %q, %v; want the old content", aside, b, err)
			}

			// The next save writes a fresh file and leaves the old one be;
			// a second bad file never replaces the first.
			saveOK(t, s, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
			assertStates(t, loadAll(t, s), plainState("dns:a.example"))
			if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, warns, _ := loadStates(context.Background(), s, []string{"dns:a.example"}); len(warns) != 1 {
				t.Errorf("warnings %v, want one", warns)
			}
			if b, _ := os.ReadFile(aside); string(b) != content {
				t.Errorf("the first corrupt file was overwritten: %q", b)
			}
			if b, _ := os.ReadFile(aside + "-2"); string(b) != "junk" {
				t.Errorf("%s-2 holds %q, want the second corrupt file", aside, b)
			}
		})
	}

	t.Run("a corrupt file found by Save is moved aside, not overwritten", func(t *testing.T) {
		clock := newTestClock()
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := openFileStore(t, path, clock.Now)
		saveOK(t, s, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
		if b, _ := os.ReadFile(fmt.Sprintf("%s.corrupt-%d", path, clock.Now().Unix())); string(b) != "junk" {
			t.Errorf("the corrupt file was not kept: %q", b)
		}
	})
}

// A state file that cannot be read is an error, not a fresh start: only a
// file that reads but is not a state document is moved aside.
func TestFileStoreUnreadableFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	s := openFileStore(t, path, nil)
	if _, _, err := s.LoadAll(context.Background()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadAll of a directory: %v, want an error naming it", err)
	}
	lease := mustLock(t, s, time.Minute)
	if _, err := s.Save(context.Background(), lease, SaveRequest{}); err == nil {
		t.Error("Save over a directory succeeded")
	}
}

func TestFileStoreRespectsACancelledContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := openFileStore(t, path, nil)
	lease := mustLock(t, s, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Save(ctx, lease, SaveRequest{States: []TargetState{plainState("dns:a.example")}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Save: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Save with a cancelled context wrote the file: %v", err)
	}
}

// FuzzFileStoreLoad: whatever bytes the state file holds, loading neither
// panics nor fails, and what it cannot read is reported.
func FuzzFileStoreLoad(f *testing.F) {
	good, _ := Encode(plainState("dns:a.example"))
	f.Add([]byte(`{"version":1,"targets":{"dns:a.example":` + string(good) + `}}`))
	f.Add([]byte(`{"version":1,"targets":{"dns:a.example":{"v":99}},"saved":{"dns:a.example":1}}`))
	f.Add([]byte(`{"version":1,"targets":null,"saved":{"x":"y"}}`))
	f.Add([]byte("\xff\xfe"))
	entry, _ := encodeOutboxEntry(queued(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "dns:a.example", "slack"))
	id := queued(time.Time{}, "dns:a.example").Event.ID
	f.Add([]byte(`{"version":1,"targets":{},"outbox":{"` + id + `":` + string(entry) + `,"x":{"v":1},"y":"z"}}`))
	f.Add([]byte(`{"version":1,"outbox":[]}`))
	f.Add([]byte(`{"Version":1,"TARGETS":{"dns:a.example":` + string(good) + `},"targets":{"x":1},"saved":null,"x":[{}]}`))
	f.Add([]byte(`{"version":1,"targets":{"dns:a.example":` + string(good) + `},"targets":null} `))
	f.Add([]byte(`{"version":1,"targets":{"dns:a.example":` + string(good) + `,"dns:a.example":7}}x`))
	old := encodeV1(f, plainState("dns:a.example"))
	f.Add([]byte(`{"version":1,"targets":{"dns:a.example":` + string(old) + `}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := NewFileStore(path, FileOptions{Now: fixedClock(t0)})
		if err != nil {
			t.Fatal(err)
		}
		got, warns, err := s.LoadAll(context.Background())
		if err != nil {
			t.Fatalf("LoadAll: %v", err)
		}
		checkAgainstUnmarshal(t, data, got, warns)
		for id, st := range got {
			if st.ID != id || st.V != Version {
				t.Errorf("loaded %q as %q version %d", id, st.ID, st.V)
			}
		}
		for _, w := range warns {
			if w.Err == nil {
				t.Errorf("warning for %q without an error", w.ID)
			}
		}
		l, err := s.Load(context.Background(), nil)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		for _, e := range l.Outbox {
			if e.Event.ID == "" || len(e.Pending) == 0 {
				t.Errorf("loaded outbox entry %+v", e)
			}
		}
		saveOK(t, s, SaveRequest{States: []TargetState{plainState("dns:b.example")}, Enqueue: []OutboxEntry{queued(time.Time{}, "dns:b.example", "slack")}, Outbox: OutboxPolicy{MaxEntries: 2}})
		if got, _, err := s.LoadAll(context.Background()); err != nil || got["dns:b.example"].ID == "" {
			t.Errorf("a save after loading this file was lost: %v", err)
		}
	})
}

func TestLoadAllReportsAnUnreadableFileWithoutMovingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"version":99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewFileStore(path, FileOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, warns, err := s.LoadAll(context.Background())
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0].Err.Error(), "the next sweep moves it aside") {
		t.Fatalf("LoadAll: %v %v", warns, err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != `{"version":99}` {
		t.Fatalf("the file was changed or moved: %q %v", b, err)
	}
}

// checkAgainstUnmarshal checks that the streamed read of a state file
// found what json.Unmarshal of the whole document into a fileDoc (the
// reader before it) finds: the same verdict on the document, and the same
// record for each target.
func checkAgainstUnmarshal(t *testing.T, data []byte, got map[string]TargetState, warns []Warning) {
	t.Helper()
	var doc fileDoc
	ok := json.Unmarshal(data, &doc) == nil && doc.Version == fileVersion
	unreadable := len(warns) > 0 && warns[0].ID == "*"
	if ok == unreadable {
		t.Fatalf("json.Unmarshal reads the document: %v; LoadAll warns %v", ok, warns)
	}
	if !ok {
		return
	}
	warned := map[string]bool{}
	for _, w := range warns {
		warned[w.ID] = true
	}
	for id, raw := range doc.Targets {
		want, err := Decode(raw)
		if err != nil || want.ID != id {
			if !warned[id] {
				t.Errorf("%s: record %s is unreadable, but no warning", id, raw)
			}
			continue
		}
		if g, found := got[id]; !found || !reflect.DeepEqual(g, want) {
			t.Errorf("%s: loaded %+v, want %+v", id, g, want)
		}
	}
	if len(got)+len(warned) != len(doc.Targets) {
		t.Errorf("%d records and %d warnings, json.Unmarshal finds %d records", len(got), len(warned), len(doc.Targets))
	}
}

// pokeFileSilences adds each raw to the silences file beside the state
// file at path, by ID order, past AddSilence's checks.
func pokeFileSilences(t *testing.T, path string, silences map[string][]byte) {
	t.Helper()
	side := path + ".silences"
	doc := silencesDoc{V: silencesFileVersion}
	if b, err := os.ReadFile(side); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range sortedKeys(silences) {
		doc.Silences = append(doc.Silences, jsonOrString(silences[id]))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(side, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
