package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

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
	res.Outbox = outboxAfter(req.Loaded, enq, res.Dropped)
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
