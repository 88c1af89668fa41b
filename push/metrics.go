package push

import (
	"cmp"
	"slices"
	"time"

	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// Sweep is what one sweep leaves for the metrics.
type Sweep struct {
	// At is when the sweep ran; it is last_sweep_timestamp_seconds (left
	// out when zero), and the time a skipped tls target's days remaining
	// are counted from.
	At time.Time
	// Duration is how long the sweep took.
	Duration time.Duration
	// Results are this sweep's results, one per configured target of this
	// shard. Only these targets get per-target metrics: a target removed
	// from the configuration disappears from the next push.
	Results []probe.Result
	// States are the next states (after state.Apply): States[i] is the
	// state of Results[i]'s target. A target without one (States shorter
	// than Results, or a zero TargetState) gets only the metrics its
	// result alone gives.
	States []state.TargetState
	// AlertsPending is the number of messages left in the outbox after
	// delivery.
	AlertsPending int
	// Silenced[i] is when the silence or maintenance window holding
	// Results[i]'s target's alerts ends; zero (or Silenced shorter than
	// Results) when none does. It is target_silenced and
	// target_silenced_until_timestamp_seconds.
	Silenced []time.Time
	// Channels are the configured alert providers, each with what
	// delivery saw of it this sweep. Each gets alert_channel_broken and
	// alerts_rejected, zeros included; a provider named twice gets the
	// series of its first entry only. alerts_rejected is this sweep's
	// count, not a counter: a one-shot process has no total to carry on,
	// as the errors_total have in the state store.
	Channels []Channel
}

// sink receives the metrics of one sweep from target and sweepMetrics,
// which decide every value; textSink writes them for WriteText. l0 and l1
// are the values of the family's labels, in the order of family.labels;
// those past its labels are "".
type sink interface {
	add(f fam, v float64, l0, l1 string)
}

// plan is the order in which a sweep's targets get their metrics: by check,
// then by address as shown, the order in which a Prometheus registry
// gathers series, so that WriteText writes, byte for byte, what expfmt
// writes for the families a registry of the same metrics would gather. Of
// a target that appears more than once in the results,
// only the first result is in the order. A plan is about 20 bytes per
// result, and is read-only once made.
type plan struct {
	order  []int32  // indexes into the results
	shown  []string // shown[i] is Results[i].Target.Shown(), computed once
	counts [3]int   // results down, skipped (or unsupported), up
}

// Indexes of plan.counts, in the order of their label values.
const (
	countDown = iota
	countSkipped
	countUp
)

func newPlan(results []probe.Result) *plan {
	p := &plan{order: make([]int32, 0, len(results)), shown: make([]string, len(results))}
	for i := range results {
		r := &results[i]
		switch r.Status {
		case probe.StatusUp:
			p.counts[countUp]++
		case probe.StatusDown:
			p.counts[countDown]++
		default:
			p.counts[countSkipped]++
		}
		p.shown[i] = r.Target.Shown()
		p.order = append(p.order, int32(i))
	}
	// Stable, so that of equal targets the first result comes first.
	slices.SortStableFunc(p.order, func(a, b int32) int {
		return cmp.Or(cmp.Compare(results[a].Target.Check, results[b].Target.Check),
			cmp.Compare(p.shown[a], p.shown[b]))
	})
	// Series are keyed by check and shown address, not by the target's
	// ID (which may be a custom one): equal ones are now side by side.
	p.order = slices.CompactFunc(p.order, func(a, b int32) bool {
		return results[a].Target.Check == results[b].Target.Check && p.shown[a] == p.shown[b]
	})
	return p
}

// target hands k the metrics of s.Results[i]: every per-target value is
// decided here.
func (p *plan) target(k sink, s *Sweep, i int) {
	r := &s.Results[i]
	pc, ok := perCheckFamilies(r.Target.Check)
	if !ok {
		return
	}
	st, hasState := &state.TargetState{}, false
	if i < len(s.States) && s.States[i].Status != "" {
		st, hasState = &s.States[i], true
	}
	addr, check := p.shown[i], string(r.Target.Check)

	up, known := 0.0, false
	switch {
	case observed(*r):
		known = true
		if r.Status == probe.StatusUp {
			up = 1
		}
	case hasState && st.Status == state.Up:
		up, known = 1, true
	case hasState && st.Status == state.Down:
		up, known = 0, true
	}
	if known {
		if pc.legacy {
			k.add(pc.status, up, addr, "")
		}
		k.add(famTargetUp, up, check, addr)
	}
	if observed(*r) {
		k.add(famProbeDuration, r.Latency.Seconds(), check, addr)
	}

	if pc.hasResponse {
		switch {
		case hasState && st.Stats.LatencyLast > 0:
			k.add(pc.response, st.Stats.LatencyLast, addr, "")
		case !hasState && r.Status == probe.StatusUp:
			k.add(pc.response, r.Latency.Seconds(), addr, "")
		}
	}

	if r.Target.Check == probe.TLS {
		switch {
		case r.TLS != nil && !r.TLS.NotAfter.IsZero():
			k.add(famSSLDays, r.TLS.DaysLeft, addr, "")
			k.add(famSSLExpiry, unixSeconds(r.TLS.NotAfter), addr, "")
		case hasState && !st.NotAfter.IsZero():
			k.add(famSSLDays, st.NotAfter.Sub(s.At).Hours()/24, addr, "")
			k.add(famSSLExpiry, unixSeconds(st.NotAfter), addr, "")
		}
	}

	var until time.Time
	if i < len(s.Silenced) {
		until = s.Silenced[i]
	}
	k.add(famTargetSilenced, boolValue(!until.IsZero()), check, addr)
	if !until.IsZero() {
		k.add(famTargetSilencedUntil, unixSeconds(until), check, addr)
	}
	if !hasState {
		return
	}
	if pc.legacy {
		k.add(pc.errors, float64(st.Stats.Failures), addr, "")
	}
	k.add(famConsecutiveFailures, float64(st.ConsecutiveFailures), check, addr)
	k.add(famCircuitState, circuitValue(st.Circuit), check, addr)
	k.add(famFlapping, boolValue(st.Flapping), check, addr)
	// The stored latch, not this result's Degraded: the gauge rises and
	// falls with the degraded and degraded_resolved alerts.
	k.add(famTargetDegraded, boolValue(st.Degraded), check, addr)
}

// sweepMetrics hands k the metrics of the sweep as a whole; counts are the
// plan's. sweep_targets come in the order of their label values.
func sweepMetrics(k sink, s *Sweep, counts [3]int) {
	k.add(famSweepDuration, s.Duration.Seconds(), "", "")
	k.add(famAlertsPending, float64(s.AlertsPending), "", "")
	for _, c := range channelsByName(s.Channels) {
		broken := 0.0
		if c.Broken {
			broken = 1
		}
		k.add(famAlertChannelBroken, broken, c.Provider, "")
		k.add(famAlertsRejected, float64(c.Rejected), c.Provider, "")
	}
	if !s.At.IsZero() {
		k.add(famLastSweep, unixSeconds(s.At), "", "")
	}
	k.add(famSweepTargets, float64(counts[countDown]), "down", "")
	k.add(famSweepTargets, float64(counts[countSkipped]), "skipped", "")
	k.add(famSweepTargets, float64(counts[countUp]), "up", "")
}

// Channel is one alert provider's part of a sweep.
type Channel struct {
	Provider string // "discord", "slack", "teams"
	// Rejected counts the messages it refused for good (alert.ErrRejected)
	// and that were dropped.
	Rejected int
	// Broken is set when it answered that the channel is broken
	// (alert.ErrChannelBroken). Not set means not seen broken: it was
	// working, or it had nothing to deliver.
	Broken bool
}

// channelsByName is cs sorted by provider (the order a registry gathers
// their series in), without repeats, in a new slice.
func channelsByName(cs []Channel) []Channel {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b Channel) int { return cmp.Compare(a.Provider, b.Provider) })
	return slices.CompactFunc(out, func(a, b Channel) bool { return a.Provider == b.Provider })
}

// observed reports whether a result says anything about its target; it is
// state.Apply's rule, so the metrics agree with the stored state.
func observed(r probe.Result) bool {
	return r.Status == probe.StatusUp || (r.Status == probe.StatusDown && r.Attempts > 0)
}

// circuitValue is pingpanda_circuit_state's value: 0 closed (or never
// set), 1 half-open, 2 open.
func circuitValue(c state.Circuit) float64 {
	switch c {
	case state.HalfOpen:
		return 1
	case state.Open:
		return 2
	}
	return 0
}

// boolValue is a 0/1 gauge's value.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
