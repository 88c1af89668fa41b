package push

import "github.com/pingpanda/pingpanda/probe"

// fam is one metric family of the package; families describes each.
type fam uint8

// The families, in the order of their names: the order a registry gathers
// them in, and the order WriteText writes them in.
const (
	famAlertChannelBroken fam = iota
	famAlertsPending
	famAlertsRejected
	famCircuitState
	famConsecutiveFailures
	famDNSErrors
	famDNSResponse
	famDNSStatus
	famFlapping
	famLastSweep
	famPingErrors
	famPingResponse
	famPingStatus
	famProbeDuration
	famSSLDays
	famSSLErrors
	famSSLExpiry
	famSSLStatus
	famSweepDuration
	famSweepTargets
	famTargetDegraded
	famTargetSilenced
	famTargetSilencedUntil
	famTargetUp
	famWebsiteErrors
	famWebsiteResponse
	famWebsiteStatus
	numFams
)

// family describes one metric family.
type family struct {
	name, help string
	counter    bool     // a counter; else a gauge
	labels     []string // label names, in the order of their names
	perSweep   bool     // one series per sweep, not per target
	// check, when set, is the only check whose targets have series in
	// the family: WriteText passes the others by.
	check probe.Check
}

var (
	labelsCT       = []string{"check", "target"}
	labelsProvider = []string{"provider"}
	labelsDomain   = []string{"domain"}
	labelsTarget   = []string{"target"}
	labelsURL      = []string{"url"}
)

// families is read-only.
var families = [numFams]family{
	famDNSStatus:       {name: DNSStatus, help: "Whether the DNS check of the domain succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", labels: labelsDomain, check: probe.DNS},
	famDNSErrors:       {name: DNSErrorsTotal, help: "Failed DNS checks of the domain, ever (kept in the state store).", counter: true, labels: labelsDomain, check: probe.DNS},
	famDNSResponse:     {name: DNSResponse, help: "Duration of the last successful DNS query of the domain, in seconds.", labels: labelsDomain, check: probe.DNS},
	famPingStatus:      {name: PingStatus, help: "Whether the ping check of the target succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", labels: labelsTarget, check: probe.Ping},
	famPingErrors:      {name: PingErrorsTotal, help: "Failed ping checks of the target, ever (kept in the state store).", counter: true, labels: labelsTarget, check: probe.Ping},
	famPingResponse:    {name: PingResponse, help: "Round-trip time of the last successful ping of the target, in seconds.", labels: labelsTarget, check: probe.Ping},
	famWebsiteStatus:   {name: WebsiteStatus, help: "Whether the HTTP check of the URL succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", labels: labelsURL, check: probe.HTTP},
	famWebsiteErrors:   {name: WebsiteErrorsTotal, help: "Failed HTTP checks of the URL, ever (kept in the state store).", counter: true, labels: labelsURL, check: probe.HTTP},
	famWebsiteResponse: {name: WebsiteResponse, help: "Time to the response headers of the last successful HTTP check of the URL, in seconds.", labels: labelsURL, check: probe.HTTP},
	famSSLStatus:       {name: SSLStatus, help: "Whether the TLS check of host:port succeeded (1) or failed (0, including a certificate that fails verification); a target skipped this sweep keeps its last status.", labels: labelsDomain, check: probe.TLS},
	famSSLErrors:       {name: SSLErrorsTotal, help: "Failed TLS checks of host:port, ever (kept in the state store).", counter: true, labels: labelsDomain, check: probe.TLS},

	famSSLDays:             {name: SSLDaysRemaining, help: "Days until the certificate served at host:port expires; negative once expired.", labels: labelsDomain, check: probe.TLS},
	famSSLExpiry:           {name: SSLExpiryTimestamp, help: "Expiry (NotAfter) of the certificate served at host:port, in seconds since the Unix epoch.", labels: labelsTarget, check: probe.TLS},
	famTargetUp:            {name: TargetUp, help: "Whether the target's check succeeded (1) or failed (0); a target skipped this sweep keeps its last status.", labels: labelsCT},
	famProbeDuration:       {name: ProbeDuration, help: "Duration of this sweep's check of the target (the successful attempt's, else the last one's), in seconds.", labels: labelsCT},
	famConsecutiveFailures: {name: ConsecutiveFailures, help: "Failed checks of the target in a row.", labels: labelsCT},
	famCircuitState:        {name: CircuitState, help: "State of the target's circuit breaker: 0 closed, 1 half-open, 2 open.", labels: labelsCT},
	famFlapping:            {name: Flapping, help: "Whether the target is flapping (1) or not (0).", labels: labelsCT},
	famTargetSilenced:      {name: TargetSilenced, help: "Whether a silence or a maintenance window holds the target's alerts (1) or not (0): it is still probed and its state kept.", labels: labelsCT},
	famTargetSilencedUntil: {name: TargetSilencedUntil, help: "When the silence or maintenance window holding the target's alerts ends, as a Unix timestamp; absent when none holds them.", labels: labelsCT},
	famTargetDegraded:      {name: TargetDegraded, help: "Whether the target is degraded (1) or not (0): set with the degraded alert, after alert_threshold up checks in a row slower than its warn_latency, and cleared by the first up check under it; a down or skipped target keeps it.", labels: labelsCT},
	famSweepDuration:       {name: SweepDuration, help: "Duration of the last sweep, in seconds.", perSweep: true},
	famSweepTargets:        {name: SweepTargets, help: "Targets of the last sweep by result: up, down, or skipped (circuit open, backoff, or check unsupported here).", labels: []string{"result"}, perSweep: true},
	famAlertsPending:       {name: AlertsPending, help: "Alert messages not yet delivered, left in the outbox for the next sweep.", perSweep: true},
	famAlertsRejected:      {name: AlertsRejected, help: "Alert messages the provider refused for good in the last sweep (HTTP 400, 413 or 422), dropped from the outbox; see the sweep's error log.", labels: labelsProvider, perSweep: true},
	famAlertChannelBroken:  {name: AlertChannelBroken, help: "Whether the provider's webhook answered in the last sweep that it is broken (1: HTTP 401, 403, 404 or 410; fix its *_WEBHOOK_URL) or not (0); its alerts wait in the outbox.", labels: labelsProvider, perSweep: true},
	famLastSweep:           {name: LastSweepTimestamp, help: "When the last sweep ran, in seconds since the Unix epoch; alert on its age.", perSweep: true},
}

// checkFamilies are the original's families of one check kind.
type checkFamilies struct {
	// legacy is set for the original's four checks; the others (tcp)
	// have only the generic {check,target} families, and the fields
	// below are unset.
	legacy                   bool
	status, errors, response fam
	hasResponse              bool // tls has none
}

// perCheckFamilies returns the original's families of check c; ok is
// false for a check this package has no metrics for at all.
func perCheckFamilies(c probe.Check) (f checkFamilies, ok bool) {
	switch c {
	case probe.DNS:
		return checkFamilies{true, famDNSStatus, famDNSErrors, famDNSResponse, true}, true
	case probe.Ping:
		return checkFamilies{true, famPingStatus, famPingErrors, famPingResponse, true}, true
	case probe.HTTP:
		return checkFamilies{true, famWebsiteStatus, famWebsiteErrors, famWebsiteResponse, true}, true
	case probe.TLS:
		return checkFamilies{legacy: true, status: famSSLStatus, errors: famSSLErrors}, true
	case probe.TCP:
		return checkFamilies{}, true
	}
	return checkFamilies{}, false
}
