// Package state is what pingpanda remembers between sweeps: per target, its
// up/down status, failure counters, alert latch, circuit breaker, backoff,
// flap window, certificate level and statistics. Apply turns the previous
// state and a sweep's results into the next state and the events to
// announce; a Store keeps the state (Redis, or a local file) between
// processes.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the encoding version of the TargetState records Encode
// writes (see record.go); Decode also reads version 1. A record of another
// version is not guessed at: it is reset with a warning.
const Version = 2

// Status is a target's last known state.
type Status string

// Target statuses.
const (
	Unknown Status = "unknown" // never probed
	Up      Status = "up"
	Down    Status = "down"
)

// Circuit is the state of a target's circuit breaker.
type Circuit string

// Circuit breaker states. A closed circuit probes as usual; an open one
// skips the target until its cooldown ends; then one half-open probe
// decides: success closes it, failure opens it again.
const (
	Closed   Circuit = "closed"
	Open     Circuit = "open"
	HalfOpen Circuit = "half_open"
)

// TargetState is everything remembered about one target. Times are
// wall-clock; nothing counts sweeps. The zero value is a target never seen.
type TargetState struct {
	V      int    `json:"v"`
	ID     string `json:"id"`
	Check  string `json:"check"`
	Target string `json:"target"`
	Name   string `json:"name,omitempty"`

	Status Status    `json:"status"`
	Since  time.Time `json:"since,omitzero"`

	ConsecutiveFailures  int `json:"consecutive_failures"`
	ConsecutiveSuccesses int `json:"consecutive_successes"`
	// IncidentStart is the first failure of the current run of failures;
	// zero while up. Event IDs of an incident derive from it.
	IncidentStart time.Time `json:"incident_start,omitzero"`

	// AlertedAt latches a down alert: set when it is sent, cleared on
	// recovery. LastReminderAt is the last down or reminder alert.
	AlertedAt      time.Time `json:"alerted_at,omitzero"`
	LastReminderAt time.Time `json:"last_reminder_at,omitzero"`
	// AlertedIncident is the IncidentStart of the latched alert, so that
	// its recovery carries the same incident.
	AlertedIncident time.Time `json:"alerted_incident,omitzero"`

	Circuit  Circuit   `json:"circuit,omitempty"`
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// BackoffMultiplier is the current backoff's factor of the minimum
	// wait (capped at 32); NextProbeAt the earliest time of the next probe.
	BackoffMultiplier int       `json:"backoff_multiplier,omitempty"`
	NextProbeAt       time.Time `json:"next_probe_at,omitzero"`

	// StatusChanges are the times of up↔down changes inside the flap
	// window, oldest first.
	StatusChanges []time.Time `json:"status_changes,omitempty"`
	Flapping      bool        `json:"flapping,omitempty"`
	FlappingSince time.Time   `json:"flapping_since,omitzero"`

	// ConsecutiveDegraded counts the up results in a row slower than the
	// monitor's warn_latency; DegradedSince is the first of them (zero
	// when the last result was not degraded). Degraded latches the
	// degraded event, cleared with degraded_resolved.
	ConsecutiveDegraded int       `json:"consecutive_degraded,omitempty"`
	DegradedSince       time.Time `json:"degraded_since,omitzero"`
	Degraded            bool      `json:"degraded,omitempty"`

	// CertLevel is the last certificate level seen (tls checks).
	CertLevel string    `json:"cert_level,omitempty"`
	CertDays  float64   `json:"cert_days,omitempty"`
	NotAfter  time.Time `json:"not_after,omitzero"`

	Stats Stats `json:"stats"`

	// Held are the events a silence or a maintenance window holds back,
	// oldest first, until it ends (see Hold).
	Held []Event `json:"held,omitempty"`

	LastError   string    `json:"last_error,omitempty"`
	LastProbeAt time.Time `json:"last_probe_at,omitzero"`
	// LastSeen is the last sweep that had the target in its
	// configuration; targets unseen for the retention period are dropped.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// Stats are a target's running statistics.
type Stats struct {
	Checks          int64    `json:"checks"`
	Failures        int64    `json:"failures"`
	UptimeSeconds   float64  `json:"uptime_seconds"`
	DowntimeSeconds float64  `json:"downtime_seconds"`
	DowntimeEvents  int64    `json:"downtime_events"`
	Outages         []Outage `json:"outages,omitempty"` // the last MaxOutages, oldest first
	// Latencies of successful checks, in seconds.
	LatencyLast float64 `json:"latency_last"`
	LatencyMin  float64 `json:"latency_min"`
	LatencyMax  float64 `json:"latency_max"`
	LatencyEWMA float64 `json:"latency_ewma"`
}

// Outage is one period a target was down.
type Outage struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// MaxOutages is how many past outages a target keeps.
const MaxOutages = 10

// Availability is the share of observed time the target was up, 0–100,
// or -1 when nothing has been observed yet.
func (s Stats) Availability() float64 {
	total := s.UptimeSeconds + s.DowntimeSeconds
	if total <= 0 {
		return -1
	}
	return 100 * s.UptimeSeconds / total
}

// TimeAt is the target's up and down seconds as the store knows them at
// now: the time credited so far, plus the time since the last probe,
// credited to the status the target has had since (Apply credits it only
// at the next probe).
func (s *TargetState) TimeAt(now time.Time) (up, down float64) {
	up, down = s.Stats.UptimeSeconds, s.Stats.DowntimeSeconds
	if s.LastProbeAt.IsZero() || !now.After(s.LastProbeAt) {
		return up, down
	}
	switch d := now.Sub(s.LastProbeAt).Seconds(); s.Status {
	case Up:
		up += d
	case Down:
		down += d
	}
	return up, down
}

// AvailabilityAt is the share of the target's known time it was up at
// now, 0–100 (see TimeAt). A target with checks but no time in a known
// status (it has only failed, below the alert threshold) counts its
// checks instead. It is -1 when nothing has been observed.
func (s *TargetState) AvailabilityAt(now time.Time) float64 {
	if up, down := s.TimeAt(now); up+down > 0 {
		return 100 * up / (up + down)
	}
	if s.Stats.Checks > 0 {
		return 100 * float64(s.Stats.Checks-s.Stats.Failures) / float64(s.Stats.Checks)
	}
	return -1
}

// ErrVersion is wrapped by Decode for a record of another encoding version.
var ErrVersion = errors.New("unsupported state version")

// Decode reads a stored record of version 1 or 2. It fails, never panics,
// on bytes that are not such a record. The state it returns has V set to
// Version whatever the version read: it is written as Version when next
// saved.
func Decode(b []byte) (TargetState, error) {
	var s TargetState
	if err := decodeRecordInto(&s, b, ""); err != nil {
		return TargetState{}, err
	}
	return s, nil
}

// decodeRecordInto is Decode into *dst, of the record stored under id: a
// version 2 record of that id shares id's string rather than allocate its
// own. On an error *dst holds part of the record.
func decodeRecordInto(dst *TargetState, b []byte, id string) error {
	if t := bytes.TrimLeft(b, " \t\n\r"); len(t) > 0 && t[0] == '[' {
		return decodeRecordV2(dst, t, id)
	}
	s, err := decodeRecordJSON(b)
	if err != nil {
		return err
	}
	s.V = Version
	*dst = s
	return nil
}

// decodeRecordJSON reads a version 1 record: a JSON object.
func decodeRecordJSON(b []byte) (TargetState, error) {
	// One pass for the usual record of this version; a second, to say
	// precisely what is wrong, only for the others.
	var s TargetState
	if err := json.Unmarshal(b, &s); err == nil && s.V == versionJSON {
		return s, nil
	}
	var probe struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return TargetState{}, fmt.Errorf("undecodable record: %w", err)
	}
	if probe.V == nil {
		return TargetState{}, fmt.Errorf("%w: record has no version", ErrVersion)
	}
	if *probe.V != versionJSON {
		return TargetState{}, fmt.Errorf("%w %d in a JSON object (this build reads %d, and %d as an array)", ErrVersion, *probe.V, versionJSON, Version)
	}
	s = TargetState{}
	if err := json.Unmarshal(b, &s); err != nil {
		return TargetState{}, fmt.Errorf("undecodable record: %w", err)
	}
	return s, nil
}
