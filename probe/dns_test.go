package probe

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startDNSServer serves h over UDP and TCP on one loopback port and returns
// its host:port.
func startDNSServer(t *testing.T, h dns.Handler) string {
	t.Helper()
	return farmServeDNS(t, h)
}

// testZone answers like a small recursive resolver:
//
//	a.test.        two A records
//	aaaa.test.     an AAAA record only
//	alias.test.    a CNAME to a.test. and its A record
//	dangling.test. a CNAME to a name with no records
//	nx.test.       NXDOMAIN
//	fail.test.     SERVFAIL
//	big.test.      over UDP a truncated empty reply, over TCP an A record
//	other.test.    a reply to a different question
func testZone(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	q := req.Question[0]
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return r
	}
	answer := func(rrs ...dns.RR) {
		for _, r := range rrs {
			if r.Header().Rrtype == q.Qtype || r.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, r)
			}
		}
	}
	switch q.Name {
	case "a.test.":
		answer(rr("a.test. 60 IN A 192.0.2.1"), rr("a.test. 60 IN A 192.0.2.2"))
	case "aaaa.test.":
		answer(rr("aaaa.test. 60 IN AAAA 2001:db8::1"))
	case "alias.test.":
		answer(rr("alias.test. 60 IN CNAME a.test."), rr("a.test. 60 IN A 192.0.2.1"))
	case "dangling.test.":
		answer(rr("dangling.test. 60 IN CNAME nowhere.test."))
	case "nx.test.":
		m.Rcode = dns.RcodeNameError
	case "fail.test.":
		m.Rcode = dns.RcodeServerFailure
	case "big.test.":
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncated = true
		} else {
			answer(rr("big.test. 60 IN A 192.0.2.3"))
		}
	case "other.test.":
		m.Question[0].Name = "elsewhere.test."
		answer(rr("elsewhere.test. 60 IN A 192.0.2.4"))
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func newTestDNSProber(t *testing.T, server string, qtype uint16) *DNSProber {
	t.Helper()
	p, err := NewDNS(DNSOptions{Server: server, Type: qtype})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func probeDNS(p *DNSProber, name string, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Probe(ctx, Target{Check: DNS, Address: name})
}

func TestDNSProbe(t *testing.T) {
	server := startDNSServer(t, dns.HandlerFunc(testZone))
	tests := []struct {
		name          string
		target        string
		qtype         uint16
		wantStatus    Status
		wantErr       string
		wantRcode     string
		wantAnswers   int
		wantTransport string
	}{
		{name: "an A answer is up", target: "a.test",
			wantStatus: StatusUp, wantRcode: "NOERROR", wantAnswers: 2, wantTransport: "udp"},
		{name: "an AAAA answer to an AAAA query is up", target: "aaaa.test", qtype: dns.TypeAAAA,
			wantStatus: StatusUp, wantRcode: "NOERROR", wantAnswers: 1, wantTransport: "udp"},
		{name: "a name with only AAAA is down for an A query", target: "aaaa.test",
			wantStatus: StatusDown, wantErr: "no A records", wantRcode: "NOERROR", wantTransport: "udp"},
		{name: "a CNAME followed by its A record is up", target: "alias.test",
			wantStatus: StatusUp, wantRcode: "NOERROR", wantAnswers: 1, wantTransport: "udp"},
		{name: "a CNAME alone does not count as an A answer", target: "dangling.test",
			wantStatus: StatusDown, wantErr: "no A records (answer has only CNAME)", wantRcode: "NOERROR", wantTransport: "udp"},
		{name: "NXDOMAIN is down", target: "nx.test",
			wantStatus: StatusDown, wantErr: "NXDOMAIN", wantRcode: "NXDOMAIN", wantTransport: "udp"},
		{name: "SERVFAIL is down", target: "fail.test",
			wantStatus: StatusDown, wantErr: "SERVFAIL", wantRcode: "SERVFAIL", wantTransport: "udp"},
		{name: "a truncated UDP reply is asked again over TCP", target: "big.test",
			wantStatus: StatusUp, wantRcode: "NOERROR", wantAnswers: 1, wantTransport: "tcp"},
		{name: "a reply to another question is down", target: "other.test",
			wantStatus: StatusDown, wantErr: "reply is for another question (A elsewhere.test.)", wantRcode: "NOERROR", wantTransport: "udp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestDNSProber(t, server, tt.qtype)
			res := probeDNS(p, tt.target, 5*time.Second)
			if res.Status != tt.wantStatus || res.Error != tt.wantErr {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Error, tt.wantStatus, tt.wantErr)
			}
			d := res.DNS
			if d == nil {
				t.Fatal("DNS detail not set")
			}
			wantType := "A"
			if tt.qtype != 0 {
				wantType = dns.TypeToString[tt.qtype]
			}
			want := DNSDetail{Server: server, Type: wantType, Rcode: tt.wantRcode, Answers: tt.wantAnswers, Transport: tt.wantTransport}
			if *d != want {
				t.Errorf("detail = %+v, want %+v", *d, want)
			}
			if res.Latency <= 0 {
				t.Errorf("latency = %v, want > 0", res.Latency)
			}
		})
	}
}

func TestDNSProbeReturnsPromptlyFromASilentServer(t *testing.T) {
	// A socket nobody reads: queries go in and nothing comes back.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	p := newTestDNSProber(t, pc.LocalAddr().String(), 0)
	const bound = 3 * time.Second // far above the ctx's 100 ms, far below the client's own 10 s

	t.Run("a deadline reads as a timeout", func(t *testing.T) {
		start := time.Now()
		res := probeDNS(p, "a.test", 100*time.Millisecond)
		if took := time.Since(start); took > bound {
			t.Errorf("took %v, want about 100ms", took)
		}
		if res.Status != StatusDown || !strings.HasPrefix(res.Error, "timeout after ") {
			t.Fatalf("got %s %q, want down with a timeout", res.Status, res.Error)
		}
		if res.DNS == nil || res.DNS.Rcode != "" {
			t.Errorf("detail = %+v, want one with no rcode", res.DNS)
		}
	})
	t.Run("a cancellation without a deadline stops the query too", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		res := p.Probe(ctx, Target{Check: DNS, Address: "a.test"})
		if took := time.Since(start); took > bound {
			t.Errorf("took %v, want about 100ms", took)
		}
		if res.Status != StatusDown || !strings.HasPrefix(res.Error, "cancelled after ") {
			t.Fatalf("got %s %q, want down and cancelled", res.Status, res.Error)
		}
	})
}

func TestDNSProbeReportsARefusedQuery(t *testing.T) {
	// A closed UDP port on loopback answers with ICMP port unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	p := newTestDNSProber(t, addr, 0)
	res := probeDNS(p, "a.test", time.Second)
	if strings.HasPrefix(res.Error, "timeout after ") {
		unavailable(t, "this network stack does not report closed UDP ports (no ICMP port unreachable)")
	}
	if res.Status != StatusDown || !strings.HasPrefix(res.Error, "connection refused") {
		t.Fatalf("got %s %q, want down with connection refused", res.Status, res.Error)
	}
}

func TestNewDNS(t *testing.T) {
	tests := []struct {
		name       string
		opts       DNSOptions
		wantServer string
		wantErr    string
	}{
		{name: "host:port is kept", opts: DNSOptions{Server: "192.0.2.53:5353"}, wantServer: "192.0.2.53:5353"},
		{name: "a bare IPv4 address gets port 53", opts: DNSOptions{Server: "192.0.2.53"}, wantServer: "192.0.2.53:53"},
		{name: "a bare IPv6 address gets brackets and port 53", opts: DNSOptions{Server: "2001:db8::53"}, wantServer: "[2001:db8::53]:53"},
		{name: "a bracketed IPv6 address gets port 53", opts: DNSOptions{Server: "[2001:db8::53]"}, wantServer: "[2001:db8::53]:53"},
		{name: "a bracketed IPv6 address keeps its port", opts: DNSOptions{Server: "[2001:db8::53]:5353"}, wantServer: "[2001:db8::53]:5353"},
		{name: "a host name gets port 53", opts: DNSOptions{Server: "resolver.test"}, wantServer: "resolver.test:53"},
		{name: "a bad port is an error", opts: DNSOptions{Server: "192.0.2.53:99999"},
			wantErr: `dns server "192.0.2.53:99999": port "99999" is not a number from 1 to 65535`},
		{name: "a missing host is an error", opts: DNSOptions{Server: ":53"}, wantErr: `dns server ":53": missing host`},
		{name: "ANY cannot be checked", opts: DNSOptions{Server: "192.0.2.53", Type: dns.TypeANY},
			wantErr: "record type ANY cannot be checked: no answer is ever of that type"},
		{name: "an unknown type number is an error", opts: DNSOptions{Server: "192.0.2.53", Type: 65000},
			wantErr: "record type 65000 is not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewDNS(tt.opts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Server() != tt.wantServer {
				t.Errorf("server = %q, want %q", p.Server(), tt.wantServer)
			}
		})
	}
}

func TestDNSServerFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "the first nameserver is used",
			path: write("two", "search example.com\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"), want: "192.0.2.53:53"},
		{name: "an IPv6 nameserver gets brackets",
			path: write("six", "nameserver 2001:db8::53\n"), want: "[2001:db8::53]:53"},
		{name: "a file without nameservers falls back to loopback",
			path: write("none", "search example.com\n"), want: "127.0.0.1:53"},
		{name: "a missing file falls back to loopback",
			path: filepath.Join(dir, "missing"), want: "127.0.0.1:53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serverFromResolvConf(tt.path); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
