// Package probe runs the four checks pingpanda knows — DNS resolution, ICMP
// (or TCP) ping, HTTP availability and TLS certificate expiry — against many
// targets at once. It knows nothing of state, alerts or metrics: it turns a
// list of targets into a list of results, inside a deadline.
package probe

import (
	"context"
	"time"
)

// Check names a kind of check. The string is part of every target ID, so it
// never changes.
type Check string

// The checks pingpanda runs.
const (
	DNS  Check = "dns"
	Ping Check = "ping"
	HTTP Check = "http"
	TLS  Check = "tls"
	TCP  Check = "tcp"
)

// Checks lists every check in report order.
var Checks = []Check{DNS, Ping, HTTP, TLS, TCP}

// Status is the outcome of probing one target.
type Status string

const (
	// StatusUp: the check succeeded.
	StatusUp Status = "up"
	// StatusDown: the check failed; Result.Error says why.
	StatusDown Status = "down"
	// StatusUnsupported: the check cannot run here at all (ICMP not
	// permitted, for example). It says nothing about the target, so it must
	// never be counted as the target being down; Result.Error says how to
	// fix it.
	StatusUnsupported Status = "unsupported"
	// StatusSkipped: the check was not run this sweep (its circuit is
	// open, or its backoff has not expired); Result.Error says why. The
	// runner never returns it: the sweep sets it for targets not due.
	StatusSkipped Status = "skipped"
)

// Result is what one target's check found, after all its attempts.
type Result struct {
	Target Target
	Status Status
	// Latency is the successful attempt's duration (or the last attempt's,
	// when all failed); it never includes the waits between retries.
	Latency time.Duration
	// Error is empty when Status is up.
	Error string
	// Attempts is the number of attempts made; 0 when the sweep deadline
	// passed before the first one started.
	Attempts int
	// TimedOut is set when the sweep deadline cut the check short.
	TimedOut bool
	// Degraded: up, but slower than the monitor's warn_latency. It is a
	// warning, never a failure.
	Degraded bool `json:",omitempty"`

	// At most one of these is set, matching Target.Check.
	DNS  *DNSDetail  `json:",omitempty"`
	Ping *PingDetail `json:",omitempty"`
	HTTP *HTTPDetail `json:",omitempty"`
	TLS  *TLSDetail  `json:",omitempty"`
	TCP  *TCPDetail  `json:",omitempty"`

	// final marks a failure that another attempt cannot change (ICMP not
	// permitted, a certificate that fails verification): the runner does
	// not retry it.
	final bool
}

// Prober makes one attempt at one kind of check. Probe must return promptly
// once ctx is done; the runner gives each attempt its own deadline and
// handles retries, so a Prober never retries or sleeps on its own.
type Prober interface {
	Probe(ctx context.Context, t Target) Result
}
