package probe

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// tlsCA issues certificates in memory.
type tlsCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTLSCA(t *testing.T, name string) *tlsCA {
	t.Helper()
	key := tlsKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          tlsSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsCA{cert: cert, key: key}
}

func (ca *tlsCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func (ca *tlsCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// tlsLeaf describes a server certificate; a nil ca makes it self-signed.
type tlsLeaf struct {
	ca        *tlsCA
	cn        string
	dnsNames  []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
}

func (s tlsLeaf) issue(t *testing.T) tls.Certificate {
	t.Helper()
	key := tlsKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: tlsSerial(t),
		Subject:      pkix.Name{CommonName: s.cn},
		DNSNames:     s.dnsNames,
		IPAddresses:  s.ips,
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, crypto.Signer(key)
	if s.ca != nil {
		parent, signer = s.ca.cert, s.ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func tlsKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func tlsSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tlsServe serves TLS handshakes with cert on 127.0.0.1 until the test
// ends. It returns the address and a channel that receives the SNI of every
// handshake (empty when the client sent none).
func tlsServe(t *testing.T, cert tls.Certificate) (string, <-chan string) {
	t.Helper()
	return tlsServeThen(t, cert, func(net.Conn) {})
}

// tlsServeThen is tlsServe whose connections, once the handshake is done,
// are handle's to talk on until it returns.
func tlsServeThen(t *testing.T, cert tls.Certificate, handle func(net.Conn)) (string, <-chan string) {
	t.Helper()
	sni := make(chan string, 16)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			select {
			case sni <- hello.ServerName:
			default:
			}
			return nil, nil
		},
	}
	addr := farmServeTCP(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		handle(tc)
	})
	return addr, sni
}

// tlsServeStalled accepts connections on 127.0.0.1 and never answers them.
func tlsServeStalled(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// tlsClosedPort returns a loopback address nothing listens on.
func tlsClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func tlsTarget(addr string) Target { return Target{Check: TLS, Address: addr} }

func TestTLSProbe(t *testing.T) {
	// Certificates carry whole seconds, so a clock on a whole second gives
	// exact day counts.
	now := time.Now().Truncate(time.Second)
	days := func(n float64) time.Time { return now.Add(time.Duration(n * 24 * float64(time.Hour))) }
	ca := newTLSCA(t, "pingpanda test CA")
	otherCA := newTLSCA(t, "someone else's CA")
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}

	tests := []struct {
		name      string
		leaf      tlsLeaf
		status    Status
		level     CertLevel
		daysLeft  float64
		errSubstr string
	}{
		{
			name:     "a certificate with 40 days left is up and ok",
			leaf:     tlsLeaf{ca: ca, cn: "ok.test", ips: loopback, notBefore: days(-1), notAfter: days(40)},
			status:   StatusUp,
			level:    CertOK,
			daysLeft: 40,
		},
		{
			name:     "a certificate with 20 days left is up with a warning",
			leaf:     tlsLeaf{ca: ca, cn: "warn.test", ips: loopback, notBefore: days(-1), notAfter: days(20)},
			status:   StatusUp,
			level:    CertWarning,
			daysLeft: 20,
		},
		{
			name:     "a certificate with 5 days left is up but critical",
			leaf:     tlsLeaf{ca: ca, cn: "crit.test", ips: loopback, notBefore: days(-1), notAfter: days(5)},
			status:   StatusUp,
			level:    CertCritical,
			daysLeft: 5,
		},
		{
			name:      "an expired certificate is down and says it expired",
			leaf:      tlsLeaf{ca: ca, cn: "expired.test", ips: loopback, notBefore: days(-30), notAfter: days(-2)},
			status:    StatusDown,
			level:     CertExpired,
			daysLeft:  -2,
			errSubstr: "certificate expired 2.0 days ago",
		},
		{
			name:      "a self-signed certificate is down and says so",
			leaf:      tlsLeaf{cn: "self.test", ips: loopback, notBefore: days(-1), notAfter: days(40)},
			status:    StatusDown,
			level:     CertOK,
			daysLeft:  40,
			errSubstr: "certificate is self-signed",
		},
		{
			name:      "a certificate for another host is down and names the host",
			leaf:      tlsLeaf{ca: ca, cn: "other.test", dnsNames: []string{"other.test"}, notBefore: days(-1), notAfter: days(40)},
			status:    StatusDown,
			level:     CertOK,
			daysLeft:  40,
			errSubstr: `certificate is not valid for host "127.0.0.1" (valid for other.test)`,
		},
		{
			name:      "a certificate from an unknown authority is down",
			leaf:      tlsLeaf{ca: otherCA, cn: "stranger.test", ips: loopback, notBefore: days(-1), notAfter: days(40)},
			status:    StatusDown,
			level:     CertOK,
			daysLeft:  40,
			errSubstr: `certificate signed by unknown authority (issuer "someone else's CA")`,
		},
	}
	p := NewTLS(TLSOptions{
		RootCAs:      ca.pool(),
		WarnDays:     30,
		CriticalDays: 7,
		Now:          func() time.Time { return now },
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := tlsServe(t, tt.leaf.issue(t))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			res := p.Probe(ctx, tlsTarget(addr))
			t.Logf("status %s, error %q", res.Status, res.Error)

			if res.Status != tt.status {
				t.Fatalf("status = %q (error %q), want %q", res.Status, res.Error, tt.status)
			}
			if tt.status == StatusUp && res.Error != "" {
				t.Errorf("error = %q, want none", res.Error)
			}
			if !strings.Contains(res.Error, tt.errSubstr) {
				t.Errorf("error = %q, want it to contain %q", res.Error, tt.errSubstr)
			}
			if wantFinal := tt.status != StatusUp; res.final != wantFinal {
				t.Errorf("final = %v, want %v", res.final, wantFinal)
			}
			if res.Latency <= 0 {
				t.Errorf("latency = %v, want > 0", res.Latency)
			}
			d := res.TLS
			if d == nil {
				t.Fatal("TLS detail is nil")
			}
			if d.Level != tt.level {
				t.Errorf("level = %q, want %q", d.Level, tt.level)
			}
			if math.Abs(d.DaysLeft-tt.daysLeft) > 1e-6 {
				t.Errorf("days left = %v, want %v", d.DaysLeft, tt.daysLeft)
			}
			if !d.NotAfter.Equal(tt.leaf.notAfter) {
				t.Errorf("not after = %v, want %v", d.NotAfter, tt.leaf.notAfter)
			}
			if d.Subject != tt.leaf.cn {
				t.Errorf("subject = %q, want %q", d.Subject, tt.leaf.cn)
			}
			wantIssuer := tt.leaf.cn
			if tt.leaf.ca != nil {
				wantIssuer = tt.leaf.ca.cert.Subject.CommonName
			}
			if d.Issuer != wantIssuer {
				t.Errorf("issuer = %q, want %q", d.Issuer, wantIssuer)
			}
		})
	}
}

func TestTLSProbeTrustsCertPoolFromCAFile(t *testing.T) {
	ca := newTLSCA(t, "file CA")
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, ca.pem(), 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := LoadCertPool(file)
	if err != nil {
		t.Fatal(err)
	}
	leaf := tlsLeaf{ca: ca, cn: "file.test", ips: []net.IP{net.IPv4(127, 0, 0, 1)},
		notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(40 * 24 * time.Hour)}
	addr, _ := tlsServe(t, leaf.issue(t))

	res := NewTLS(TLSOptions{RootCAs: pool, WarnDays: 30, CriticalDays: 7}).Probe(t.Context(), tlsTarget(addr))

	if res.Status != StatusUp {
		t.Fatalf("status = %q (error %q), want up", res.Status, res.Error)
	}
	// Now is nil, so days are counted from the system clock.
	if res.TLS == nil || math.Abs(res.TLS.DaysLeft-40) > 0.01 {
		t.Errorf("detail = %+v, want about 40 days left", res.TLS)
	}
}

func TestLoadCertPool(t *testing.T) {
	ca := newTLSCA(t, "pool CA")
	keyDER, err := x509.MarshalECPrivateKey(tlsKey(t))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	tests := []struct {
		name      string
		content   []byte // nil: the file does not exist
		errSubstr string // empty: no error
	}{
		{name: "a file with one certificate loads", content: ca.pem()},
		{name: "a certificate after a key loads", content: append(append([]byte(nil), keyPEM...), ca.pem()...)},
		{name: "a missing file is an error naming it", content: nil, errSubstr: "no such file"},
		{name: "an empty file has no certificates", content: []byte{}, errSubstr: "no PEM certificates found"},
		{name: "a file with only a key has no certificates", content: keyPEM, errSubstr: "no PEM certificates found"},
		{
			name:      "a corrupt certificate is an error",
			content:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}),
			errSubstr: "certificate 1:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "ca.pem")
			if tt.content != nil {
				if err := os.WriteFile(file, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			pool, err := LoadCertPool(file)
			if tt.errSubstr == "" {
				if err != nil {
					t.Fatalf("error = %v, want none", err)
				}
				if _, err := ca.cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
					t.Errorf("the pool does not trust the file's CA: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("error = nil, want one containing %q", tt.errSubstr)
			}
			if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("error = %q, want it to name %q and contain %q", err, file, tt.errSubstr)
			}
		})
	}
}

func TestTLSProbeSendsServerNameOnlyForHostNames(t *testing.T) {
	if ips, err := net.DefaultResolver.LookupNetIP(t.Context(), "ip4", "localhost"); err != nil || len(ips) == 0 || !ips[0].IsLoopback() {
		t.Skipf("localhost does not resolve to an IPv4 loopback address here (%v, %v)", ips, err)
	}
	ca := newTLSCA(t, "sni CA")
	leaf := tlsLeaf{ca: ca, cn: "localhost", dnsNames: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)},
		notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(40 * 24 * time.Hour)}
	addr, sni := tlsServe(t, leaf.issue(t))
	_, port, _ := net.SplitHostPort(addr)
	p := NewTLS(TLSOptions{RootCAs: ca.pool(), WarnDays: 30, CriticalDays: 7})

	tests := []struct {
		name    string
		address string
		wantSNI string
	}{
		{name: "a host name is sent as SNI", address: net.JoinHostPort("localhost", port), wantSNI: "localhost"},
		{name: "an IP address sends no SNI", address: addr, wantSNI: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := p.Probe(t.Context(), tlsTarget(tt.address))
			if res.Status != StatusUp {
				t.Fatalf("status = %q (error %q), want up", res.Status, res.Error)
			}
			expectSNI(t, sni, tt.wantSNI)
		})
	}
}

func TestTLSProbeConnectionFailures(t *testing.T) {
	p := NewTLS(TLSOptions{WarnDays: 30, CriticalDays: 7})
	tests := []struct {
		name      string
		address   string
		timeout   time.Duration
		errSubstr string
	}{
		{name: "a closed port is down and may be retried", address: tlsClosedPort(t), timeout: 5 * time.Second, errSubstr: "connection refused"},
		{name: "a server that never completes the handshake is down when the attempt times out", address: tlsServeStalled(t), timeout: 200 * time.Millisecond, errSubstr: "tls handshake with 127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			start := time.Now()

			res := p.Probe(ctx, tlsTarget(tt.address))
			t.Logf("status %s, error %q", res.Status, res.Error)

			if elapsed := time.Since(start); elapsed > tt.timeout+time.Second {
				t.Errorf("probe took %v, want it to return by its %v deadline", elapsed, tt.timeout)
			}
			if res.Status != StatusDown || res.final {
				t.Errorf("status = %q, final = %v, want down and retryable", res.Status, res.final)
			}
			if !strings.Contains(res.Error, tt.errSubstr) {
				t.Errorf("error = %q, want it to contain %q", res.Error, tt.errSubstr)
			}
			if res.TLS != nil {
				t.Errorf("detail = %+v, want none without a certificate", res.TLS)
			}
		})
	}
}

func TestTLSVerificationFailureIsNotRetried(t *testing.T) {
	leaf := tlsLeaf{cn: "self.test", ips: []net.IP{net.IPv4(127, 0, 0, 1)},
		notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(40 * 24 * time.Hour)}
	addr, _ := tlsServe(t, leaf.issue(t))
	r := &Runner{
		Probers:     map[Check]Prober{TLS: NewTLS(TLSOptions{WarnDays: 30, CriticalDays: 7})},
		Concurrency: 1,
		Attempts:    3,
		RetryWait:   func(int) time.Duration { return time.Millisecond },
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	res := r.Run(ctx, []Target{tlsTarget(addr)})[0]

	if res.Status != StatusDown || res.Attempts != 1 {
		t.Errorf("status = %q after %d attempts (error %q), want down after 1", res.Status, res.Attempts, res.Error)
	}
}

func TestLevelFor(t *testing.T) {
	tests := []struct {
		name string
		days float64
		want CertLevel
	}{
		{"a certificate with plenty of time left is ok", 90, CertOK},
		{"just over the warning threshold is still ok", 30.01, CertOK},
		{"exactly on the warning threshold is a warning", 30, CertWarning},
		{"between the thresholds is a warning", 12.5, CertWarning},
		{"exactly on the critical threshold is critical", 7, CertCritical},
		{"the last moments before expiry are critical", 0, CertCritical},
		{"any time past expiry is expired", -0.001, CertExpired},
		{"long expired is expired", -400, CertExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LevelFor(tt.days, 30, 7); got != tt.want {
				t.Errorf("LevelFor(%v, 30, 7) = %q, want %q", tt.days, got, tt.want)
			}
		})
	}
}

// expectSNI waits a second at most for the server name a test server saw
// in a client hello, and fails unless it is want.
func expectSNI(t *testing.T, sni <-chan string, want string) {
	t.Helper()
	select {
	case got := <-sni:
		if got != want {
			t.Errorf("SNI = %q, want %q", got, want)
		}
	case <-time.After(time.Second):
		t.Fatal("the server saw no client hello")
	}
}
