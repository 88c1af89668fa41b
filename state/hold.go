package state

import "slices"

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
//     told of it hears it end.
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
			if j >= 0 {
				// Began and ended inside the silence: recorded, never
				// announced.
				s.Held = slices.Delete(s.Held, j, j+1)
				what[i] = Withheld
				continue
			}
			s.Held = append(s.Held, e)
			what[i] = Kept
		default:
			c := e.Kind.Condition()
			s.Held = slices.DeleteFunc(s.Held, func(h Event) bool { return !h.Kind.Resolves() && h.Kind.Condition() == c })
			s.Held = append(s.Held, e)
			what[i] = Kept
		}
	}
	if n := len(s.Held); n > maxHeld {
		s.Held = slices.Delete(s.Held, 0, n-maxHeld)
	}
	return send, what
}
