package state

import "time"

// Silence holds back the alerts of the monitors its selector matches
// until it expires (SPEC §10). It is kept in the state store, so that a
// silence set from a laptop applies to every runtime sharing the store.
type Silence struct {
	ID string `json:"id"`
	// Match is the selector as written: a target ID glob, group=NAME,
	// label:KEY=VALUE or a check name (see alert/route.ParseSelector).
	Match  string `json:"match"`
	Reason string `json:"reason"`
	// By is who set it (user@host), for `silence list`.
	By      string    `json:"by,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// Active reports whether the silence applies at now.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.Created) && now.Before(s.Expires)
}
