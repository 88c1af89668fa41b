package push

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
}

// Registry returns a fresh registry holding the sweep's metrics. They are
// computed now, so changing s afterwards changes nothing; gathering the
// registry any number of times gives the same families.
//
// Per target (labels: the original's domain, target or url for the
// per-check metrics; check and target for the new ones; the value is
// always the normalised target address, never a display name):
//
//   - status and target_up are 1 up, 0 down. A result that says nothing
//     about the target — skipped (circuit open, backoff), unsupported (the
//     check cannot run here) or down before its first attempt (sweep
//     deadline) — reports the stored status instead, and nothing when that
//     is unknown.
//   - errors_total are counters holding the stored total of failures, so
//     they keep increasing across invocations; they are left out for a
//     target without a stored state.
//   - response_seconds is the last successful check's latency, left out
//     until there has been one.
//   - probe_duration_seconds is this sweep's latency (the successful
//     attempt's, or the last failed one's); left out when the result is not
//     an observation (see status).
//   - ssl_days_remaining and ssl_expiry_timestamp_seconds come from this
//     sweep's certificate, else from the last one stored (days then counted
//     from At).
//   - consecutive_failures, circuit_state and flapping come from the state.
//
// A target that appears twice in Results gets the metrics of its first
// result only (two would make the registry fail to gather).
//
// Per sweep: sweep_duration_seconds, alerts_pending,
// last_sweep_timestamp_seconds, and sweep_targets{result} counting the
// results by their status as the report shows it, with unsupported counted
// as skipped (the check was not made); all three results are always
// present, zero included.
func Registry(s Sweep) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(s))
	return reg
}

// collector hands out metrics computed once, from one sweep.
type collector struct {
	descs   []*prometheus.Desc
	metrics []prometheus.Metric
}

func newCollector(s Sweep) *collector {
	d := newDescs()
	c := &collector{descs: d.all()}
	b := builder{d: d, at: s.At}
	counts := map[string]int{"up": 0, "down": 0, "skipped": 0}
	seen := make(map[string]bool, len(s.Results))
	for i, r := range s.Results {
		switch r.Status {
		case probe.StatusUp, probe.StatusDown:
			counts[string(r.Status)]++
		default:
			counts["skipped"]++
		}
		id := r.Target.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		if i < len(s.States) && s.States[i].Status != "" {
			b.target(r, &s.States[i], true)
		} else {
			b.target(r, &state.TargetState{}, false)
		}
	}
	b.gauge(d.sweepDuration, s.Duration.Seconds())
	b.gauge(d.alertsPending, float64(s.AlertsPending))
	if !s.At.IsZero() {
		b.gauge(d.lastSweep, float64(s.At.UnixNano())/1e9)
	}
	for _, result := range []string{"up", "down", "skipped"} {
		b.gauge(d.sweepTargets, float64(counts[result]), result)
	}
	c.metrics = b.metrics
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- m
	}
}

// builder accumulates the const metrics of one sweep.
type builder struct {
	d       *descs
	at      time.Time
	metrics []prometheus.Metric
}

func (b *builder) gauge(d *prometheus.Desc, v float64, labels ...string) {
	b.metrics = append(b.metrics, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
}

func (b *builder) counter(d *prometheus.Desc, v float64, labels ...string) {
	b.metrics = append(b.metrics, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...))
}

// perCheck are the original's metrics of one check kind.
type perCheck struct {
	status, errors, response *prometheus.Desc // response is nil for tls
}

// observed reports whether a result says anything about its target; it is
// state.Apply's rule, so the metrics agree with the stored state.
func observed(r probe.Result) bool {
	return r.Status == probe.StatusUp || (r.Status == probe.StatusDown && r.Attempts > 0)
}

// target adds one target's metrics. st is its next state; hasState says
// whether there is one.
func (b *builder) target(r probe.Result, st *state.TargetState, hasState bool) {
	pc, ok := b.d.perCheck[r.Target.Check]
	if !ok {
		return
	}
	addr, check := r.Target.Shown(), string(r.Target.Check)

	up, known := 0.0, false
	switch {
	case observed(r):
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
		b.gauge(pc.status, up, addr)
		b.gauge(b.d.targetUp, up, check, addr)
	}
	if observed(r) {
		b.gauge(b.d.probeDuration, r.Latency.Seconds(), check, addr)
	}

	if pc.response != nil {
		switch {
		case hasState && st.Stats.LatencyLast > 0:
			b.gauge(pc.response, st.Stats.LatencyLast, addr)
		case !hasState && r.Status == probe.StatusUp:
			b.gauge(pc.response, r.Latency.Seconds(), addr)
		}
	}

	if r.Target.Check == probe.TLS {
		switch {
		case r.TLS != nil && !r.TLS.NotAfter.IsZero():
			b.gauge(b.d.sslDays, r.TLS.DaysLeft, addr)
			b.gauge(b.d.sslExpiry, unixSeconds(r.TLS.NotAfter), addr)
		case hasState && !st.NotAfter.IsZero():
			b.gauge(b.d.sslDays, st.NotAfter.Sub(b.at).Hours()/24, addr)
			b.gauge(b.d.sslExpiry, unixSeconds(st.NotAfter), addr)
		}
	}

	if !hasState {
		return
	}
	b.counter(pc.errors, float64(st.Stats.Failures), addr)
	b.gauge(b.d.consecutiveFailures, float64(st.ConsecutiveFailures), check, addr)
	b.gauge(b.d.circuitState, circuitValue(st.Circuit), check, addr)
	flapping := 0.0
	if st.Flapping {
		flapping = 1
	}
	b.gauge(b.d.flapping, flapping, check, addr)
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

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// descs describes every metric of the package.
type descs struct {
	perCheck map[probe.Check]perCheck

	sslDays, sslExpiry                                              *prometheus.Desc
	targetUp, probeDuration, consecutiveFailures, circuitState      *prometheus.Desc
	flapping, sweepDuration, sweepTargets, alertsPending, lastSweep *prometheus.Desc
}

func newDescs() *descs {
	ct := []string{"check", "target"}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &descs{
		perCheck: map[probe.Check]perCheck{
			probe.DNS: {
				status:   desc(DNSStatus, "Whether the DNS check of the domain succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", "domain"),
				errors:   desc(DNSErrorsTotal, "Failed DNS checks of the domain, ever (kept in the state store).", "domain"),
				response: desc(DNSResponse, "Duration of the last successful DNS query of the domain, in seconds.", "domain"),
			},
			probe.Ping: {
				status:   desc(PingStatus, "Whether the ping check of the target succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", "target"),
				errors:   desc(PingErrorsTotal, "Failed ping checks of the target, ever (kept in the state store).", "target"),
				response: desc(PingResponse, "Round-trip time of the last successful ping of the target, in seconds.", "target"),
			},
			probe.HTTP: {
				status:   desc(WebsiteStatus, "Whether the HTTP check of the URL succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", "url"),
				errors:   desc(WebsiteErrorsTotal, "Failed HTTP checks of the URL, ever (kept in the state store).", "url"),
				response: desc(WebsiteResponse, "Time to the response headers of the last successful HTTP check of the URL, in seconds.", "url"),
			},
			probe.TLS: {
				status: desc(SSLStatus, "Whether the TLS check of host:port succeeded (1) or failed (0, including a certificate that fails verification); a target skipped this sweep keeps its last status.", "domain"),
				errors: desc(SSLErrorsTotal, "Failed TLS checks of host:port, ever (kept in the state store).", "domain"),
			},
		},
		sslDays:             desc(SSLDaysRemaining, "Days until the certificate served at host:port expires; negative once expired.", "domain"),
		sslExpiry:           desc(SSLExpiryTimestamp, "Expiry (NotAfter) of the certificate served at host:port, in seconds since the Unix epoch.", "target"),
		targetUp:            desc(TargetUp, "Whether the target's check succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", ct...),
		probeDuration:       desc(ProbeDuration, "Duration of this sweep's check of the target (the successful attempt's, else the last one's), in seconds.", ct...),
		consecutiveFailures: desc(ConsecutiveFailures, "Failed checks of the target in a row.", ct...),
		circuitState:        desc(CircuitState, "State of the target's circuit breaker: 0 closed, 1 half-open, 2 open.", ct...),
		flapping:            desc(Flapping, "Whether the target is flapping (1) or not (0).", ct...),
		sweepDuration:       desc(SweepDuration, "Duration of the last sweep, in seconds.", nil...),
		sweepTargets:        desc(SweepTargets, "Targets of the last sweep by result: up, down, or skipped (circuit open, backoff, or check unsupported here).", "result"),
		alertsPending:       desc(AlertsPending, "Alert messages not yet delivered, left in the outbox for the next sweep.", nil...),
		lastSweep:           desc(LastSweepTimestamp, "When the last sweep ran, in seconds since the Unix epoch; alert on its age.", nil...),
	}
}

// all lists every desc, for Describe.
func (d *descs) all() []*prometheus.Desc {
	out := []*prometheus.Desc{d.sslDays, d.sslExpiry, d.targetUp, d.probeDuration,
		d.consecutiveFailures, d.circuitState, d.flapping, d.sweepDuration,
		d.sweepTargets, d.alertsPending, d.lastSweep}
	for _, c := range probe.Checks {
		pc := d.perCheck[c]
		out = append(out, pc.status, pc.errors)
		if pc.response != nil {
			out = append(out, pc.response)
		}
	}
	return out
}
