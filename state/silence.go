package state

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

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

// Active reports whether the silence applies at now: until it expires. A
// silence takes effect when set; Created is not a start: the laptop that
// set it may run ahead of the runtime that sweeps, and a silence must not
// wait out their difference.
func (s Silence) Active(now time.Time) bool {
	return now.Before(s.Expires)
}

// SilenceVersion is the encoding version of a stored silence. A silence of
// another version is left out with a warning, and left stored.
const SilenceVersion = 1

// MaxSilences is the most silences a store keeps, expired ones included
// (they go ExpiredSilencesKept after they end). AddSilence refuses one
// more with an error wrapping ErrTooManySilences.
const MaxSilences = 1000

// ExpiredSilencesKept is how long a store keeps a silence after it
// expired, for `silence list --all`: AddSilence purges those that expired
// longer than this before the new silence's Created.
const ExpiredSilencesKept = 7 * 24 * time.Hour

// ErrTooManySilences is wrapped by AddSilence when the store holds
// MaxSilences already.
var ErrTooManySilences = errors.New("too many silences")

// UnreadableSilencesError is the error of Store.Silences when some stored
// silences cannot be read (corrupt, or of another SilenceVersion): they are
// left out and named in Warnings, and Silences returns the others with
// this error. They stay stored until RemoveSilence removes them.
type UnreadableSilencesError struct {
	Warnings []Warning
}

func (e *UnreadableSilencesError) Error() string {
	msgs := make([]string, len(e.Warnings))
	for i, w := range e.Warnings {
		msgs[i] = w.Err.Error()
	}
	return fmt.Sprintf("%d stored %s unreadable: %s", len(e.Warnings), plural(len(e.Warnings), "silence is", "silences are"), strings.Join(msgs, "; "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// tooManySilences is AddSilence's error at the cap.
func tooManySilences(where string) error {
	return fmt.Errorf("add silence to %s: %w: it holds %d, the cap (MaxSilences); remove some with `pingpanda silence rm ID` (expired ones go %v after they end)",
		where, ErrTooManySilences, MaxSilences, ExpiredSilencesKept)
}

// silenceRecord is a silence as stored, in both backends. ExpiresMS
// repeats Expires (unix ms) for the Redis script, which cannot read a
// time; Go reads Expires.
type silenceRecord struct {
	V int `json:"v"`
	Silence
	ExpiresMS int64 `json:"expires_ms"`
}

// checkSilence is what AddSilence refuses.
func checkSilence(s Silence) error {
	switch {
	case s.ID == "":
		return errors.New("silence has no ID")
	case strings.TrimSpace(s.Match) == "":
		return fmt.Errorf("silence %s has no selector (Match)", s.ID)
	case s.Created.IsZero():
		return fmt.Errorf("silence %s has no creation time", s.ID)
	case !s.Expires.After(s.Created):
		return fmt.Errorf("silence %s expires at %s, not after it was created (%s)",
			s.ID, s.Expires.UTC().Format(time.RFC3339Nano), s.Created.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// encodeSilence is s as stored, its times in UTC.
func encodeSilence(s Silence) ([]byte, error) {
	if err := checkSilence(s); err != nil {
		return nil, err
	}
	s.Created, s.Expires = s.Created.UTC(), s.Expires.UTC()
	b, err := json.Marshal(silenceRecord{V: SilenceVersion, Silence: s, ExpiresMS: s.Expires.UnixMilli()})
	if err != nil {
		return nil, fmt.Errorf("encode silence %s: %w", s.ID, err)
	}
	return b, nil
}

// decodeSilence reads a stored silence; id, when not empty, is the ID it
// is stored under (a Redis hash's field), which it must have. It fails,
// never panics, on bytes that are not a silence of SilenceVersion that
// AddSilence would have stored.
func decodeSilence(id string, b []byte) (Silence, error) {
	var probe struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Silence{}, fmt.Errorf("undecodable silence: %w", err)
	}
	if probe.V == nil {
		return Silence{}, fmt.Errorf("%w: silence has no version", ErrVersion)
	}
	if *probe.V != SilenceVersion {
		return Silence{}, fmt.Errorf("%w %d of a silence (this build reads %d)", ErrVersion, *probe.V, SilenceVersion)
	}
	var r silenceRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Silence{}, fmt.Errorf("undecodable silence: %w", err)
	}
	if id != "" && r.ID != id {
		return Silence{}, fmt.Errorf("silence stored as %q is %q", id, r.ID)
	}
	if err := checkSilence(r.Silence); err != nil {
		return Silence{}, err
	}
	return r.Silence, nil
}

// storedSilenceID is the ID of a stored silence that may not decode, for
// RemoveSilence and AddSilence's replacing; "" when it has none.
func storedSilenceID(b []byte) string {
	var r struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &r) != nil {
		return ""
	}
	return r.ID
}

// unreadableSilence is the Warning of a stored silence that cannot be
// read; id is what it is stored under, or "" to take it from raw.
func unreadableSilence(id string, raw []byte, err error) Warning {
	if id == "" {
		id = storedSilenceID(raw)
	}
	if id == "" {
		return Warning{ID: "?", Err: fmt.Errorf("a stored silence without an ID left out: %w", err)}
	}
	return Warning{ID: id, Err: fmt.Errorf("silence %s left out: %w", id, err)}
}

// sortSilences orders ss by Expires, then ID.
func sortSilences(ss []Silence) {
	slices.SortFunc(ss, func(a, b Silence) int {
		return cmp.Or(a.Expires.Compare(b.Expires), strings.Compare(a.ID, b.ID))
	})
}
