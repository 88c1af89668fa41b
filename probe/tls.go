package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
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

// LevelFor grades a certificate with daysLeft days to run: expired below
// zero, critical at or below criticalDays, warning at or below warnDays, ok
// otherwise.
func LevelFor(daysLeft, warnDays, criticalDays float64) CertLevel {
	switch {
	case daysLeft < 0:
		return CertExpired
	case daysLeft <= criticalDays:
		return CertCritical
	case daysLeft <= warnDays:
		return CertWarning
	}
	return CertOK
}

// TLSDetail is what a tls check records. It is filled whenever the server
// presented a certificate, including when that certificate failed
// verification.
type TLSDetail struct {
	NotAfter time.Time // leaf certificate's expiry
	DaysLeft float64   // fractional; negative once expired
	Level    CertLevel
	Subject  string // leaf's common name, or its whole subject when it has none
	Issuer   string // leaf issuer's common name, or its whole name when it has none
}

// TLSOptions configures the tls check.
type TLSOptions struct {
	// RootCAs verifies the chain; nil means the system roots.
	RootCAs      *x509.CertPool
	WarnDays     float64
	CriticalDays float64
	// Now is the clock days_left is measured against, and the time the
	// chain is verified at; nil means time.Now.
	Now func() time.Time
}

// TLSProber checks a server's certificate.
type TLSProber struct {
	opts TLSOptions
}

var _ Prober = (*TLSProber)(nil)

// NewTLS returns the tls check.
func NewTLS(o TLSOptions) *TLSProber {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &TLSProber{opts: o}
}

// LoadCertPool returns the system roots plus every certificate in the PEM
// file caFile (SSL_CA_FILE). It fails, naming the file, when the file
// cannot be read, holds a certificate that does not parse, or holds no
// certificate at all. When the system roots cannot be loaded the pool holds
// the file's certificates alone.
func LoadCertPool(caFile string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named already
		}
		return nil, fmt.Errorf("ca file %q: %w", caFile, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca file %q: certificate %d: %w", caFile, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("ca file %q: no PEM certificates found", caFile)
	}
	return pool, nil
}

// Probe connects to t.Address (host:port), completes one TLS handshake
// with the host as SNI (none for an IP address), and verifies the presented
// chain itself so that the leaf's expiry is known even when verification
// fails. A certificate that fails verification makes the result down and
// final; a valid one is up whatever its level. Connection and handshake
// failures are down and may be retried.
//
// A target's TLSSpec grades the certificate by its own WarnDays and
// CriticalDays, and its ServerName, when set, is sent as SNI and verified
// in place of the host.
func (p *TLSProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	host, _, err := net.SplitHostPort(t.Address)
	if err != nil {
		return Result{Status: StatusDown, Error: fmt.Sprintf("tls target %q is not host:port", t.Address), final: true}
	}
	warnDays, criticalDays := p.opts.WarnDays, p.opts.CriticalDays
	if spec := t.Spec; spec != nil && spec.TLS != nil {
		warnDays, criticalDays = spec.TLS.WarnDays, spec.TLS.CriticalDays
		if spec.TLS.ServerName != "" {
			host = spec.TLS.ServerName
		}
	}
	down := func(format string, args ...any) Result {
		return Result{Status: StatusDown, Latency: time.Since(start), Error: fmt.Sprintf(format, args...)}
	}

	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.Address)
	if err != nil {
		return down("connect to %s: %s", t.Address, describeErr(err, time.Since(start)))
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{
		// crypto/tls sends no SNI when ServerName is an IP address.
		ServerName: host,
		// Verification happens below, so that an invalid certificate's
		// expiry can still be reported.
		InsecureSkipVerify: true,
		CurvePreferences:   tlsCurves,
	})
	if err := conn.HandshakeContext(ctx); err != nil {
		return down("tls handshake with %s: %s", t.Address, describeErr(err, time.Since(start)))
	}
	latency := time.Since(start)
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return Result{Status: StatusDown, Latency: latency, Error: "server presented no certificate", final: true}
	}

	now := p.opts.Now()
	leaf := certs[0]
	days := leaf.NotAfter.Sub(now).Hours() / 24
	res := Result{
		Status:  StatusUp,
		Latency: latency,
		TLS: &TLSDetail{
			NotAfter: leaf.NotAfter,
			DaysLeft: days,
			Level:    LevelFor(days, warnDays, criticalDays),
			Subject:  commonName(leaf.Subject.CommonName, leaf.Subject.String()),
			Issuer:   commonName(leaf.Issuer.CommonName, leaf.Issuer.String()),
		},
	}
	if err := verifyChain(certs, host, p.opts.RootCAs, now); err != nil {
		res.Status, res.final = StatusDown, true
		res.Error = verifyReason(err, leaf, host, now)
		var sysErr x509.SystemRootsError
		if errors.As(err, &sysErr) {
			// Nothing is known about the target.
			res.Status = StatusUnsupported
		}
	}
	return res
}

// tlsCurves leaves out the post-quantum hybrids, so that the ClientHello
// carries an X25519 key share alone (Go chooses the key share itself and
// ignores the order of CurvePreferences). Go's default, the hybrid X25519MLKEM768, makes an
// ML-KEM key and decapsulates at every handshake: on 2 cores about a third
// of the handshake's CPU, and post-quantum secrecy protects nothing here,
// where the only secret is a certificate the server shows to anyone. The
// other curves stay offered, so a server without X25519 asks for one of
// them (HelloRetryRequest) rather than failing.
var tlsCurves = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}

// verifyChain does what crypto/tls would have done with InsecureSkipVerify
// false: the leaf must chain to a root through the peer's intermediates and
// be valid for host at now.
func verifyChain(certs []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		DNSName:       stripZone(host),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// verifyReason says in words why verification failed.
func verifyReason(err error, leaf *x509.Certificate, host string, now time.Time) string {
	var (
		invalid x509.CertificateInvalidError
		unknown x509.UnknownAuthorityError
		badHost x509.HostnameError
		sysErr  x509.SystemRootsError
	)
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		c := leaf
		what := "certificate"
		if invalid.Cert != nil && !invalid.Cert.Equal(leaf) {
			c = invalid.Cert
			what = fmt.Sprintf("chain certificate %q", commonName(c.Subject.CommonName, c.Subject.String()))
		}
		if now.Before(c.NotBefore) {
			return fmt.Sprintf("%s is not valid until %s", what, c.NotBefore.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("%s expired %.1f days ago", what, now.Sub(c.NotAfter).Hours()/24)
	case errors.As(err, &unknown):
		if isSelfSigned(leaf) {
			return "certificate is self-signed"
		}
		return fmt.Sprintf("certificate signed by unknown authority (issuer %q)", commonName(leaf.Issuer.CommonName, leaf.Issuer.String()))
	case errors.As(err, &badHost):
		names := append([]string(nil), leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		valid := "it names no host"
		if len(names) > 0 {
			valid = "valid for " + strings.Join(names, ", ")
		}
		return fmt.Sprintf("certificate is not valid for host %q (%s)", host, valid)
	case errors.As(err, &sysErr):
		return "cannot verify certificate: no system root certificates found; install them or set SSL_CA_FILE"
	}
	return "certificate is not valid: " + strings.TrimPrefix(err.Error(), "x509: ")
}

// isSelfSigned reports whether c names itself as issuer and its signature
// checks out against its own key.
func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func commonName(cn, whole string) string {
	if cn != "" {
		return cn
	}
	return whole
}

// stripZone drops an IPv6 zone ("fe80::1%eth0"), which no certificate names.
func stripZone(host string) string {
	if i := strings.LastIndexByte(host, '%'); i > 0 && strings.Contains(host, ":") {
		return host[:i]
	}
	return host
}

// deepStack: see deepStacked.
func (*TLSProber) deepStack() {}
