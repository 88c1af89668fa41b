// Package push turns a sweep into Prometheus metrics and hands them to an
// outlet: a Pushgateway, a node_exporter textfile, or the /metrics endpoint
// of serve mode. The outlets write the text format straight from the sweep
// (WriteText), family by family, without building the metrics.
package push

// Metric names. The original's names come first, unchanged, so existing
// dashboards keep working; the new ones follow.
const (
	DNSStatus          = "pingpanda_dns_status"               // {domain} 1 up, 0 down
	PingStatus         = "pingpanda_ping_status"              // {target}
	WebsiteStatus      = "pingpanda_website_status"           // {url}
	SSLStatus          = "pingpanda_ssl_status"               // {domain}
	SSLDaysRemaining   = "pingpanda_ssl_days_remaining"       // {domain}
	DNSErrorsTotal     = "pingpanda_dns_errors_total"         // {domain}, from the state store
	PingErrorsTotal    = "pingpanda_ping_errors_total"        // {target}
	WebsiteErrorsTotal = "pingpanda_website_errors_total"     // {url}
	SSLErrorsTotal     = "pingpanda_ssl_errors_total"         // {domain}
	DNSResponse        = "pingpanda_dns_response_seconds"     // {domain}, last latency
	PingResponse       = "pingpanda_ping_response_seconds"    // {target}
	WebsiteResponse    = "pingpanda_website_response_seconds" // {url}

	TargetUp            = "pingpanda_target_up"                               // {check,target}
	ProbeDuration       = "pingpanda_probe_duration_seconds"                  // {check,target}
	ConsecutiveFailures = "pingpanda_consecutive_failures"                    // {check,target}
	CircuitState        = "pingpanda_circuit_state"                           // {check,target} 0 closed, 1 half-open, 2 open
	Flapping            = "pingpanda_flapping"                                // {check,target}
	TargetDegraded      = "pingpanda_target_degraded"                         // {check,target} 1 degraded (the stored latch), 0 not
	TargetSilenced      = "pingpanda_target_silenced"                         // {check,target} 1 its alerts are held (silence, maintenance), 0 not
	TargetSilencedUntil = "pingpanda_target_silenced_until_timestamp_seconds" // {check,target} when the hold ends
	SSLExpiryTimestamp  = "pingpanda_ssl_expiry_timestamp_seconds"            // {target}
	SweepDuration       = "pingpanda_sweep_duration_seconds"                  //
	SweepTargets        = "pingpanda_sweep_targets"                           // {result="up|down|skipped"}
	AlertsPending       = "pingpanda_alerts_pending"                          //
	AlertsRejected      = "pingpanda_alerts_rejected"                         // {provider}, this sweep's
	AlertChannelBroken  = "pingpanda_alert_channel_broken"                    // {provider} 1 broken, 0 not seen broken
	LastSweepTimestamp  = "pingpanda_last_sweep_timestamp_seconds"            //
)

// MetricNames lists every metric this package exports.
func MetricNames() []string {
	return []string{
		DNSStatus, PingStatus, WebsiteStatus, SSLStatus, SSLDaysRemaining,
		DNSErrorsTotal, PingErrorsTotal, WebsiteErrorsTotal, SSLErrorsTotal,
		DNSResponse, PingResponse, WebsiteResponse,
		TargetUp, ProbeDuration, ConsecutiveFailures, CircuitState, Flapping, TargetDegraded, TargetSilenced, TargetSilencedUntil,
		SSLExpiryTimestamp, SweepDuration, SweepTargets, AlertsPending, AlertsRejected, AlertChannelBroken, LastSweepTimestamp,
	}
}
