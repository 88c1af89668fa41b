package state

import (
	"context"
	"errors"
	"time"
)

// ErrLocked is returned by Store.Lock when another live sweep of the same
// deployment and shard holds the lease. It is not a failure: the caller
// logs it and exits 0.
var ErrLocked = errors.New("another sweep holds the lease")

// ErrLeaseLost is returned by Store.Save when the lease expired or was
// taken by a newer sweep: this sweep ran too long and must not overwrite
// what the newer one wrote.
var ErrLeaseLost = errors.New("lease lost: a newer sweep took over; state not saved")

// Lease is a held lock, proof for Save that this sweep still owns the
// deployment's shard.
type Lease struct {
	Token   string
	Expires time.Time
}

// Warning is a record that could not be read and was reset.
type Warning struct {
	ID  string // target ID
	Err error
}

// SaveRequest is everything a sweep writes, in one round trip.
type SaveRequest struct {
	// States are the targets' new records.
	States []TargetState
	// Delete lists target IDs to forget (unseen past the retention).
	Delete []string
	// Retention: records not saved for this long may be dropped by the
	// store on its own (Redis key expiry).
	Retention time.Duration
}

// Store keeps target states between processes. Every method makes one
// round trip to the backing store, whatever the number of targets. A Store
// is used by one sweep at a time; Lock keeps sweeps of the same deployment
// and shard apart.
type Store interface {
	// Lock takes the lease for ttl. It returns ErrLocked when a live
	// sweep holds it.
	Lock(ctx context.Context, ttl time.Duration) (Lease, error)
	// Load returns the records of ids that exist. A record that cannot
	// be decoded (corrupt, or of another Version) is left out and
	// reported as a Warning; the others are unaffected.
	Load(ctx context.Context, ids []string) (map[string]TargetState, []Warning, error)
	// LoadAll returns every record, for `pingpanda status`.
	LoadAll(ctx context.Context) (map[string]TargetState, []Warning, error)
	// Save writes the request atomically — all of it or none — provided
	// lease is still held; otherwise it writes nothing and returns
	// ErrLeaseLost.
	Save(ctx context.Context, lease Lease, req SaveRequest) error
	// Unlock releases the lease if it is still ours.
	Unlock(ctx context.Context, lease Lease) error
	// Close releases the store's connections or files.
	Close() error
	// String names the store for logs, without secrets.
	String() string
}
