package probe

import (
	"context"
	"time"
)

// DNSDetail is what a dns check records.
type DNSDetail struct {
	Server    string // resolver asked, host:port
	Type      string // record type asked, e.g. "A"
	Rcode     string // e.g. "NOERROR", "NXDOMAIN"
	Answers   int    // answers of the asked type
	Transport string // "udp", or "tcp" after a truncated answer
}

// DNSOptions configures the dns check.
type DNSOptions struct {
	// Server is the resolver's host:port. Empty means the first nameserver
	// of /etc/resolv.conf (127.0.0.1:53 when there is none).
	Server string
	// Type is the record type to ask for (miekg/dns constants, e.g.
	// dns.TypeA). Zero means A.
	Type uint16
}

// DNSProber asks one resolver for one record type.
type DNSProber struct {
	opts DNSOptions
}

var _ Prober = (*DNSProber)(nil)

// NewDNS returns the dns check. TODO(impl).
func NewDNS(o DNSOptions) (*DNSProber, error) { return &DNSProber{opts: o}, nil }

// Probe makes one query. TODO(impl).
func (p *DNSProber) Probe(ctx context.Context, t Target) Result {
	_ = time.Now
	return Result{Status: StatusDown, Error: "not implemented"}
}
