package state

import (
	"slices"

	"github.com/pingpanda/pingpanda/probe"
)

// maxHeld bounds a target's held events: one open event per condition
// and the resolutions of conditions announced before the silence, with
// room to spare.
const maxHeld = 16

// HoldOutcome says what HoldEvents did with one event.
type HoldOutcome int

// What HoldEvents does with an event.
const (
	Announced HoldOutcome = iota // announce now
	Kept                         // held until the silence ends
	Withheld                     // recorded, never announced
)

// HoldEvents applies a silence (or a maintenance window) to one target's
// new events (SPEC §10), and returns those to announce now, oldest
// first. While silenced is true, events are held in s.Held rather than
// announced:
//
//   - an event that opens a condition (down, flapping, degraded, a
//     certificate level) is held, replacing any held one of its
//     condition (a warning that became critical is announced as
//     critical);
//   - a reminder is never held: the held down says it all;
//   - a resolution (recovered, flap_resolved, degraded_resolved, cert_ok)
//     of a condition whose opening event is held drops both: the incident
//     began and ended inside the silence and is never announced; one of a
//     condition announced before the silence is held, so that whoever was
//     told of it hears it end. That includes a certificate announced as
//     cert_warning before the silence whose cert_critical is held: the
//     cert_ok replaces the held critical, which is never sent.
//
// Once silenced is false, everything held is announced first, in order,
// then the new events. Kinds not meant for people are returned as they
// are. what reports, for each event of events, what became of it.
func HoldEvents(s *TargetState, events []Event, silenced bool) (send []Event, what []HoldOutcome) {
	what = make([]HoldOutcome, len(events))
	if !silenced {
		if len(s.Held) == 0 {
			return events, what
		}
		send = append(slices.Clip(s.Held), events...)
		for i := range len(s.Held) {
			send[i].Escalates = false
		}
		s.Held = nil
		return send, what
	}
	for i, e := range events {
		switch {
		case !e.Kind.Alert():
			send = append(send, e)
		case e.Kind == KindReminder:
			what[i] = Withheld
		case e.Kind.Resolves():
			c := e.Kind.Condition()
			j := slices.IndexFunc(s.Held, func(h Event) bool {
				return !h.Kind.Resolves() && h.Kind.Condition() == c && h.Incident() == e.Incident()
			})
			switch {
			case j >= 0 && s.Held[j].Escalates:
				// It escalated a condition announced before the silence:
				// the escalation is never told, the end is.
				s.Held = slices.Delete(s.Held, j, j+1)
				s.Held = append(s.Held, e)
				what[i] = Kept
			case j >= 0:
				// Began and ended inside the silence: recorded, never
				// announced.
				s.Held = slices.Delete(s.Held, j, j+1)
				what[i] = Withheld
			default:
				s.Held = append(s.Held, e)
				what[i] = Kept
			}
		default:
			s.Held = holdOpener(s.Held, e)
			what[i] = Kept
		}
	}
	if n := len(s.Held); n > maxHeld {
		s.Held = slices.Delete(s.Held, 0, n-maxHeld)
	}
	return send, what
}

// holdOpener holds e, an event that opens a condition, in place of any
// held one of its condition. It escalates (Event.Escalates) a condition
// announced before the hold if the one it replaces did, or, with none
// held, if it is a certificate level that follows another: cert_warning
// was announced, since a held one would still be here.
func holdOpener(held []Event, e Event) []Event {
	c := e.Kind.Condition()
	e.Escalates = c == KindCertWarning && e.CertFrom != "" && e.CertFrom != string(probe.CertOK)
	held = slices.DeleteFunc(held, func(h Event) bool {
		if h.Kind.Resolves() || h.Kind.Condition() != c {
			return false
		}
		e.Escalates = h.Escalates
		return true
	})
	return append(held, e)
}
