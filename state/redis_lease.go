package state

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

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
