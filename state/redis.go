package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// RedisOptions configure a RedisStore.
type RedisOptions struct {
	// URL is REDIS_URL: redis://[user:password@]host[:port][/db] or
	// rediss:// for TLS, with go-redis' query options. An "addr" option
	// (more nodes) makes it a Cluster URL, a "master_name" option a
	// Sentinel URL, as go-redis' ParseClusterURL and ParseFailoverURL read
	// them.
	URL string
	// Client, when set, is used instead of a client built from URL (which
	// then only names the store in logs). The caller keeps it: Close does
	// not close it. Give it a negative PipelinePoolSize, or Load's pipeline
	// opens a connection of its own.
	Client redis.UniversalClient
	// Namespace prefixes every key, so several deployments share one
	// Redis; default "pingpanda". It must not contain braces.
	Namespace string
	// Shard names this process's share of the targets, e.g. "0-of-4";
	// default "0-of-1". Each shard has its own lease; all shards of a
	// namespace share the records, so changing the shard count loses
	// nothing.
	Shard string
	// Now is the sweep's clock, for lease times, the retention and the
	// outbox's age limit. It is required: a store never reads the wall
	// clock behind its caller's back.
	Now func() time.Time
}

// RedisStore keeps the state in Redis. Its keys share the hash tag
// {<namespace>}, so they live in one Cluster slot and its scripts work on
// Redis Cluster:
//
//	{ns}:state                 HASH    target ID → Encode(record)
//	{ns}:seen                  ZSET    target ID, scored by its last save (unix ms, rounded up; see seenScore)
//	{ns}:lease:<shard>         STRING  the lease holder's random token, with a PX expiry
//	{ns}:outbox:<shard>        HASH    event ID → outbox entry (JSON, with "v")
//	{ns}:outbox-queue:<shard>  ZSET    event ID, scored by its QueuedAt (unix ms)
//	{ns}:silences              HASH    silence ID → silence (JSON, with "v"), for every shard
//
// Every method is one round trip (Load is one pipeline of HMGET and two
// HGETALLs) but Save, which is three, so a sweep (Lock, Load, Save,
// UpdateOutbox, Unlock) is seven round trips whatever the number of
// targets and alerts. Save (a transaction under WATCH of the lease) and
// UpdateOutbox (a Lua script) write only while the lease is still the
// caller's (the fence). Save also drops records not saved within the
// retention, applies the OutboxPolicy, and sets the four keys to expire
// after the retention, so an abandoned deployment disappears on its own.
//
// Each shard has its own outbox, fenced by its own lease: shards sweep at
// the same time, and a shared outbox would have each deliver the others'
// alerts too. So, unlike the records, undelivered alerts of a shard that
// no longer exists (the shard count changed) are not delivered by the new
// shards; they expire with the retention.
//
// Errors never contain the URL's password.
type RedisStore struct {
	client redis.UniversalClient
	owned  bool
	name   string
	scrub  secret.Scrubber // the URL's passwords
	now    func() time.Time

	stateKey, seenKey, leaseKey string
	outboxKey, queueKey         string
	silencesKey                 string
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store on the Redis at opts.URL (or opts.Client).
// It does not contact the server: the sweep's first command, Lock, does,
// so the sweep's round trips stay at seven. ctx is for what a future
// version may need to resolve before connecting; today it is unused.
func NewRedisStore(ctx context.Context, opts RedisOptions) (*RedisStore, error) {
	if opts.Now == nil {
		return nil, errors.New("state: RedisOptions.Now (the sweep's clock) is required")
	}
	ns := cmp.Or(opts.Namespace, "pingpanda")
	shard := cmp.Or(opts.Shard, "0-of-1")
	if strings.ContainsAny(ns, "{}") {
		return nil, fmt.Errorf("state namespace %q: must not contain { or }", ns)
	}
	if strings.ContainsAny(shard, "{}") {
		return nil, fmt.Errorf("state shard %q: must not contain { or }", shard)
	}
	s := &RedisStore{
		client:   opts.Client,
		now:      opts.Now,
		stateKey: "{" + ns + "}:state",
		seenKey:  "{" + ns + "}:seen",
		leaseKey: "{" + ns + "}:lease:" + shard,

		outboxKey: "{" + ns + "}:outbox:" + shard,
		queueKey:  "{" + ns + "}:outbox-queue:" + shard,

		silencesKey: "{" + ns + "}:silences",
	}
	where := "(a client supplied by the caller)"
	if opts.URL != "" {
		u, err := parseRedisURL(opts.URL)
		if err != nil {
			return nil, err
		}
		where, s.scrub = u.shown, u.scrub
		if opts.Client == nil {
			s.client, s.owned = u.connect(), true
		}
	}
	if s.client == nil {
		return nil, errors.New("redis store: neither a URL nor a client")
	}
	s.name = fmt.Sprintf("redis %s namespace %s shard %s", where, ns, shard)
	return s, nil
}

// String names the store for logs, with the password masked.
func (s *RedisStore) String() string { return s.name }

func (s *RedisStore) fail(op, key string, err error) error {
	return s.scrub.Error(fmt.Errorf("redis %s %s: %w", op, key, err))
}

// Load returns the records of ids, the outbox and the silences: one
// pipeline of HMGET (left out when there are no ids) and two HGETALLs.
func (s *RedisStore) Load(ctx context.Context, ids []string) (Loaded, error) {
	var records *redis.SliceCmd
	var outbox, silences *redis.MapStringStringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(ids) > 0 {
			records = p.HMGet(ctx, s.stateKey, ids...)
		}
		outbox = p.HGetAll(ctx, s.outboxKey)
		silences = p.HGetAll(ctx, s.silencesKey)
		return nil
	})
	if err != nil && !silencesOnly(err, records, outbox, silences) {
		return Loaded{}, s.fail("load", s.stateKey+" and "+s.outboxKey, err)
	}
	out := Loaded{States: make([]TargetState, len(ids))}
	if records != nil {
		for i, v := range records.Val() {
			if raw, ok := v.(string); ok && i < len(ids) {
				if err := decodeAt(&out.States[i], ids[i], stringBytes(raw)); err != nil {
					out.Warnings = append(out.Warnings, Warning{ID: ids[i], Err: err})
				}
			}
		}
	}
	out.Outbox, out.OutboxWarnings = decodeOutbox(outbox.Val())
	out.Silences, out.SilenceWarnings = s.loadSilences(silences)
	return out, nil
}

// silencesOnly reports whether the pipeline's error err is the silences'
// HGETALL's alone, refused by the server (the key of another type): the
// records and the outbox were read.
func silencesOnly(err error, records *redis.SliceCmd, outbox, silences *redis.MapStringStringCmd) bool {
	var refused redis.Error
	if !errors.As(silences.Err(), &refused) || outbox.Err() != nil {
		return false
	}
	return records == nil || records.Err() == nil
}

// LoadAll returns every record: one HGETALL.
func (s *RedisStore) LoadAll(ctx context.Context) (map[string]TargetState, []Warning, error) {
	all, err := s.client.HGetAll(ctx, s.stateKey).Result()
	if err != nil {
		return nil, nil, s.fail("load", s.stateKey, err)
	}
	out := make(map[string]TargetState, len(all))
	var warns []Warning
	for _, id := range sortedKeys(all) {
		var st TargetState
		if err := decodeAt(&st, id, stringBytes(all[id])); err != nil {
			warns = append(warns, Warning{ID: id, Err: err})
			continue
		}
		out[id] = st
	}
	return out, warns, nil
}

// Close closes the client the store made; a client supplied in
// RedisOptions is left to its owner.
func (s *RedisStore) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

// SetRedisLogger sends go-redis's own log lines (reconnects, failed dials)
// to l at WARN, instead of plain text on stderr beside JSON logs. go-redis
// keeps one logger per process, so this is process-wide: call it once at
// start-up.
func SetRedisLogger(l *slog.Logger) { redis.SetLogger(redisLog{l}) }

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// stringBytes is s's bytes, without a copy, for Decode: it neither writes
// to them nor keeps them.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
