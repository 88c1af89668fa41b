package state

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func FuzzDecodeSilence(f *testing.F) {
	good, _ := encodeSilence(silenceAt("s-0123abcd", t0, time.Hour))
	f.Add("s-0123abcd", good)
	f.Add("", good)
	f.Add("s-1", []byte(`{"v":1,"id":"s-1","match":"dns","reason":"","created":"2026-03-01T12:00:00+05:30","expires":"2026-03-01T12:00:00.000000001+05:30"}`))
	f.Add("s-1", []byte(`{"v":1,"id":"s-1","match":"x","created":"0001-01-01T00:00:00Z","expires":"9999-12-31T23:59:59Z","expires_ms":"soon"}`))
	f.Add("x", []byte(`{"v":"1"}`))
	f.Add("", []byte(`[]`))
	f.Add("", []byte(`null`))
	f.Fuzz(func(t *testing.T, id string, b []byte) {
		s, err := decodeSilence(id, b)
		if err != nil {
			return
		}
		if (id != "" && s.ID != id) || checkSilence(s) != nil {
			t.Fatalf("decoded %+v under %q, which AddSilence refuses", s, id)
		}
		raw, err := encodeSilence(s)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", b, err)
		}
		again, err := decodeSilence(s.ID, raw)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", raw, err)
		}
		if again.ID != s.ID || again.Match != s.Match || again.Reason != s.Reason || again.By != s.By ||
			!again.Created.Equal(s.Created) || !again.Expires.Equal(s.Expires) {
			t.Fatalf("round trip changed it:\n%+v\n%+v", s, again)
		}
		if raw2, _ := encodeSilence(again); string(raw2) != string(raw) {
			t.Errorf("not stable:\n%s\n%s", raw, raw2)
		}
	})
}

func TestFileSilences(t *testing.T) {
	ctx := context.Background()
	now := fixedClock(t0)
	newStore := func(t *testing.T) (*FileStore, string) {
		path := filepath.Join(t.TempDir(), "state.json")
		return openFileStore(t, path, now), path
	}

	t.Run("they are kept in a versioned document beside the state file, which a save leaves alone", func(t *testing.T) {
		s, path := newStore(t)
		addOK(t, s, silenceAt("s-00000001", t0, time.Hour))
		saveOK(t, s, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
		b, err := os.ReadFile(path + ".silences")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			V        int              `json:"v"`
			Silences []map[string]any `json:"silences"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.V != 1 || len(doc.Silences) != 1 || doc.Silences[0]["id"] != "s-00000001" {
			t.Errorf("silences file %s (%v), want version 1 holding s-00000001", b, err)
		}
		if state, _ := os.ReadFile(path); strings.Contains(string(state), "s-00000001") {
			t.Errorf("the state file holds the silence: %s", state)
		}
	})

	t.Run("an unreadable silences file is a warning for a sweep, and is not replaced by an add", func(t *testing.T) {
		for _, content := range []string{"garbage", `{"v":2,"silences":[]}`, `{"v":1,"silences":{}}`} {
			t.Run(content, func(t *testing.T) {
				s, path := newStore(t)
				st := plainState("dns:a.example")
				saveOK(t, s, SaveRequest{States: []TargetState{st}})
				if err := os.WriteFile(path+".silences", []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				loaded, err := s.Load(ctx, []string{st.ID})
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				assertStates(t, mustFind(t, []string{st.ID}, loaded.States), st)
				if len(loaded.SilenceWarnings) != 1 || loaded.SilenceWarnings[0].ID != "*" {
					t.Errorf("silence warnings %v, want one about the file (*)", loaded.SilenceWarnings)
				}
				if _, err := s.Silences(ctx); err == nil || !strings.Contains(err.Error(), path+".silences") {
					t.Errorf("Silences: %v, want an error naming the file", err)
				}
				err = s.AddSilence(ctx, silenceAt("s-00000001", t0, time.Hour))
				if err == nil || !strings.Contains(err.Error(), path+".silences") {
					t.Errorf("AddSilence: %v, want an error naming the file", err)
				}
				if b, _ := os.ReadFile(path + ".silences"); string(b) != content {
					t.Errorf("the silences file was rewritten: %s", b)
				}
			})
		}
	})

	t.Run("symbolic links are not followed", func(t *testing.T) {
		for _, name := range []string{".silences", ".silences.lock"} {
			t.Run(name, func(t *testing.T) {
				s, path := newStore(t)
				elsewhere := filepath.Join(t.TempDir(), "elsewhere")
				const was = `{"v":1,"silences":[]}`
				if err := os.WriteFile(elsewhere, []byte(was), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(elsewhere, path+name); err != nil {
					t.Fatal(err)
				}
				err := s.AddSilence(ctx, silenceAt("s-00000001", t0, time.Hour))
				if err == nil || !strings.Contains(err.Error(), "symbolic link") {
					t.Errorf("AddSilence: %v, want an error about the symbolic link", err)
				}
				if b, _ := os.ReadFile(elsewhere); string(b) != was {
					t.Errorf("the link's target was written: %s", b)
				}
			})
		}
	})

	t.Run("writers on several stores take turns and lose nothing", func(t *testing.T) {
		_, path := newStore(t)
		const n = 16
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := NewFileStore(path, FileOptions{Now: now})
				if err != nil {
					t.Error(err)
					return
				}
				defer s.Close()
				if err := s.AddSilence(ctx, silenceAt(fmt.Sprintf("s-%08x", i), t0, time.Hour)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := silencesOK(t, openFileStore(t, path, now)); len(got) != n {
			t.Errorf("%d silences, want %d: %v", len(got), n, silenceIDs(got))
		}
	})
}

func TestRedisSilences(t *testing.T) {
	ctx := context.Background()
	const key = "{pingpanda}:silences"

	t.Run("the hash expires when its last silence would be purged", func(t *testing.T) {
		mr := miniredis.RunT(t)
		s := openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr(), Now: fixedClock(t0)})
		addOK(t, s, silenceAt("s-00000002", t0, 3*time.Hour))
		addOK(t, s, silenceAt("s-00000001", t0, time.Hour))
		if got, want := mr.TTL(key), 3*time.Hour+ExpiredSilencesKept; got != want {
			t.Errorf("TTL %v, want %v", got, want)
		}
		mr.HSet(key, "s-bad00000", "garbage")
		addOK(t, s, silenceAt("s-00000003", t0, time.Hour))
		if got := mr.TTL(key); got != 0 {
			t.Errorf("TTL %v with an unreadable silence, want none", got)
		}
	})

	t.Run("a silences key of another type is a warning for a sweep, and an error for an add", func(t *testing.T) {
		mr := miniredis.RunT(t)
		s := openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr(), Now: fixedClock(t0)})
		st := plainState("dns:a.example")
		saveOK(t, s, SaveRequest{States: []TargetState{st}})
		if err := mr.Set(key, "not a hash"); err != nil {
			t.Fatal(err)
		}
		loaded, err := s.Load(ctx, []string{st.ID})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		assertStates(t, mustFind(t, []string{st.ID}, loaded.States), st)
		if len(loaded.SilenceWarnings) != 1 || loaded.SilenceWarnings[0].ID != "*" || !strings.Contains(loaded.SilenceWarnings[0].Err.Error(), key) {
			t.Errorf("silence warnings %v, want one naming %s", loaded.SilenceWarnings, key)
		}
		if err := s.AddSilence(ctx, silenceAt("s-00000001", t0, time.Hour)); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("AddSilence: %v, want WRONGTYPE", err)
		}
		if v, _ := mr.Get(key); v != "not a hash" {
			t.Errorf("the key was overwritten: %q", v)
		}
	})

	t.Run("errors never show the URL's password", func(t *testing.T) {
		mr := miniredis.RunT(t)
		addr := mr.Addr()
		mr.Close() // nothing listens there now
		s := openRedisStore(t, RedisOptions{URL: "redis://user:hunter2secret@" + addr, Now: fixedClock(t0)})
		errs := []error{s.AddSilence(ctx, silenceAt("s-00000001", t0, time.Hour))}
		_, err := s.Silences(ctx)
		errs = append(errs, err)
		_, err = s.RemoveSilence(ctx, "s-00000001")
		errs = append(errs, err)
		for _, err := range errs {
			if err == nil || strings.Contains(err.Error(), "hunter2secret") {
				t.Errorf("error %v: want one without the password", err)
			}
		}
	})
}
