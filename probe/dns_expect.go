package probe

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// maxListed is how many answers, or expected answers, an error lists
// before it says how many more there are.
const maxListed = 5

// lackedAnswers checks that each of expect is among answer's records of
// type qtype, and when some are not, says which and what the answers were:
// `answers lack "10 mx.example.com." (got "20 mx2.example.com.")`. It
// returns "" when none is lacking.
func lackedAnswers(expect []string, answer []dns.RR, qtype uint16) string {
	var got []dnsAnswer
	for _, rr := range answer {
		if isAnswerOf(rr, qtype) {
			got = append(got, newDNSAnswer(rr))
		}
	}
	var lacked []string
	for _, e := range expect {
		key, found := normaliseDNSData(e), false
		for i := range got {
			if got[i].matches(e, key) {
				found = true
				break
			}
		}
		if !found {
			lacked = append(lacked, e)
		}
	}
	if len(lacked) == 0 {
		return ""
	}
	shown := make([]string, len(got))
	for i := range got {
		shown[i] = got[i].shown()
	}
	seen := "none"
	if len(shown) > 0 {
		seen = listQuoted(shown)
	}
	return fmt.Sprintf("answers lack %s (got %s)", listQuoted(lacked), seen)
}

// listQuoted quotes the first maxListed of items, each cut to 64 bytes,
// separated by commas, and says how many more there are: `"a", "b" and 3
// more`.
func listQuoted(items []string) string {
	var b strings.Builder
	for i, s := range items[:min(len(items), maxListed)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteCut(s, seenQuoteLimit))
	}
	if more := len(items) - maxListed; more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	return b.String()
}

// A dnsAnswer is one answer record's data as it is compared with what a
// monitor expects.
type dnsAnswer struct {
	// text is the data as a zone file writes it, without owner, TTL,
	// class and type: "10 mx.example.com." for MX, `"v=spf1 -all"` for
	// TXT.
	text string
	// txt, for TXT and SPF records, is the text of the character
	// strings joined, without quotes; miekg/dns keeps the escapes of
	// the presentation format (\" and \\, \DDD for bytes not printable).
	txt   string
	isTXT bool
	// key is text as normaliseDNSData makes it, for any other record.
	key string
}

func newDNSAnswer(rr dns.RR) dnsAnswer {
	a := dnsAnswer{text: strings.TrimPrefix(rr.String(), rr.Header().String())}
	switch rr := rr.(type) {
	case *dns.TXT:
		a.txt, a.isTXT = strings.Join(rr.Txt, ""), true
	case *dns.SPF:
		a.txt, a.isTXT = strings.Join(rr.Txt, ""), true
	}
	if !a.isTXT {
		a.key = normaliseDNSData(a.text)
	}
	return a
}

// matches reports whether a monitor's expected answer e, whose
// normaliseDNSData is key, is this answer. Text is compared exactly, as
// the joined text or the quoted form; any other data by key, so names
// match in any case and with or without their trailing dot, and IPv6
// addresses however they are written.
func (a *dnsAnswer) matches(e, key string) bool {
	if a.isTXT {
		return e == a.txt || e == a.text
	}
	return key == a.key
}

// shown is the answer as an error quotes it: a text record's text, any
// other's data.
func (a *dnsAnswer) shown() string {
	if a.isTXT {
		return a.txt
	}
	return a.text
}

// normaliseDNSData makes the presentation form of a record's data (other
// than a text record's) comparable: its fields are separated by one space,
// IP addresses are written as netip writes them, every other field is in
// lower case and loses its trailing dots ("." stays). Lower case is right
// for names, type mnemonics and hex; it makes base64 fields (DNSKEY, say)
// compare without regard to case, which does no harm in practice.
func normaliseDNSData(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		if ip, err := netip.ParseAddr(f); err == nil {
			fields[i] = ip.String()
			continue
		}
		f = strings.ToLower(f)
		if trimmed := strings.TrimRight(f, "."); trimmed != "" {
			f = trimmed
		} else {
			f = "."
		}
		fields[i] = f
	}
	return strings.Join(fields, " ")
}
