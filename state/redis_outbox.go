package state

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

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
