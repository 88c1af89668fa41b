// Package secret owns what a value may show of itself: URLs with their
// credentials, tokens and query secrets redacted, and texts and errors with
// known secrets cut out. Every package that stores, logs, reports or
// returns something that may hold a password, a token or a webhook URL
// goes through it, so the rules live in one place. It depends on nothing
// of pingpanda's, so that every floor, probe upwards, may use it.
//
// The masks differ by what each output has always shown, and the tests
// that hold them: URL writes "redacted" (target IDs, metric labels and
// reports), Endpoint writes "REDACTED" (`pingpanda config`), Password and
// a Scrubber write Mask, "xxxxx", as net/url's URL.Redacted does.
package secret

import (
	"net/url"
	"strings"
	"unicode"
)

// Mask stands in for a password (Password) and for whatever a Scrubber
// cuts out of a text, as net/url's URL.Redacted writes a password.
const Mask = "xxxxx"

// The masks of URL and Endpoint.
const (
	urlMask      = "redacted"
	endpointMask = "REDACTED"
)

// secretWords are the words of a query parameter's name that make its
// value a secret: api_key, apiKey, access_token, X-Amz-Signature,
// X-Amz-Credential, client_secret, sessionid, sentinel_password… but not
// keyword, monkey, signup or author.
var secretWords = map[string]bool{
	"token": true, "key": true, "apikey": true, "secret": true, "password": true, "passwd": true,
	"pass": true, "pwd": true, "sig": true, "signature": true, "auth": true, "authorization": true,
	"credential": true, "credentials": true, "session": true, "sessionid": true, "sid": true, "jwt": true,
}

// secretName reports whether a query parameter's name holds a secret word:
// the name is split into words at every character that is not a letter or
// digit and where lower case turns to upper (apiKey → api, key).
func secretName(name string) bool {
	word := make([]rune, 0, len(name))
	found := false
	flush := func() {
		if len(word) > 0 && secretWords[strings.ToLower(string(word))] {
			found = true
		}
		word = word[:0]
	}
	var prev rune
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			word = append(word, r)
		default:
			word = append(word, r)
		}
		prev = r
	}
	flush()
	return found
}

// URL returns raw as it may be stored, logged, reported and exported: its
// userinfo (user and password alike, since APIs take a token as the user
// name) becomes "redacted", and so does the value of every query parameter
// named like a secret (api_key, access_token, X-Amz-Signature, …). The
// rest, the order of the parameters included, is as raw wrote it. Of a
// string that does not parse as a URL, the query is hidden whole, and so
// is anything before an @ in what would be its host.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		// ("user:pass@host/p" parses as scheme "user", opaque "pass@…".)
		return unparsedURL(raw)
	}
	if u.User != nil {
		u.User = url.User(urlMask)
	}
	if u.RawQuery != "" {
		u.RawQuery = redactQuery(u.RawQuery, urlMask, nil)
	}
	return u.String()
}

// unparsedURL is URL of a string that is not a URL.
func unparsedURL(raw string) string {
	s, _, hadQuery := strings.Cut(raw, "?")
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "", s
	}
	authority, path, hasPath := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = urlMask + authority[i:]
	}
	s = authority
	if hasPath {
		s += "/" + path
	}
	if ok {
		s = scheme + "://" + s
	}
	if hadQuery {
		s += "?" + urlMask
	}
	return s
}

// redactQuery replaces with mask the value of every parameter of a raw
// query that is named like a secret, and passes found each value it
// replaced, decoded and as written. It rewrites the query by hand rather
// than through url.Values, which would reorder the parameters (and change
// target IDs that need no redaction).
func redactQuery(rawQuery, mask string, found func(string)) string {
	parts := strings.Split(rawQuery, "&")
	for i, p := range parts {
		name, value, hasValue := strings.Cut(p, "=")
		if !hasValue {
			continue
		}
		n, err := url.QueryUnescape(name)
		if err != nil {
			n = name
		}
		if !secretName(n) {
			continue
		}
		parts[i] = name + "=" + mask
		if found != nil {
			found(value)
			if v, err := url.QueryUnescape(value); err == nil && v != value {
				found(v)
			}
		}
	}
	return strings.Join(parts, "&")
}

// Password returns u as a log may show it beside the user it connects as:
// its password, and the value of every query parameter named like a secret
// (a Sentinel URL's password option), become Mask; the user name, host,
// path and other options stay. It also returns what it masked (each value
// decoded, and as written where that differs), to build a Scrubber for the
// errors of whatever uses u.
func Password(u *url.URL) (shown string, masked []string) {
	c := *u
	if p, ok := u.User.Password(); ok {
		masked = append(masked, p)
		c.User = url.UserPassword(u.User.Username(), Mask)
	}
	if c.RawQuery != "" {
		c.RawQuery = redactQuery(c.RawQuery, Mask, func(v string) { masked = append(masked, v) })
	}
	return c.String(), masked
}

// Endpoint returns only what names the endpoint of a URL that is a secret
// as a whole (a webhook, a Redis URL): its scheme, user name and host, so
// that an operator can tell which endpoint is configured. Its password
// becomes "REDACTED", and so does its path and query together (where
// webhook tokens live). A value that is not an absolute URL is "REDACTED"
// whole; an empty one stays empty.
func Endpoint(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return endpointMask
	}
	out := u.Scheme + "://"
	if u.User != nil {
		out += u.User.Username()
		if _, ok := u.User.Password(); ok {
			out += ":" + endpointMask
		}
		out += "@"
	}
	out += u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/" + endpointMask
	}
	return out
}
