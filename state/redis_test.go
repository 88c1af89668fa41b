package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func TestRedisStoreConformance(t *testing.T) {
	t.Run("against miniredis", func(t *testing.T) {
		testStoreConformance(t, func(t *testing.T, now func() time.Time) conformanceBackend {
			mr := miniredis.RunT(t)
			return conformanceBackend{
				open: func(t *testing.T) Store {
					return openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr(), Now: now})
				},
				poke: func(t *testing.T, id string, raw []byte) {
					mr.HSet("{pingpanda}:state", id, string(raw))
				},
				pokeOutbox: func(t *testing.T, id string, raw []byte) {
					mr.HSet("{pingpanda}:outbox:0-of-1", id, string(raw))
				},
				pokeSilences: func(t *testing.T, silences map[string][]byte) {
					for id, raw := range silences {
						mr.HSet("{pingpanda}:silences", id, string(raw))
					}
				},
			}
		})
	})

	t.Run("against redis-server", func(t *testing.T) {
		addr, _ := startRedis(t)
		client := newTestClient(t, addr)
		var n atomic.Int64
		testStoreConformance(t, func(t *testing.T, now func() time.Time) conformanceBackend {
			// One server, a namespace per subtest.
			ns := fmt.Sprintf("conformance-%d", n.Add(1))
			return conformanceBackend{
				open: func(t *testing.T) Store {
					return openRedisStore(t, RedisOptions{URL: "redis://" + addr, Namespace: ns, Now: now})
				},
				poke: func(t *testing.T, id string, raw []byte) {
					if err := client.HSet(context.Background(), "{"+ns+"}:state", id, raw).Err(); err != nil {
						t.Fatal(err)
					}
				},
				pokeOutbox: func(t *testing.T, id string, raw []byte) {
					if err := client.HSet(context.Background(), "{"+ns+"}:outbox:0-of-1", id, raw).Err(); err != nil {
						t.Fatal(err)
					}
				},
				pokeSilences: func(t *testing.T, silences map[string][]byte) {
					args := make([]any, 0, 2*len(silences))
					for id, raw := range silences {
						args = append(args, id, raw)
					}
					if err := client.HSet(context.Background(), "{"+ns+"}:silences", args...).Err(); err != nil {
						t.Fatal(err)
					}
				},
			}
		})
	})
}

func openRedisStore(t *testing.T, opts RedisOptions) *RedisStore {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock(t0)
	}
	s, err := NewRedisStore(context.Background(), opts)
	if err != nil {
		t.Fatalf("NewRedisStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTestClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// A sweep that overran its lease must not overwrite the sweep that took
// over: its Save fails, and its Unlock leaves the new lease alone.
func TestRedisLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, old, next Store, expire func(ttl time.Duration) Lease) {
		before := plainState("dns:a.example")
		saveOK(t, next, SaveRequest{States: []TargetState{before}})

		stale := expire(50 * time.Millisecond)
		after := before
		after.Status = Down
		_, err := old.Save(ctx, stale, SaveRequest{States: []TargetState{after}, Delete: []string{before.ID}})
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Save after the lease expired: %v, want ErrLeaseLost", err)
		}
		if err := old.Unlock(ctx, stale); err != nil {
			t.Fatal(err)
		}
		if _, err := old.Lock(ctx, time.Minute); !errors.Is(err, ErrLocked) {
			t.Errorf("the stale unlock released the new sweep's lease: Lock = %v", err)
		}
		assertStates(t, loadAll(t, next), before)
	}

	t.Run("against miniredis, fast-forwarded", func(t *testing.T) {
		mr := miniredis.RunT(t)
		old := openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr()})
		next := openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr()})
		check(t, old, next, func(ttl time.Duration) Lease {
			lease := mustLock(t, old, ttl)
			mr.FastForward(ttl)
			mustLock(t, next, time.Minute)
			return lease
		})
	})

	t.Run("against redis-server, with a short PX", func(t *testing.T) {
		addr, _ := startRedis(t)
		old := openRedisStore(t, RedisOptions{URL: "redis://" + addr})
		next := openRedisStore(t, RedisOptions{URL: "redis://" + addr})
		check(t, old, next, func(ttl time.Duration) Lease {
			lease := mustLock(t, old, ttl)
			if _, err := next.Lock(ctx, time.Minute); !errors.Is(err, ErrLocked) {
				t.Fatalf("Lock before the ttl passed: %v, want ErrLocked", err)
			}
			time.Sleep(ttl)
			for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
				_, err := next.Lock(ctx, time.Minute)
				if err == nil {
					return lease
				}
				if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
					t.Fatalf("Lock after the ttl passed: %v", err)
				}
			}
		})
	})
}

func TestRedisKeys(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	url := "redis://" + mr.Addr()
	shard0 := openRedisStore(t, RedisOptions{URL: url, Namespace: "prod", Shard: "0-of-2"})
	shard1 := openRedisStore(t, RedisOptions{URL: url, Namespace: "prod", Shard: "1-of-2"})
	other := openRedisStore(t, RedisOptions{URL: url, Namespace: "staging"})

	t.Run("every key of a namespace shares its hash tag", func(t *testing.T) {
		lease0 := mustLock(t, shard0, 90*time.Second)
		mustLock(t, shard1, 90*time.Second)
		mustLock(t, other, 90*time.Second)
		a := plainState("dns:a.example")
		e := queued(time.Now(), "dns:a.example", "slack")
		if _, err := shard0.Save(ctx, lease0, SaveRequest{States: []TargetState{a}, Enqueue: []OutboxEntry{e}, Retention: time.Hour}); err != nil {
			t.Fatal(err)
		}
		want := []string{"{prod}:lease:0-of-2", "{prod}:lease:1-of-2", "{prod}:outbox-queue:0-of-2", "{prod}:outbox:0-of-2", "{prod}:seen", "{prod}:state", "{staging}:lease:0-of-1"}
		if got := mr.Keys(); !slices.Equal(got, want) {
			t.Errorf("keys %v, want %v", got, want)
		}
		if raw, want := mr.HGet("{prod}:state", a.ID), mustEncode(t, a); raw != want {
			t.Errorf("stored record %s, want %s", raw, want)
		}
		if got, err := decodeOutboxEntry(e.Event.ID, []byte(mr.HGet("{prod}:outbox:0-of-2", e.Event.ID))); err != nil {
			t.Errorf("stored outbox entry: %v", err)
		} else {
			assertEntry(t, got, e)
		}
		if score, err := mr.ZScore("{prod}:outbox-queue:0-of-2", e.Event.ID); err != nil || int64(score) != e.QueuedAt.UnixMilli() {
			t.Errorf("queued with score %v, %v; want %d", score, err, e.QueuedAt.UnixMilli())
		}
		if ttl := mr.TTL("{prod}:lease:0-of-2"); ttl != 90*time.Second {
			t.Errorf("lease ttl %v, want 90s", ttl)
		}
		for _, k := range []string{"{prod}:state", "{prod}:seen", "{prod}:outbox:0-of-2", "{prod}:outbox-queue:0-of-2"} {
			if ttl := mr.TTL(k); ttl != time.Hour {
				t.Errorf("%s expires in %v, want the retention (1h)", k, ttl)
			}
		}
	})

	t.Run("the shards of a namespace share its records; each has its own outbox", func(t *testing.T) {
		l, err := shard1.Load(ctx, []string{"dns:a.example"})
		if err != nil || len(l.Warnings) != 0 {
			t.Fatal(err, l.Warnings)
		}
		assertStates(t, mustFind(t, []string{"dns:a.example"}, l.States), plainState("dns:a.example"))
		if len(l.Outbox) != 0 {
			t.Errorf("shard 1 sees %d outbox entries of shard 0", len(l.Outbox))
		}
		if l := loadOutbox(t, shard0); len(l) != 1 {
			t.Errorf("shard 0's outbox holds %d entries, want 1", len(l))
		}
	})

	t.Run("another namespace sees none of them", func(t *testing.T) {
		assertStates(t, loadAll(t, other))
		assertOutbox(t, loadOutbox(t, other))
	})

	t.Run("an abandoned namespace disappears after the retention", func(t *testing.T) {
		mr.FastForward(time.Hour)
		if got := mr.Keys(); len(got) != 0 {
			t.Errorf("keys left: %v", got)
		}
	})
}

// Keys of the wrong type (another program's, in a shared Redis) stop the
// save before it writes anything.
func TestRedisSaveOverKeysOfAnotherType(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	addr, _ := startRedis(t)
	for _, server := range []struct{ name, addr string }{{"miniredis", mr.Addr()}, {"redis-server", addr}} {
		for i, key := range []string{"state", "seen", "outbox:0-of-1", "outbox-queue:0-of-1"} {
			t.Run(fmt.Sprintf("against %s, with %s holding a string", server.name, key), func(t *testing.T) {
				ns := fmt.Sprintf("wrongtype-%d", i)
				s := openRedisStore(t, RedisOptions{URL: "redis://" + server.addr, Namespace: ns})
				client := newTestClient(t, server.addr)
				key := "{" + ns + "}:" + key
				if err := client.Set(ctx, key, "someone else's", 0).Err(); err != nil {
					t.Fatal(err)
				}
				lease := mustLock(t, s, time.Minute)
				_, err := s.Save(ctx, lease, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
				if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
					t.Errorf("Save: %v, want WRONGTYPE", err)
				}
				err = s.UpdateOutbox(ctx, lease, OutboxUpdate{Drop: []string{"x"}})
				if strings.HasPrefix(key, "outbox") && (err == nil || !strings.Contains(err.Error(), "WRONGTYPE")) {
					t.Errorf("UpdateOutbox: %v, want WRONGTYPE", err)
				}
				keys, _ := client.Keys(ctx, "{"+ns+"}:*").Result()
				slices.Sort(keys)
				if want := []string{"{" + ns + "}:lease:0-of-1", key}; !slices.Equal(keys, want) {
					t.Errorf("keys %v, want %v", keys, want)
				}
			})
		}
	}
}

// The outbox hash and its queue hold the same event IDs; when they do not
// (a hand edit, a server killed mid-script), the next Save mends them: an
// entry missing from the queue counts as the oldest, a queued ID without
// an entry goes.
func TestRedisOutboxQueueMended(t *testing.T) {
	mr := miniredis.RunT(t)
	clock := newTestClock()
	s := openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr(), Now: clock.Now})
	e, f := queued(clock.Now(), "dns:e.example", "slack"), queued(clock.Now(), "dns:f.example", "slack")
	saveOK(t, s, SaveRequest{Enqueue: []OutboxEntry{e, f}})
	if _, err := mr.ZAdd("{pingpanda}:outbox-queue:0-of-1", 1, "ghost"); err != nil {
		t.Fatal(err)
	}
	if _, err := mr.ZRem("{pingpanda}:outbox-queue:0-of-1", f.Event.ID); err != nil {
		t.Fatal(err)
	}

	res := saveOK(t, s, SaveRequest{})
	if len(res.Dropped) != 0 {
		t.Errorf("Dropped %v with no policy", res.Dropped)
	}
	members, _ := mr.ZMembers("{pingpanda}:outbox-queue:0-of-1")
	if want := []string{f.Event.ID, e.Event.ID}; !slices.Equal(members, want) {
		t.Errorf("queue %v, want %v", members, want)
	}
	res = saveOK(t, s, SaveRequest{Outbox: OutboxPolicy{MaxEntries: 1}})
	assertDropped(t, res.Dropped, DropOverflow, f)
	assertOutbox(t, loadOutbox(t, s), e)
}

func TestRedisLockSaysWhenTheLeaseFrees(t *testing.T) {
	mr := miniredis.RunT(t)
	mustLock(t, openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr()}), 90*time.Second)
	_, err := openRedisStore(t, RedisOptions{URL: "redis://" + mr.Addr()}).Lock(context.Background(), time.Minute)
	if want := "another sweep holds the lease: {pingpanda}:lease:0-of-1 is taken for another 1m30s"; err == nil || err.Error() != want {
		t.Errorf("Lock: %v, want %q", err, want)
	}
}

func mustEncode(t *testing.T, s TargetState) string {
	t.Helper()
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// commandCounter counts what a go-redis client sends through its hooks.
type commandCounter struct {
	mu    sync.Mutex
	cmds  []string
	dials int
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.mu.Lock()
		c.dials++
		c.mu.Unlock()
		return next(ctx, network, addr)
	}
}

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.cmds = append(c.cmds, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = cmd.Name()
		}
		c.mu.Lock()
		c.cmds = append(c.cmds, "pipeline("+strings.Join(names, " ")+")")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *commandCounter) take() (cmds []string, dials int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmds, dials = c.cmds, c.dials
	c.cmds, c.dials = nil, 0
	return cmds, dials
}

// A sweep is five commands whatever the number of targets and alerts, the
// architecture's promise, measured against a real server from cold (the
// server has never seen the scripts, the client has no connection): Lock,
// Load (one pipeline), Save, UpdateOutbox and Unlock, plus the one HELLO
// that opens the connection.
func TestRedisRoundTripsPerSweep(t *testing.T) {
	ctx := context.Background()
	addr, _ := startRedis(t)
	const alerts = 100
	for _, n := range []int{10, 5000} {
		t.Run(fmt.Sprintf("a sweep of %d targets and %d alerts is Lock, Load, Save, UpdateOutbox and Unlock, after one HELLO", n, alerts), func(t *testing.T) {
			ns := fmt.Sprintf("round-trips-%d", n)
			// The previous sweep left alerts in the outbox.
			var earlier []OutboxEntry
			for i := range alerts {
				earlier = append(earlier, queued(time.Now().Add(-time.Minute), fmt.Sprintf("dns:earlier-%d.example", i), "discord", "slack"))
			}
			saveOK(t, openRedisStore(t, RedisOptions{URL: "redis://" + addr, Namespace: ns}), SaveRequest{Enqueue: earlier})

			s := openRedisStore(t, RedisOptions{URL: "redis://" + addr, Namespace: ns})
			counter := &commandCounter{}
			s.client.AddHook(counter)
			states := make([]TargetState, n)
			ids := make([]string, n)
			for i := range states {
				states[i] = richState(time.Now())
				states[i].ID = fmt.Sprintf("http:https://target-%d.example/", i)
				ids[i] = states[i].ID
			}
			var fresh []OutboxEntry
			for i := range alerts {
				fresh = append(fresh, queued(time.Now(), fmt.Sprintf("dns:fresh-%d.example", i), "discord", "slack"))
			}

			lease := mustLock(t, s, time.Minute)
			loaded, err := s.Load(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded.Outbox) != alerts {
				t.Fatalf("Load: %d outbox entries, want %d", len(loaded.Outbox), alerts)
			}
			res, err := s.Save(ctx, lease, SaveRequest{
				States: states, Delete: []string{"gone"}, Retention: time.Hour,
				Enqueue: fresh, Outbox: OutboxPolicy{MaxEntries: 3 * alerts / 2, MaxAge: time.Hour},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Dropped) != alerts/2 {
				t.Errorf("Save dropped %d entries, want %d", len(res.Dropped), alerts/2)
			}
			u := OutboxUpdate{Delivered: map[string][]string{}, Failed: map[string]string{}}
			for i, e := range fresh {
				u.Delivered[e.Event.ID] = []string{"slack"}
				if i%2 == 0 {
					u.Failed[e.Event.ID] = "discord: HTTP 503"
				} else {
					u.Delivered[e.Event.ID] = append(u.Delivered[e.Event.ID], "discord")
				}
			}
			if err := s.UpdateOutbox(ctx, lease, u); err != nil {
				t.Fatal(err)
			}
			if err := s.Unlock(ctx, lease); err != nil {
				t.Fatal(err)
			}
			cmds, dials := counter.take()
			t.Logf("%d targets, %d alerts: %d round trips %v over %d connection(s)", n, alerts, len(cmds), cmds, dials)
			// Load: the records, the outbox and the silences. Save: WATCH, the
			// check, then the transaction, whose records go
			// a thousand to an HSET and a ZADD.
			txn := "pipeline(multi " + strings.Repeat("hset zadd ", (n+recordBatch-1)/recordBatch) + "eval exec)"
			want := []string{"set", "hello", "pipeline(hmget hgetall hgetall)", "watch", "pipeline(get type type type type)", txn, "eval", "eval"}
			if !slices.Equal(cmds, want) || dials != 1 {
				t.Errorf("round trips %v over %d connections, want %v over 1", cmds, dials, want)
			}

			loaded, err = s.Load(ctx, ids)
			if err != nil || len(loaded.Warnings)+len(loaded.OutboxWarnings) != 0 || len(mustFind(t, ids, loaded.States)) != n {
				t.Fatalf("Load after Save: %d records, %v, %v, %v", len(loaded.States), loaded.Warnings, loaded.OutboxWarnings, err)
			}
			assertStates(t, map[string]TargetState{ids[n-1]: loaded.States[n-1]}, states[n-1])
			if len(loaded.Outbox) != alerts {
				t.Errorf("Load after UpdateOutbox: %d outbox entries, want %d (the half of the earlier ones kept, and the fresh ones Discord failed)", len(loaded.Outbox), alerts)
			}
		})
	}
}

// Redis gone between Load and Save: Save fails promptly with an error
// that is not ErrLeaseLost (the state was not taken over, it was not
// written).
func TestRedisKilledBetweenLoadAndSave(t *testing.T) {
	addr, stop := startRedis(t)
	s := openRedisStore(t, RedisOptions{URL: "redis://" + addr})
	lease := mustLock(t, s, time.Minute)
	if _, _, err := loadStates(context.Background(), s, []string{"dns:a.example"}); err != nil {
		t.Fatal(err)
	}
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Save(ctx, lease, SaveRequest{States: []TargetState{plainState("dns:a.example")}})
	if err == nil || errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Save with the server gone: %v, want a connection error", err)
	}
	if !strings.Contains(err.Error(), "{pingpanda}:state") {
		t.Errorf("error %q does not name the key", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Save took %v", d)
	}
}

func TestRedisErrorsNeverShowThePassword(t *testing.T) {
	const password = "Sup3rS3cret"
	// What must not appear: the password, or a piece of one that a
	// misparsed URL spreads over its other parts.
	assertNoSecret := func(t *testing.T, what, text string) {
		t.Helper()
		for _, piece := range []string{password, "Sup3r", "S3cret", "12345", "67890"} {
			if strings.Contains(text, piece) {
				t.Errorf("%s shows %q: %s", what, piece, text)
			}
		}
	}

	t.Run("a malformed URL is not quoted", func(t *testing.T) {
		for _, u := range []string{
			"redis://user:Sup3r/S3cret@localhost:6379/0",
			"redis://user:Sup3r?S3cret@localhost:6379/0",
			"redis://user:Sup3r#S3cret@localhost:6379/0",
			"redis://user:12345/67890@localhost:6379/0",
			"redis://user:12345#67890@localhost:6379/0",
			"redis://user:12345?67890@localhost:6379/0",
			"redis://user:Sup3rS3cret@localhost:port/0",
			"redis://user:Sup3rS3cret@localhost:6379/zero",
			"redis://user:Sup3rS3cret@localhost:6379/0?dial_timeout=Sup3rS3cret",
			"redis://user:Sup3rS3cret@localhost:6379/0?nonsense=1",
			"redis://user:Sup3rS3cret@localhost:6379?addr=Sup3rS3cret",
			"redis://localhost:6379?master_name=m&password=Sup3rS3cret&max_retries=x",
			"http://user:Sup3rS3cret@localhost:6379",
			"redis://user:Sup3rS3cret@local\x7fhost:6379",
		} {
			_, err := NewRedisStore(context.Background(), RedisOptions{URL: u, Now: fixedClock(t0)})
			if err == nil {
				t.Errorf("%q: no error", u)
				continue
			}
			assertNoSecret(t, "error", err.Error())
		}
	})

	t.Run("String masks the password", func(t *testing.T) {
		for u, want := range map[string]string{
			"redis://user:Sup3rS3cret@localhost:6379/2":                 "redis redis://user:xxxxx@localhost:6379/2 namespace pingpanda shard 0-of-1",
			"rediss://:Sup3rS3cret@cache.example:6380":                  "redis rediss://:xxxxx@cache.example:6380 namespace pingpanda shard 0-of-1",
			"redis://sentinel:26379?master_name=m&password=Sup3rS3cret": "redis redis://sentinel:26379?master_name=m&password=xxxxx namespace pingpanda shard 0-of-1",
		} {
			s := openRedisStore(t, RedisOptions{URL: u})
			if s.String() != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
			assertNoSecret(t, "String()", s.String())
		}
	})

	t.Run("a refused connection does not show it", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s := openRedisStore(t, RedisOptions{URL: "redis://user:" + password + "@" + addr + "?max_retries=-1"})
		_, err = s.Lock(context.Background(), time.Minute)
		if err == nil {
			t.Fatal("Lock against a closed port succeeded")
		}
		assertNoSecret(t, "error", err.Error())
	})

	t.Run("a wrong password does not show it", func(t *testing.T) {
		mr := miniredis.RunT(t)
		mr.RequireUserAuth("user", "the-right-one")
		s := openRedisStore(t, RedisOptions{URL: "redis://user:" + password + "@" + mr.Addr()})
		_, err := s.Lock(context.Background(), time.Minute)
		if err == nil {
			t.Fatal("Lock with a wrong password succeeded")
		}
		assertNoSecret(t, "error", err.Error())
		t.Log(err)
	})

	t.Run("an error that would quote the password has it masked", func(t *testing.T) {
		s := openRedisStore(t, RedisOptions{URL: "redis://user:" + password + "@localhost:6379"})
		err := s.fail("lock", "k", fmt.Errorf("wrapped: %w", errors.New("server said "+password)))
		if err.Error() != "redis lock k: wrapped: server said xxxxx" {
			t.Errorf("scrubbed to %q", err)
		}
		if errors.Unwrap(err) == nil {
			t.Error("the scrubbed error unwraps to nothing")
		}
	})
}

func TestRedisURLs(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		check     func(t *testing.T, c redis.UniversalClient)
	}{
		{"a plain URL makes a client for one server, with its database and user",
			"redis://user:pw@cache.example:6380/3", func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				if o.Addr != "cache.example:6380" || o.DB != 3 || o.Username != "user" || o.Password != "pw" || o.TLSConfig != nil {
					t.Errorf("options %+v", o)
				}
				if !o.ContextTimeoutEnabled {
					t.Error("the context's deadline does not bound the commands")
				}
			}},
		{"rediss means TLS",
			"rediss://cache.example", func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.example" || o.Addr != "cache.example:6379" {
					t.Errorf("options %+v", o)
				}
			}},
		{"addr options make a Cluster client",
			"redis://node1:7000?addr=node2:7000&addr=node3:7000", func(t *testing.T, c redis.UniversalClient) {
				if _, ok := c.(*redis.ClusterClient); !ok {
					t.Errorf("client %T, want a cluster client", c)
				}
			}},
		{"master_name makes a Sentinel client",
			"redis://sentinel1:26379?master_name=mymaster&addr=sentinel2:26379", func(t *testing.T, c redis.UniversalClient) {
				if _, ok := c.(*redis.Client); !ok {
					t.Errorf("client %T, want a failover client", c)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openRedisStore(t, RedisOptions{URL: tc.url})
			if !s.owned {
				t.Error("the store does not own the client it made")
			}
			tc.check(t, s.client)
		})
	}

	t.Run("every kind of client gets the store's options", func(t *testing.T) {
		for _, raw := range []string{"redis://h:6379", "redis://n1:7000?addr=n2:7000", "redis://s1:26379?master_name=m"} {
			u, err := parseRedisURL(raw)
			if err != nil {
				t.Fatal(err)
			}
			c := u.connect()
			var deadline, noIdentity bool
			pipelinePool := -1 // a failover client's options do not say
			switch c := c.(type) {
			case *redis.Client:
				o := c.Options()
				deadline, noIdentity = o.ContextTimeoutEnabled, o.DisableIdentity
				if !strings.Contains(raw, "master_name") {
					pipelinePool = o.PipelinePoolSize
				}
			case *redis.ClusterClient:
				o := c.Options()
				deadline, noIdentity, pipelinePool = o.ContextTimeoutEnabled, o.DisableIdentity, o.PipelinePoolSize
			default:
				t.Fatalf("%s: client %T", raw, c)
			}
			if !deadline || !noIdentity || pipelinePool != -1 {
				t.Errorf("%s: context deadline %v, no CLIENT SETINFO %v, pipeline pool %d; want true, true, -1", raw, deadline, noIdentity, pipelinePool)
			}
			c.Close()
		}
	})

	t.Run("bad options are refused", func(t *testing.T) {
		for _, opts := range []RedisOptions{
			{},
			{URL: "memcached://localhost"},
			{URL: "redis://localhost", Namespace: "a{b}"},
			{URL: "redis://localhost", Shard: "{0}"},
		} {
			if _, err := NewRedisStore(context.Background(), opts); err == nil {
				t.Errorf("%+v: no error", opts)
			}
		}
	})
}

func TestRedisStoreLeavesASuppliedClientOpen(t *testing.T) {
	mr := miniredis.RunT(t)
	client := newTestClient(t, mr.Addr())
	s := openRedisStore(t, RedisOptions{Client: client, URL: "redis://:pw@" + mr.Addr()})
	if got, want := s.String(), "redis redis://:xxxxx@"+mr.Addr()+" namespace pingpanda shard 0-of-1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the supplied client was closed: %v", err)
	}
}

// beforeTxHook runs before, once, just before Save's transaction is sent:
// after Save's check of the lease and the keys' types, before its EXEC.
type beforeTxHook struct {
	before func(ctx context.Context) error
	done   bool
}

func (h *beforeTxHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *beforeTxHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *beforeTxHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !h.done && len(cmds) > 0 && cmds[0].Name() == "multi" {
			h.done = true
			if err := h.before(ctx); err != nil {
				return err
			}
		}
		return next(ctx, cmds)
	}
}

// The lease is checked, then the transaction is sent: a newer sweep that
// takes the lease in between makes the transaction write nothing.
func TestRedisSaveLosesTheLeaseBetweenCheckAndWrite(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	addr, _ := startRedis(t)
	for _, server := range []struct{ name, addr string }{{"miniredis", mr.Addr()}, {"redis-server", addr}} {
		t.Run(server.name, func(t *testing.T) {
			other := newTestClient(t, server.addr)
			const leaseKey = "{takeover}:lease:0-of-1"
			hook := &beforeTxHook{before: func(ctx context.Context) error {
				return other.Set(ctx, leaseKey, "a newer sweep", time.Minute).Err()
			}}
			client := newTestClient(t, server.addr)
			client.AddHook(hook)
			s := openRedisStore(t, RedisOptions{Client: client, Namespace: "takeover"})
			lease := mustLock(t, s, time.Minute)
			_, err := s.Save(ctx, lease, SaveRequest{
				States:  []TargetState{plainState("dns:a.example")},
				Enqueue: []OutboxEntry{queued(time.Now(), "dns:a.example", "slack")},
			})
			if !hook.done {
				t.Fatal("Save sent no transaction")
			}
			if !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("Save: %v, want ErrLeaseLost", err)
			}
			keys, _ := other.Keys(ctx, "{takeover}:*").Result()
			if want := []string{leaseKey}; !slices.Equal(keys, want) {
				t.Errorf("keys %v after a lost lease, want only %v", keys, want)
			}
		})
	}
}

// A key retyped between the check and the transaction fails its command
// while the others apply: Save says so with ErrSavedInPart, not as a save
// that wrote nothing.
func TestRedisSaveAppliedInPartSaysSo(t *testing.T) {
	ctx := context.Background()
	addr, _ := startRedis(t)
	other := newTestClient(t, addr)
	hook := &beforeTxHook{before: func(ctx context.Context) error {
		return other.Set(ctx, "{retype}:seen", "someone else's", 0).Err()
	}}
	client := newTestClient(t, addr)
	client.AddHook(hook)
	s := openRedisStore(t, RedisOptions{Client: client, Namespace: "retype"})
	lease := mustLock(t, s, time.Minute)
	st := plainState("dns:a.example")
	_, err := s.Save(ctx, lease, SaveRequest{States: []TargetState{st}})
	if !hook.done {
		t.Fatal("Save sent no transaction")
	}
	if !errors.Is(err, ErrSavedInPart) || errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Save: %v, want ErrSavedInPart with the server's WRONGTYPE", err)
	}
	if n, _ := other.HLen(ctx, "{retype}:state").Result(); n != 1 {
		t.Errorf("the state hash holds %d records, want the 1 the transaction applied", n)
	}
}
