package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// TCPOptions configures the tcp check.
type TCPOptions struct {
	// RootCAs verifies the certificate of a monitor that asks for TLS
	// (TCPSpec.TLS); nil means the system roots.
	RootCAs *x509.CertPool
}

// TCPProber connects to host:port and, when the monitor's TCPSpec asks,
// completes a verified TLS handshake, sends a request and looks for a
// substring in what the server answers. It is safe for concurrent use.
type TCPProber struct {
	opts TCPOptions
}

var _ Prober = (*TCPProber)(nil)

// NewTCP returns the tcp check.
func NewTCP(o TCPOptions) *TCPProber { return &TCPProber{opts: o} }

const (
	// tcpReadLimit bounds what is read looking for TCPSpec.Expect.
	tcpReadLimit = 4 << 10
	// tcpDefaultTimeout bounds the exchange after connecting when ctx has
	// no deadline.
	tcpDefaultTimeout = 10 * time.Second
	// seenQuoteLimit bounds what an error quotes of the bytes a server
	// sent.
	seenQuoteLimit = 64
)

// Probe connects to t.Address (host:port) within ctx. A target without a
// TCPSpec is up once connected. With one, Probe then completes a TLS
// handshake if TLS is set (verified against RootCAs for ServerName, or the
// target's host), writes Send if set, and, if Expect is set, reads until
// Expect appears in what was read, 4 KiB were read, the server closed the
// connection, or ctx's deadline passed (10 s without one); the check is up
// when Expect was found. A certificate that fails verification makes the
// result down and final, as in the tls check; every other failure may be
// retried.
//
// Latency is the time to connect, plus the handshake with TLS; when Expect
// is set, it is the time until the bytes that completed Expect arrived.
func (p *TCPProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Address)
	if err != nil {
		return Result{Status: StatusDown, Latency: time.Since(start),
			Error: fmt.Sprintf("connect to %s: %s", t.Address, describeErr(err, time.Since(start)))}
	}
	latency := time.Since(start)
	defer conn.Close()
	detail := &TCPDetail{}
	var spec *TCPSpec
	if t.Spec != nil {
		spec = t.Spec.TCP
	}
	if spec == nil || (!spec.TLS && spec.Send == "" && spec.Expect == "") {
		return Result{Status: StatusUp, Latency: latency, TCP: detail}
	}
	res := p.exchange(ctx, conn, t.Address, spec, t.Spec.Secrets, start, detail)
	res.TCP = detail
	return res
}

// exchange does what spec asks on conn, connected to addr at start. What
// an error quotes of the answer is scrubbed of sc's secrets first, so that
// none is left in part at the cut.
func (p *TCPProber) exchange(ctx context.Context, conn net.Conn, addr string, spec *TCPSpec, sc secret.Scrubber, start time.Time, detail *TCPDetail) Result {
	down := func(format string, args ...any) Result {
		return Result{Status: StatusDown, Latency: time.Since(start), Error: fmt.Sprintf(format, args...)}
	}
	// Reads and writes end at ctx's deadline and, should ctx be
	// cancelled first, when the connection is closed under them.
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(tcpDefaultTimeout)
	}
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	rw := conn
	if spec.TLS {
		tc, res, ok := p.handshake(ctx, conn, addr, spec.ServerName, start)
		if !ok {
			return res
		}
		rw, detail.TLS = tc, true
	}
	latency := time.Since(start)
	if spec.Send != "" {
		if _, err := io.WriteString(rw, spec.Send); err != nil {
			return down("send to %s: %s", addr, tcpErrText(ctx, err, time.Since(start)))
		}
	}
	if spec.Expect == "" {
		return Result{Status: StatusUp, Latency: latency}
	}

	want := []byte(spec.Expect)
	buf := make([]byte, tcpReadLimit)
	n := 0
	for {
		m, err := rw.Read(buf[n:])
		n += m
		detail.Read = n
		// Only the bytes just read, and the tail before them that a
		// match could start in, are searched again.
		if m > 0 && bytes.Contains(buf[max(0, n-m-len(want)+1):n], want) {
			return Result{Status: StatusUp, Latency: time.Since(start)}
		}
		switch {
		case n > 0 && (n == len(buf) || err != nil):
			seen := string(buf[:n])
			if sc.Longest() > 0 {
				seen = sc.String(seen)
			}
			return down("first %d bytes read do not contain %s: %s", n, expectText(spec.Expect, sc), quoteCut(seen, seenQuoteLimit))
		case err == nil:
			continue
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return down("connection closed after 0 bytes, before %s", expectText(spec.Expect, sc))
		}
		elapsed := time.Since(start)
		if s, ok := timeoutErrorText(ctx, err, elapsed); ok {
			return down("%s with 0 bytes read, before %s", s, expectText(spec.Expect, sc))
		}
		return down("%s after 0 bytes, before %s", describeErr(err, elapsed), expectText(spec.Expect, sc))
	}
}

// handshake completes a TLS handshake on conn, verifying the server's
// certificate for serverName, or addr's host when it is empty. When it
// fails, res is the result to return.
func (p *TCPProber) handshake(ctx context.Context, conn net.Conn, addr, serverName string, start time.Time) (tc *tls.Conn, res Result, ok bool) {
	if serverName == "" {
		serverName = addr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			serverName = host
		}
	}
	serverName = stripZone(serverName)
	tc = tls.Client(conn, &tls.Config{
		// crypto/tls sends no SNI when ServerName is an IP address,
		// and verifies the certificate's IP addresses instead.
		ServerName:       serverName,
		RootCAs:          p.opts.RootCAs,
		CurvePreferences: tlsCurves,
	})
	err := tc.HandshakeContext(ctx)
	if err == nil {
		return tc, Result{}, true
	}
	res = Result{Status: StatusDown, Latency: time.Since(start)}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		// Another attempt gets the same certificate.
		res.final = true
		res.Error = fmt.Sprintf("tls handshake with %s: %s", addr, verifyReason(cve.Err, cve.UnverifiedCertificates[0], serverName, time.Now()))
		var sysErr x509.SystemRootsError
		if errors.As(cve.Err, &sysErr) {
			res.Status = StatusUnsupported
		}
		return nil, res, false
	}
	res.Error = fmt.Sprintf("tls handshake with %s: %s", addr, tcpErrText(ctx, err, res.Latency))
	return nil, res, false
}

// tcpErrText words err, which ended an exchange on a connection that ctx
// bounds: a timeout or cancellation as such, whatever error the closed
// socket returned.
func tcpErrText(ctx context.Context, err error, elapsed time.Duration) string {
	if s, ok := timeoutErrorText(ctx, err, elapsed); ok {
		return s
	}
	return describeErr(err, elapsed)
}

// expectText quotes what a tcp check expected, which may hold a secret
// (${NAME}): scrubbed first, so that no part of one survives the cut.
func expectText(expect string, sc secret.Scrubber) string {
	if sc.Longest() > 0 {
		expect = sc.String(expect)
	}
	return quoteCut(expect, seenQuoteLimit)
}
