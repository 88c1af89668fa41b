package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// HTTPDetail is what an http check records.
type HTTPDetail struct {
	StatusCode int    // final response's status code; 0 when none arrived
	FinalURL   string // URL of the final response, after redirects
	Redirects  int
}

// CodeSet is a set of HTTP status codes, written "200,204,300-399". The zero
// CodeSet is empty.
type CodeSet struct {
	// ranges are inclusive, sorted, and neither overlap nor touch.
	ranges [][2]int
}

// ParseCodes parses a comma-separated list of status codes and inclusive
// ranges, such as "200", "200,201,204" or "200-299, 301". Spaces around
// codes are allowed. Codes run from 100 to 599. An empty list is an error:
// a check that no status can pass is a mistake, not a setting.
func ParseCodes(s string) (CodeSet, error) {
	if strings.TrimSpace(s) == "" {
		return CodeSet{}, errors.New("no status codes")
	}
	var ranges [][2]int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return CodeSet{}, fmt.Errorf("empty entry in %q", s)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			n, err := parseCode(part)
			if err != nil {
				return CodeSet{}, err
			}
			ranges = append(ranges, [2]int{n, n})
			continue
		}
		a, err := parseCode(strings.TrimSpace(lo))
		if err != nil {
			return CodeSet{}, fmt.Errorf("range %q: %w", part, err)
		}
		b, err := parseCode(strings.TrimSpace(hi))
		if err != nil {
			return CodeSet{}, fmt.Errorf("range %q: %w", part, err)
		}
		if a > b {
			return CodeSet{}, fmt.Errorf("range %q is backwards", part)
		}
		ranges = append(ranges, [2]int{a, b})
	}
	return CodeSet{ranges: mergeRanges(ranges)}, nil
}

func parseCode(s string) (int, error) {
	if s == "" {
		return 0, errors.New("missing status code")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a status code", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 3 || n < 100 || n > 599 {
		return 0, fmt.Errorf("%q is not a status code from 100 to 599", s)
	}
	return n, nil
}

// mergeRanges sorts ranges and joins those that overlap or touch, so that
// equal sets have equal representations.
func mergeRanges(rs [][2]int) [][2]int {
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	var out [][2]int
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// Contains reports whether code is in the set.
func (c CodeSet) Contains(code int) bool {
	for _, r := range c.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// IsEmpty reports whether the set holds no code.
func (c CodeSet) IsEmpty() bool { return len(c.ranges) == 0 }

// String returns the set in normalised form, ranges sorted and merged:
// "200-299,301". ParseCodes reads it back as an equal set. The empty set
// is "".
func (c CodeSet) String() string {
	var b strings.Builder
	for i, r := range c.ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r[0]))
		if r[1] != r[0] {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r[1]))
		}
	}
	return b.String()
}

// HTTPOptions configures the http check.
type HTTPOptions struct {
	// Success holds the status codes that count as up. Empty means 200.
	Success CodeSet
	// RootCAs verifies https targets; nil means the system roots.
	RootCAs *x509.CertPool
	// MaxConns bounds connections per host (the sweep's concurrency), and
	// the idle connections kept. Zero means 512.
	MaxConns int
	// UserAgent is sent with every request. Empty means "pingpanda".
	UserAgent string
}

const (
	// maxRedirects is the number of redirects an http check follows.
	maxRedirects = 10
	// maxBodyRead is how much of a body an http check reads before
	// closing the response; it lets small responses reuse the connection.
	maxBodyRead = 64 << 10
	// maxHeaderBytes bounds a response's headers; net/http's default,
	// 10 MiB, would let hostile targets hold gigabytes at a concurrency
	// of 512.
	maxHeaderBytes = 64 << 10
	// maxBodyDrain bounds the time spent reading the body: it is read only
	// so that the connection can be reused, and a body trickled slowly
	// would otherwise hold a worker for the whole attempt timeout.
	maxBodyDrain     = time.Second
	defaultMaxConns  = 512
	defaultUserAgent = "pingpanda"
	// httpReadBuffer and httpWriteBuffer size each HTTP/1 connection's
	// buffers (see NewHTTP).
	httpReadBuffer  = 1 << 10
	httpWriteBuffer = 512
)

var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", maxRedirects)

// HTTPProber fetches URLs with GET, or as a target's spec says. It is
// safe for concurrent use, and its connections are shared by all its
// probes.
type HTTPProber struct {
	success   CodeSet
	userAgent string
	transport *http.Transport
}

var _ Prober = (*HTTPProber)(nil)

// NewHTTP returns the http check. Proxies come from the environment
// (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), read at the first request.
func NewHTTP(o HTTPOptions) *HTTPProber {
	success := o.Success
	if success.IsEmpty() {
		success = CodeSet{ranges: [][2]int{{200, 200}}}
	}
	ua := o.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	conns := o.MaxConns
	if conns <= 0 {
		conns = defaultMaxConns
	}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	return &HTTPProber{
		success:   success,
		userAgent: ua,
		// No timeouts of its own: ctx bounds every attempt.
		transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         dialer.DialContext,
			TLSClientConfig:     &tls.Config{RootCAs: o.RootCAs},
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			// HTTP/2 takes its header list limit from this too.
			MaxResponseHeaderBytes: maxHeaderBytes,
			// Every keep-alive HTTP/1 connection holds a read and a write
			// buffer, 4 KiB each by default, idle or not: at 512 in
			// flight, hundreds of connections. A check sends one short
			// GET and reads headers and a body it discards; a larger
			// request or header just takes more than one read or write.
			ReadBufferSize:  httpReadBuffer,
			WriteBufferSize: httpWriteBuffer,
		},
	}
}

// CloseIdleConnections closes connections kept for reuse; the prober stays
// usable.
func (p *HTTPProber) CloseIdleConnections() { p.transport.CloseIdleConnections() }

// Probe makes one request to t.Address, following at most 10 redirects:
// a GET, or what the target's spec (t.Spec.HTTP) says. It is up when the
// final status is in the success codes, and then when its latency is
// within the spec's max_latency and the answer passes the spec's
// assertions (HTTPExpect), in that order; slower than warn_latency, it is
// up but degraded. Its latency is the time to the final response's
// headers. It refuses headers over 64 KiB, reads at most 64 KiB of the
// body for at most a second, and then closes the connection, whatever the
// body's size. Errors never contain the URL, or a request header's value,
// which may carry secrets.
func (p *HTTPProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	d := &HTTPDetail{}
	res := Result{Status: StatusDown, HTTP: d}
	var hs *HTTPSpec
	if t.Spec != nil {
		hs = t.Spec.HTTP
	}

	// reqCtx is ctx that the body drain may also end (maxBodyDrain).
	reqCtx, cancelReq := context.WithCancel(ctx)
	defer cancelReq()
	req, err := p.newRequest(reqCtx, t.Address, hs)
	if err != nil {
		res.Error = "bad url: " + httpErrorText(ctx, err, 0, nil)
		if errors.Is(err, errBadMethod) {
			res.Error = err.Error()
		}
		res.final = true
		return res
	}
	noRedirects := hs != nil && hs.NoRedirects

	visited := []*url.URL{req.URL}
	client := &http.Client{
		Transport: p.transport,
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			visited = append(visited, next.URL)
			if noRedirects {
				// The redirect is the answer.
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return errTooManyRedirects
			}
			d.Redirects = len(via)
			return nil
		},
	}
	resp, err := client.Do(req)
	res.Latency = time.Since(start)
	if resp != nil {
		// Set even on error: after too many redirects, resp is the last
		// redirect, its body already closed.
		d.StatusCode = resp.StatusCode
		d.FinalURL = finalURL(resp.Request.URL, t.Spec) // redirects can add tokens too
	}
	if err != nil {
		res.Error = httpErrorText(ctx, err, res.Latency, visited)
		// A certificate that fails verification fails the same way on
		// the next attempt; as in the tls check, it is not retried.
		var cve *tls.CertificateVerificationError
		res.final = errors.As(err, &cve)
		return res
	}

	// What can be judged before the body is: the status, the latency,
	// the headers.
	success := p.success
	if hs != nil && !hs.Success.IsEmpty() {
		success = hs.Success
	}
	var failure error
	switch {
	case !success.Contains(resp.StatusCode):
		failure = fmt.Errorf("status %d not in success codes %s", resp.StatusCode, success)
	case hs == nil:
	case hs.MaxLatency > 0 && res.Latency > hs.MaxLatency:
		failure = fmt.Errorf("latency %s above max_latency %s", latencyText(res.Latency, hs.MaxLatency), hs.MaxLatency)
	default:
		failure = hs.Expect.checkHeaders(resp.Header, t.Spec.Secrets)
	}

	if failure == nil && hs != nil && hs.Expect.NeedsBody() {
		// Read for the assertions, as much as the drain below would.
		bufp := bodyBufs.Get().(*[]byte)
		drained := time.AfterFunc(maxBodyDrain, cancelReq)
		body, complete := readBody(resp.Body, bufp, resp.ContentLength)
		drained.Stop()
		resp.Body.Close()
		failure = hs.Expect.checkBody(ctx, body, complete, t.Spec.Secrets)
		bodyBufs.Put(bufp)
	} else {
		// A body that fails to arrive, or is cut short after
		// maxBodyDrain, does not change the status already received,
		// so read errors are ignored.
		drained := time.AfterFunc(maxBodyDrain, cancelReq)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyRead))
		drained.Stop()
		resp.Body.Close()
	}

	if failure != nil {
		res.Error = failure.Error()
		return res
	}
	res.Status = StatusUp
	res.Degraded = hs != nil && hs.WarnLatency > 0 && res.Latency > hs.WarnLatency
	return res
}

// errBadMethod marks a spec's method that net/http refuses.
var errBadMethod = errors.New("bad method")

// newRequest makes the request for rawURL: a GET with the prober's
// User-Agent, or the method, headers and body of hs.
func (p *HTTPProber) newRequest(ctx context.Context, rawURL string, hs *HTTPSpec) (*http.Request, error) {
	if hs == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", p.userAgent)
		return req, nil
	}
	method := hs.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if hs.Body != "" {
		// A *strings.Reader: the request gets its Content-Length, and
		// a 307 or 308 redirect can send the body again.
		body = strings.NewReader(hs.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		if strings.HasPrefix(err.Error(), "net/http: invalid method") {
			return nil, fmt.Errorf("%w %s", errBadMethod, quoteBounded(method))
		}
		return nil, err
	}
	for _, h := range hs.Headers {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", p.userAgent)
	}
	return req, nil
}

// latencyText words latency, found above limit, to the millisecond, or
// finer when that would round it down to the limit itself.
func latencyText(latency, limit time.Duration) string {
	for _, unit := range []time.Duration{time.Millisecond, time.Microsecond} {
		if r := latency.Round(unit); r > limit {
			return r.String()
		}
	}
	return latency.String()
}

// httpErrorText says briefly why a request failed. It drops the URL that
// *url.Error carries and, in case a nested error quotes one anyway, erases
// the query string of every URL visited.
func httpErrorText(ctx context.Context, err error, elapsed time.Duration, visited []*url.URL) string {
	if s, ok := timeoutErrorText(ctx, err, elapsed); ok {
		return s
	}
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	var text string
	switch {
	case errors.Is(err, errTooManyRedirects):
		text = errTooManyRedirects.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		text = "connection closed before a response"
	case strings.HasPrefix(err.Error(), "failed to parse Location header"):
		text = "redirect to an invalid url"
	case strings.Contains(err.Error(), "server response headers exceeded"):
		text = fmt.Sprintf("response headers larger than %d KiB", maxHeaderBytes>>10)
	default:
		if s, ok := errnoText(err, true); ok {
			text = s
		} else {
			text = err.Error()
		}
	}
	var queries []string
	for _, u := range visited {
		if u.RawQuery != "" {
			queries = append(queries, u.RawQuery)
		}
	}
	return secret.NewScrubber(queries...).String(text)
}

// finalURL is the URL of the final response as it may be shown: its
// userinfo and secret-looking query values redacted, and any of the
// monitor's secrets (a server can redirect to a path that echoes a
// token) cut out, as written and as escaped in a URL.
func finalURL(u *url.URL, spec *Spec) string {
	shown := secret.URL(u.String())
	if spec == nil || spec.Secrets.Longest() == 0 {
		return shown
	}
	shown = spec.Secrets.String(shown)
	if unescaped, err := url.PathUnescape(shown); err == nil && unescaped != shown {
		if scrubbed := spec.Secrets.String(unescaped); scrubbed != unescaped {
			return scrubbed
		}
	}
	return shown
}
