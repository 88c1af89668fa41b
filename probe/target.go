package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// Target is one thing to check. Address is normalised by ParseTarget, so the
// same target written two ways ("Example.COM." and "example.com") has one ID.
type Target struct {
	Check Check
	// Address is the normalised target: a domain name (dns), a host name
	// or IP address (ping), an absolute http(s) URL (http), or host:port
	// with IPv6 addresses in brackets (tls).
	Address string
	// Name is an optional display name from TARGETS_FILE.
	Name string
	// CustomID, when set, is the ID the monitors file gave the target
	// (`id:`), in place of "<check>:<address>".
	CustomID string
	// Spec holds the monitor's own settings; nil means the defaults.
	// Targets with equal settings share one.
	Spec *Spec
}

// ID is the target's stable identity: its CustomID when it has one, else
// "<check>:<address>" with the address as Shown. It keys its state, its
// alerts' de-duplication and its history.
func (t Target) ID() string {
	if t.CustomID != "" {
		return t.CustomID
	}
	return string(t.Check) + ":" + t.Shown()
}

// Shown is the address as it may be stored, logged, reported and exported.
// An http target's URL can carry credentials: its userinfo (user and
// password alike, since APIs take a token as the user name) and the values
// of query parameters named like secrets are replaced by "redacted" (see
// secret.URL). Only the prober sees Address itself.
func (t Target) Shown() string {
	if t.Check != HTTP || !strings.ContainsAny(t.Address, "@?") {
		return t.Address
	}
	return secret.URL(t.Address)
}

// ErrUnknownCheck is returned by ParseCheck for a name that is not a check.
var ErrUnknownCheck = errors.New("unknown check")

// ParseCheck accepts a check name. "website" and "ssl", the original's
// names, are accepted too.
func ParseCheck(s string) (Check, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "dns":
		return DNS, nil
	case "ping", "icmp":
		return Ping, nil
	case "http", "https", "website":
		return HTTP, nil
	case "tls", "ssl":
		return TLS, nil
	case "tcp":
		return TCP, nil
	}
	return "", fmt.Errorf("%q: %w (want dns, ping, http, tls or tcp)", s, ErrUnknownCheck)
}

// DefaultTLSPort is the port a tls target without one is checked on.
const DefaultTLSPort = 443

// ParseTarget validates and normalises a target written by a user. Errors
// quote the input and say what is wrong with it.
func ParseTarget(check Check, raw string) (Target, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Target{}, errors.New("empty target")
	}
	var (
		addr string
		err  error
	)
	switch check {
	case DNS:
		addr, err = normaliseHostname(s)
	case Ping:
		addr, err = normaliseHost(s)
	case HTTP:
		addr, err = normaliseURL(s)
	case TLS:
		addr, err = normaliseHostPort(s, DefaultTLSPort)
	case TCP:
		addr, err = normaliseHostPort(s, 0)
	default:
		return Target{}, fmt.Errorf("%q: %w", string(check), ErrUnknownCheck)
	}
	if err != nil {
		if check == HTTP {
			raw = secret.URL(raw) // the error is printed; the URL may hold a token
		}
		return Target{}, fmt.Errorf("%q: %w", raw, err)
	}
	return Target{Check: check, Address: addr}, nil
}

// normaliseHostname lower-cases a DNS name and drops its trailing dot.
func normaliseHostname(s string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	if name == "" {
		return "", errors.New("empty name")
	}
	if len(name) > 253 {
		return "", errors.New("name longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return "", errors.New("empty label (two dots in a row)")
		}
		if len(label) > 63 {
			return "", fmt.Errorf("label %q longer than 63 characters", label)
		}
		for _, r := range label {
			ok := r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
			if !ok {
				return "", fmt.Errorf("character %q is not allowed in a host name", r)
			}
		}
	}
	return name, nil
}

// normaliseHost accepts an IP address (IPv6 with or without brackets, zone
// allowed) or a host name.
func normaliseHost(s string) (string, error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is6() {
			return "", errors.New("not an IPv6 address inside brackets")
		}
		if err := checkZone(ip.Zone()); err != nil {
			return "", err
		}
		return ip.String(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if err := checkZone(ip.Zone()); err != nil {
			return "", err
		}
		return ip.Unmap().String(), nil
	}
	if strings.Contains(s, ":") {
		return "", errors.New("not an IP address or host name (ping takes no port)")
	}
	return normaliseHostname(s)
}

// checkZone accepts an IPv6 zone that is an interface name or index.
func checkZone(zone string) error {
	for _, r := range zone {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("character %q is not allowed in an IPv6 zone", r)
		}
	}
	return nil
}

// normaliseHostPort accepts host, host:port, [v6] and [v6]:port, and returns
// host:port with IPv6 in brackets.
func normaliseHostPort(s string, defaultPort int) (string, error) {
	host, port := s, defaultPort
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", errors.New("missing ']' after IPv6 address")
		}
		host = s[:end+1]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", fmt.Errorf("unexpected %q after ']'", rest)
			}
			p, err := parsePort(rest[1:])
			if err != nil {
				return "", err
			}
			port = p
		}
	case strings.Count(s, ":") == 1:
		h, p, _ := strings.Cut(s, ":")
		pn, err := parsePort(p)
		if err != nil {
			return "", err
		}
		host, port = h, pn
	case strings.Count(s, ":") > 1:
		// A bare IPv6 address; a port would need brackets.
		if _, err := netip.ParseAddr(s); err != nil {
			return "", errors.New("not an IPv6 address (write [address]:port to give a port)")
		}
	}
	h, err := normaliseHost(host)
	if err != nil {
		return "", err
	}
	if port == 0 {
		return "", errors.New("missing port (write host:port, or [address]:port for IPv6)")
	}
	return net.JoinHostPort(h, strconv.Itoa(port)), nil
}

func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return n, nil
}

// normaliseURL accepts an absolute http or https URL, lower-cases scheme and
// host, drops a default port and gives an empty path "/".
func normaliseURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		return "", fmt.Errorf("missing scheme; did you mean https://%s ?", secret.URL(s))
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("not a URL: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", errors.New("URL has no host")
	}
	// Credentials in the URL are sent as basic authentication; Shown
	// hides the password everywhere the URL is shown.
	host, err := normaliseHost(u.Hostname())
	if err != nil {
		return "", err
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := parsePort(p)
		if err != nil {
			return "", err
		}
		if !(u.Scheme == "http" && n == 80) && !(u.Scheme == "https" && n == 443) {
			host += ":" + strconv.Itoa(n)
		}
	}
	u.Host = host
	u.Fragment = ""
	u.RawFragment = ""
	u.RawQuery = escapeSpaces(u.RawQuery)
	if u.Path == "" {
		u.Path = "/"
		u.RawPath = ""
	}
	return u.String(), nil
}

// escapeSpaces percent-encodes the white space url.Parse leaves raw in a
// query: it is not valid in a request line, and a trailing space would be
// trimmed when the normalised URL is parsed again, changing the target's
// ID.
func escapeSpaces(q string) string {
	if !strings.ContainsFunc(q, unicode.IsSpace) {
		return q
	}
	var b strings.Builder
	for len(q) > 0 {
		// Byte by byte of each rune, so that invalid UTF-8 stays as it is.
		r, n := utf8.DecodeRuneInString(q)
		if unicode.IsSpace(r) {
			for i := range n {
				fmt.Fprintf(&b, "%%%02X", q[i])
			}
		} else {
			b.WriteString(q[:n])
		}
		q = q[n:]
	}
	return b.String()
}
