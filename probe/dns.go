package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSDetail is what a dns check records.
type DNSDetail struct {
	Server    string // resolver asked, host:port
	Type      string // record type asked, e.g. "A"
	Rcode     string // e.g. "NOERROR", "NXDOMAIN"; empty when no reply arrived
	Answers   int    // answers of the asked type
	Transport string // "udp", or "tcp" after a truncated answer
}

// DNSOptions configures the dns check.
type DNSOptions struct {
	// Server is the resolver's host:port; a bare host or IP address means
	// port 53. Empty means the first nameserver of /etc/resolv.conf
	// (127.0.0.1:53 when there is none), read once by NewDNS.
	Server string
	// Type is the record type to ask for (miekg/dns constants, e.g.
	// dns.TypeA). Zero means A.
	Type uint16
}

const (
	resolvConfPath = "/etc/resolv.conf"
	fallbackServer = "127.0.0.1:53"
	// ednsBufSize is the UDP payload size advertised with EDNS0: the
	// DNS Flag Day 2020 value, which avoids IP fragmentation.
	ednsBufSize = 1232
	// dnsDefaultTimeout bounds each of dial, write and read when ctx has no
	// deadline; with a deadline, the earlier of the two applies.
	dnsDefaultTimeout = 10 * time.Second
)

// DNSProber asks one resolver for one record type. It is safe for
// concurrent use.
type DNSProber struct {
	server string
	qtype  uint16
	client *dns.Client
}

var _ Prober = (*DNSProber)(nil)

// NewDNS returns the dns check. It resolves the server once: an empty
// Server is looked up in /etc/resolv.conf now, not at every probe. It
// refuses record types that cannot be answered with records of that type
// (ANY, AXFR, IXFR, OPT and the like) and numbers miekg/dns does not know.
func NewDNS(o DNSOptions) (*DNSProber, error) {
	qtype := o.Type
	if qtype == 0 {
		qtype = dns.TypeA
	}
	if err := checkDNSType(qtype); err != nil {
		return nil, err
	}

	server := strings.TrimSpace(o.Server)
	if server == "" {
		server = serverFromResolvConf(resolvConfPath)
	} else {
		s, err := normaliseDNSServer(server)
		if err != nil {
			return nil, fmt.Errorf("dns server %q: %w", o.Server, err)
		}
		server = s
	}
	return &DNSProber{
		server: server,
		qtype:  qtype,
		// One client for both transports: Probe dials the connection
		// itself and only borrows the client's exchange logic.
		client: &dns.Client{UDPSize: ednsBufSize, Timeout: dnsDefaultTimeout},
	}, nil
}

// Server returns the resolver's host:port that Probe asks.
func (p *DNSProber) Server() string { return p.server }

// serverFromResolvConf returns the first nameserver of a resolv.conf file
// as host:port, or 127.0.0.1:53 when the file is missing or names none.
func serverFromResolvConf(path string) string {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil || len(cfg.Servers) == 0 {
		return fallbackServer
	}
	port := cfg.Port
	if port == "" {
		port = "53"
	}
	return net.JoinHostPort(cfg.Servers[0], port)
}

// checkDNSType refuses record types that cannot be answered with records
// of that type (ANY, AXFR, IXFR, OPT and the like) and numbers miekg/dns
// does not know.
func checkDNSType(qtype uint16) error {
	name, ok := dns.TypeToString[qtype]
	if !ok {
		return fmt.Errorf("record type %d is not known", qtype)
	}
	switch qtype {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB,
		dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeNone, dns.TypeReserved:
		return fmt.Errorf("record type %s cannot be checked: no answer is ever of that type", name)
	}
	return nil
}

// ParseDNSType accepts a record type's name in any case ("A", "mx",
// "TXT") and returns its number, refusing the types NewDNS refuses.
func ParseDNSType(s string) (uint16, error) {
	qtype, ok := dns.StringToType[strings.ToUpper(strings.TrimSpace(s))]
	if !ok {
		return 0, fmt.Errorf("record type %q is not known", s)
	}
	if err := checkDNSType(qtype); err != nil {
		return 0, err
	}
	return qtype, nil
}

// ParseRcode accepts a response code's name in any case (NOERROR,
// NXDOMAIN, SERVFAIL, REFUSED, and the rest of miekg/dns's
// StringToRcode, with BADVERS for BADSIG's number) and returns it, as
// DNSSpec.Rcode wants it.
func ParseRcode(s string) (int, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if rc, ok := dns.StringToRcode[name]; ok {
		return rc, nil
	}
	if name == "BADVERS" {
		return dns.RcodeBadVers, nil
	}
	return 0, fmt.Errorf("rcode %q is not known (want NOERROR, NXDOMAIN, SERVFAIL, REFUSED or another DNS rcode name)", s)
}

// NormaliseDNSServer accepts a resolver as DNSOptions.Server does —
// host:port, [v6]:port, a bare host or a bare IP address — and returns its
// host:port, as DNSSpec.Server wants it.
func NormaliseDNSServer(s string) (string, error) {
	return normaliseDNSServer(strings.TrimSpace(s))
}

// normaliseDNSServer accepts host:port, [v6]:port, a bare host or a bare IP
// address, and returns host:port.
func normaliseDNSServer(s string) (string, error) {
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" {
			return "", errors.New("missing host")
		}
		if _, err := parsePort(port); err != nil {
			return "", err
		}
		return net.JoinHostPort(host, port), nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if host == "" {
		return "", errors.New("missing host")
	}
	if strings.ContainsAny(host, "[]/ ") {
		return "", errors.New("not a host or host:port")
	}
	return net.JoinHostPort(host, "53"), nil
}

// Probe makes one query for t.Address over UDP with recursion desired and
// an EDNS0 buffer of 1232 bytes. When the reply is truncated it asks again
// over TCP; it never retries otherwise. The check is up when the rcode is
// NOERROR and the answer section holds at least one record of the asked
// type: a CNAME chain without the records it leads to does not count.
// Latency covers both queries when TCP was needed. ctx bounds the attempt;
// without a deadline, dialling, writing and reading each give up after
// 10 s.
//
// A target's DNSSpec may name another server and record type, and judge
// the reply otherwise: with Rcode set (not -1) the check is up when the
// reply has that rcode, answers or not; with Expect set, each expected
// answer must also be among the answers of the asked type (see
// dnsAnswer.matches).
func (p *DNSProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	server, qtype := p.server, p.qtype
	var spec *DNSSpec
	if t.Spec != nil && t.Spec.DNS != nil {
		spec = t.Spec.DNS
		if spec.Server != "" {
			server = spec.Server
		}
		if spec.Type != 0 {
			if err := checkDNSType(spec.Type); err != nil {
				return Result{Status: StatusDown, Error: err.Error(), final: true}
			}
			qtype = spec.Type
		}
	}
	d := &DNSDetail{Server: server, Type: dnsTypeName(qtype), Transport: "udp"}
	res := Result{Status: StatusDown, DNS: d}

	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(t.Address), qtype)
	m.RecursionDesired = true
	m.SetEdns0(ednsBufSize, false)

	r, err := p.exchange(ctx, "udp", server, m)
	if err == nil && r.Truncated {
		d.Transport = "tcp"
		m.Id = dns.Id()
		r, err = p.exchange(ctx, "tcp", server, m)
	}
	res.Latency = time.Since(start)
	if err != nil {
		res.Error = dnsErrorText(ctx, err, res.Latency)
		return res
	}

	d.Rcode = rcodeName(r.Rcode)
	if q := r.Question; len(q) > 0 && (q[0].Qtype != qtype || !strings.EqualFold(q[0].Name, m.Question[0].Name)) {
		res.Error = fmt.Sprintf("reply is for another question (%s %s)", dnsTypeName(q[0].Qtype), q[0].Name)
		return res
	}
	for _, rr := range r.Answer {
		if isAnswerOf(rr, qtype) {
			d.Answers++
		}
	}
	switch {
	case spec != nil && spec.Rcode >= 0:
		if r.Rcode != spec.Rcode {
			res.Error = fmt.Sprintf("rcode %s, want %s", d.Rcode, rcodeName(spec.Rcode))
			return res
		}
	case r.Rcode != dns.RcodeSuccess:
		res.Error = d.Rcode
		return res
	case d.Answers == 0 && len(r.Answer) > 0:
		res.Error = fmt.Sprintf("no %s records (answer has only %s)", d.Type, answerTypes(r.Answer))
		return res
	case d.Answers == 0:
		res.Error = fmt.Sprintf("no %s records", d.Type)
		return res
	}
	if spec != nil && len(spec.Expect) > 0 {
		if msg := lackedAnswers(spec.Expect, r.Answer, qtype); msg != "" {
			res.Error = msg
			return res
		}
	}
	res.Status = StatusUp
	return res
}

// isAnswerOf reports whether rr answers a question of type qtype (class
// IN).
func isAnswerOf(rr dns.RR, qtype uint16) bool {
	h := rr.Header()
	return h.Rrtype == qtype && h.Class == dns.ClassINET
}

// rcodeName names a response code: "NOERROR", or "RCODE23" for a number
// without a name.
func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// exchange sends m to server over network ("udp" or "tcp") and reads the
// reply with a matching ID. Client.ExchangeContext obeys only ctx's
// deadline, not its cancellation, so exchange dials the connection itself
// and closes it when ctx is done.
func (p *DNSProber) exchange(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	r, _, err := p.client.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: conn})
	if err != nil {
		return nil, err
	}
	if r == nil { // not expected from miekg/dns, but never worth a panic
		return nil, errors.New("empty reply")
	}
	return r, nil
}

// answerTypes lists the distinct record types of rrs: "CNAME" or "CNAME, TXT".
func answerTypes(rrs []dns.RR) string {
	var names []string
	for _, rr := range rrs {
		if n := dnsTypeName(rr.Header().Rrtype); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

func dnsTypeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// dnsErrorText says briefly why a query got no usable reply.
func dnsErrorText(ctx context.Context, err error, elapsed time.Duration) string {
	if s, ok := timeoutErrorText(ctx, err, elapsed); ok {
		return s
	}
	switch {
	case errors.Is(err, dns.ErrId):
		return "reply id does not match the query"
	case errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	if s, ok := errnoText(err, true); ok {
		return s
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		// "read udp 127.0.0.1:5353->127.0.0.1:53: connection refused"
		// becomes "read udp: connection refused": the server is in
		// DNSDetail already.
		return fmt.Sprintf("%s %s: %v", opErr.Op, opErr.Net, opErr.Err)
	}
	return "bad reply: " + err.Error()
}
