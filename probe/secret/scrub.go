package secret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Scrubber cuts known secrets out of texts and errors, each occurrence
// replaced by Mask. The zero Scrubber cuts nothing. It is immutable, so
// safe for concurrent use.
type Scrubber struct {
	secrets []string // longest first, none empty, no two equal
}

// NewScrubber returns a Scrubber of secrets; empty ones are ignored.
func NewScrubber(secrets ...string) Scrubber {
	s := make([]string, 0, len(secrets))
	for _, sec := range secrets {
		if sec != "" && !slices.Contains(s, sec) {
			s = append(s, sec)
		}
	}
	slices.SortStableFunc(s, func(a, b string) int { return len(b) - len(a) })
	return Scrubber{secrets: s}
}

// Longest is the length of the longest secret, 0 for none: a caller that
// keeps only the start of a text reads this much more before scrubbing,
// so that a secret crossing the cut is whole when scrubbed.
func (s Scrubber) Longest() int {
	if len(s.secrets) == 0 {
		return 0
	}
	return len(s.secrets[0])
}

// String returns text with every occurrence of every secret replaced by
// Mask. Occurrences that overlap, of one secret or of several, are
// replaced as one, so that no part of any of them is left; the masks
// themselves are never searched again.
func (s Scrubber) String(text string) string {
	type span struct{ start, end int }
	var cut []span
	for _, sec := range s.secrets {
		for i := 0; i+len(sec) <= len(text); {
			j := strings.Index(text[i:], sec)
			if j < 0 {
				break
			}
			cut = append(cut, span{i + j, i + j + len(sec)})
			i += j + 1
		}
	}
	if len(cut) == 0 {
		return text
	}
	slices.SortFunc(cut, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	b.Grow(len(text))
	done := 0 // text before done is written
	for i := 0; i < len(cut); {
		start, end := cut[i].start, cut[i].end
		for i++; i < len(cut) && cut[i].start < end; i++ {
			end = max(end, cut[i].end)
		}
		b.WriteString(text[done:start])
		b.WriteString(Mask)
		done = end
	}
	b.WriteString(text[done:])
	return b.String()
}

// Error returns err with its text scrubbed (nil for nil, err itself when
// its text holds no secret). errors.Is and errors.As see through it to
// err; its text, in every fmt verb, is the scrubbed one.
func (s Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.String(msg)
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

// Scrub is NewScrubber(secrets...).Error(err).
func Scrub(err error, secrets ...string) error {
	return NewScrubber(secrets...).Error(err)
}

// scrubbed is an error whose text had secrets cut out.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// Format prints the scrubbed text whatever the verb: %#v would otherwise
// print the wrapped error's fields, and with them the secret.
func (e *scrubbed) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, strconv.Quote(e.msg))
		return
	}
	io.WriteString(f, e.msg)
}

// WithoutURL returns err without the URL that a *url.Error in it prints
// (an HTTP client's errors quote the request's URL, credentials and
// tokens included): what remains is the *url.Error's operation, in lower
// case, and its cause ("post: dial tcp …"). errors.Is and errors.As still
// reach the cause. An error without a *url.Error is returned as it is.
func WithoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &opError{op: strings.ToLower(ue.Op), err: ue.Err}
	}
	return err
}

// opError is what remains of a *url.Error without its URL.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// BasicAuth returns every form HTTP basic authentication's password can
// take in a text a server or a proxy echoes: the Authorization header's
// base64, the URL userinfo, the password query- and path-escaped, and as
// it is. Without a password there is nothing secret: nil.
func BasicAuth(user, password string) []string {
	if password == "" {
		return nil
	}
	return []string{
		base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
		url.UserPassword(user, password).String(),
		url.QueryEscape(password),
		url.PathEscape(password),
		password,
	}
}

// WebhookParts returns what must not be shown of a URL that carries a
// token in its path or query, as webhooks do: the URL itself, its path and
// query (as written and decoded), every path segment long enough to be a
// token (10 bytes) and the last one, and every query value that long. A
// URL that does not parse yields itself alone.
func WebhookParts(rawURL string) []string {
	var parts []string
	add := func(s string) {
		if s != "" && s != "/" {
			parts = append(parts, s)
		}
	}
	add(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		return parts
	}
	add(u.EscapedPath())
	add(u.Path)
	add(u.RawQuery)
	if q, err := url.QueryUnescape(u.RawQuery); err == nil {
		add(q)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, seg := range segs {
		if len(seg) >= 10 || i == len(segs)-1 {
			add(seg)
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 10 {
				add(v)
			}
		}
	}
	return parts
}
