package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A farm is a set of loopback servers that every check can be pointed at,
// for tests and benchmarks that need many healthy targets at once. Nothing
// it serves, and nothing a farm target makes a prober send, leaves
// 127.0.0.0/8:
//
//   - dns:  a miekg/dns server on 127.0.0.1 (UDP and TCP, one port) that
//     answers every A question with 127.0.0.1. Targets are t<i>.farm.test;
//     the dns prober asks this server and no other.
//   - http: an httptest server on 127.0.0.1 that answers 200 on any path.
//     Targets are http://127.0.0.1:<port>/t<i>, so they all share one
//     host and the prober's keep-alive connections.
//   - tls:  a TLS server on 127.0.0.1 whose certificate is issued on first
//     use by the farm's CA, for the SNI name or, with no SNI, for the IP
//     address the client dialled. Targets are 127.0.0.1:<port> with the
//     display name t<i>. They are IP addresses, not t<i>.farm.test, because
//     the tls prober dials t.Address with the system resolver, which here
//     would send the query off the machine (resolv.conf names a remote
//     server). For an IP address the prober sends no SNI and verifies the
//     certificate's IP SAN, so every tls target gets the one "127.0.0.1"
//     certificate; the SNI path is there for tests that dial by name.
//   - ping: 127.0.x.y addresses, which the kernel answers itself, probed
//     over raw ICMP. Where raw ICMP is not permitted the farm falls back to
//     PingTCP against the http server's port (and every ping target becomes
//     127.0.0.1, the only address that server listens on), and logs so.
//   - tcp:  the http server's 127.0.0.1:<port>, connected to and left at
//     once (a target without a TCPSpec), with the display name t<i>.
type farm struct {
	dnsAddr  string // host:port of the dns server
	httpURL  string // http://127.0.0.1:port
	httpPort int
	tlsAddr  string // 127.0.0.1:port
	ca       *farmCA
	pingMode PingMode // PingPrivileged, or PingTCP where raw ICMP is refused
}

// farmAPIBody is what the farm's http server answers under /api/.
var farmAPIBody = []byte(`{"status":"ok","version":"1.4.2","checks":{"db":"ok","queue":"ok"}}`)

// farmStart starts a farm that stops when tb ends.
func farmStart(tb testing.TB) *farm {
	tb.Helper()
	f := &farm{ca: farmNewCA(tb)}

	f.dnsAddr = farmServeDNS(tb, dns.HandlerFunc(farmAnswerA))

	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			// A health API's answer, for monitors that assert on it.
			w.Header().Set("Content-Type", "application/json")
			w.Write(farmAPIBody)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(hs.Close)
	f.httpURL = hs.URL
	f.httpPort = hs.Listener.Addr().(*net.TCPAddr).Port

	f.tlsAddr = farmServeTCP(tb, func(c net.Conn) { farmHandshake(c, f.ca) })

	f.pingMode = farmPingMode(tb, f.httpPort)
	return f
}

// probers returns one prober per check, all aimed at the farm. maxConns
// bounds the http prober's connections (the sweep's concurrency).
func (f *farm) probers(tb testing.TB, maxConns int) map[Check]Prober {
	tb.Helper()
	d, err := NewDNS(DNSOptions{Server: f.dnsAddr})
	if err != nil {
		tb.Fatal(err)
	}
	h := NewHTTP(HTTPOptions{MaxConns: maxConns})
	tb.Cleanup(h.CloseIdleConnections)
	return map[Check]Prober{
		DNS:  d,
		Ping: NewPing(PingOptions{Mode: f.pingMode, Count: 1, TCPPort: f.httpPort, Timeout: 2 * time.Second}),
		HTTP: h,
		TLS:  NewTLS(TLSOptions{RootCAs: f.ca.pool, WarnDays: 30, CriticalDays: 7}),
		TCP:  NewTCP(TCPOptions{RootCAs: f.ca.pool}),
	}
}

// farmAttemptTimeouts are pingpanda's default per-attempt timeouts
// (DNS_TIMEOUT_SECONDS, HTTP_TIMEOUT_SECONDS, SSL_TIMEOUT_SECONDS in
// cmd/pingpanda/keys.go). Ping bounds its own attempts
// (PingOptions.Timeout, PING_TIMEOUT_SECONDS), as the sweep sets it up.
func farmAttemptTimeouts() map[Check]time.Duration {
	return map[Check]time.Duration{
		DNS:  5 * time.Second,
		HTTP: 10 * time.Second,
		TLS:  5 * time.Second,
		TCP:  5 * time.Second,
	}
}

// runner returns a Runner with every check's prober aimed at the farm and the
// default attempt timeouts.
func (f *farm) runner(tb testing.TB, concurrency, attempts int) *Runner {
	tb.Helper()
	return &Runner{
		Probers:        f.probers(tb, concurrency),
		Concurrency:    concurrency,
		Attempts:       attempts,
		AttemptTimeout: farmAttemptTimeouts(),
	}
}

// target returns farm target number i of check c. It goes through
// ParseTarget, so the address is one a user could have written.
func (f *farm) target(tb testing.TB, c Check, i int) Target {
	tb.Helper()
	name := "t" + strconv.Itoa(i)
	var raw string
	switch c {
	case DNS:
		raw = name + ".farm.test"
	case Ping:
		raw = farmPingAddr(i)
		if f.pingMode == PingTCP {
			raw = "127.0.0.1"
		}
	case HTTP:
		raw = f.httpURL + "/" + name
	case TLS:
		raw = f.tlsAddr
	case TCP:
		raw = net.JoinHostPort("127.0.0.1", strconv.Itoa(f.httpPort))
	default:
		tb.Fatalf("farm has no %q targets", c)
	}
	t, err := ParseTarget(c, raw)
	if err != nil {
		tb.Fatal(err)
	}
	t.Name = name
	return t
}

// targets returns n targets, round-robin over Checks.
func (f *farm) targets(tb testing.TB, n int) []Target {
	tb.Helper()
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = f.target(tb, Checks[i%len(Checks)], i)
	}
	return ts
}

// targetsOf returns n targets of check c alone.
func (f *farm) targetsOf(tb testing.TB, c Check, n int) []Target {
	tb.Helper()
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = f.target(tb, c, i)
	}
	return ts
}

// farmPingAddr spreads ping targets over 127.0.0.0/8, skipping host parts
// 0 and 255: 127.0.0.1, 127.0.0.2 … 127.0.0.254, 127.0.1.1 …
func farmPingAddr(i int) string {
	host, block := i%254+1, i/254
	return fmt.Sprintf("127.%d.%d.%d", (block>>8)&0xff, block&0xff, host)
}

// farmPingMode is PingPrivileged when a raw ICMP socket may be opened here,
// else PingTCP to tcpPort, and says so in the log.
func farmPingMode(tb testing.TB, tcpPort int) PingMode {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res := NewPing(PingOptions{Mode: PingPrivileged}).Probe(ctx, Target{Check: Ping, Address: "127.0.0.1"})
	switch res.Status {
	case StatusUp:
		return PingPrivileged
	case StatusUnsupported:
		tb.Logf("farm: raw ICMP is not permitted here, so ping targets use PingTCP to 127.0.0.1:%d instead (%s)", tcpPort, res.Error)
		return PingTCP
	}
	tb.Fatalf("farm: privileged ping of 127.0.0.1 failed: %s", res.Error)
	return ""
}

// farmAnswerA answers every A question with 127.0.0.1, and any other
// question with an empty NOERROR.
func farmAnswerA(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	for _, q := range req.Question {
		if q.Qtype == dns.TypeA && q.Qclass == dns.ClassINET {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IPv4(127, 0, 0, 1),
			})
		}
	}
	_ = w.WriteMsg(m)
}

// farmServeDNS serves h over UDP and TCP on one loopback port until tb
// ends, and returns its host:port.
func farmServeDNS(tb testing.TB, h dns.Handler) string {
	tb.Helper()
	pc, ln := farmUDPAndTCP(tb)
	// A sweep sends hundreds of queries at once; the default receive
	// buffer would drop some, which says nothing about the prober.
	if err := pc.(*net.UDPConn).SetReadBuffer(4 << 20); err != nil {
		tb.Logf("farm: dns receive buffer: %v", err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			tb.Fatalf("farm: dns server: %v", err)
		}
		tb.Cleanup(func() { _ = srv.Shutdown() })
	}
	return ln.Addr().String()
}

// farmUDPAndTCP opens a UDP socket and a TCP listener on the same loopback
// port.
func farmUDPAndTCP(tb testing.TB) (net.PacketConn, net.Listener) {
	tb.Helper()
	// The TCP port picked may be taken for UDP; try a few.
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			return pc, ln
		}
		ln.Close()
	}
	tb.Fatal("farm: no loopback port free for both UDP and TCP")
	return nil, nil
}

// farmServeTCP accepts connections on 127.0.0.1 and hands each to handle
// in its own goroutine until tb ends; then it closes the listener and every
// open connection and waits for the handlers. It returns host:port.
func farmServeTCP(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				// Out of file descriptors, say: wait, as net/http does.
				time.Sleep(5 * time.Millisecond)
				continue
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c)
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// farmHandshake completes a TLS handshake on c with a certificate from ca,
// then waits for the client to hang up.
func farmHandshake(c net.Conn, ca *farmCA) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	conn := tls.Server(c, &tls.Config{GetCertificate: ca.certificate})
	if err := conn.Handshake(); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, conn)
}

// farmCA issues ECDSA P-256 server certificates in memory, one per name,
// and keeps them.
type farmCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // holds cert; for TLSOptions.RootCAs

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

func farmNewCA(tb testing.TB) *farmCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pingpanda farm CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &farmCA{cert: cert, key: key, pool: pool, leaves: map[string]*tls.Certificate{}}
}

// certificate is a tls.Config.GetCertificate: it returns the certificate
// for the client's SNI name or, when the client sent none, for the local
// IP address it connected to.
func (ca *farmCA) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := hello.ServerName
	if name == "" {
		if a, ok := hello.Conn.LocalAddr().(*net.TCPAddr); ok {
			name = a.IP.String()
		}
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.leaves[name]; ok {
		return c, nil
	}
	c, err := ca.issue(name)
	if err != nil {
		return nil, err
	}
	ca.leaves[name] = c
	return c, nil
}

// issue makes a certificate valid for 90 days for name, a host name or an
// IP address.
func (ca *farmCA) issue(name string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("farm: certificate for %q: %w", name, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// TestFarmAnswersEveryCheck probes one farm target of each check, and
// checks that the TLS server picks its certificate by SNI when there is one.
func TestFarmAnswersEveryCheck(t *testing.T) {
	f := farmStart(t)
	probers := f.probers(t, 4)
	for _, c := range Checks {
		t.Run(string(c)+" target is up", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			target := f.target(t, c, 7)
			res := probers[c].Probe(ctx, target)
			if res.Status != StatusUp {
				t.Fatalf("%s: status %q, error %q, want up", target.ID(), res.Status, res.Error)
			}
		})
	}
	t.Run("tls server picks the certificate by SNI name", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", f.tlsAddr,
			&tls.Config{ServerName: "t7.farm.test", RootCAs: f.ca.pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "t7.farm.test" {
			t.Errorf("certificate names %q, want [t7.farm.test]", got)
		}
	})
}
