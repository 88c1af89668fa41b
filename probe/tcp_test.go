package probe

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pingpanda/pingpanda/probe/secret"
)

func tcpTarget(addr string, spec *TCPSpec) Target {
	t := Target{Check: TCP, Address: addr}
	if spec != nil {
		t.Spec = &Spec{TCP: spec}
	}
	return t
}

// tcpWrite returns a handler that writes each of parts, pausing between
// them, and then waits for the client to hang up.
func tcpWrite(parts ...string) func(net.Conn) {
	return func(c net.Conn) {
		for i, p := range parts {
			if i > 0 {
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := io.WriteString(c, p); err != nil {
				return
			}
		}
		_, _ = io.Copy(io.Discard, c)
	}
}

// tcpAnswer returns a handler that reads req and writes answer, then
// closes the connection if closeAfter is set, else waits for the client to
// hang up.
func tcpAnswer(req, answer string, closeAfter bool) func(net.Conn) {
	return func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(req))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != req {
			return
		}
		if _, err := io.WriteString(c, answer); err != nil || closeAfter {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	}
}

func TestTCPProbe(t *testing.T) {
	ping := &TCPSpec{Send: "PING\r\n", Expect: "+PONG"}
	tests := []struct {
		name    string
		handle  func(net.Conn) // nil: nothing listens on the port
		spec    *TCPSpec
		timeout time.Duration // 5 s when zero
		status  Status
		err     string // the whole error, with PORT for the listener's port
		errPfx  string // or its start, when the rest is a duration
		read    int
	}{
		{name: "a port that accepts is up without a spec", handle: tcpWrite(), status: StatusUp},
		{name: "a spec that asks nothing is as no spec", handle: tcpWrite(), spec: &TCPSpec{}, status: StatusUp},
		{name: "a closed port is down", spec: ping, status: StatusDown,
			err: "connect to 127.0.0.1:PORT: connection refused"},
		{name: "a banner holding the expected text is up", handle: tcpWrite("SSH-2.0-OpenSSH_9.6\r\n"),
			spec: &TCPSpec{Expect: "SSH-2.0-"}, status: StatusUp, read: 21},
		{name: "a banner without the expected text is down and quoted", handle: tcpWrite("220 smtp.test ESMTP\r\n"),
			spec: &TCPSpec{Expect: "SSH-"}, timeout: 300 * time.Millisecond, status: StatusDown, read: 21,
			err: `first 21 bytes read do not contain "SSH-": "220 smtp.test ESMTP\r\n"`},
		{name: "the expected text split across two writes is found", handle: tcpWrite("+PO", "NG\r\n"),
			spec: &TCPSpec{Expect: "+PONG"}, status: StatusUp, read: 7},
		{name: "an answer to what was sent is up", handle: tcpAnswer("PING\r\n", "+PONG\r\n", false),
			spec: ping, status: StatusUp, read: 7},
		{name: "a wrong answer is down and quoted", handle: tcpAnswer("PING\r\n", "-ERR unknown", true),
			spec: ping, status: StatusDown, read: 12,
			err: `first 12 bytes read do not contain "+PONG": "-ERR unknown"`},
		{name: "a server that closes at once is down", handle: func(net.Conn) {},
			spec: ping, status: StatusDown,
			err: `connection closed after 0 bytes, before "+PONG"`},
		{name: "a server that never writes is down by the deadline", handle: tcpWrite(),
			spec: ping, timeout: 200 * time.Millisecond, status: StatusDown,
			errPfx: "timeout after "},
		{name: "sending without expecting is up once sent", handle: tcpWrite(),
			spec: &TCPSpec{Send: "QUIT\r\n"}, status: StatusUp},
		{name: "reading stops at 4 KiB and quotes 64 bytes", handle: tcpWrite(strings.Repeat("x", 10<<10)),
			spec: ping, status: StatusDown, read: 4096,
			err: `first 4096 bytes read do not contain "+PONG": "` + strings.Repeat("x", 64) + `"…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tlsClosedPort(t)
			if tt.handle != nil {
				addr = farmServeTCP(t, tt.handle)
			}
			_, port, _ := net.SplitHostPort(addr)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			start := time.Now()

			res := NewTCP(TCPOptions{}).Probe(ctx, tcpTarget(addr, tt.spec))
			t.Logf("status %s, error %q", res.Status, res.Error)

			if elapsed := time.Since(start); elapsed > timeout+time.Second {
				t.Errorf("probe took %v, want it to return by its %v deadline", elapsed, timeout)
			}
			if res.Status != tt.status || res.final {
				t.Fatalf("status = %q (error %q), final %v, want %q and retryable", res.Status, res.Error, res.final, tt.status)
			}
			switch want := strings.ReplaceAll(tt.err, "PORT", port); {
			case tt.errPfx != "":
				if !strings.HasPrefix(res.Error, tt.errPfx) || !strings.HasSuffix(res.Error, ` with 0 bytes read, before "+PONG"`) {
					t.Errorf("error = %q, want %q…%q", res.Error, tt.errPfx, ` with 0 bytes read, before "+PONG"`)
				}
			case res.Error != want:
				t.Errorf("error = %q, want %q", res.Error, want)
			}
			if res.Latency <= 0 {
				t.Errorf("latency = %v, want > 0", res.Latency)
			}
			if tt.handle == nil {
				if res.TCP != nil {
					t.Errorf("detail = %+v, want none without a connection", *res.TCP)
				}
				return
			}
			if res.TCP == nil {
				t.Fatal("TCP detail is nil")
			}
			if want := (TCPDetail{Read: tt.read}); *res.TCP != want {
				t.Errorf("detail = %+v, want %+v", *res.TCP, want)
			}
		})
	}
}

func TestTCPProbeLatencyIsTheTimeToTheExpectedBytes(t *testing.T) {
	const delay = 150 * time.Millisecond
	slow := farmServeTCP(t, func(c net.Conn) {
		time.Sleep(delay)
		tcpWrite("+OK ready\r\n")(c)
	})
	p := NewTCP(TCPOptions{})
	tests := []struct {
		name       string
		spec       *TCPSpec
		atLeast    time.Duration
		lessThan   time.Duration
		wantStatus Status
	}{
		{name: "connecting alone takes no time for the banner", spec: nil, lessThan: delay, wantStatus: StatusUp},
		{name: "expecting the banner takes until it came", spec: &TCPSpec{Expect: "+OK"}, atLeast: delay, lessThan: 5 * time.Second, wantStatus: StatusUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			res := p.Probe(ctx, tcpTarget(slow, tt.spec))
			if res.Status != tt.wantStatus {
				t.Fatalf("status = %q (error %q), want %q", res.Status, res.Error, tt.wantStatus)
			}
			if res.Latency < tt.atLeast || res.Latency >= tt.lessThan {
				t.Errorf("latency = %v, want in [%v, %v)", res.Latency, tt.atLeast, tt.lessThan)
			}
		})
	}
}

func TestTCPProbeStopsWhenItsContextIsCancelled(t *testing.T) {
	silent := farmServeTCP(t, tcpWrite())
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()

	res := NewTCP(TCPOptions{}).Probe(ctx, tcpTarget(silent, &TCPSpec{Expect: "+OK"}))

	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v, want about 100ms", took)
	}
	if res.Status != StatusDown || !strings.HasPrefix(res.Error, "cancelled after ") {
		t.Fatalf("got %s %q, want down and cancelled", res.Status, res.Error)
	}
}

func TestTCPProbeQuotesWhatItReadAsValidUTF8(t *testing.T) {
	// 63 bytes of ASCII, then a 3-byte character across the 64-byte cut,
	// then bytes that are not UTF-8 at all.
	banner := strings.Repeat("a", 63) + "€" + "\xff\xfe\x80"
	addr := farmServeTCP(t, func(c net.Conn) { _, _ = io.WriteString(c, banner) })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	res := NewTCP(TCPOptions{}).Probe(ctx, tcpTarget(addr, &TCPSpec{Expect: "+OK"}))

	want := `first 69 bytes read do not contain "+OK": "` + strings.Repeat("a", 63) + `"…`
	if res.Error != want {
		t.Errorf("error = %q, want %q", res.Error, want)
	}
	if !utf8.ValidString(res.Error) {
		t.Errorf("error %q is not valid UTF-8", res.Error)
	}
}

func TestTCPProbeOverTLS(t *testing.T) {
	ca := newTLSCA(t, "tcp test CA")
	otherCA := newTLSCA(t, "someone else's CA")
	valid := func(ca *tlsCA, names ...string) tlsLeaf {
		return tlsLeaf{ca: ca, cn: "tcp.test", dnsNames: names, ips: []net.IP{net.IPv4(127, 0, 0, 1)},
			notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(40 * 24 * time.Hour)}
	}
	tests := []struct {
		name    string
		leaf    tlsLeaf
		spec    *TCPSpec
		status  Status
		final   bool
		tls     bool
		read    int
		err     string // with PORT for the listener's port
		wantSNI string
	}{
		{name: "a verified handshake then the expected banner is up", leaf: valid(ca),
			spec: &TCPSpec{TLS: true, Expect: "+OK"}, status: StatusUp, tls: true, read: 11},
		{name: "a verified handshake alone is up", leaf: valid(ca),
			spec: &TCPSpec{TLS: true}, status: StatusUp, tls: true},
		{name: "the server name is sent and verified", leaf: valid(ca, "mail.test"),
			spec: &TCPSpec{TLS: true, ServerName: "mail.test", Expect: "+OK"}, status: StatusUp, tls: true, read: 11, wantSNI: "mail.test"},
		{name: "a server name the certificate does not name fails verification, finally", leaf: valid(ca, "mail.test"),
			spec: &TCPSpec{TLS: true, ServerName: "imap.test"}, status: StatusDown, final: true,
			err: `tls handshake with 127.0.0.1:PORT: certificate is not valid for host "imap.test" (valid for mail.test, 127.0.0.1)`, wantSNI: "imap.test"},
		{name: "a certificate from an unknown authority fails verification, finally", leaf: valid(otherCA),
			spec: &TCPSpec{TLS: true, Expect: "+OK"}, status: StatusDown, final: true,
			err: `tls handshake with 127.0.0.1:PORT: certificate signed by unknown authority (issuer "someone else's CA")`},
		{name: "without TLS in the spec a TLS server just accepts", leaf: valid(otherCA),
			spec: nil, status: StatusUp},
	}
	p := NewTCP(TCPOptions{RootCAs: ca.pool()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, sni := tlsServeThen(t, tt.leaf.issue(t), tcpWrite("+OK ready\r\n"))
			_, port, _ := net.SplitHostPort(addr)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			res := p.Probe(ctx, tcpTarget(addr, tt.spec))
			t.Logf("status %s, error %q", res.Status, res.Error)

			if res.Status != tt.status || res.final != tt.final {
				t.Fatalf("status = %q (error %q), final %v, want %q, final %v", res.Status, res.Error, res.final, tt.status, tt.final)
			}
			if want := strings.ReplaceAll(tt.err, "PORT", port); res.Error != want {
				t.Errorf("error = %q, want %q", res.Error, want)
			}
			if res.TCP == nil {
				t.Fatal("TCP detail is nil")
			}
			if want := (TCPDetail{Read: tt.read, TLS: tt.tls}); *res.TCP != want {
				t.Errorf("detail = %+v, want %+v", *res.TCP, want)
			}
			if tt.spec == nil {
				return
			}
			expectSNI(t, sni, tt.wantSNI)
		})
	}
}

func TestTCPVerificationFailureIsNotRetried(t *testing.T) {
	leaf := tlsLeaf{cn: "self.test", ips: []net.IP{net.IPv4(127, 0, 0, 1)},
		notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(40 * 24 * time.Hour)}
	addr, _ := tlsServeThen(t, leaf.issue(t), tcpWrite())
	r := &Runner{
		Probers:     map[Check]Prober{TCP: NewTCP(TCPOptions{})},
		Concurrency: 1,
		Attempts:    3,
		RetryWait:   func(int) time.Duration { return time.Millisecond },
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	res := r.Run(ctx, []Target{tcpTarget(addr, &TCPSpec{TLS: true})})[0]

	if res.Status != StatusDown || res.Attempts != 1 || !strings.HasSuffix(res.Error, ": certificate is self-signed") {
		t.Errorf("status = %q after %d attempts (error %q), want down, self-signed, after 1", res.Status, res.Attempts, res.Error)
	}
}

func TestQuoteCut(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{name: "a short string is quoted whole", s: "+PONG\r\n", n: 64, want: `"+PONG\r\n"`},
		{name: "a string of exactly n bytes is not cut", s: "abcd", n: 4, want: `"abcd"`},
		{name: "a longer string is cut and marked", s: "abcdef", n: 4, want: `"abcd"…`},
		{name: "a cut inside a character moves before it", s: "ab€", n: 3, want: `"ab"…`},
		{name: "bytes that are not UTF-8 are escaped and cut anywhere", s: "\xff\xfe\x80\x80\x80", n: 4, want: `"\xff\xfe\x80\x80"…`},
		{name: "nothing is quoted as empty", s: "", n: 64, want: `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quoteCut(tt.s, tt.n); got != tt.want {
				t.Errorf("quoteCut(%q, %d) = %s, want %s", tt.s, tt.n, got, tt.want)
			}
		})
	}
}

func FuzzQuoteCut(f *testing.F) {
	for _, s := range []string{"", "+PONG\r\n", "ab€", "\xff\xfe\x80", strings.Repeat("€", 30)} {
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<10 {
			return
		}
		got := quoteCut(s, n)
		if !utf8.ValidString(got) {
			t.Fatalf("quoteCut(%q, %d) = %q, not valid UTF-8", s, n, got)
		}
		quoted, cut := strings.CutSuffix(got, "…")
		prefix, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("quoteCut(%q, %d) = %q: %v", s, n, got, err)
		}
		if !strings.HasPrefix(s, prefix) || len(prefix) > n || cut != (len(prefix) < len(s)) {
			t.Fatalf("quoteCut(%q, %d) = %q, want a quoted prefix of at most %d bytes, … when cut", s, n, got, n)
		}
		if cut && len(prefix) < n-utf8.UTFMax+1 {
			t.Fatalf("quoteCut(%q, %d) = %q cuts more than a character", s, n, got)
		}
	})
}

func TestTCPProbeQuotesNoPartOfASecretTheServerEchoes(t *testing.T) {
	const token = "hunter2-is-the-password"
	// The secret starts just before the 64-byte cut of the quote.
	echo := strings.Repeat("x", 60) + token + "\r\n"
	addr := farmServeTCP(t, tcpAnswer("AUTH "+token+"\r\n", echo, true))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	target := Target{Check: TCP, Address: addr, Spec: &Spec{
		TCP:     &TCPSpec{Send: "AUTH " + token + "\r\n", Expect: "+OK"},
		Secrets: secret.NewScrubber(token),
	}}

	res := NewTCP(TCPOptions{}).Probe(ctx, target)

	if res.Status != StatusDown || !strings.HasPrefix(res.Error, "first 85 bytes read do not contain") {
		t.Fatalf("got %s %q, want down, quoting what was read", res.Status, res.Error)
	}
	if strings.Contains(res.Error, "hunt") {
		t.Errorf("error %q holds part of the secret", res.Error)
	}
}
