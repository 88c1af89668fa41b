package push

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// HTTPDoer sends one HTTP request; *http.Client is one. It is the seam
// tests and callers with their own transport use.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// DefaultJob is the job a push goes under when the options name none.
const DefaultJob = "pingpanda"

// defaultTimeout bounds one push when the caller's client is nil and its
// context has no earlier deadline.
const defaultTimeout = 10 * time.Second

// maxErrorBody is how much of a refusing gateway's answer a PushError
// keeps; the rest is neither read nor kept.
const maxErrorBody = 512

// PushgatewayOptions configure a Pushgateway.
type PushgatewayOptions struct {
	// URL is the gateway's base URL, http:// or https://, possibly with a
	// path prefix (a gateway behind a reverse proxy) but without a query.
	// Credentials in it (https://user:password@host) are moved to HTTP
	// basic authentication unless Username is set, which wins.
	URL string
	// Job is the job label of the group pushed; empty means DefaultJob.
	Job string
	// Instance is the grouping label instance: the shard, such as "0-of-1",
	// so that shards never overwrite each other's group. Required.
	Instance string
	// Username and Password, when either is set, authenticate with HTTP
	// basic authentication.
	Username, Password string
	// Client sends the request; nil means an http.Client with a 10 s
	// timeout that follows no redirect (a redirected PUT is reported as
	// the refusal it is, not half-followed).
	Client HTTPDoer
}

// Pushgateway pushes a sweep's metrics to a Prometheus Pushgateway. It is
// safe for concurrent use.
type Pushgateway struct {
	url                string // of the group: scheme://host/prefix/metrics/job/…, without credentials
	shown              string // scheme://host, the only part errors show
	job, instance      string
	username, password string
	scrub              secret.Scrubber // the password's forms, and the URL's path (which may hold a token)
	client             HTTPDoer
	err                error // from the options; returned by every Push
}

// NewPushgateway returns a Pushgateway. Like client_golang's push.New, it
// never fails: options it cannot use (a malformed URL, an empty Instance)
// make every Push return the same error. That error never quotes the URL,
// which may hold credentials.
func NewPushgateway(o PushgatewayOptions) *Pushgateway {
	p := &Pushgateway{
		job:      o.Job,
		instance: o.Instance,
		username: o.Username,
		password: o.Password,
		client:   o.Client,
	}
	if p.job == "" {
		p.job = DefaultJob
	}
	if p.client == nil {
		p.client = &http.Client{
			Timeout: defaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	u, err := parseGatewayURL(o.URL)
	if err != nil {
		p.err = err
		return p
	}
	if p.instance == "" {
		p.err = errors.New("pushgateway: empty instance (the shard, such as 0-of-1)")
	}
	if u.User != nil && o.Username == "" && o.Password == "" {
		p.username = u.User.Username()
		p.password, _ = u.User.Password()
	}
	u.User = nil
	p.url = strings.TrimSuffix(u.String(), "/") + groupPath(p.job, p.instance)
	p.shown = u.Scheme + "://" + u.Host
	// A gateway, or a proxy in front of it, may echo the request in its
	// answer: the password in any of its forms, and the URL's path prefix.
	secrets := secret.BasicAuth(p.username, p.password)
	if prefix := strings.Trim(u.EscapedPath(), "/"); prefix != "" {
		secrets = append(secrets, "/"+prefix)
		if unescaped, err := url.PathUnescape("/" + prefix); err == nil {
			secrets = append(secrets, unescaped)
		}
	}
	p.scrub = secret.NewScrubber(secrets...)
	return p
}

// parseGatewayURL checks a gateway URL; its errors do not quote it.
func parseGatewayURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return nil, errors.New("pushgateway URL is not a URL (not shown: it may hold credentials)")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("pushgateway URL must start with http:// or https://")
	case u.Host == "":
		return nil, errors.New("pushgateway URL has no host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("pushgateway URL must not have a query or fragment (the push path is appended to it)")
	}
	return u, nil
}

// Push replaces the gateway's group {job, instance} with the sweep's
// metrics (HTTP PUT of the text format, as WriteText writes it): a series
// absent from the sweep — a target removed from the configuration —
// disappears from the gateway. The body is written as it is sent, never
// held whole. It makes one attempt: the next sweep's push replaces the
// group anyway. A failure is a *PushError when the request was sent; no
// error names more of the URL than scheme://host, nor holds the password.
//
// The sweep is read while the body is sent, until Push returns; it must
// not change meanwhile.
func (p *Pushgateway) Push(ctx context.Context, s Sweep) error {
	if p.err != nil {
		return p.err
	}
	plan := newPlan(s.Results)
	body, bodyWriter := io.Pipe()
	written := make(chan struct{})
	go func() {
		defer close(written)
		// nil closes the pipe: the body ends.
		bodyWriter.CloseWithError(plan.writeText(bodyWriter, &s))
	}()
	resp, err := p.send(ctx, body)
	// The transport may stop reading the body before its end (no answer,
	// or an early refusal): closing it ends the writer, which is waited
	// for, so that no goroutine outlives the push.
	body.CloseWithError(errPushDone)
	<-written
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drops the URL and the method
		}
		return &PushError{Gateway: p.shown, Err: p.scrub.Error(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		// Read a little, so that the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	// Read past what is kept by the longest secret, so that one starting
	// inside the kept part is whole when scrubbed.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, int64(maxErrorBody+p.scrub.Longest())))
	return &PushError{Gateway: p.shown, Status: resp.StatusCode, Body: errorBody(p.scrub.String(string(b)))}
}

// errPushDone is what the body's writer sees when the request is over
// before the body was read to its end.
var errPushDone = errors.New("push: request over")

// send makes the one request of a push.
func (p *Pushgateway) send(ctx context.Context, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", TextContentType)
	if p.username != "" || p.password != "" {
		req.SetBasicAuth(p.username, p.password)
	}
	return p.client.Do(req)
}

// groupPath is the path of the group {job, instance} under the gateway's
// base URL, as client_golang's push package builds it: a value holding a
// slash, or empty, is base64url-encoded with the label name suffixed
// @base64; any other is query-escaped.
func groupPath(job, instance string) string {
	component := func(name, value string) string {
		switch {
		case value == "":
			return name + "@base64/="
		case strings.Contains(value, "/"):
			return name + "@base64/" + base64.RawURLEncoding.EncodeToString([]byte(value))
		}
		return name + "/" + url.QueryEscape(value)
	}
	return "/metrics/" + component("job", job) + "/" + component("instance", instance)
}

// errorBody is the part of a refusal a PushError keeps: its start, as
// valid UTF-8.
func errorBody(s string) string {
	if len(s) > maxErrorBody {
		s = s[:maxErrorBody]
	}
	return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
}

// PushError is a push the gateway refused or never answered.
type PushError struct {
	// Gateway is scheme://host of the gateway, nothing more.
	Gateway string
	// Status is the HTTP status the gateway answered, 0 when it did not
	// answer.
	Status int
	// Body is the start of a refusing gateway's answer (at most 512
	// bytes), such as the Pushgateway's reason for a 400.
	Body string
	// Err is why there was no answer (connection refused, timeout); never
	// a *url.Error, which would print the URL.
	Err error
}

func (e *PushError) Error() string {
	var b strings.Builder
	b.WriteString("push to " + e.Gateway + ": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "gateway answered HTTP %d", e.Status)
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		}
		if e.Body != "" {
			fmt.Fprintf(&b, ": %q", e.Body)
		}
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *PushError) Unwrap() error { return e.Err }
