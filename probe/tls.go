package probe

import (
	"context"
	"crypto/x509"
	"time"
)

// CertLevel grades how close a certificate is to expiry.
type CertLevel string

// Certificate levels, from SSL_WARN_DAYS and SSL_CRITICAL_DAYS.
const (
	CertOK       CertLevel = "ok"
	CertWarning  CertLevel = "warning"
	CertCritical CertLevel = "critical"
	CertExpired  CertLevel = "expired"
)

// TLSDetail is what a tls check records.
type TLSDetail struct {
	NotAfter time.Time // leaf certificate's expiry
	DaysLeft float64   // fractional; negative once expired
	Level    CertLevel
	Subject  string // leaf's common name
	Issuer   string // leaf issuer's common name
}

// TLSOptions configures the tls check.
type TLSOptions struct {
	// RootCAs verifies the chain; nil means the system roots.
	RootCAs      *x509.CertPool
	WarnDays     float64
	CriticalDays float64
	// Now is the clock days_left is measured against; nil means time.Now.
	Now func() time.Time
}

// TLSProber checks a server's certificate.
type TLSProber struct {
	opts TLSOptions
}

var _ Prober = (*TLSProber)(nil)

// NewTLS returns the tls check. TODO(impl).
func NewTLS(o TLSOptions) *TLSProber { return &TLSProber{opts: o} }

// Probe makes one handshake. TODO(impl).
func (p *TLSProber) Probe(ctx context.Context, t Target) Result {
	return Result{Status: StatusDown, Error: "not implemented"}
}
