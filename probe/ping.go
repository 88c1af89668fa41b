package probe

import (
	"context"
	"time"
)

// PingMode chooses how ping checks reach their targets.
type PingMode string

// Ping modes (PING_MODE).
const (
	// PingAuto uses a raw ICMP socket when permitted, else an
	// unprivileged datagram ICMP socket.
	PingAuto PingMode = "auto"
	// PingPrivileged uses a raw ICMP socket (root or CAP_NET_RAW).
	PingPrivileged PingMode = "privileged"
	// PingUnprivileged uses a datagram ICMP socket (the process's group
	// must be inside net.ipv4.ping_group_range).
	PingUnprivileged PingMode = "unprivileged"
	// PingTCP measures the time to connect to PingOptions.TCPPort; for
	// places with no ICMP at all, such as AWS Lambda.
	PingTCP PingMode = "tcp"
)

// PingDetail is what a ping check records.
type PingDetail struct {
	Addr     string   // address pinged, after resolving a host name
	Mode     PingMode // the mode actually used (privileged, unprivileged or tcp)
	Sent     int
	Received int
	LossPct  float64 // 0–100
	MinRTT   time.Duration
	AvgRTT   time.Duration
	MaxRTT   time.Duration
}

// PingOptions configures the ping check.
type PingOptions struct {
	Mode  PingMode // empty means PingAuto
	Count int      // echoes per attempt (≥1)
	// TCPPort is the port PingTCP connects to.
	TCPPort int
}

// PingProber pings with pro-bing, or connects over TCP.
type PingProber struct {
	opts PingOptions
}

var _ Prober = (*PingProber)(nil)

// NewPing returns the ping check. TODO(impl).
func NewPing(o PingOptions) *PingProber { return &PingProber{opts: o} }

// Probe makes one attempt. TODO(impl).
func (p *PingProber) Probe(ctx context.Context, t Target) Result {
	return Result{Status: StatusDown, Error: "not implemented"}
}
