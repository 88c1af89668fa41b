package state

import (
	"context"
	"errors"
	"sort"
	"time"
)

// ErrLocked is returned by Store.Lock when another live sweep of the same
// deployment and shard holds the lease. It is not a failure: the caller
// logs it and exits 0.
var ErrLocked = errors.New("another sweep holds the lease")

// ErrLeaseLost is returned by Store.Save and Store.UpdateOutbox when the
// lease expired or was taken by a newer sweep: this sweep ran too long and
// must not overwrite what the newer one wrote.
var ErrLeaseLost = errors.New("lease lost: a newer sweep took over; state not saved")

// ErrSavedInPart is wrapped by Store.Save when the store applied part of
// the save and refused the rest: a Redis key whose type another client
// changed while the save was under way, or a failure of the save's script.
// Unlike the other errors of Save, the stored state is not as it was.
var ErrSavedInPart = errors.New("saved in part: the store refused part of the save and applied the rest")

// Lease is a held lock, proof for Save and UpdateOutbox that this sweep
// still owns the deployment's shard.
type Lease struct {
	Token   string
	Expires time.Time
}

// Warning is a record that could not be read and was reset (a target's
// state) or left out (an outbox entry).
type Warning struct {
	ID  string // target ID; event ID in Loaded.OutboxWarnings
	Err error
}

// SaveRequest is everything a sweep writes, all at once.
type SaveRequest struct {
	// States are the targets' new records.
	States []TargetState
	// Delete lists target IDs to forget now. (Targets no longer configured
	// need no listing: the store drops records unsaved for Retention.)
	Delete []string
	// Retention: records not saved for this long may be dropped by the
	// store on its own (Redis key expiry).
	Retention time.Duration
	// Enqueue adds events to the alert outbox. An event already queued
	// is not queued twice: the queued entry stays as it is (its place,
	// attempts and error) and gains the new entry's pending providers,
	// except those that delivered it already. An entry without an event
	// ID or without a pending provider is refused, and nothing is written.
	Enqueue []OutboxEntry
	// Outbox bounds the outbox, enforced after Enqueue; Save returns what
	// it dropped.
	Outbox OutboxPolicy
	// Loaded is the outbox as this sweep's Load returned it (under the
	// same lease, so unchanged since); Save returns it updated
	// (SaveResult.Outbox).
	Loaded []OutboxEntry
}

// Store keeps target states and the alert outbox between processes. Every
// method makes a fixed number of round trips to the backing store,
// whatever the number of targets and alerts: one, but three for a Redis
// Save (see RedisStore.Save), and Lock may make a second one when it
// fails. A Store
// is used by one sweep at a time; Lock keeps sweeps of the same deployment
// and shard apart.
type Store interface {
	// Lock takes the lease for ttl. It returns ErrLocked when a live
	// sweep holds it.
	Lock(ctx context.Context, ttl time.Duration) (Lease, error)
	// Load returns the records of ids that exist, the whole alert
	// outbox, oldest first, and every silence, in the same round trip. A
	// record, an entry or a silence that cannot be decoded (corrupt, or
	// of another version) is left out and reported as a Warning; the
	// others are unaffected.
	Load(ctx context.Context, ids []string) (Loaded, error)
	// LoadAll returns every record, for `pingpanda status`.
	LoadAll(ctx context.Context) (map[string]TargetState, []Warning, error)
	// Save writes the request atomically — all of it or none — provided
	// lease is still held; otherwise it writes nothing and returns
	// ErrLeaseLost. It then applies req.Outbox and returns the entries it
	// dropped, for the caller to log.
	Save(ctx context.Context, lease Lease, req SaveRequest) (SaveResult, error)
	// UpdateOutbox records a delivery round (OutboxUpdate), atomically,
	// provided lease is still held; otherwise it changes nothing and
	// returns ErrLeaseLost.
	UpdateOutbox(ctx context.Context, lease Lease, u OutboxUpdate) error
	// AddSilence stores s, replacing a silence of the same ID. It needs
	// no lease: a silence is added from a laptop while sweeps run, and no
	// sweep's Save loses it. It refuses a silence without an ID or a
	// Match, or whose Expires is not after its Created; it purges the
	// silences that expired more than ExpiredSilencesKept before
	// s.Created; and it refuses one more than MaxSilences with an error
	// wrapping ErrTooManySilences.
	AddSilence(ctx context.Context, s Silence) error
	// Silences returns every stored silence, expired ones included, by
	// Expires then ID. When some cannot be read it returns the others
	// with an *UnreadableSilencesError naming them.
	Silences(ctx context.Context) ([]Silence, error)
	// RemoveSilence removes the silence id, readable or not; false when
	// there is no such silence. It needs no lease.
	RemoveSilence(ctx context.Context, id string) (bool, error)
	// Unlock releases the lease if it is still ours.
	Unlock(ctx context.Context, lease Lease) error
	// Close releases the store's connections or files.
	Close() error
	// String names the store for logs, without secrets.
	String() string
}

// sortedKeys is m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
