package probe

import "context"

// Unsupported is a Prober for a check that cannot run where the process
// runs (ICMP inside AWS Lambda, say): every target gets StatusUnsupported
// with Reason, at once and without retries, so it is never counted down.
type Unsupported struct {
	Reason string
}

// Probe reports t as unsupported.
func (u Unsupported) Probe(_ context.Context, t Target) Result {
	return Result{Target: t, Status: StatusUnsupported, Error: u.Reason, final: true}
}
