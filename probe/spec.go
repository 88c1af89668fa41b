package probe

import (
	"fmt"
	"regexp"
	"time"

	"github.com/itchyny/gojq"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// Spec is one monitor's own settings: how to probe it and how to judge
// what it answers. The configuration resolves every field (built-in
// default < environment < the monitors file's defaults < its group < the
// monitor), so a Spec is complete; monitors with equal settings share one
// *Spec, and nothing writes to it once built. A Target without a Spec is
// probed with its prober's and the runner's own defaults.
type Spec struct {
	// Timeout bounds one attempt; zero means the runner's for the check.
	Timeout time.Duration
	// Attempts is the number of attempts per sweep (RETRY_COUNT); zero
	// means the runner's.
	Attempts int
	// Every is the least time between two probes of the monitor; sweeps
	// in between report it skipped, not due. Zero: every sweep.
	Every time.Duration

	// Alert is how state.Apply judges a run of results.
	Alert AlertSpec
	// Labels are the monitor's labels, its group's merged in.
	Labels map[string]string
	// Group is the name of the monitors file's group the monitor is in,
	// or "".
	Group string

	// At most the one matching the target's check is set; nil means the
	// prober's defaults.
	HTTP *HTTPSpec
	TLS  *TLSSpec
	DNS  *DNSSpec
	Ping *PingSpec
	TCP  *TCPSpec

	// Secrets holds the values substituted into the spec's headers and
	// body (${NAME}, file:, ssm:, secretsmanager:). The runner erases them
	// from every result's error, so they reach no log, report, state,
	// metric or alert.
	Secrets secret.Scrubber
}

// AlertSpec is the part of a monitor's settings state.Apply works by. A
// Threshold below 1 means the sweep's policy decides all three.
type AlertSpec struct {
	// Threshold is the failures (or degraded results) in a row that raise
	// an alert (ALERT_THRESHOLD, ≥1).
	Threshold int
	// Realert is the reminder interval while down; zero never.
	Realert time.Duration
	// NotifyRecovery announces recoveries.
	NotifyRecovery bool
}

// HTTPSpec is an http monitor's request and what its answer must satisfy.
type HTTPSpec struct {
	// Method is the request's method; empty means GET.
	Method string
	// Headers are sent with the request, in order. Values may hold
	// secrets (see Spec.Secrets).
	Headers []Header
	// Body is the request's body; empty sends none.
	Body string
	// Success holds the status codes that count as up; empty means the
	// prober's (SUCCESS_HTTP_CODES).
	Success CodeSet
	// NoRedirects: a redirect is the answer, judged by its own status,
	// rather than followed.
	NoRedirects bool
	// MaxLatency: a slower answer is a failure. Zero: no limit.
	MaxLatency time.Duration
	// WarnLatency: a slower answer is up but degraded. Zero: never.
	WarnLatency time.Duration
	// Expect holds the assertions on the answer.
	Expect HTTPExpect
}

// Header is one request header.
type Header struct{ Name, Value string }

// HTTPExpect are assertions on an http answer; every one set must hold.
// The body is read up to 64 KiB for them.
type HTTPExpect struct {
	BodyContains    string
	BodyNotContains string
	BodyRegex       *regexp.Regexp
	// JSON: each path, applied to the body parsed as JSON, must give its
	// value.
	JSON []JSONExpect
	// Headers: each named response header must contain its value.
	Headers []Header
}

// NeedsBody reports whether an assertion reads the body.
func (e *HTTPExpect) NeedsBody() bool {
	return e.BodyContains != "" || e.BodyNotContains != "" || e.BodyRegex != nil || len(e.JSON) > 0
}

// TLSSpec is a tls monitor's certificate thresholds and server name.
type TLSSpec struct {
	WarnDays     float64
	CriticalDays float64
	// ServerName is sent as SNI and verified; empty means the target's host.
	ServerName string
}

// DNSSpec is a dns monitor's question and the answer it wants.
type DNSSpec struct {
	// Server is the resolver's host:port; empty means the prober's.
	Server string
	// Type is the record type asked (miekg/dns constants); zero means the
	// prober's.
	Type uint16
	// Expect lists answers that must each be among the answers, written as
	// in a zone file without the owner, TTL and class: "10 mx.example.com."
	// for MX, "192.0.2.1" for A, the text itself for TXT.
	Expect []string
	// Rcode is the response code wanted (dns.RcodeSuccess etc.); -1 means
	// NOERROR with at least one answer of the type, the default.
	Rcode int
}

// PingSpec is a ping monitor's echo count and loss limit.
type PingSpec struct {
	// Count is the echoes per attempt; zero means the prober's.
	Count int
	// MaxLoss is the highest loss, in percent, still up; below 0 means
	// any loss short of 100% (one reply is enough), the default.
	MaxLoss float64
}

// TCPSpec is a tcp monitor's exchange.
type TCPSpec struct {
	// TLS: complete a TLS handshake (verified) after connecting.
	TLS bool
	// ServerName is the TLS server name; empty means the target's host.
	ServerName string
	// Send is written once connected; empty sends nothing.
	Send string
	// Expect must appear in the first bytes read (at most 4 KiB); empty
	// means connecting (and the handshake) is enough.
	Expect string
}

// Settings returns t's spec, or an empty one for a target without.
func (t *Target) Settings() *Spec {
	if t.Spec == nil {
		return &noSpec
	}
	return t.Spec
}

var noSpec Spec

// JSONExpect is one JSON assertion: Path, a jq expression such as
// ".status" or ".items[0].state", applied to the body, must give Want.
type JSONExpect struct {
	Path string
	// Want is a JSON value as encoding/json decodes one: string, float64,
	// bool, nil, []any or map[string]any.
	Want any
	code *gojq.Code
}

// NewJSONExpect compiles path, refusing one that is not a jq expression.
func NewJSONExpect(path string, want any) (JSONExpect, error) {
	q, err := gojq.Parse(path)
	if err != nil {
		return JSONExpect{}, fmt.Errorf("%q is not a jq path: %w", path, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return JSONExpect{}, fmt.Errorf("%q is not a jq path: %w", path, err)
	}
	return JSONExpect{Path: path, Want: want, code: code}, nil
}

// TCPDetail is what a tcp check records.
type TCPDetail struct {
	// Read is the number of bytes read (at most 4 KiB) when the check
	// sends or expects anything.
	Read int
	// TLS: the connection completed a TLS handshake.
	TLS bool
}
