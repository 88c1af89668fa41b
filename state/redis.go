package state

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
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
	// not close it.
	Client redis.UniversalClient
	// Namespace prefixes every key, so several deployments share one
	// Redis; default "pingpanda". It must not contain braces.
	Namespace string
	// Shard names this process's share of the targets, e.g. "0-of-4";
	// default "0-of-1". Each shard has its own lease; all shards of a
	// namespace share the records, so changing the shard count loses
	// nothing.
	Shard string
	// Now is the clock for lease times and the retention; nil means
	// time.Now.
	Now func() time.Time
}

// RedisStore keeps the state in Redis. Its keys share the hash tag
// {<namespace>}, so they live in one Cluster slot and its scripts work on
// Redis Cluster:
//
//	{ns}:state          HASH    target ID → Encode(record)
//	{ns}:seen           ZSET    target ID, scored by its last save (unix ms)
//	{ns}:lease:<shard>  STRING  the lease holder's random token, with a PX expiry
//
// Every method is one command, so a sweep (Lock, Load, Save, Unlock) is
// four round trips whatever the number of targets. Save is one Lua script
// that writes only while the lease is still the caller's (the fence), then
// drops records not saved within the retention and sets both keys to
// expire after it, so an abandoned deployment disappears on its own.
//
// Errors never contain the URL's password.
type RedisStore struct {
	client  redis.UniversalClient
	owned   bool
	name    string
	secrets []string
	now     func() time.Time

	stateKey, seenKey, leaseKey string
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store on the Redis at opts.URL (or opts.Client).
// It does not contact the server: the sweep's first command, Lock, does,
// so the sweep's round trips stay at four. ctx is for what a future
// version may need to resolve before connecting; today it is unused.
func NewRedisStore(ctx context.Context, opts RedisOptions) (*RedisStore, error) {
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
	}
	if s.now == nil {
		s.now = time.Now
	}
	where := "(a client supplied by the caller)"
	if opts.URL != "" {
		c, display, secrets, err := newRedisClient(opts.URL, opts.Client == nil)
		if err != nil {
			return nil, err
		}
		where, s.secrets = display, secrets
		if opts.Client == nil {
			s.client, s.owned = c, true
		}
	}
	if s.client == nil {
		return nil, errors.New("redis store: neither a URL nor a client")
	}
	s.name = fmt.Sprintf("redis %s namespace %s shard %s", where, ns, shard)
	return s, nil
}

// newRedisClient parses a REDIS_URL and, when build is set, makes its
// client. The client lets the context's deadline bound every command, and
// opens a connection with one round trip (HELLO, which also
// authenticates) rather than go-redis' default three: it skips CLIENT
// SETINFO and the maintenance-notification handshake, which a one-sweep
// process has no use for. It returns the URL with its passwords masked, and the passwords.
// An error never quotes the URL: a malformed one may hold a password in
// any of its parts.
func newRedisClient(raw string, build bool) (redis.UniversalClient, string, []string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.User == nil && strings.Contains(raw, "@")) {
		return nil, "", nil, errors.New("redis url: not a valid URL (not shown, as it may hold a password); " +
			"percent-encode special characters in the user name and password")
	}
	display, secrets := redactURL(u)
	fail := func(err error) (redis.UniversalClient, string, []string, error) {
		return nil, "", nil, scrub(fmt.Errorf("redis url %s: %w", display, err), secrets)
	}
	q := u.Query()
	var client redis.UniversalClient
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return fail(err)
		}
		o.ContextTimeoutEnabled, o.DisableIdentity = true, true
		if build {
			client = redis.NewFailoverClient(o)
		}
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return fail(err)
		}
		o.ContextTimeoutEnabled, o.DisableIdentity = true, true
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		if build {
			client = redis.NewClusterClient(o)
		}
	default:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return fail(err)
		}
		o.ContextTimeoutEnabled, o.DisableIdentity = true, true
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		if build {
			client = redis.NewClient(o)
		}
	}
	return client, display, secrets, nil
}

// redactURL returns u with its password and any password query option
// masked, and those passwords.
func redactURL(u *url.URL) (string, []string) {
	var secrets []string
	c := *u
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
		c.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k, vs := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			for i, v := range vs {
				secrets = append(secrets, v)
				vs[i] = "xxxxx"
			}
		}
	}
	c.RawQuery = q.Encode()
	return c.String(), secrets
}

// scrubbedError is an error whose text had secrets cut out.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub masks every secret in err's text.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// String names the store for logs, with the password masked.
func (s *RedisStore) String() string { return s.name }

func (s *RedisStore) fail(op, key string, err error) error {
	return scrub(fmt.Errorf("redis %s %s: %w", op, key, err), s.secrets)
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

// Load returns the records of ids: one HMGET.
func (s *RedisStore) Load(ctx context.Context, ids []string) (map[string]TargetState, []Warning, error) {
	out := make(map[string]TargetState, len(ids))
	if len(ids) == 0 {
		return out, nil, nil
	}
	vals, err := s.client.HMGet(ctx, s.stateKey, ids...).Result()
	if err != nil {
		return nil, nil, s.fail("load", s.stateKey, err)
	}
	var warns []Warning
	for i, v := range vals {
		if raw, ok := v.(string); ok && i < len(ids) {
			warns = decodeInto(out, warns, ids[i], []byte(raw))
		}
	}
	return out, warns, nil
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
		warns = decodeInto(out, warns, id, []byte(all[id]))
	}
	return out, warns, nil
}

// leaseLost is the error saveScript returns when the lease is not the
// caller's.
const leaseLost = "LEASE_LOST"

// saveScript is Save. KEYS: lease, state, seen. ARGV: token, now (unix
// ms), retention (ms, 0 = keep), exclusive cutoff ("(<ms>"), the number of
// records n, then n pairs of id and record, then the ids to delete.
// Records go through a loop, not unpack, which fails past a few thousand
// arguments.
var saveScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return redis.error_reply('` + leaseLost + `')
end
local function holds(key, kind)
	local t = redis.call('TYPE', key)['ok']
	return t == 'none' or t == kind
end
if not holds(KEYS[2], 'hash') or not holds(KEYS[3], 'zset') then
	return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' or ' .. KEYS[3] .. ' is not a state key; nothing written')
end
local now, retention, cutoff, n = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local i = 6
for _ = 1, n do
	redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
	redis.call('ZADD', KEYS[3], now, ARGV[i])
	i = i + 2
end
for j = i, #ARGV do
	redis.call('HDEL', KEYS[2], ARGV[j])
	redis.call('ZREM', KEYS[3], ARGV[j])
end
if retention > 0 then
	local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', cutoff)
	for _, id in ipairs(old) do
		redis.call('HDEL', KEYS[2], id)
	end
	redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', cutoff)
	redis.call('PEXPIRE', KEYS[2], retention)
	redis.call('PEXPIRE', KEYS[3], retention)
end
return n
`)

// Save writes the request in one script, provided the lease is still the
// caller's; otherwise it writes nothing and returns ErrLeaseLost. Records
// not saved within req.Retention are dropped and the keys expire after it;
// a Retention of zero keeps them forever.
//
// The script checks the lease and the keys' types before it writes
// anything, but Redis does not roll a script back: a server killed halfway
// through it leaves part written.
func (s *RedisStore) Save(ctx context.Context, lease Lease, req SaveRequest) error {
	recs, err := encodeAll(req.States)
	if err != nil {
		return fmt.Errorf("save %s: %w", s.stateKey, err)
	}
	now := s.now().UnixMilli()
	retention := max(req.Retention.Milliseconds(), 0)
	args := make([]any, 0, 5+2*len(recs)+len(req.Delete))
	args = append(args, lease.Token, now, retention, "("+strconv.FormatInt(now-retention, 10), len(recs))
	for _, r := range recs {
		args = append(args, r.id, r.raw)
	}
	for _, id := range req.Delete {
		args = append(args, id)
	}
	err = saveScript.Eval(ctx, s.client, []string{s.leaseKey, s.stateKey, s.seenKey}, args...).Err()
	if redis.HasErrorPrefix(err, leaseLost) {
		return fmt.Errorf("save %s: %w", s.stateKey, ErrLeaseLost)
	}
	if err != nil {
		return s.fail("save", s.stateKey, err)
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
