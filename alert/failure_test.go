package alert

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// verdict is what a caller is to make of a failure.
type verdict string

const (
	vDelivered verdict = "delivered"
	vRejected  verdict = "rejected: drop the message"
	vBroken    verdict = "channel broken: keep the messages"
	vRetry     verdict = "retryable: keep it and try again"
	vKeep      verdict = "not retryable: keep it for the next sweep"
)

func verdictOf(err error) verdict {
	switch {
	case err == nil:
		return vDelivered
	case errors.Is(err, ErrRejected):
		return vRejected
	case errors.Is(err, ErrChannelBroken):
		return vBroken
	case retryable(err):
		return vRetry
	}
	return vKeep
}

func TestEveryStatusGetsItsVerdictFromEveryProvider(t *testing.T) {
	tests := []struct {
		status int
		want   verdict
	}{
		{200, vDelivered}, {204, vDelivered},
		{400, vRejected}, {413, vRejected}, {422, vRejected},
		{401, vBroken}, {403, vBroken}, {404, vBroken}, {410, vBroken},
		{429, vRetry}, {500, vRetry}, {502, vRetry}, {503, vRetry},
		{405, vKeep}, {408, vKeep}, {409, vKeep},
	}
	for _, p := range testProviders {
		for _, tt := range tests {
			if v, ok := p.verdicts[tt.status]; ok {
				tt.want = v
			}
			t.Run(fmt.Sprintf("%s answering %d is %s", p.name, tt.status, tt.want), func(t *testing.T) {
				rc := newReceiver(t, reply{status: tt.status, body: `{"message": "at REQUEST_URL"}`})
				err := p.make(rc.srv.URL).Send(context.Background(), testMessage())
				if got := verdictOf(err); got != tt.want {
					t.Errorf("%d: %v is %q, want %q", tt.status, err, got, tt.want)
				}
				if err != nil && strings.Contains(err.Error(), secretToken) {
					t.Errorf("the error holds the webhook's token: %v", err)
				}
			})
		}
	}
}

func TestFailuresOutsideHTTPGetTheirVerdict(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want verdict
	}{
		{"a webhook URL that does not parse is a broken channel", &SendError{Provider: "slack", Err: errInvalidURL}, vBroken},
		{"a message that cannot be encoded is rejected", &SendError{Provider: "slack", Err: errEncode(errors.New("json: unsupported value"))}, vRejected},
		{"a timeout is retryable", &SendError{Provider: "slack", Err: context.DeadlineExceeded}, vRetry},
		{"a cancelled context is kept", &SendError{Provider: "slack", Err: context.Canceled}, vKeep},
		{"a rejection keeps its verdict through Retry's wrapping", gaveUp(3, &SendError{Status: 422}), vRejected},
		{"a broken channel keeps its verdict through Retry's wrapping", gaveUp(3, &SendError{Status: 410}), vBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdictOf(tt.err); got != tt.want {
				t.Errorf("%v is %q, want %q", tt.err, got, tt.want)
			}
		})
	}
	t.Run("a malformed Discord URL is a broken channel", func(t *testing.T) {
		err := NewDiscord(DiscordOptions{URL: "not a url"}).Send(context.Background(), testMessage())
		if got := verdictOf(err); got != vBroken {
			t.Errorf("%v is %q, want %q", err, got, vBroken)
		}
	})
}

func TestDiagnosisSaysWhatToFix(t *testing.T) {
	tests := []struct {
		err  *SendError
		want string
	}{
		{&SendError{Provider: "slack", Status: 404, Body: "no_service"}, "the Slack webhook answered HTTP 404: the webhook was deleted or its URL is wrong"},
		{&SendError{Provider: "discord", Status: 401}, "the Discord webhook answered HTTP 401: its token is invalid or was revoked"},
		{&SendError{Provider: "teams", Status: 403}, "the Microsoft Teams webhook answered HTTP 403: it may not post: it was revoked, or its app or workflow lost access to the channel"},
		{&SendError{Provider: "slack", Status: 410, Body: "channel_is_archived"}, "the Slack webhook answered HTTP 410: the webhook or its channel is gone (deleted or archived)"},
		{&SendError{Provider: "discord", Err: errInvalidURL}, "the Discord webhook URL does not parse"},
		{&SendError{Provider: "slack", Status: 400}, ""},
		{&SendError{Provider: "slack", Status: 503}, ""},
		{&SendError{Provider: "pagerduty", Status: 403}, "the PagerDuty channel answered HTTP 403: its routing_key is not accepted; check that it is the integration key of an enabled Events API v2 integration"},
		{&SendError{Provider: "pager", Type: "pagerduty", Status: 404}, `the PagerDuty channel "pager" answered HTTP 404: its events URL is wrong or its routing_key unknown`},
		{&SendError{Provider: "pager", Type: "pagerduty", Status: 400, class: answerBroken}, `the PagerDuty channel "pager" answered HTTP 400: PagerDuty refused its routing_key; it must be the 32-character integration key of an Events API v2 integration`},
		{&SendError{Provider: "pager", Type: "pagerduty", Status: 400}, ""},
		{&SendError{Provider: "pagerduty", Err: errInvalidURL}, "the PagerDuty channel's events URL does not parse"},
		{&SendError{Provider: "hook", Type: "webhook", Status: 410}, `the webhook channel "hook" answered HTTP 410: the receiver's endpoint is gone`},
		{&SendError{Provider: "webhook", Type: "webhook", Status: 401}, "the webhook channel answered HTTP 401: the receiver refused the request; check the channel's secret (the receiver's signature key) and the URL's credentials"},
		{&SendError{Provider: "webhook", Err: errInvalidURL}, "the webhook channel's URL does not parse"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s answering %d: %q", tt.err.Provider, tt.err.Status, tt.want), func(t *testing.T) {
			if got := tt.err.Diagnosis(); got != tt.want {
				t.Errorf("Diagnosis() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestARejectedMessageDoesNotBlockTheNextOnes(t *testing.T) {
	for _, p := range testProviders {
		t.Run(p.name+": a 400 for message 1 drops it, and messages 2 and 3 are delivered in the same call", func(t *testing.T) {
			rc := newReceiver(t, reply{status: 400, body: "invalid_payload"}, reply{status: 200})
			d := Deliver(context.Background(), []Owed{{Notifier: p.make(rc.srv.URL), Messages: msgs("e1", "e2", "e3")}}, Retry{Attempts: 3})[0]
			if got := verdicts(d.Outcomes); !slices.Equal(got, []verdict{vRejected, vDelivered, vDelivered}) {
				t.Errorf("outcomes %v, want rejected, delivered, delivered", got)
			}
			if d.Rejected != 1 || d.Broken != nil {
				t.Errorf("rejected %d, broken %v; want 1 rejected, not broken", d.Rejected, d.Broken)
			}
			if n := len(rc.received()); n != 3 {
				t.Errorf("%d requests, want 3 (the 400 is not retried)", n)
			}
		})
	}
}

func TestABrokenChannelKeepsEveryMessageAndSaysSo(t *testing.T) {
	for _, status := range []int{401, 403, 404, 410} {
		for _, p := range testProviders {
			t.Run(fmt.Sprintf("%s answering %d: one request, every message kept, the channel reported broken", p.name, status), func(t *testing.T) {
				rc := newReceiver(t, reply{status: status})
				other := &fakeNotifier{name: "other"}
				ds := Deliver(context.Background(), []Owed{
					{Notifier: p.make(rc.srv.URL), Messages: msgs("e1", "e2", "e3")},
					{Notifier: other, Messages: msgs("e1", "e2", "e3")},
				}, Retry{Attempts: 3})
				d := ds[0]
				if d.Broken == nil || d.Broken.Status != status || !errors.Is(d.Broken, ErrChannelBroken) {
					t.Fatalf("Broken = %v, want the %d", d.Broken, status)
				}
				if !strings.Contains(d.Broken.Diagnosis(), fmt.Sprintf("answered HTTP %d", status)) {
					t.Errorf("diagnosis %q", d.Broken.Diagnosis())
				}
				if got := verdicts(d.Outcomes); !slices.Equal(got, []verdict{vBroken, vBroken, vBroken}) {
					t.Errorf("outcomes %v, want every message kept for a broken channel", got)
				}
				for _, o := range d.Outcomes[1:] {
					if !errors.Is(o.Err, ErrHeldBack) {
						t.Errorf("%s: %v, want it held back, not attempted", o.EventID, o.Err)
					}
				}
				if n := len(rc.received()); n != 1 {
					t.Errorf("%d requests, want 1: a broken channel is not tried again in the same call", n)
				}
				if d.Rejected != 0 {
					t.Errorf("rejected %d", d.Rejected)
				}
				if got := verdicts(ds[1].Outcomes); !slices.Equal(got, []verdict{vDelivered, vDelivered, vDelivered}) || ds[1].Broken != nil {
					t.Errorf("the other provider: %v, broken %v; want every message delivered", got, ds[1].Broken)
				}
				if strings.Contains(d.Broken.Error()+d.Broken.Diagnosis()+d.Outcomes[2].Err.Error(), secretToken) {
					t.Error("an error or the diagnosis holds the webhook's token")
				}
			})
		}
	}
}

func TestRetryableFailuresStayRetryable(t *testing.T) {
	t.Run("a 429 waits as asked and the message is then delivered", func(t *testing.T) {
		rc := newReceiver(t, reply{status: 429, header: map[string]string{"Retry-After": "7"}}, reply{status: 200})
		var s sleepRecorder
		d := Deliver(context.Background(), []Owed{{Notifier: testProviders[0].make(rc.srv.URL), Messages: msgs("e1", "e2")}}, Retry{Attempts: 2, Sleep: s.sleep})[0]
		if got := verdicts(d.Outcomes); !slices.Equal(got, []verdict{vDelivered, vDelivered}) || !slices.Equal(s.waits(), []time.Duration{7 * time.Second}) {
			t.Errorf("outcomes %v after waits %v; want both delivered after waiting 7s", got, s.waits())
		}
	})
	t.Run("a 503 after every attempt holds the later messages back, not broken", func(t *testing.T) {
		rc := newReceiver(t, reply{status: 503})
		var s sleepRecorder
		d := Deliver(context.Background(), []Owed{{Notifier: testProviders[3].make(rc.srv.URL), Messages: msgs("e1", "e2")}}, Retry{Attempts: 2, Sleep: s.sleep})[0]
		var se *SendError
		if !errors.As(d.Outcomes[0].Err, &se) || se.Status != http.StatusServiceUnavailable || !errors.Is(d.Outcomes[1].Err, ErrHeldBack) ||
			errors.Is(d.Outcomes[1].Err, ErrChannelBroken) || d.Broken != nil || d.Rejected != 0 {
			t.Errorf("outcomes %+v, broken %v, rejected %d", d.Outcomes, d.Broken, d.Rejected)
		}
		if n := len(rc.received()); n != 2 {
			t.Errorf("%d requests, want 2 (two attempts at e1)", n)
		}
	})
}

func verdicts(out []Outcome) []verdict {
	v := make([]verdict, len(out))
	for i, o := range out {
		v[i] = verdictOf(o.Err)
	}
	return v
}

func TestParseSendErrorReadsBackWhatErrorWrote(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *SendError // nil: not recognised
	}{
		{"a 404 with a body", &SendError{Provider: "slack", Status: 404, Body: "no_service"}, &SendError{Provider: "slack", Status: 404}},
		{"a 410 without a body", &SendError{Provider: "discord", Status: 410}, &SendError{Provider: "discord", Status: 410}},
		{"a 503 after Retry's attempts", gaveUp(3, &SendError{Provider: "teams", Status: 503}), &SendError{Provider: "teams", Status: 503}},
		{"a 429 with its wait", &SendError{Provider: "slack", Status: 429, RetryAfter: 5 * time.Second}, &SendError{Provider: "slack", Status: 429}},
		{"a webhook URL that did not parse", &SendError{Provider: "discord", Err: errInvalidURL}, &SendError{Provider: "discord", Err: errInvalidURL}},
		{"a network error has no status", &SendError{Provider: "slack", Err: errors.New("dial tcp: connection refused")}, nil},
		{"any other text", errors.New("boom"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseSendError(tt.err.Error())
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("ParseSendError(%q) = %+v, want nil", tt.err, got)
			case tt.want != nil && (got == nil || got.Provider != tt.want.Provider || got.Status != tt.want.Status || got.Err != tt.want.Err):
				t.Errorf("ParseSendError(%q) = %+v, want %+v", tt.err, got, tt.want)
			}
		})
	}
	t.Run("what it reads back diagnoses as the original does", func(t *testing.T) {
		se := &SendError{Provider: "slack", Status: 404, Body: `"quoted": REDACTED`}
		if got := ParseSendError(se.Error()); got == nil || got.Diagnosis() != se.Diagnosis() || !errors.Is(got, ErrChannelBroken) {
			t.Errorf("read back %+v", got)
		}
	})
}
