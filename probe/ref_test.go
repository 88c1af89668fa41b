package probe

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// The reference probers are the floor the benchmarks compare pingpanda
// with: for each check, about the least code that makes the same probe
// against the same farm, at the same concurrency, with no retries, no
// details and no error text. They answer only "up or not".
//
//   - dns:  one miekg/dns Client.ExchangeContext per target (a UDP socket
//     each), up on NOERROR with an A record.
//   - http: one shared http.Client with keep-alive connections, up on 200.
//   - tls:  tls.Dial with Go's default configuration, which verifies the
//     chain, then close; up when the handshake succeeds.
//   - ping: one shared raw ICMP socket for the whole sweep, with an
//     echo-reply filter and a 16 MiB receive buffer; replies are matched
//     to probes by sequence number and source.
//   - tcp:  net.Dialer.DialContext, then close.
type refProbers struct {
	dns  *dns.Client
	dnsS string
	http *http.Client
	tls  *tls.Config
	ping *refPinger // nil when raw ICMP is not permitted: ping targets then use tcp
	tcp  int        // farm port for PingTCP
}

func (f *farm) refProbers(tb testing.TB, concurrency int) *refProbers {
	tb.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}
	tb.Cleanup(tr.CloseIdleConnections)
	r := &refProbers{
		dns:  &dns.Client{Timeout: 5 * time.Second},
		dnsS: f.dnsAddr,
		http: &http.Client{Transport: tr},
		tls:  &tls.Config{RootCAs: f.ca.pool},
		tcp:  f.httpPort,
	}
	if f.pingMode == PingPrivileged {
		p, err := refListenICMP()
		if err != nil {
			tb.Fatalf("reference pinger: %v", err)
		}
		tb.Cleanup(p.close)
		r.ping = p
	}
	return r
}

// probe reports whether t is up, within ctx.
func (r *refProbers) probe(ctx context.Context, t Target) bool {
	switch t.Check {
	case DNS:
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(t.Address), dns.TypeA)
		in, _, err := r.dns.ExchangeContext(ctx, m, r.dnsS)
		return err == nil && in.Rcode == dns.RcodeSuccess && len(in.Answer) > 0
	case HTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Address, nil)
		if err != nil {
			return false
		}
		resp, err := r.http.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	case TLS:
		host, _, _ := net.SplitHostPort(t.Address)
		cfg := r.tls.Clone()
		cfg.ServerName = host
		d := tls.Dialer{Config: cfg}
		c, err := d.DialContext(ctx, "tcp", t.Address)
		if err != nil {
			return false
		}
		c.Close()
		return true
	case Ping:
		if r.ping == nil {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.Address, fmt.Sprint(r.tcp)))
			if err != nil {
				return false
			}
			c.Close()
			return true
		}
		return r.ping.ping(ctx, netip.MustParseAddr(t.Address))
	case TCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", t.Address)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	return false
}

// refSweep probes every target with concurrency workers and returns how
// many were not up.
func refSweep(ctx context.Context, r *refProbers, targets []Target, concurrency int) int {
	var next, down atomic.Int64
	var wg sync.WaitGroup
	for range min(concurrency, len(targets)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) {
					return
				}
				t := targets[i]
				actx, cancel := context.WithTimeout(ctx, refTimeout[t.Check])
				if !r.probe(actx, t) {
					down.Add(1)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	return int(down.Load())
}

// refTimeout matches the farm runner's attempt timeouts.
var refTimeout = map[Check]time.Duration{DNS: 5 * time.Second, Ping: 2 * time.Second, HTTP: 10 * time.Second, TLS: 5 * time.Second, TCP: 5 * time.Second}

// refPinger is one raw ICMPv4 socket shared by every ping, with one
// reader goroutine that hands each echo reply to the probe waiting for
// its sequence number.
type refPinger struct {
	conn *net.IPConn
	id   int
	seq  atomic.Uint32

	mu      sync.Mutex
	waiting map[uint16]refWait
	done    chan struct{}
}

type refWait struct {
	from netip.Addr
	ch   chan struct{}
}

func refListenICMP() (*refPinger, error) {
	pc, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, err
	}
	c := pc.(*net.IPConn)
	var filter ipv4.ICMPFilter
	filter.SetAll(true)
	filter.Accept(ipv4.ICMPTypeEchoReply)
	if err := ipv4.NewPacketConn(c).SetICMPFilter(&filter); err != nil {
		c.Close()
		return nil, err
	}
	// The 16 MiB buffer pingpanda's listener asks for, the same way
	// (SO_RCVBUFFORCE on Linux, past net.core.rmem_max as root).
	setICMPRcvBuf(c)
	p := &refPinger{conn: c, id: 0x5050, waiting: map[uint16]refWait{}, done: make(chan struct{})}
	go p.read()
	return p, nil
}

func (p *refPinger) close() {
	p.conn.Close()
	<-p.done
}

func (p *refPinger) read() {
	defer close(p.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFromIP(buf)
		if err != nil {
			return
		}
		if n < 8 || buf[0] != 0 || int(binary.BigEndian.Uint16(buf[4:])) != p.id {
			continue
		}
		seq := binary.BigEndian.Uint16(buf[6:])
		src, _ := netip.AddrFromSlice(from.IP)
		p.mu.Lock()
		w, ok := p.waiting[seq]
		if ok && w.from == src.Unmap() {
			delete(p.waiting, seq)
			close(w.ch)
		}
		p.mu.Unlock()
	}
}

func (p *refPinger) ping(ctx context.Context, addr netip.Addr) bool {
	seq := uint16(p.seq.Add(1))
	ch := make(chan struct{})
	p.mu.Lock()
	p.waiting[seq] = refWait{from: addr, ch: ch}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, seq)
		p.mu.Unlock()
	}()
	msg := make([]byte, 16)
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], uint16(p.id))
	binary.BigEndian.PutUint16(msg[6:], seq)
	binary.BigEndian.PutUint16(msg[2:], refChecksum(msg))
	if _, err := p.conn.WriteTo(msg, &net.IPAddr{IP: addr.AsSlice()}); err != nil {
		return false
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

func refChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
