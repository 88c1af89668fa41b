package state

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

// Policy is the configuration Apply works by.
type Policy struct {
	AlertThreshold  int           // failures in a row before a down alert (≥1)
	NotifyRecovery  bool          // announce recoveries
	RealertInterval time.Duration // remind while still down; 0 never

	FlapThreshold int           // status changes in FlapWindow that mean flapping; 0 off
	FlapWindow    time.Duration //

	Backoff          bool          // adaptive backoff and the circuit breaker
	BackoffMin       time.Duration // wait after the first failure is 2× this
	BackoffMax       time.Duration
	BreakerThreshold int // failures in a row that open the circuit
	BreakerCooldown  time.Duration

	// Retention: targets no longer configured are forgotten after this.
	Retention time.Duration
}

// maxBackoffMultiplier caps the backoff's growth (SPEC §4).
const maxBackoffMultiplier = 32

// latencyAlpha weighs the newest latency in the moving average.
const latencyAlpha = 0.3

// Due reports whether a target should be probed now. When it should not,
// note says why; when it should and its circuit is open, note says this is
// the half-open trial probe. A target in backoff is due once its wait has
// passed. A wait that reaches further into the future than the policy
// allows (the clock went backwards) is ignored.
func Due(s *TargetState, now time.Time, p Policy) (due bool, note string) {
	if !p.Backoff {
		return true, ""
	}
	if s.Circuit == Open {
		until := s.OpenedAt.Add(p.BreakerCooldown)
		if now.Before(until) && until.Sub(now) <= p.BreakerCooldown {
			return false, "circuit open until " + until.UTC().Format(time.RFC3339)
		}
		return true, "circuit half-open: one trial probe"
	}
	if now.Before(s.NextProbeAt) && s.NextProbeAt.Sub(now) <= p.BackoffMax {
		return false, fmt.Sprintf("backing off after %d failures, until %s", s.ConsecutiveFailures, s.NextProbeAt.UTC().Format(time.RFC3339))
	}
	return true, ""
}

// Apply computes the next state of every result's target, at now, and the
// events to announce or log. prev[i] is the stored state of results[i]'s
// target: the zero TargetState for a target never seen, as is a missing
// one when prev is shorter than results (or nil). next[i] is the next
// state of results[i]'s target. Apply is a pure function: prev is left as
// it was (next shares no memory it could write through), and the same
// inputs give the same outputs.
//
// Results with status skipped or unsupported, and checks the sweep deadline
// stopped before their first attempt, are not observations of the target:
// they change no counter, only the flap window's expiry. A state that is
// another target's is not carried over: that target starts afresh.
//
// A target whose Spec sets its alert policy (Spec.Alert.Threshold ≥ 1) is
// judged by that threshold, reminder interval and recovery setting, the
// rest of p applying as it is.
func Apply(prev []TargetState, results []probe.Result, now time.Time, p Policy) (next []TargetState, events []Event) {
	next = make([]TargetState, len(results))
	copy(next, prev)
	for i := range results {
		pol := &p
		var own Policy
		if spec := results[i].Target.Spec; spec != nil && spec.Alert.Threshold >= 1 {
			own = p
			own.AlertThreshold = spec.Alert.Threshold
			own.RealertInterval = spec.Alert.Realert
			own.NotifyRecovery = spec.Alert.NotifyRecovery
			pol = &own
		}
		events = applyOne(&next[i], &results[i], now, pol, events)
	}
	return next, events
}

// DueEvery reports whether a monitor probed at most every every is due at
// now. A tenth of every, at most 30 s, is forgiven, so that a sweep
// schedule's jitter does not push a probe to the sweep after. A last
// probe in the future (the clock went backwards) does not hold it back.
func DueEvery(s *TargetState, every time.Duration, now time.Time) (due bool, note string) {
	if every <= 0 || s.LastProbeAt.IsZero() || s.LastProbeAt.After(now) {
		return true, ""
	}
	next := s.LastProbeAt.Add(every)
	if !now.Before(next.Add(-min(every/10, 30*time.Second))) {
		return true, ""
	}
	return false, "not due until " + next.UTC().Format(time.RFC3339)
}

// observed reports whether a result says anything about the target.
func observed(r *probe.Result) bool {
	switch r.Status {
	case probe.StatusUp:
		return true
	case probe.StatusDown:
		return r.Attempts > 0
	}
	return false
}

// applyOne is Apply for one target: it updates *s and appends its events
// to events.
func applyOne(s *TargetState, r *probe.Result, now time.Time, p *Policy, events []Event) []Event {
	t := &r.Target
	shown := t.Shown()
	if s.ID == "" || s.Check != string(t.Check) || s.Target != shown || (t.CustomID != "" && s.ID != t.CustomID) {
		id := t.CustomID
		if id == "" {
			id = string(t.Check) + ":" + shown // t.ID(), built only when the state does not name the target already
		}
		if s.ID != id {
			*s = TargetState{} // never seen, or another target's state
		}
		s.ID = id
	}
	s.V, s.Check, s.Target, s.Name = Version, string(t.Check), shown, t.Name
	s.LastSeen = now
	if s.Status == "" {
		s.Status = Unknown
	}
	if s.Circuit == "" {
		s.Circuit = Closed
	}
	ev := eventer{s: s, now: now, events: events}
	if !observed(r) {
		if r.Status == probe.StatusUnsupported {
			s.LastError = r.Error
		}
		s.StatusChanges = inWindow(s.StatusChanges, now, p.FlapWindow)
		flapTransitions(s, &ev, p)
		return ev.events
	}

	up := r.Status == probe.StatusUp
	accountTime(s, now)
	s.Stats.Checks++
	s.LastProbeAt = now
	s.LastError = r.Error

	// Counters, status and the incident.
	newStatus := Down
	if up {
		newStatus = Up
		s.ConsecutiveSuccesses++
		s.ConsecutiveFailures = 0
		recordLatency(&s.Stats, r.Latency.Seconds())
	} else {
		s.ConsecutiveFailures++
		s.ConsecutiveSuccesses = 0
		s.Stats.Failures++
		if s.IncidentStart.IsZero() {
			s.IncidentStart = now
		}
	}
	if newStatus != s.Status {
		if s.Status != Unknown {
			// Clipped, so that the append never writes into the array the
			// previous state (Apply's input) holds.
			s.StatusChanges = append(slices.Clip(s.StatusChanges), now)
		}
		if newStatus == Down {
			s.Stats.DowntimeEvents++
		} else if s.Status == Down {
			s.Stats.Outages = append(slices.Clip(s.Stats.Outages), Outage{Start: s.IncidentStart, End: now})
			if n := len(s.Stats.Outages); n > MaxOutages {
				s.Stats.Outages = append([]Outage(nil), s.Stats.Outages[n-MaxOutages:]...)
			}
		}
		s.Status, s.Since = newStatus, now
	}
	if up {
		s.IncidentStart = time.Time{}
	}

	// Flapping first: it decides whether down/recovered are held back.
	s.StatusChanges = inWindow(s.StatusChanges, now, p.FlapWindow)
	resolved := flapTransitions(s, &ev, p)
	if !s.Flapping && !resolved {
		alertTransitions(s, &ev, p, r)
	}

	certTransitions(s, &ev, r)
	degradedTransitions(s, &ev, p, r)
	breakerTransitions(s, &ev, p, up)
	return ev.events
}

// degradedTransitions counts the up results in a row slower than
// warn_latency, raises degraded at the alert threshold and
// degraded_resolved at the first up result under it again (unless
// recoveries are not announced: notify_recovery false). A failure
// breaks the run but not the latch: the target's down and recovered
// alerts speak for that time.
func degradedTransitions(s *TargetState, ev *eventer, p *Policy, r *probe.Result) {
	switch {
	case r.Status != probe.StatusUp:
		s.ConsecutiveDegraded = 0
		if !s.Degraded {
			s.DegradedSince = time.Time{}
		}
	case !r.Degraded:
		s.ConsecutiveDegraded = 0
		if s.Degraded && p.NotifyRecovery {
			ev.add(KindDegradedResolved, s.DegradedSince, func(e *Event) {
				e.Message = "latency " + roundLatency(r.Latency) + " is back under warn_latency " + warnLatency(r)
				e.Duration = nonNegative(ev.now.Sub(s.DegradedSince))
			})
		}
		s.Degraded, s.DegradedSince = false, time.Time{}
	default:
		if s.ConsecutiveDegraded == 0 && !s.Degraded {
			s.DegradedSince = ev.now
		}
		s.ConsecutiveDegraded++
		if !s.Degraded && s.ConsecutiveDegraded >= p.AlertThreshold {
			s.Degraded = true
			n := s.ConsecutiveDegraded
			ev.add(KindDegraded, s.DegradedSince, func(e *Event) {
				e.Message = fmt.Sprintf("latency %s above warn_latency %s, %d in a row", roundLatency(r.Latency), warnLatency(r), n)
			})
		}
	}
}

// roundLatency writes a latency to the millisecond (to the microsecond
// under one).
func roundLatency(d time.Duration) string {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// warnLatency is the warn_latency r was judged by.
func warnLatency(r *probe.Result) string {
	if sp := r.Target.Spec; sp != nil && sp.HTTP != nil && sp.HTTP.WarnLatency > 0 {
		return sp.HTTP.WarnLatency.String()
	}
	return "(unset)"
}

// accountTime credits the time since the last probe to the status the
// target had then. A clock that went backwards credits nothing.
func accountTime(s *TargetState, now time.Time) {
	if s.LastProbeAt.IsZero() || !now.After(s.LastProbeAt) {
		return
	}
	d := now.Sub(s.LastProbeAt).Seconds()
	switch s.Status {
	case Up:
		s.Stats.UptimeSeconds += d
	case Down:
		s.Stats.DowntimeSeconds += d
	}
}

func recordLatency(st *Stats, sec float64) {
	if st.LatencyLast == 0 && st.LatencyMin == 0 && st.LatencyMax == 0 {
		st.LatencyMin, st.LatencyMax, st.LatencyEWMA = sec, sec, sec
	} else {
		st.LatencyMin = min(st.LatencyMin, sec)
		st.LatencyMax = max(st.LatencyMax, sec)
		st.LatencyEWMA = latencyAlpha*sec + (1-latencyAlpha)*st.LatencyEWMA
	}
	st.LatencyLast = sec
}

// inWindow keeps the times within [now-window, now]. Times after now,
// left by a clock that went backwards, are dropped too.
func inWindow(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if !t.Before(now.Add(-window)) && !t.After(now) {
			out = append(out, t)
		}
	}
	return out
}

// flapTransitions starts or ends flapping from the changes in the window.
// When flapping ends it announces the current status if it differs from the
// last one announced, and reports resolved so that the caller does not
// announce it twice.
func flapTransitions(s *TargetState, ev *eventer, p *Policy) (resolved bool) {
	if p.FlapThreshold <= 0 {
		if s.Flapping {
			s.Flapping, s.FlappingSince = false, time.Time{}
		}
		return false
	}
	n := len(s.StatusChanges)
	switch {
	case !s.Flapping && n >= p.FlapThreshold:
		s.Flapping, s.FlappingSince = true, ev.now
		ev.add(KindFlapping, ev.now, func(e *Event) {
			e.Message = fmt.Sprintf("%d status changes in %s", n, p.FlapWindow)
		})
	case s.Flapping && n < p.FlapThreshold:
		since := s.FlappingSince
		s.Flapping, s.FlappingSince = false, time.Time{}
		ev.add(KindFlapResolved, since, func(e *Event) {
			e.Message = fmt.Sprintf("%d status changes in %s", n, p.FlapWindow)
		})
		// Catch up with what flapping held back.
		latched := !s.AlertedAt.IsZero()
		switch {
		case s.Status == Down && !latched && s.ConsecutiveFailures >= p.AlertThreshold:
			ev.down(s, s.LastError)
		case s.Status == Up && latched:
			ev.recovered(s, p)
		}
		return true
	}
	return false
}

// alertTransitions raises down, reminder and recovered, with the latch.
func alertTransitions(s *TargetState, ev *eventer, p *Policy, r *probe.Result) {
	latched := !s.AlertedAt.IsZero()
	if r.Status == probe.StatusUp {
		if latched {
			ev.recovered(s, p)
		}
		return
	}
	switch {
	case !latched && s.ConsecutiveFailures >= p.AlertThreshold:
		ev.down(s, r.Error)
	case latched && p.RealertInterval > 0 && !ev.now.Before(s.LastReminderAt.Add(p.RealertInterval)):
		s.LastReminderAt = ev.now
		ev.add(KindReminder, ev.now, func(e *Event) {
			e.Since = s.IncidentStart
			e.Message = r.Error
			e.Duration = nonNegative(ev.now.Sub(s.IncidentStart))
		})
	case latched && s.LastReminderAt.After(ev.now):
		// The clock went backwards past the last reminder: restart the
		// interval from now rather than wait out the jump.
		s.LastReminderAt = ev.now
	}
}

// certTransitions announces a change of certificate level, once.
func certTransitions(s *TargetState, ev *eventer, r *probe.Result) {
	if r.TLS == nil || r.TLS.Level == "" || r.TLS.NotAfter.IsZero() {
		return
	}
	level := string(r.TLS.Level)
	prev := s.CertLevel
	s.CertLevel, s.CertDays, s.NotAfter = level, r.TLS.DaysLeft, r.TLS.NotAfter
	if level == prev || (prev == "" && r.TLS.Level == probe.CertOK) {
		return
	}
	kind := map[probe.CertLevel]Kind{
		probe.CertOK:       KindCertOK,
		probe.CertWarning:  KindCertWarning,
		probe.CertCritical: KindCertCritical,
		probe.CertExpired:  KindCertExpired,
	}[r.TLS.Level]
	if kind == "" {
		return
	}
	ev.add(kind, ev.now, func(e *Event) {
		e.CertLevel, e.DaysLeft, e.CertFrom = level, r.TLS.DaysLeft, prev
		e.Message = CertExpiryMessage(r.TLS.NotAfter, r.TLS.DaysLeft)
	})
}

// CertExpiryMessage is a certificate event's message: when the certificate
// expires or expired, and how far that is from the check, daysLeft (as
// probe.TLSDetail.DaysLeft: negative once expired). A day or more away is
// given in days to one decimal, less in whole hours (rounded down), less than an
// hour as such:
//
//	certificate expires 2026-12-15T15:00:00Z (in 21.5 days)
//	certificate expires 2026-11-24T08:00:00Z (in 5 hours)
//	certificate expires 2026-11-24T03:20:00Z (in less than an hour)
//	certificate expired less than an hour ago (2026-11-24T02:40:00Z)
//	certificate expired 2.0 days ago (2026-11-22T03:00:00Z)
//
// Zero days left is "in less than an hour": the certificate is still valid.
func CertExpiryMessage(notAfter time.Time, daysLeft float64) string {
	at := notAfter.UTC().Format(time.RFC3339)
	hours := math.Abs(daysLeft) * 24
	var span string
	switch {
	case hours >= 24:
		span = fmt.Sprintf("%.1f days", math.Abs(daysLeft))
	case hours >= 2:
		span = fmt.Sprintf("%d hours", int(hours))
	case hours >= 1:
		span = "1 hour"
	default:
		span = "less than an hour"
	}
	if daysLeft < 0 {
		return fmt.Sprintf("certificate expired %s ago (%s)", span, at)
	}
	return fmt.Sprintf("certificate expires %s (in %s)", at, span)
}

// breakerTransitions moves the circuit breaker and sets the backoff.
func breakerTransitions(s *TargetState, ev *eventer, p *Policy, up bool) {
	if !p.Backoff {
		s.Circuit, s.OpenedAt, s.BackoffMultiplier, s.NextProbeAt = Closed, time.Time{}, 0, time.Time{}
		return
	}
	wasOpen := s.Circuit == Open || s.Circuit == HalfOpen
	if up {
		if wasOpen {
			ev.add(KindCircuitClosed, s.OpenedAt, nil)
		}
		s.Circuit, s.OpenedAt, s.BackoffMultiplier, s.NextProbeAt = Closed, time.Time{}, 0, time.Time{}
		return
	}
	k := s.ConsecutiveFailures
	if k >= p.BreakerThreshold {
		s.Circuit, s.OpenedAt = Open, ev.now
		s.NextProbeAt = ev.now.Add(p.BreakerCooldown)
		ev.add(KindCircuitOpened, ev.now, func(e *Event) {
			e.Message = fmt.Sprintf("%d failures in a row; next probe after %s", k, p.BreakerCooldown)
		})
		return
	}
	mult := maxBackoffMultiplier
	if k < 6 {
		mult = min(1<<k, maxBackoffMultiplier)
	}
	s.BackoffMultiplier = mult
	s.NextProbeAt = ev.now.Add(min(time.Duration(mult)*p.BackoffMin, p.BackoffMax))
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

// eventer collects one target's events.
type eventer struct {
	s      *TargetState
	now    time.Time
	events []Event
}

// add appends an event of kind whose occurrence is identified by since.
func (ev *eventer) add(kind Kind, since time.Time, fill func(*Event)) {
	if since.IsZero() {
		since = ev.now
	}
	e := Event{
		ID:       eventID(ev.s.ID, kind, since),
		Kind:     kind,
		TargetID: ev.s.ID,
		Check:    ev.s.Check,
		Target:   ev.s.Target,
		Name:     ev.s.Name,
		At:       ev.now,
		Since:    since,
	}
	if fill != nil {
		fill(&e)
	}
	ev.events = append(ev.events, e)
}

// down latches the alert for the current incident and announces it.
func (ev *eventer) down(s *TargetState, msg string) {
	s.AlertedAt, s.LastReminderAt, s.AlertedIncident = ev.now, ev.now, s.IncidentStart
	ev.add(KindDown, s.IncidentStart, func(e *Event) { e.Message = msg })
}

// recovered clears the latch and, if the policy says so, announces the
// recovery of the latched incident, with the outage's length.
func (ev *eventer) recovered(s *TargetState, p *Policy) {
	incident := s.AlertedIncident
	if incident.IsZero() {
		incident = s.AlertedAt
	}
	s.AlertedAt, s.LastReminderAt, s.AlertedIncident = time.Time{}, time.Time{}, time.Time{}
	if !p.NotifyRecovery {
		return
	}
	ev.add(KindRecovered, incident, func(e *Event) {
		e.Duration = nonNegative(ev.now.Sub(incident))
	})
}
