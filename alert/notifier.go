package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// Notifier delivers messages to one channel: an instance of a provider
// with its own settings.
type Notifier interface {
	// Name is the channel's name in logs, outcomes and the outbox: the
	// monitors file's channel name, or "slack", "teams", "discord" for the
	// channels of the environment's webhook URLs.
	Name() string
	// Send makes ONE attempt to deliver m, bounded by ctx. It does not
	// retry; wrap it in Retry for that. A failure is a *SendError, whose
	// text never contains the webhook URL.
	Send(ctx context.Context, m Message) error
}

// HTTPDoer is the one method of *http.Client the notifiers use, so tests and
// callers can supply their own transport.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// Limits on what is read from a webhook's answer.
const (
	maxResponseRead = 64 << 10 // bytes read from any response, at most
	maxErrorBody    = 512      // bytes of it kept in a SendError
)

// defaultTimeout bounds one attempt when the caller's client is nil and its
// context has no deadline.
const defaultTimeout = 30 * time.Second

// defaultClient is the client a notifier uses when its options give none.
// It follows a redirect only if the redirect keeps the POST and its body
// (307, 308): a 301, 302 or 303 would turn the POST into a GET, and a
// webhook URL that answers GET with 200 (Discord's does) would look like a
// delivery. Such a redirect is reported as the failure it is.
func defaultClient(c HTTPDoer) HTTPDoer {
	if c != nil {
		return c
	}
	return &http.Client{
		Timeout: defaultTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.Method != http.MethodPost || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// SendError is a failed delivery attempt.
type SendError struct {
	// Provider is the channel's name (Notifier.Name).
	Provider string
	// Type is the provider's type, "pagerduty" or "webhook", for the
	// providers whose channels may have other names; "" when Provider is
	// the type ("slack", "teams", "discord"). It is not in the error's
	// text, so ParseSendError cannot read it back.
	Type string
	// Status is the HTTP status the webhook answered; 0 when there was no
	// answer (network error, timeout) or the request was never sent.
	Status int
	// RetryAfter is how long the server asked us to wait (429), or 0.
	RetryAfter time.Duration
	// Body is the start of the response body, at most 512 bytes, with any
	// part of the webhook URL removed.
	Body string
	// Err is the underlying error when there was no answer. It never is a
	// *url.Error (which would print the URL).
	Err error
	// class, when set, is the provider's own reading of the answer, which
	// replaces what Status means to every provider (see answer).
	class answerClass
}

func (e *SendError) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider + ": ")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "webhook answered HTTP %d", e.Status)
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		}
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
		}
		if e.Body != "" {
			fmt.Fprintf(&b, ": %q", e.Body)
		}
	}
	if e.Err != nil {
		if e.Status != 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// Retryable reports whether another attempt may succeed: rate limiting
// (429), server errors (5xx), timeouts and network errors are retryable;
// other answers (4xx: bad payload, revoked webhook), a malformed webhook URL
// and a cancelled context are not. A provider may read an answer its own
// way (the generic webhook retries 408 Request Timeout).
func (e *SendError) Retryable() bool {
	switch {
	case e.Status != 0:
		return e.answer() == answerRetry
	case e.Err == nil, errors.Is(e.Err, errPermanent), errors.Is(e.Err, context.Canceled):
		return false
	}
	return true
}

// errPermanent marks failures that no retry can fix.
var errPermanent = errors.New("permanent failure")

// permanentError is a failure before anything was sent.
type permanentError struct{ msg string }

func (e *permanentError) Error() string        { return e.msg }
func (e *permanentError) Is(target error) bool { return target == errPermanent }

// post sends body as JSON to rawURL with one attempt. A 2xx answer is
// success (nil); anything else is a *SendError (Provider unset: the caller
// names itself). At most 64 KiB of the response is read. The Retry-After
// header, in seconds, sets RetryAfter. Neither the error's text nor its
// Body contains the URL's path or query.
func post(ctx context.Context, client HTTPDoer, rawURL string, body []byte) error {
	return postWith(ctx, client, rawURL, body, nil)
}

// postWith is post with more request headers (they replace post's own
// Content-Type and User-Agent if they name them) and more secrets: texts
// that, like the URL's parts, no error nor kept body may show (a routing
// key sent in the body, which an answer may echo).
func postWith(ctx context.Context, client HTTPDoer, rawURL string, body []byte, header http.Header, secrets ...string) error {
	return postScrubbed(ctx, client, rawURL, body, header, secret.NewScrubber(append(secret.WebhookParts(rawURL), secrets...)...))
}

// postScrubbed is postWith with the caller's idea of what is secret:
// scrub cuts it out of the error's text and Body.
func postScrubbed(ctx context.Context, client HTTPDoer, rawURL string, body []byte, header http.Header, scrub secret.Scrubber) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL: say nothing of it.
		return &SendError{Err: errInvalidURL}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pingpanda")
	for k, vs := range header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}

	resp, err := client.Do(req)
	if err != nil {
		return &SendError{Err: scrub.Error(secret.WithoutURL(err))}
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil // delivered, whatever happened to the rest of the body
	}
	se := &SendError{
		Status: resp.StatusCode,
		// Scrubbed before it is cut, so that a secret crossing the cut
		// leaves no start behind.
		Body: truncateBytes(scrub.String(string(data)), maxErrorBody),
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	if readErr != nil && len(data) == 0 {
		se.Err = scrub.Error(secret.WithoutURL(readErr))
	}
	return se
}

// parseRetryAfter reads a Retry-After header given in seconds (whole or
// fractional). An HTTP date or anything unreadable is 0: the caller's own
// backoff applies.
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(s) || s <= 0 {
		return 0
	}
	return time.Duration(min(s, 24*60*60) * float64(time.Second))
}

// truncateBytes is the first n bytes of s, as valid UTF-8.
func truncateBytes(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// named sets the provider of a *SendError returned by post.
func named(provider string, err error) error {
	var se *SendError
	if errors.As(err, &se) {
		se.Provider = provider
	}
	return err
}
