package state

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// tooManySilencesReply is addSilenceScript's error at the cap.
const tooManySilencesReply = "TOO_MANY_SILENCES"

// addSilenceScript is AddSilence. KEYS: silences. ARGV: the silence's ID,
// its record, its expiry (unix ms), the purge cutoff (unix ms: readable
// silences that expired before it go), MaxSilences, and the store's now
// (unix ms). It stores the silence unless the others, once purged, are
// at the cap (then it writes nothing), and sets the hash to expire when
// the last of its silences would be purged: never, while it holds one it
// cannot read (it may be a later build's).
var addSilenceScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' and t ~= 'hash' then
	return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is not a hash of silences; nothing written')
end
local id, raw, last = ARGV[1], ARGV[2], tonumber(ARGV[3])
local cutoff, cap, now = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local all = redis.call('HGETALL', KEYS[1])
local n, purge, unreadable = 0, {}, false
for i = 1, #all, 2 do
	local f = all[i]
	if f ~= id then
		local ok, s = pcall(cjson.decode, all[i + 1])
		local exp = ok and type(s) == 'table' and s.v == ` + fmt.Sprint(SilenceVersion) + ` and tonumber(s.expires_ms)
		if exp and exp < cutoff then
			purge[#purge + 1] = f
		else
			n = n + 1
			if not exp then
				unreadable = true
			elseif exp > last then
				last = exp
			end
		end
	end
end
if n >= cap then
	return redis.error_reply('` + tooManySilencesReply + `')
end
for _, f in ipairs(purge) do
	redis.call('HDEL', KEYS[1], f)
end
redis.call('HSET', KEYS[1], id, raw)
local ttl = last + ` + fmt.Sprint(ExpiredSilencesKept.Milliseconds()) + ` - now
if unreadable or ttl <= 0 then
	redis.call('PERSIST', KEYS[1])
else
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 0
`)

// AddSilence stores sl in one script (addSilenceScript).
func (s *RedisStore) AddSilence(ctx context.Context, sl Silence) error {
	raw, err := encodeSilence(sl)
	if err != nil {
		return fmt.Errorf("add silence to %s: %w", s.silencesKey, err)
	}
	cutoff := sl.Created.Add(-ExpiredSilencesKept).UnixMilli()
	err = addSilenceScript.Eval(ctx, s.client, []string{s.silencesKey},
		sl.ID, raw, sl.Expires.UnixMilli(), cutoff, MaxSilences, s.now().UnixMilli()).Err()
	if redis.HasErrorPrefix(err, tooManySilencesReply) {
		return tooManySilences(s.silencesKey)
	}
	if err != nil {
		return s.fail("add silence", s.silencesKey, err)
	}
	return nil
}

// Silences returns every stored silence: one HGETALL.
func (s *RedisStore) Silences(ctx context.Context) ([]Silence, error) {
	all, err := s.client.HGetAll(ctx, s.silencesKey).Result()
	if err != nil {
		return nil, s.fail("load", s.silencesKey, err)
	}
	out, warns := decodeSilenceHash(all)
	if len(warns) > 0 {
		return out, &UnreadableSilencesError{Warnings: warns}
	}
	return out, nil
}

// RemoveSilence removes the silence id: one HDEL.
func (s *RedisStore) RemoveSilence(ctx context.Context, id string) (bool, error) {
	n, err := s.client.HDel(ctx, s.silencesKey, id).Result()
	if err != nil {
		return false, s.fail("remove silence from", s.silencesKey, err)
	}
	return n > 0, nil
}

// decodeSilenceHash reads the silences hash, sorted.
func decodeSilenceHash(all map[string]string) ([]Silence, []Warning) {
	out := make([]Silence, 0, len(all))
	var warns []Warning
	for _, id := range sortedKeys(all) {
		sl, err := decodeSilence(id, stringBytes(all[id]))
		if err != nil {
			warns = append(warns, unreadableSilence(id, nil, err))
			continue
		}
		out = append(out, sl)
	}
	sortSilences(out)
	return out, warns
}

// loadSilences is Load's part, from the pipeline's HGETALL: a key Redis
// refuses to read as a hash (another type) is a warning, never a failed
// sweep.
func (s *RedisStore) loadSilences(cmd *redis.MapStringStringCmd) ([]Silence, []Warning) {
	if err := cmd.Err(); err != nil {
		return nil, []Warning{{ID: "*", Err: s.fail("load", s.silencesKey, fmt.Errorf("silences left out: %w", err))}}
	}
	return decodeSilenceHash(cmd.Val())
}
