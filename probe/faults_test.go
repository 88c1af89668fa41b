package probe

// Hostile targets, part of the fault-injection suite (make faults;
// RELIABILITY.md). Every test is named TestFault… and logs a summary line
// per fault class (faultLine).

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// faultLine logs "FAULT <class>: ok (<detail>)", or FAILED, when t ends;
// make faults shows these lines.
func faultLine(t *testing.T, class string, detail *string) {
	t.Cleanup(func() {
		verdict := "ok"
		if t.Failed() {
			verdict = "FAILED"
		}
		t.Logf("FAULT %s: %s (%s)", class, verdict, *detail)
	})
}

// faultServeRaw serves every TCP connection on 127.0.0.1 with handle, which
// must return when stop closes; it returns host:port.
func faultServeRaw(t *testing.T, handle func(c net.Conn, stop <-chan struct{})) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c, stop)
			})
		}
	})
	return l.Addr().String()
}

// trickle writes s one byte a second until done, stop, or a write fails.
func trickle(c net.Conn, s string, stop <-chan struct{}) {
	for i := 0; ; i = (i + 1) % len(s) {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// readRequest reads an http request's head from c.
func readRequest(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	http.ReadRequest(bufio.NewReader(c))
	c.SetReadDeadline(time.Time{})
}

// faultDNS serves dns on 127.0.0.1 UDP with answer, which may write any
// number of replies; it returns host:port.
func faultDNS(t *testing.T, answer func(pc net.PacketConn, addr net.Addr, q *dns.Msg)) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) == nil {
				answer(pc, addr, q)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

func dnsReply(q *dns.Msg, id uint16, ip string) []byte {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Id = id
	rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A " + ip)
	r.Answer = append(r.Answer, rr)
	b, _ := r.Pack()
	return b
}

// TestFaultHostileTargets points one check at a target that misbehaves:
// each attempt ends by its timeout, with a clear status and error.
func TestFaultHostileTargets(t *testing.T) {
	const attempt = time.Second
	var endlessBytes atomic.Int64
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			endlessBytes.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(endless.Close)
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop?token=secret-token", http.StatusFound)
	}))
	t.Cleanup(loop.Close)
	trickleHeaders := faultServeRaw(t, func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		trickle(c, "HTTP/1.1 200 OK\r\nX-Slow: "+strings.Repeat("a", 100), stop)
	})
	trickleBody := faultServeRaw(t, func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
		trickle(c, "x", stop)
	})
	hugeHeaders := faultServeRaw(t, func(c net.Conn, stop <-chan struct{}) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for range 4000 { // 4 MB of headers
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
		io.WriteString(c, "\r\n")
	})
	tlsMute := faultServeRaw(t, func(c net.Conn, stop <-chan struct{}) {
		// Read the ClientHello and never answer it.
		go io.Copy(io.Discard, c)
		<-stop
	})
	tlsTrickle := faultServeRaw(t, func(c net.Conn, stop <-chan struct{}) {
		go io.Copy(io.Discard, c)
		trickle(c, "\x16\x03\x03\x40\x00", stop) // a record header announcing 16 KiB, a byte a second
	})
	dnsDeaf := faultDNS(t, func(net.PacketConn, net.Addr, *dns.Msg) {})
	dnsSpoofThenReal := faultDNS(t, func(pc net.PacketConn, addr net.Addr, q *dns.Msg) {
		pc.WriteTo(dnsReply(q, q.Id+1, "192.0.2.66"), addr) // an off-path guess: wrong ID
		pc.WriteTo(dnsReply(q, q.Id, "127.0.0.1"), addr)
	})
	dnsSpoofOnly := faultDNS(t, func(pc net.PacketConn, addr net.Addr, q *dns.Msg) {
		for i := range uint16(5) {
			pc.WriteTo(dnsReply(q, q.Id^(0x100+i), "192.0.2.66"), addr)
		}
	})

	tests := []struct {
		class    string
		check    Check
		target   string
		dns      string // the dns server, for dns checks
		status   Status
		timedOut bool // by the sweep deadline; an attempt's own timeout is not that
		errHas   string
		maxTime  time.Duration
		attempt  time.Duration // 0: the common one
	}{
		{class: "http-trickles-headers-1-byte-a-second", check: HTTP, target: "http://" + trickleHeaders + "/",
			status: StatusDown, errHas: "timeout after 1s", maxTime: attempt + 500*time.Millisecond},
		{class: "http-trickles-body-1-byte-a-second", check: HTTP, target: "http://" + trickleBody + "/", attempt: 5 * time.Second,
			status: StatusUp, maxTime: maxBodyDrain + 500*time.Millisecond},
		{class: "http-4mb-of-headers", check: HTTP, target: "http://" + hugeHeaders + "/",
			status: StatusDown, errHas: "headers larger than 64 KiB", maxTime: attempt},
		{class: "http-endless-body", check: HTTP, target: endless.URL + "/",
			status: StatusUp, maxTime: attempt},
		{class: "http-redirect-loop", check: HTTP, target: loop.URL + "/loop",
			status: StatusDown, errHas: "stopped after 10 redirects", maxTime: attempt},
		{class: "tls-handshake-never-finishes", check: TLS, target: tlsMute,
			status: StatusDown, errHas: "tls handshake", maxTime: attempt + 500*time.Millisecond},
		{class: "tls-handshake-trickles", check: TLS, target: tlsTrickle,
			status: StatusDown, errHas: "tls handshake", maxTime: attempt + 500*time.Millisecond},
		{class: "dns-never-answers", check: DNS, target: "silent.test", dns: dnsDeaf,
			status: StatusDown, errHas: "timeout after 1s", maxTime: attempt + 500*time.Millisecond},
		{class: "dns-spoofed-id-then-real-answer", check: DNS, target: "spoofed.test", dns: dnsSpoofThenReal,
			status: StatusUp, maxTime: attempt},
		{class: "dns-spoofed-id-only", check: DNS, target: "spoofed.test", dns: dnsSpoofOnly,
			status: StatusDown, errHas: "timeout after 1s", maxTime: attempt + 500*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			detail := "not run to the end"
			faultLine(t, tt.class, &detail)
			tg, err := ParseTarget(tt.check, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			var prober Prober
			switch tt.check {
			case HTTP:
				h := NewHTTP(HTTPOptions{})
				t.Cleanup(h.CloseIdleConnections)
				prober = h
			case TLS:
				prober = NewTLS(TLSOptions{})
			case DNS:
				if prober, err = NewDNS(DNSOptions{Server: tt.dns}); err != nil {
					t.Fatal(err)
				}
			}
			timeout := cmp.Or(tt.attempt, attempt)
			r := &Runner{Probers: map[Check]Prober{tt.check: prober}, Concurrency: 1, Attempts: 1,
				AttemptTimeout: map[Check]time.Duration{tt.check: timeout}}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			res := r.Run(ctx, []Target{tg})[0]
			took := time.Since(start)
			if res.Status != tt.status || res.TimedOut != tt.timedOut || !strings.Contains(res.Error, tt.errHas) {
				t.Errorf("status %q, timed out %v, error %q; want %q, %v, an error with %q", res.Status, res.TimedOut, res.Error, tt.status, tt.timedOut, tt.errHas)
			}
			if strings.Contains(res.Error, "secret-token") {
				t.Errorf("the error quotes the URL's secret: %q", res.Error)
			}
			if took > tt.maxTime {
				t.Errorf("the check took %v with an attempt timeout of %v; want at most %v", took, timeout, tt.maxTime)
			}
			detail = fmt.Sprintf("%s in %v (attempt timeout %v)", res.Status, took.Round(10*time.Millisecond), timeout)
			if res.Error != "" {
				detail += ": " + res.Error
			}
			if tt.class == "http-endless-body" {
				detail += fmt.Sprintf("; the server got %d KiB out before the check closed", endlessBytes.Load()>>10)
			}
		})
	}
}

// TestFault5000TargetsHalfTimingOut sweeps 5,000 targets of every check,
// half of them silent (an http server that never answers, a TLS port
// that never speaks, a dns server that never replies), interleaved: the
// sweep ends by its deadline, every reachable (http and dns) target is
// reported up and
// every silent one down and timed out, and the open sockets stay bounded
// by the concurrency.
func TestFault5000TargetsHalfTimingOut(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000-target sweep skipped in -short mode")
	}
	detail := "not run to the end"
	faultLine(t, "5000-targets-half-time-out", &detail)
	const (
		n           = 5000
		deadline    = 15 * time.Second
		concurrency = 512 // CONCURRENCY's default
		attempt     = time.Second
		attempts    = 2 // so that a reachable target the loaded CPU kept waiting gets a second chance
	)
	scaleNeedFiles(t, 4096)
	f := farmStart(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	mute := farmServeTCP(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	deafDNS, err := NewDNS(DNSOptions{Server: scaleDeafUDP(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := f.runner(t, concurrency, attempts)
	r.RetryWait = func(int) time.Duration { return 100 * time.Millisecond }
	r.Probers[DNS] = scaleSplitProber{silent: deafDNS, other: r.Probers[DNS],
		is: func(t Target) bool { return strings.HasPrefix(t.Address, "silent") }}
	for c := range r.AttemptTimeout {
		r.AttemptTimeout[c] = attempt
	}

	// The reachable half is http and dns: on two cores under the race
	// detector, 600 TLS handshakes cost more CPU than the deadline holds
	// (scale_test.go sweeps healthy tls and ping targets at scale; the
	// hostile tls cases are above).
	healthy := append(f.targetsOf(t, HTTP, n/4), f.targetsOf(t, DNS, n/4)...)
	targets := make([]Target, 0, n)
	silent := map[int]bool{}
	for i, h := range healthy {
		var raw string
		c := []Check{HTTP, TLS, DNS}[i%3]
		switch c {
		case HTTP:
			raw = fmt.Sprintf("%s/hang%d", hang.URL, i)
		case TLS:
			raw = mute
		case DNS:
			raw = fmt.Sprintf("silent%d.farm.test", i)
		}
		tg, err := ParseTarget(c, raw)
		if err != nil {
			t.Fatal(err)
		}
		tg.Name = fmt.Sprintf("silent-%d", i)
		silent[len(targets)] = true
		targets = append(targets, tg, h)
	}

	// Count this process's open files while the sweep runs: the client
	// sockets and, since the servers run here too, their peers.
	var peak atomic.Int64
	sampling, stopSampling := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for sampling.Err() == nil {
			if fds, err := os.ReadDir("/proc/self/fd"); err == nil && int64(len(fds)) > peak.Load() {
				peak.Store(int64(len(fds)))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	base, _ := os.ReadDir("/proc/self/fd")

	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	results := r.Run(ctx, targets)
	took := time.Since(start)
	stopSampling()
	wg.Wait()

	if took > deadline+scaleSlack {
		t.Errorf("the sweep took %v, want at most %v", took, deadline+scaleSlack)
	}
	if len(results) != n {
		t.Fatalf("%d results for %d targets", len(results), n)
	}
	var up, timedOut int
	var reachable []Result
	for i, res := range results {
		if silent[i] {
			if res.Status == StatusDown && strings.Contains(res.Error, "timeout") {
				timedOut++
			} else {
				t.Errorf("%s: status %q, error %q; want down after a timeout", res.Target.Name, res.Status, res.Error)
			}
			continue
		}
		reachable = append(reachable, res)
		if res.Status == StatusUp {
			up++
		}
	}
	if bad := scaleNotUp(reachable); bad != "" {
		t.Errorf("every reachable target should be reported up:\n%s", bad)
	}
	// Each attempt in flight holds at most one client socket, the http
	// prober keeps at most concurrency idle connections for reuse, and
	// every client socket's server peer lives in this process too (and
	// closes a little after it): 4 × concurrency bounds them all.
	extra := peak.Load() - int64(len(base))
	if extra > 4*concurrency+64 {
		t.Errorf("%d more open files at the peak, beyond 4 × concurrency %d", extra, concurrency)
	}
	detail = fmt.Sprintf("%d targets in %v (deadline %v, concurrency %d, %d attempts of at most %v): %d of %d reachable up, %d of %d silent timed out; peak %d open files over the %d before",
		n, took.Round(10*time.Millisecond), deadline, concurrency, attempts, attempt, up, len(reachable), timedOut, len(silent), peak.Load(), len(base))
	t.Log(detail)
}
