package probe

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"
)

// specZone answers the questions of the DNSSpec tests:
//
//	mx.test.     MX 10 mx.example.com., MX 20 mx2.example.com.
//	mx2.test.    MX 20 mx2.example.com., MX 30 mx3.example.com.
//	many.test.   MX 1 m1.example.com. … MX 8 m8.example.com.
//	spf.test.    TXT "v=spf1 include:_spf.example.com ~all"
//	split.test.  TXT "part one" "part two"
//	six.test.    AAAA 2001:db8::1
//	empty.test.  NOERROR with no answers
//	nx.test.     NXDOMAIN
//
// and anything else NXDOMAIN too.
func specZone(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	q := req.Question[0]
	var rrs []string
	switch q.Name {
	case "mx.test.":
		rrs = []string{"MX 10 mx.example.com.", "MX 20 mx2.example.com."}
	case "mx2.test.":
		rrs = []string{"MX 20 mx2.example.com.", "MX 30 mx3.example.com."}
	case "many.test.":
		for i := 1; i <= 8; i++ {
			rrs = append(rrs, fmt.Sprintf("MX %d m%d.example.com.", i, i))
		}
	case "spf.test.":
		rrs = []string{`TXT "v=spf1 include:_spf.example.com ~all"`}
	case "split.test.":
		rrs = []string{`TXT "part one" "part two"`}
	case "six.test.":
		rrs = []string{"AAAA 2001:db8::1"}
	case "empty.test.":
	default:
		m.Rcode = dns.RcodeNameError
	}
	for _, s := range rrs {
		rr, err := dns.NewRR(q.Name + " 60 IN " + s)
		if err != nil {
			panic(err)
		}
		if rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
	_ = w.WriteMsg(m)
}

func TestDNSProbeWithSpec(t *testing.T) {
	server := startDNSServer(t, dns.HandlerFunc(specZone))
	// The prober's own server answers nothing: every case names the
	// test server in its spec, but one.
	p := newTestDNSProber(t, tlsClosedPort(t), 0)
	mx := func(rcode int, expect ...string) *DNSSpec {
		return &DNSSpec{Server: server, Type: dns.TypeMX, Expect: expect, Rcode: rcode}
	}
	txt := func(expect ...string) *DNSSpec {
		return &DNSSpec{Server: server, Type: dns.TypeTXT, Expect: expect, Rcode: -1}
	}
	tests := []struct {
		name     string
		target   string
		spec     *DNSSpec
		status   Status
		err      string
		wantType string
		answers  int
		final    bool
	}{
		{name: "the spec's server and type are asked", target: "mx.test", spec: mx(-1),
			status: StatusUp, wantType: "MX", answers: 2},
		{name: "an expected MX answer among the answers is up", target: "mx.test", spec: mx(-1, "10 mx.example.com."),
			status: StatusUp, wantType: "MX", answers: 2},
		{name: "every expected answer present is up", target: "mx.test", spec: mx(-1, "20 mx2.example.com.", "10 mx.example.com."),
			status: StatusUp, wantType: "MX", answers: 2},
		{name: "names compare in any case and without their trailing dot", target: "mx.test", spec: mx(-1, "10  MX.Example.COM"),
			status: StatusUp, wantType: "MX", answers: 2},
		{name: "an expected answer missing is down and lists the answers", target: "mx2.test", spec: mx(-1, "10 mx.example.com."),
			status: StatusDown, wantType: "MX", answers: 2,
			err: `answers lack "10 mx.example.com." (got "20 mx2.example.com.", "30 mx3.example.com.")`},
		{name: "only the missing ones are named", target: "mx2.test", spec: mx(-1, "20 mx2.example.com.", "10 mx.example.com.", "40 mx4.example.com."),
			status: StatusDown, wantType: "MX", answers: 2,
			err: `answers lack "10 mx.example.com.", "40 mx4.example.com." (got "20 mx2.example.com.", "30 mx3.example.com.")`},
		{name: "a long list of answers is cut after five", target: "many.test", spec: mx(-1, "10 mx.example.com."),
			status: StatusDown, wantType: "MX", answers: 8,
			err: `answers lack "10 mx.example.com." (got "1 m1.example.com.", "2 m2.example.com.", "3 m3.example.com.", "4 m4.example.com.", "5 m5.example.com." and 3 more)`},
		{name: "TXT text matches without quotes", target: "spf.test", spec: txt("v=spf1 include:_spf.example.com ~all"),
			status: StatusUp, wantType: "TXT", answers: 1},
		{name: "TXT text matches in its quoted form", target: "spf.test", spec: txt(`"v=spf1 include:_spf.example.com ~all"`),
			status: StatusUp, wantType: "TXT", answers: 1},
		{name: "TXT strings match joined", target: "split.test", spec: txt("part onepart two"),
			status: StatusUp, wantType: "TXT", answers: 1},
		{name: "TXT strings match quoted one by one", target: "split.test", spec: txt(`"part one" "part two"`),
			status: StatusUp, wantType: "TXT", answers: 1},
		{name: "TXT text compares with case", target: "spf.test", spec: txt("V=SPF1 include:_spf.example.com ~all"),
			status: StatusDown, wantType: "TXT", answers: 1,
			err: `answers lack "V=SPF1 include:_spf.example.com ~all" (got "v=spf1 include:_spf.example.com ~all")`},
		{name: "a missing TXT answer is down and shows the text", target: "spf.test", spec: txt("v=spf1 -all"),
			status: StatusDown, wantType: "TXT", answers: 1,
			err: `answers lack "v=spf1 -all" (got "v=spf1 include:_spf.example.com ~all")`},
		{name: "an IPv6 address matches however it is written", target: "six.test",
			spec:   &DNSSpec{Server: server, Type: dns.TypeAAAA, Expect: []string{"2001:DB8:0::1"}, Rcode: -1},
			status: StatusUp, wantType: "AAAA", answers: 1},
		{name: "NXDOMAIN wanted and got is up", target: "nx.test", spec: mx(dns.RcodeNameError),
			status: StatusUp, wantType: "MX"},
		{name: "NXDOMAIN wanted but NOERROR got is down", target: "mx.test", spec: mx(dns.RcodeNameError),
			status: StatusDown, wantType: "MX", answers: 2, err: "rcode NOERROR, want NXDOMAIN"},
		{name: "NOERROR wanted but NXDOMAIN got is down", target: "nx.test", spec: mx(dns.RcodeSuccess),
			status: StatusDown, wantType: "MX", err: "rcode NXDOMAIN, want NOERROR"},
		{name: "NOERROR wanted needs no answers", target: "empty.test", spec: mx(dns.RcodeSuccess),
			status: StatusUp, wantType: "MX"},
		{name: "NOERROR wanted with an expected answer needs it", target: "empty.test", spec: mx(dns.RcodeSuccess, "10 mx.example.com."),
			status: StatusDown, wantType: "MX", err: `answers lack "10 mx.example.com." (got none)`},
		{name: "the default rcode still wants an answer", target: "empty.test", spec: mx(-1),
			status: StatusDown, wantType: "MX", err: "no MX records"},
		{name: "the default rcode still reports NXDOMAIN as before", target: "nx.test", spec: mx(-1, "10 mx.example.com."),
			status: StatusDown, wantType: "MX", err: "NXDOMAIN"},
		{name: "a type that cannot be checked is final", target: "mx.test",
			spec:   &DNSSpec{Server: server, Type: dns.TypeANY, Rcode: -1},
			status: StatusDown, final: true, err: "record type ANY cannot be checked: no answer is ever of that type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			res := p.Probe(ctx, Target{Check: DNS, Address: tt.target, Spec: &Spec{DNS: tt.spec}})
			t.Logf("status %s, error %q", res.Status, res.Error)
			if res.Status != tt.status || res.Error != tt.err || res.final != tt.final {
				t.Fatalf("got %s %q (final %v), want %s %q (final %v)", res.Status, res.Error, res.final, tt.status, tt.err, tt.final)
			}
			if tt.final {
				return
			}
			if res.DNS == nil {
				t.Fatal("DNS detail not set")
			}
			if d := res.DNS; d.Server != server || d.Type != tt.wantType || d.Answers != tt.answers {
				t.Errorf("detail = %+v, want server %s, type %s, %d answers", *d, server, tt.wantType, tt.answers)
			}
		})
	}
}

func TestDNSProbeWithASpecWithoutDNSIsTheDefault(t *testing.T) {
	server := startDNSServer(t, dns.HandlerFunc(testZone))
	p := newTestDNSProber(t, server, 0)
	for _, name := range []string{"a.test", "nx.test", "dangling.test"} {
		t.Run(name+" reads as without a spec", func(t *testing.T) {
			without := probeDNS(p, name, 5*time.Second)
			with := p.Probe(t.Context(), Target{Check: DNS, Address: name, Spec: &Spec{Attempts: 2}})
			if with.Status != without.Status || with.Error != without.Error || *with.DNS != *without.DNS {
				t.Errorf("with a spec: %s %q %+v; without: %s %q %+v", with.Status, with.Error, *with.DNS, without.Status, without.Error, *without.DNS)
			}
		})
	}
}

func TestParseDNSType(t *testing.T) {
	tests := []struct {
		in   string
		want uint16
		err  string
	}{
		{in: "A", want: dns.TypeA},
		{in: "mx", want: dns.TypeMX},
		{in: " TXT ", want: dns.TypeTXT},
		{in: "aaaa", want: dns.TypeAAAA},
		{in: "ANY", err: "record type ANY cannot be checked: no answer is ever of that type"},
		{in: "axfr", err: "record type AXFR cannot be checked: no answer is ever of that type"},
		{in: "OPT", err: "record type OPT cannot be checked: no answer is ever of that type"},
		{in: "BOGUS", err: `record type "BOGUS" is not known`},
		{in: "", err: `record type "" is not known`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := ParseDNSType(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParseDNSType(%q) = %d, %v, want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseDNSType(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRcode(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  bool
	}{
		{in: "NOERROR", want: dns.RcodeSuccess},
		{in: "nxdomain", want: dns.RcodeNameError},
		{in: "SERVFAIL", want: dns.RcodeServerFailure},
		{in: " Refused ", want: dns.RcodeRefused},
		{in: "NOTIMP", want: dns.RcodeNotImplemented},
		{in: "NOTIMPL", want: dns.RcodeNotImplemented},
		{in: "BADVERS", want: dns.RcodeBadVers},
		{in: "OK", err: true},
		{in: "", err: true},
		{in: "3", err: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := ParseRcode(tt.in)
			if tt.err {
				want := fmt.Sprintf("rcode %q is not known (want NOERROR, NXDOMAIN, SERVFAIL, REFUSED or another DNS rcode name)", tt.in)
				if err == nil || err.Error() != want {
					t.Fatalf("ParseRcode(%q) = %d, %v, want error %q", tt.in, got, err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseRcode(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormaliseDNSServer(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "127.0.0.1:5353", want: "127.0.0.1:5353"},
		{in: " 127.0.0.1 ", want: "127.0.0.1:53"},
		{in: "::1", want: "[::1]:53"},
		{in: "[::1]:5353", want: "[::1]:5353"},
		{in: "resolver.test", want: "resolver.test:53"},
		{in: "", err: "missing host"},
		{in: ":53", err: "missing host"},
		{in: "127.0.0.1:0", err: `port "0" is not a number from 1 to 65535`},
		{in: "a b", err: "not a host or host:port"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := NormaliseDNSServer(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("NormaliseDNSServer(%q) = %q, %v, want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormaliseDNSServer(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormaliseDNSData(t *testing.T) {
	tests := []struct {
		name, a, b string
		same       bool
	}{
		{name: "names compare without case", a: "10 MX.Example.COM.", b: "10 mx.example.com.", same: true},
		{name: "a trailing dot is optional", a: "10 mx.example.com", b: "10 mx.example.com.", same: true},
		{name: "white space between fields is one space", a: "10\t mx.example.com.", b: "10 mx.example.com.", same: true},
		{name: "IPv6 addresses compare as addresses", a: "2001:DB8:0:0::1", b: "2001:db8::1", same: true},
		{name: "the root name stays", a: "0 .", b: "0 .", same: true},
		{name: "a different preference differs", a: "20 mx.example.com.", b: "10 mx.example.com.", same: false},
		{name: "a different name differs", a: "10 mx2.example.com.", b: "10 mx.example.com.", same: false},
		{name: "the root name is not the empty name", a: "0 .", b: "0", same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := normaliseDNSData(tt.a) == normaliseDNSData(tt.b); got != tt.same {
				t.Errorf("%q and %q normalise to %q and %q: same = %v, want %v", tt.a, tt.b, normaliseDNSData(tt.a), normaliseDNSData(tt.b), got, tt.same)
			}
		})
	}
}

func FuzzNormaliseDNSData(f *testing.F) {
	for _, s := range []string{"10 mx.example.com.", "2001:DB8::1", "0 .", "192.0.2.1", `0 issue "letsencrypt.org"`, "a\u00a0b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normaliseDNSData(s)
		if again := normaliseDNSData(n); again != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, again)
		}
		if spaced := normaliseDNSData(" " + strings.ReplaceAll(s, " ", "\t ") + "\n"); spaced != n {
			t.Fatalf("white space counts: %q → %q, but spaced out → %q", s, n, spaced)
		}
		if utf8.ValidString(s) && !utf8.ValidString(n) {
			t.Fatalf("%q → %q is not valid UTF-8", s, n)
		}
	})
}
