package state

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Kind is what happened to a target.
type Kind string

// Event kinds. The first group is announced to people (alerts); the second
// only logged.
const (
	KindDown         Kind = "down"
	KindReminder     Kind = "reminder"
	KindRecovered    Kind = "recovered"
	KindFlapping     Kind = "flapping"
	KindFlapResolved Kind = "flap_resolved"
	KindCertWarning  Kind = "cert_warning"
	KindCertCritical Kind = "cert_critical"
	KindCertExpired  Kind = "cert_expired"
	KindCertOK       Kind = "cert_ok"
	// KindDegraded: alert_threshold up results in a row slower than
	// warn_latency; KindDegradedResolved: the first one under it again.
	KindDegraded         Kind = "degraded"
	KindDegradedResolved Kind = "degraded_resolved"

	KindCircuitOpened Kind = "circuit_opened"
	KindCircuitClosed Kind = "circuit_closed"
)

// Alert reports whether events of this kind are announced to people; the
// others (circuit breaker transitions) are logged only.
func (k Kind) Alert() bool {
	switch k {
	case KindCircuitOpened, KindCircuitClosed:
		return false
	}
	return true
}

// Event is a change worth telling someone about.
type Event struct {
	// ID is deterministic: the same incident gives the same ID in every
	// sweep and every retry of its delivery.
	ID       string    `json:"id"`
	Kind     Kind      `json:"kind"`
	TargetID string    `json:"target_id"`
	Check    string    `json:"check"`
	Target   string    `json:"target"`
	Name     string    `json:"name,omitempty"`
	At       time.Time `json:"at"`
	// Since is when the condition began: the incident's first failure for
	// down, reminder and recovered; the start of flapping; the level
	// change for certificate events.
	Since   time.Time `json:"since"`
	Message string    `json:"message,omitempty"` // the check's error, if any
	// Duration is the outage's length, for recovered.
	Duration time.Duration `json:"duration,omitempty"`
	// CertLevel and DaysLeft describe the certificate, for cert_* events.
	CertLevel string  `json:"cert_level,omitempty"`
	DaysLeft  float64 `json:"days_left,omitempty"`
	// CertFrom is the level before the change ("" the first time a
	// level is seen), for cert_* events.
	CertFrom string `json:"cert_from,omitempty"`
	// Escalates marks a held event (TargetState.Held) that stands for a
	// condition announced before the hold began: a cert_critical held
	// after cert_warning was sent. Its resolution inside the hold is
	// then kept for whoever was told, not dropped with it.
	Escalates bool `json:"escalates,omitempty"`
	// Group and Labels are the monitor's, set by the sweep before the
	// event is routed and queued, so that a delivery in a later sweep
	// (a retry, a held event released) still carries them.
	Group  string            `json:"group,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Condition is the condition an event kind opens or closes: KindDown for
// down, reminder and recovered; KindFlapping for flapping and
// flap_resolved; KindDegraded for degraded and degraded_resolved;
// KindCertWarning for every certificate event; the kind itself otherwise.
func (k Kind) Condition() Kind {
	switch k {
	case KindDown, KindReminder, KindRecovered:
		return KindDown
	case KindFlapping, KindFlapResolved:
		return KindFlapping
	case KindDegraded, KindDegradedResolved:
		return KindDegraded
	case KindCertWarning, KindCertCritical, KindCertExpired, KindCertOK:
		return KindCertWarning
	}
	return k
}

// Resolves reports whether the kind ends its condition: recovered,
// flap_resolved, degraded_resolved, cert_ok.
func (k Kind) Resolves() bool {
	switch k {
	case KindRecovered, KindFlapResolved, KindDegradedResolved, KindCertOK, KindCircuitClosed:
		return true
	}
	return false
}

// Incident is the ID every event of one incident shares, for providers
// that keep incidents of their own (a PagerDuty dedup_key): the ID of the
// event that opened it, so down, its reminders and its recovery give the
// same one, as do flapping and its flap_resolved, degraded and its
// degraded_resolved. A target's certificate events share one per target:
// a warning that becomes critical, then expired, is one incident, closed
// by cert_ok.
func (e Event) Incident() string {
	c := e.Kind.Condition()
	if c == KindCertWarning {
		return eventID(e.TargetID, c, time.Time{})
	}
	return eventID(e.TargetID, c, e.Since)
}

// EventID is the ID of the event of kind on targetID that at identifies
// (its Since): that of a down event of an incident that began at at, say.
func EventID(targetID string, kind Kind, at time.Time) string { return eventID(targetID, kind, at) }

// eventID derives an event's ID from the target, the kind and the instant
// that identifies the occurrence.
func eventID(targetID string, kind Kind, at time.Time) string {
	h := sha256.New()
	h.Write([]byte(targetID))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(at.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(h.Sum(nil)[:12])
}
