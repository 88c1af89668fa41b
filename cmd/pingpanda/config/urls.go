package config

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/pingpanda/pingpanda/state"
)

// webhookURL checks a webhook URL without ever quoting it: its path holds
// the token.
func (l *loader) webhookURL(key string) string {
	return l.httpURL(key, urlWords{sends: "its token", holds: "it holds a token", schemes: "https://"})
}

// pushgatewayURL checks PUSHGATEWAY_URL without quoting it: it may carry
// credentials.
func (l *loader) pushgatewayURL() string {
	return l.httpURL("PUSHGATEWAY_URL", urlWords{sends: "metrics and credentials", holds: "it may hold credentials", schemes: "http:// or https://"})
}

// urlWords say, in httpURL's problems, what a URL would send, what it may
// hold, and the schemes it takes.
type urlWords struct{ sends, holds, schemes string }

// httpURL checks key's http(s) URL without ever quoting it.
func (l *loader) httpURL(key string, w urlWords) string {
	v := l.raw(key)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err == nil && u.Host != "" && !l.cleartextAllowed(u):
		l.problem("%s: http:// to a host other than loopback would send %s unencrypted; use https://, or set ALLOW_INSECURE_URLS=true%s", key, w.sends, l.from(key))
	case err != nil:
		l.problem("%s: not a URL (value not shown: %s)%s", key, w.holds, l.from(key))
	case u.Scheme != "https" && u.Scheme != "http":
		l.problem("%s: scheme %s is not %s%s", key, l.shownScheme(key, u.Scheme), w.schemes, l.from(key))
	case u.Host == "":
		l.problem("%s: no host in the URL%s", key, l.from(key))
	default:
		return v
	}
	return ""
}

// cleartextAllowed reports whether u may be used: https://, or http:// to
// a loopback host (localhost, 127.0.0.0/8, ::1), or any http:// when
// ALLOW_INSECURE_URLS is true.
func (l *loader) cleartextAllowed(u *url.URL) bool {
	if u.Scheme != "http" || l.bool("ALLOW_INSECURE_URLS") {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// redisURL checks REDIS_URL without ever quoting it: it may hold a
// password.
func (l *loader) redisURL() string {
	v := l.raw("REDIS_URL")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		l.problem("REDIS_URL: not a URL (value not shown: it may hold a password)%s", l.from("REDIS_URL"))
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		l.problem("REDIS_URL: scheme %s is not redis://, rediss:// or unix://%s", l.shownScheme("REDIS_URL", u.Scheme), l.from("REDIS_URL"))
	case u.Scheme != "unix" && u.Host == "":
		l.problem("REDIS_URL: no host (want redis://[user:password@]host:port[/db])%s", l.from("REDIS_URL"))
	default:
		if err := state.CheckRedisURL(v); err != nil {
			l.problem("REDIS_URL: %v%s", err, l.from("REDIS_URL"))
			return ""
		}
		if skip, _ := strconv.ParseBool(u.Query().Get("skip_verify")); skip && u.Scheme == "rediss" {
			l.warn("REDIS_URL: skip_verify=true turns off verification of the server's certificate")
		}
		return v
	}
	return ""
}

func (l *loader) dnsServer() string {
	s := l.raw("DNS_SERVER")
	if s == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: the whole value is the host.
		host, port = strings.Trim(s, "[]"), "53"
	}
	if host == "" || strings.ContainsAny(host, " /") {
		l.problem("DNS_SERVER: %q is not host:port", s)
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		l.problem("DNS_SERVER: %q has port %q, which is not a number from 1 to 65535", s, port)
		return ""
	}
	return net.JoinHostPort(host, port)
}
