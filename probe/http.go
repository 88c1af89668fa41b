package probe

import (
	"context"
	"crypto/x509"
)

// HTTPDetail is what an http check records.
type HTTPDetail struct {
	StatusCode int    // final response's status code; 0 when none arrived
	FinalURL   string // URL of the final response, after redirects
	Redirects  int
}

// CodeSet is a set of HTTP status codes, written "200,204,300-399".
type CodeSet struct {
	ranges [][2]int
}

// ParseCodes parses a comma-separated list of status codes and inclusive
// ranges. TODO(impl).
func ParseCodes(s string) (CodeSet, error) { return CodeSet{}, nil }

// Contains reports whether code is in the set.
func (c CodeSet) Contains(code int) bool {
	for _, r := range c.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// HTTPOptions configures the http check.
type HTTPOptions struct {
	Success CodeSet
	// RootCAs verifies https targets; nil means the system roots.
	RootCAs *x509.CertPool
	// MaxConns bounds connections per host (the sweep's concurrency).
	MaxConns  int
	UserAgent string
}

// HTTPProber fetches URLs with GET.
type HTTPProber struct {
	opts HTTPOptions
}

var _ Prober = (*HTTPProber)(nil)

// NewHTTP returns the http check. TODO(impl).
func NewHTTP(o HTTPOptions) *HTTPProber { return &HTTPProber{opts: o} }

// Probe makes one request. TODO(impl).
func (p *HTTPProber) Probe(ctx context.Context, t Target) Result {
	return Result{Status: StatusDown, Error: "not implemented"}
}
