package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSendDeliversOnTwoHundreds(t *testing.T) {
	for _, p := range testProviders {
		for _, status := range []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent} {
			t.Run(p.name+" delivers when the webhook answers "+http.StatusText(status), func(t *testing.T) {
				rc := newReceiver(t, reply{status: status, body: "ok"})
				if err := p.make(rc.srv.URL).Send(context.Background(), testMessage()); err != nil {
					t.Fatalf("Send: %v", err)
				}
				got := rc.received()
				if len(got) != 1 {
					t.Fatalf("receiver got %d requests, want 1", len(got))
				}
				if ct := got[0].header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if !json.Valid(got[0].body) || !bytes.Contains(got[0].body, []byte("0123456789abcdef01234567")) {
					t.Errorf("body is not JSON carrying the event ID:\n%s", got[0].body)
				}
			})
		}
	}
}

func TestRetryResendsTheSameMessageAfterServerErrors(t *testing.T) {
	for _, p := range testProviders {
		t.Run(p.name+" is delivered on the third attempt after two 500s, with the same body", func(t *testing.T) {
			rc := newReceiver(t,
				reply{status: 500, body: "oops"}, reply{status: 500, body: "oops"}, reply{status: 200})
			var s sleepRecorder
			r := Retry{Attempts: 3, Backoff: 100 * time.Millisecond, Sleep: s.sleep}
			if err := r.Send(context.Background(), p.make(rc.srv.URL), testMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := rc.received()
			if len(got) != 3 {
				t.Fatalf("receiver got %d requests, want 3", len(got))
			}
			for i := 1; i < 3; i++ {
				if !bytes.Equal(got[i].body, got[0].body) {
					t.Errorf("attempt %d sent a different body:\n%s\nfirst:\n%s", i+1, got[i].body, got[0].body)
				}
			}
			if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(s.waits(), want) {
				t.Errorf("waits = %v, want %v", s.waits(), want)
			}
		})
	}
}

func TestRetryWaitsAsTheServerAsks(t *testing.T) {
	tests := []struct {
		name     string
		provider int
		limited  reply
		want     time.Duration
	}{
		{"slack's Retry-After: 1 makes the retry wait 1 s", 0,
			reply{status: 429, header: map[string]string{"Retry-After": "1"}, body: "rate_limited"}, time.Second},
		{"teams' Retry-After: 2 makes the retry wait 2 s", 1,
			reply{status: 429, header: map[string]string{"Retry-After": "2"}}, 2 * time.Second},
		{"discord's JSON retry_after 0.5 makes the retry wait 0.5 s", 3,
			reply{status: 429, header: map[string]string{"Retry-After": "1", "Content-Type": "application/json"},
				body: `{"message": "You are being rate limited.", "retry_after": 0.5, "global": false}`}, 500 * time.Millisecond},
		{"a Retry-After beyond a minute is cut to a minute", 0,
			reply{status: 429, header: map[string]string{"Retry-After": "3600"}}, time.Minute},
		{"a 429 without Retry-After falls back to the backoff", 0,
			reply{status: 429}, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.limited, reply{status: 200})
			var s sleepRecorder
			r := Retry{Attempts: 3, Backoff: 7 * time.Second, Sleep: s.sleep}
			if err := r.Send(context.Background(), testProviders[tt.provider].make(rc.srv.URL), testMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := s.waits(); !slices.Equal(got, []time.Duration{tt.want}) {
				t.Errorf("waits = %v, want [%v]", got, tt.want)
			}
			if n := len(rc.received()); n != 2 {
				t.Errorf("receiver got %d requests, want 2", n)
			}
		})
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	long := "invalid_payload: " + strings.Repeat("x", 2000)
	for _, p := range testProviders {
		t.Run(p.name+" gives up at once on 400 and reports the start of the body", func(t *testing.T) {
			rc := newReceiver(t, reply{status: 400, body: long})
			var s sleepRecorder
			err := Retry{Attempts: 5, Backoff: time.Second, Sleep: s.sleep}.Send(context.Background(), p.make(rc.srv.URL), testMessage())
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SendError", err)
			}
			if se.Status != 400 || se.Retryable() || len(se.Body) != 512 || !strings.HasPrefix(se.Body, "invalid_payload: xxx") {
				t.Errorf("status %d, retryable %v, body of %d bytes %.30q", se.Status, se.Retryable(), len(se.Body), se.Body)
			}
			if !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "invalid_payload") {
				t.Errorf("error text = %q", err)
			}
			if n := len(rc.received()); n != 1 || len(s.waits()) != 0 {
				t.Errorf("%d requests and waits %v, want 1 request and no wait", n, s.waits())
			}
			if se.Provider != p.make("http://x").Name() {
				t.Errorf("provider = %q", se.Provider)
			}
		})
	}
}

func TestSendReturnsByTheDeadlineWhenTheWebhookNeverAnswers(t *testing.T) {
	for _, p := range testProviders {
		t.Run(p.name+" gives up when the context's deadline passes", func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, reply{hang: true})
			ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
			defer cancel()
			var s sleepRecorder
			start := time.Now()
			err := Retry{Attempts: 3, Backoff: 10 * time.Millisecond, Sleep: s.sleep}.Send(ctx, p.make(rc.srv.URL), testMessage())
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Send took %v after a 250ms deadline", elapsed)
			}
			var se *SendError
			if !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded) || !se.Retryable() {
				t.Fatalf("err = %v, want a retryable *SendError wrapping context.DeadlineExceeded", err)
			}
			if n := len(rc.received()); n != 1 || len(s.waits()) != 0 {
				t.Errorf("%d requests and waits %v after the deadline, want 1 and none", n, s.waits())
			}
		})
	}
}

func TestConnectionRefusedIsARetryableNetworkError(t *testing.T) {
	for _, p := range testProviders {
		t.Run(p.name+" retries a refused connection and reports it", func(t *testing.T) {
			var s sleepRecorder
			err := Retry{Attempts: 3, Backoff: time.Second, Sleep: s.sleep}.Send(context.Background(), p.make(refusedBase(t)), testMessage())
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SendError", err)
			}
			if se.Status != 0 || !se.Retryable() || !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("status %d, retryable %v, err %v", se.Status, se.Retryable(), err)
			}
			if !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("error text = %q", err)
			}
			if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(s.waits(), want) {
				t.Errorf("waits = %v, want %v", s.waits(), want)
			}
		})
	}
}

func TestDiscordAsksToWaitAndKeepsTheQuery(t *testing.T) {
	rc := newReceiver(t, reply{status: 200, body: `{"id":"1"}`})
	d := NewDiscord(DiscordOptions{URL: rc.srv.URL + "/api/webhooks/123/tok?thread_id=42"})
	if err := d.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	q := rc.received()[0].query
	if q.Get("wait") != "true" || q.Get("thread_id") != "42" {
		t.Errorf("query = %v, want wait=true and thread_id=42", q)
	}
}

func TestTeamsChoosesTheCardByURL(t *testing.T) {
	for _, tt := range []struct {
		url    string
		legacy bool
	}{
		{"https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d", true},
		{"https://CONTOSO.WEBHOOK.OFFICE.COM/webhookb2/a@b/IncomingWebhook/c/d", true},
		{"https://outlook.office.com/webhook/a@b/IncomingWebhook/c/d", true},
		{"https://outlook.office.com/webhookb2/a@b/IncomingWebhook/c/d", true},
		{"https://outlook.office.com/owa/", false},
		{"https://prod-00.westeurope.logic.azure.com:443/workflows/a/triggers/manual/paths/invoke?sig=x", false},
		{"https://default0000.00.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/a/triggers/manual/paths/invoke", false},
		{"https://webhook.office.com.evil.example/webhookb2/x", false},
		{"not a url\x7f", false},
	} {
		kind := "an Adaptive Card"
		if tt.legacy {
			kind = "a MessageCard"
		}
		t.Run(strings.ToValidUTF8(tt.url, "?")+" gets "+kind, func(t *testing.T) {
			if got := isLegacyTeamsURL(tt.url); got != tt.legacy {
				t.Errorf("isLegacyTeamsURL = %v, want %v", got, tt.legacy)
			}
		})
	}
}

func TestSendErrorRetryable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  *SendError
		want bool
	}{
		{"429 is retryable", &SendError{Status: 429}, true},
		{"500 is retryable", &SendError{Status: 500}, true},
		{"503 is retryable", &SendError{Status: 503}, true},
		{"400 is not", &SendError{Status: 400}, false},
		{"404 (deleted webhook) is not", &SendError{Status: 404}, false},
		{"a redirect that was not followed is not", &SendError{Status: 302}, false},
		{"a timeout is retryable", &SendError{Err: context.DeadlineExceeded}, true},
		{"a network error is retryable", &SendError{Err: syscall.ECONNRESET}, true},
		{"a cancelled context is not", &SendError{Err: context.Canceled}, false},
		{"a malformed URL is not", &SendError{Err: &permanentError{"invalid webhook URL"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Retryable(); got != tt.want {
				t.Errorf("Retryable() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"1", time.Second},
		{" 30 ", 30 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"NaN", 0},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0},
		{"", 0},
		{"1e12", 24 * time.Hour},
	} {
		t.Run("Retry-After "+tt.in+" means "+tt.want.String(), func(t *testing.T) {
			if got := parseRetryAfter(tt.in); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// endlessBody is a response body that never ends, counting what was read.
type endlessBody struct{ n int }

func (b *endlessBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	b.n += len(p)
	return len(p), nil
}
func (b *endlessBody) Close() error { return nil }

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestPostReadsAtMost64KiBOfTheAnswer(t *testing.T) {
	for _, status := range []int{200, 500} {
		t.Run("an endless "+http.StatusText(status)+" body is read no further than 64 KiB", func(t *testing.T) {
			body := &endlessBody{}
			doer := doerFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: status, Header: http.Header{}, Body: body}, nil
			})
			err := post(context.Background(), doer, "http://127.0.0.1:1/hook", []byte("{}"))
			if (err == nil) != (status == 200) {
				t.Errorf("err = %v", err)
			}
			if body.n > 64<<10 {
				t.Errorf("read %d bytes", body.n)
			}
		})
	}
}

func TestARedirectThatWouldDropTheBodyIsAFailure(t *testing.T) {
	for _, tt := range []struct {
		status    int
		delivered bool
	}{
		{http.StatusMovedPermanently, false},
		{http.StatusFound, false},
		{http.StatusSeeOther, false},
		{http.StatusTemporaryRedirect, true},
		{http.StatusPermanentRedirect, true},
	} {
		name := "a " + http.StatusText(tt.status) + " is reported, not followed as a GET"
		if tt.delivered {
			name = "a " + http.StatusText(tt.status) + " is followed with the same POST"
		}
		t.Run(name, func(t *testing.T) {
			target := newReceiver(t, reply{status: 200})
			rc := newReceiver(t, reply{status: tt.status, header: map[string]string{"Location": target.srv.URL + "/moved"}})
			err := NewSlack(SlackOptions{URL: rc.srv.URL + "/services/T/B/tok"}).Send(context.Background(), testMessage())
			got := target.received()
			if tt.delivered {
				if err != nil || len(got) != 1 || len(got[0].body) == 0 {
					t.Fatalf("err %v, %d requests at the new location", err, len(got))
				}
				return
			}
			var se *SendError
			if !errors.As(err, &se) || se.Status != tt.status || se.Retryable() || len(got) != 0 {
				t.Errorf("err %v, %d requests at the new location; want a non-retryable %d and none", err, len(got), tt.status)
			}
		})
	}
}
