package state

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
//
// Every method is one round trip (Load is one pipeline of HMGET and
// HGETALL) but Save, which is three, so a sweep (Lock, Load, Save,
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

// Lock takes the lease: SET NX PX GET with a random token of 130 bits.
// When the lease is taken, a second command asks how long it has left, for
// the error's message. It needs Redis 7.0 or later.
func (s *RedisStore) Lock(ctx context.Context, ttl time.Duration) (Lease, error) {
	if ttl < time.Millisecond {
		return Lease{}, fmt.Errorf("lock %s: ttl %v is under a millisecond", s.leaseKey, ttl)
	}
	token := rand.Text()
	now := s.now()
	// SET NX GET (Redis 7): the old value tells a lease held by another
	// sweep from our own SET, acknowledged late and retried by the client.
	old, err := s.client.SetArgs(ctx, s.leaseKey, token, redis.SetArgs{Mode: "NX", TTL: ttl, Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		err = nil // the key was free: the lease is ours
	case err == nil && old != token:
		err = ErrLocked
	}
	if err != nil && !errors.Is(err, ErrLocked) {
		return Lease{}, s.fail("lock", s.leaseKey, err)
	}
	if err != nil {
		// Only on this path, which ends the sweep: say when it frees.
		if left, err := s.client.PTTL(ctx, s.leaseKey).Result(); err == nil && left > 0 {
			return Lease{}, fmt.Errorf("%w: %s is taken for another %v", ErrLocked, s.leaseKey, left.Round(time.Millisecond))
		}
		return Lease{}, fmt.Errorf("%w: %s is taken", ErrLocked, s.leaseKey)
	}
	return Lease{Token: token, Expires: now.Add(ttl)}, nil
}

// unlockScript deletes the lease only if it is still the caller's.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// Unlock releases the lease if it is still ours; one that expired or was
// taken over is left alone.
func (s *RedisStore) Unlock(ctx context.Context, lease Lease) error {
	if lease.Token == "" {
		return nil
	}
	// Eval, not Run: Run's EVALSHA costs a second round trip whenever the
	// server has not seen the script yet (every new or restarted Redis).
	if err := unlockScript.Eval(ctx, s.client, []string{s.leaseKey}, lease.Token).Err(); err != nil {
		return s.fail("unlock", s.leaseKey, err)
	}
	return nil
}

// Load returns the records of ids and the outbox: one pipeline of HMGET
// (left out when there are no ids) and HGETALL.
func (s *RedisStore) Load(ctx context.Context, ids []string) (Loaded, error) {
	var records *redis.SliceCmd
	var outbox *redis.MapStringStringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(ids) > 0 {
			records = p.HMGet(ctx, s.stateKey, ids...)
		}
		outbox = p.HGetAll(ctx, s.outboxKey)
		return nil
	})
	if err != nil {
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
	return out, nil
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

// leaseLost is the error updateOutboxScript returns when the lease is not
// the caller's.
const leaseLost = "LEASE_LOST"

// scriptPrelude starts updateOutboxScript: the fence (KEYS[1] is the
// lease, ARGV[1] the caller's token), then a check, before anything is
// written, that the other keys are absent or of the type named in
// ARGV[2], one letter each (h hash, z zset).
const scriptPrelude = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return redis.error_reply('` + leaseLost + `')
end
local kinds = {h = 'hash', z = 'zset'}
for k = 2, #KEYS do
	local t = redis.call('TYPE', KEYS[k])['ok']
	if t ~= 'none' and t ~= kinds[string.sub(ARGV[2], k - 1, k - 1)] then
		return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is not a state key; nothing written')
	end
end
`

// outboxLua is what the scripts know of outbox entries (outboxRecord),
// kept to what Go does to them in outbox.go. KEYS[ob] and KEYS[oq] are
// the outbox hash and its queue. An entry is rewritten with cjson, which
// reorders its fields and escapes "/"; the event, a string, comes through
// as it was.
var outboxLua = `
-- entry decodes the entry stored as raw for id, or returns nil for one
-- that is absent or unreadable.
local function entry(raw, id)
	if not raw then return nil end
	local ok, e = pcall(cjson.decode, raw)
	if not ok or type(e) ~= 'table' or e.v ~= ` + strconv.Itoa(OutboxVersion) + ` or type(e.event) ~= 'string'
		or type(e.pending) ~= 'table' or #e.pending == 0 then
		return nil
	end
	local ok2, ev = pcall(cjson.decode, e.event)
	if not ok2 or type(ev) ~= 'table' or ev.id ~= id then return nil end
	return e
end
-- set and list turn a JSON array of names into a set and back, sorted.
local function set(names)
	local s = {}
	if type(names) == 'table' then
		for _, p in ipairs(names) do
			if type(p) == 'string' then s[p] = true end
		end
	end
	return s
end
local function list(s)
	local l = {}
	for p in pairs(s) do l[#l + 1] = p end
	table.sort(l)
	if #l == 0 then return nil end -- omitted: cjson writes an empty table as {}
	return l
end
local function forget(id)
	redis.call('HDEL', KEYS[ob], id)
	redis.call('ZREM', KEYS[oq], id)
end
`

// saveScript is the part of Save after the records, run inside its
// transaction. KEYS: state, seen, outbox, queue. ARGV: retention (ms, 0 =
// keep), exclusive cutoff ("(<ms>"), the number of entries to queue m, the
// outbox cap (0 = none), the outbox's exclusive age cutoff ("(<ms>", or ""
// for none), then m triples of event id, entry and score (QueuedAt, unix
// ms), then the ids to delete. Arguments go through loops, not unpack,
// which fails past a few thousand. It returns the outbox entries it
// dropped: triples of reason, id and entry ("" if the hash had none).
//
// The fence and the keys' types are checked before the transaction (see
// Save), not here: a failure inside a transaction would not undo the
// records written before it.
var saveScript = redis.NewScript(`local ob, oq = 3, 4` + outboxLua + `
local retention, cutoff = tonumber(ARGV[1]), ARGV[2]
local m, cap, agecut = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local i = 6
for _ = 1, m do
	local id, raw, score = ARGV[i], ARGV[i + 1], ARGV[i + 2]
	local cur = entry(redis.call('HGET', KEYS[ob], id), id)
	if cur then
		-- Queued already: it keeps its place and gains the new entry's
		-- pending providers, but those that delivered it.
		local pending, delivered, grew = set(cur.pending), set(cur.delivered), false
		for p in pairs(set(cjson.decode(raw).pending)) do
			if not pending[p] and not delivered[p] then
				pending[p], grew = true, true
			end
		end
		if grew then
			cur.pending = list(pending)
			redis.call('HSET', KEYS[ob], id, cjson.encode(cur))
		end
		redis.call('ZADD', KEYS[oq], 'NX', score, id)
	else
		redis.call('HSET', KEYS[ob], id, raw)
		redis.call('ZADD', KEYS[oq], score, id)
	end
	i = i + 3
end
for j = i, #ARGV do
	redis.call('HDEL', KEYS[1], ARGV[j])
	redis.call('ZREM', KEYS[2], ARGV[j])
end
if retention > 0 then
	local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff)
	for _, id in ipairs(old) do
		redis.call('HDEL', KEYS[1], id)
	end
	redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
end
-- The hash and its queue should hold the same ids; when they do not
-- (written by hand, or half written by a server killed mid-script), an
-- entry missing from the queue counts as the oldest and a queued id
-- without an entry goes. Equal counts do not prove equal sets, so this
-- looks at every id: the outbox is small (OutboxPolicy caps it).
for _, id in ipairs(redis.call('HKEYS', KEYS[ob])) do
	redis.call('ZADD', KEYS[oq], 'NX', 0, id)
end
if redis.call('HLEN', KEYS[ob]) ~= redis.call('ZCARD', KEYS[oq]) then
	for _, id in ipairs(redis.call('ZRANGE', KEYS[oq], 0, -1)) do
		if redis.call('HEXISTS', KEYS[ob], id) == 0 then
			redis.call('ZREM', KEYS[oq], id)
		end
	end
end
local dropped = {}
local function drop(ids, reason)
	for _, id in ipairs(ids) do
		dropped[#dropped + 1] = reason
		dropped[#dropped + 1] = id
		dropped[#dropped + 1] = redis.call('HGET', KEYS[ob], id) or ''
		forget(id)
	end
end
if agecut ~= '' then
	drop(redis.call('ZRANGEBYSCORE', KEYS[oq], '-inf', agecut), '` + string(DropExpired) + `')
end
if cap > 0 then
	local over = redis.call('ZCARD', KEYS[oq]) - cap
	if over > 0 then
		drop(redis.call('ZRANGE', KEYS[oq], 0, over - 1), '` + string(DropOverflow) + `')
	end
end
if retention > 0 then
	for k = 1, 4 do
		redis.call('PEXPIRE', KEYS[k], retention)
	end
end
return dropped
`)

// Save writes the request in one transaction (MULTI/EXEC), provided the
// lease is still the caller's; otherwise it writes nothing and returns
// ErrLeaseLost. Records not saved within req.Retention are dropped and the
// keys expire after it; a Retention of zero keeps them forever.
//
// It takes three round trips, whatever the number of records: WATCH of
// the lease; the lease's token and the keys' types, checked before
// anything is written; then the transaction: HSET and ZADD of the records,
// as plain commands, and saveScript for the rest. The WATCH makes the
// transaction fail, writing nothing, if the lease changed after the check
// (it expired, or a newer sweep took it). The records do not go through a
// script: at 10,000 of them, copying the arguments into Lua and back cost
// redis-server 10 ms, three times what the commands themselves cost.
//
// A key whose type another client changes between the check and the
// transaction makes that key's command fail and the others apply: Save
// then returns an error wrapping ErrSavedInPart.
func (s *RedisStore) Save(ctx context.Context, lease Lease, req SaveRequest) (SaveResult, error) {
	recs, err := encodeAll(req.States)
	if err != nil {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.stateKey, err)
	}
	clock := s.now()
	enq, err := prepareEnqueue(req.Enqueue, clock)
	if err != nil {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.outboxKey, err)
	}
	retention := max(req.Retention.Milliseconds(), 0)
	seen, cutoff := seenScore(clock.UnixMilli(), retention)
	agecut := ""
	if cutoff, ok := outboxCutoff(req.Outbox, clock); ok {
		agecut = "(" + strconv.FormatInt(cutoff, 10)
	}
	args := make([]any, 0, 5+3*len(enq)+len(req.Delete))
	args = append(args, retention, "("+strconv.FormatInt(cutoff, 10), len(enq), max(req.Outbox.MaxEntries, 0), agecut)
	for _, q := range enq {
		args = append(args, q.entry.Event.ID, q.raw, q.entry.QueuedAt.UnixMilli())
	}
	for _, id := range req.Delete {
		args = append(args, id)
	}
	keys := []string{s.stateKey, s.seenKey, s.outboxKey, s.queueKey}

	var dropped []string
	sent := false // the transaction was sent
	err = s.client.Watch(ctx, func(tx *redis.Tx) error {
		if err := s.checkSave(ctx, tx, lease, keys); err != nil {
			return err
		}
		sent = true
		var script *redis.Cmd
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			writeRecords(ctx, p, s.stateKey, s.seenKey, recs, strconv.FormatInt(seen, 10))
			script = saveScript.Eval(ctx, p, keys, args...)
			return nil
		})
		if err != nil {
			return err
		}
		dropped, err = script.StringSlice()
		return err
	}, s.leaseKey)
	var refused redis.Error
	switch {
	case errors.Is(err, ErrLeaseLost), errors.Is(err, redis.TxFailedErr):
		return SaveResult{}, fmt.Errorf("save %s: %w", s.stateKey, ErrLeaseLost)
	case sent && errors.As(err, &refused) && !redis.IsExecAbortError(err):
		// A command of the transaction failed as it ran; the others
		// were applied (a transaction is not rolled back). An EXECABORT
		// (refused as queued) applied nothing.
		return SaveResult{}, s.fail("save", s.stateKey, fmt.Errorf("%w: %w", ErrSavedInPart, err))
	case err != nil:
		return SaveResult{}, s.fail("save", s.stateKey, err)
	}
	var res SaveResult
	for i := 0; i+2 < len(dropped); i += 3 {
		res.Dropped = append(res.Dropped, droppedEntry(dropped[i+1], []byte(dropped[i+2]), DropReason(dropped[i])))
	}
	return res, nil
}

// checkSave is Save's check, in one round trip, under the WATCH of the
// lease: the lease is still lease, and keys are absent or of their types
// (hash, zset, hash, zset), so that a transaction that runs writes them
// all or nothing.
func (s *RedisStore) checkSave(ctx context.Context, tx *redis.Tx, lease Lease, keys []string) error {
	var token *redis.StringCmd
	types := make([]*redis.StatusCmd, len(keys))
	_, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
		token = p.Get(ctx, s.leaseKey)
		for i, k := range keys {
			types[i] = p.Type(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if token.Val() != lease.Token || lease.Token == "" {
		return ErrLeaseLost
	}
	for i, want := range []string{"hash", "zset", "hash", "zset"} {
		if t := types[i].Val(); t != "none" && t != want {
			return fmt.Errorf("WRONGTYPE %s is a %s, not a state key; nothing written", keys[i], t)
		}
	}
	return nil
}

// recordBatch is how many records go in one HSET and one ZADD.
const recordBatch = 1000

// writeRecords queues the HSET of the records in state and the ZADD of
// their ids, with score seen, in the seen index, a batch at a time.
func writeRecords(ctx context.Context, p redis.Pipeliner, state, seenKey string, recs []record, seen string) {
	for len(recs) > 0 {
		batch := recs[:min(len(recs), recordBatch)]
		recs = recs[len(batch):]
		h := make([]any, 0, 2+2*len(batch))
		z := make([]any, 0, 2+2*len(batch))
		h = append(h, "hset", state)
		z = append(z, "zadd", seenKey)
		for _, r := range batch {
			h = append(h, r.id, r.raw)
			z = append(z, seen, r.id)
		}
		p.Do(ctx, h...)
		p.Do(ctx, z...)
	}
}

// seenScore is the score a save at now (unix ms) gives its records in
// the seen index, and the cutoff below which a record is dropped, for a
// retention in ms (0: none). The score is now rounded up to a 64th of the
// retention (an hour when there is none, a second at least): a record's
// score then changes once in that time, not at every sweep, and ZADD of
// an unchanged score leaves the sorted set as it is, which at 10,000
// records saves redis-server most of its work (5 ms of 7 for ZADD).
// Rounded up, never down, a score is never earlier than the save that
// wrote it, whatever the retention of the save that prunes (a changed
// STATE_RETENTION_SECONDS, shards configured differently, a build before
// this one): a record goes between the retention and a 64th more after
// its last save, never before.
func seenScore(now, retention int64) (seen, cutoff int64) {
	g := retention / 64
	if retention <= 0 {
		g = time.Hour.Milliseconds()
	}
	g = max(g, time.Second.Milliseconds())
	return now + (g-now%g)%g, now - retention
}

// updateOutboxScript is UpdateOutbox. KEYS: lease, outbox, queue. ARGV:
// token, key types, the number of delivered entries d, then for each its
// event id, the number of providers k and the k providers; the number of
// failed entries f, then f pairs of event id and error; then the event
// ids to drop. Unreadable entries are only dropped, never rewritten.
var updateOutboxScript = redis.NewScript(scriptPrelude + `local ob, oq = 2, 3` + outboxLua + `
local i = 3
local d = tonumber(ARGV[i])
i = i + 1
for _ = 1, d do
	local id, k = ARGV[i], tonumber(ARGV[i + 1])
	i = i + 2
	local e = entry(redis.call('HGET', KEYS[ob], id), id)
	if e then
		local pending, delivered, changed = set(e.pending), set(e.delivered), false
		for j = i, i + k - 1 do
			if pending[ARGV[j]] then
				pending[ARGV[j]], delivered[ARGV[j]], changed = nil, true, true
			end
		end
		if changed then
			e.pending, e.delivered = list(pending), list(delivered)
			if e.pending then
				redis.call('HSET', KEYS[ob], id, cjson.encode(e))
			else
				forget(id)
			end
		end
	end
	i = i + k
end
local f = tonumber(ARGV[i])
i = i + 1
for _ = 1, f do
	local id, msg = ARGV[i], ARGV[i + 1]
	i = i + 2
	local e = entry(redis.call('HGET', KEYS[ob], id), id)
	if e then
		e.attempts, e.last_error = (tonumber(e.attempts) or 0) + 1, msg
		redis.call('HSET', KEYS[ob], id, cjson.encode(e))
	end
end
for j = i, #ARGV do
	forget(ARGV[j])
end
return 0
`)

// UpdateOutbox applies u in one script, provided the lease is still the
// caller's; otherwise it changes nothing and returns ErrLeaseLost.
func (s *RedisStore) UpdateOutbox(ctx context.Context, lease Lease, u OutboxUpdate) error {
	args := []any{lease.Token, "hz", len(u.Delivered)}
	for _, id := range sortedKeys(u.Delivered) {
		args = append(args, id, len(u.Delivered[id]))
		for _, p := range u.Delivered[id] {
			args = append(args, p)
		}
	}
	args = append(args, len(u.Failed))
	for _, id := range sortedKeys(u.Failed) {
		args = append(args, id, u.Failed[id])
	}
	for _, id := range u.Drop {
		args = append(args, id)
	}
	err := updateOutboxScript.Eval(ctx, s.client, []string{s.leaseKey, s.outboxKey, s.queueKey}, args...).Err()
	if redis.HasErrorPrefix(err, leaseLost) {
		return fmt.Errorf("update outbox %s: %w", s.outboxKey, ErrLeaseLost)
	}
	if err != nil {
		return s.fail("update outbox", s.outboxKey, err)
	}
	return nil
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
