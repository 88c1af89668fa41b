package alert

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// errorTexts is every way an error may be printed: its text, its verbose
// forms, and the text of everything it wraps.
func errorTexts(err error) []string {
	out := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	queue := []error{err}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		out = append(out, e.Error(), fmt.Sprintf("%+v", e))
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if w := u.Unwrap(); w != nil {
				queue = append(queue, w)
			}
		case interface{ Unwrap() []error }:
			queue = append(queue, u.Unwrap()...)
		}
	}
	return out
}

func TestErrorsNeverContainTheWebhookURL(t *testing.T) {
	// echo answers with a body that repeats the request's URL and body, as
	// some proxies and error pages do (PagerDuty's routing key is in the
	// body).
	echo := func(status int) reply {
		return reply{status: status, body: "no such hook: REQUEST_URL REQUEST_BODY"}
	}
	scenarios := []struct {
		name  string
		reply *reply // nil: nothing listens
		ctx   time.Duration
	}{
		{"a 500 echoing the request", &reply{status: 500}, 0},
		{"a 400 echoing the request", &reply{status: 400}, 0},
		{"a 404 echoing the request", &reply{status: 404}, 0},
		{"a 429 echoing the request", &reply{status: 429}, 0},
		{"a refused connection", nil, 0},
		{"a timeout", &reply{hang: true}, 150 * time.Millisecond},
	}
	for _, p := range testProviders {
		for _, sc := range scenarios {
			t.Run(p.name+": "+sc.name+" reports no part of the URL's path or query, nor the token", func(t *testing.T) {
				t.Parallel()
				base := ""
				if sc.reply == nil {
					base = refusedBase(t)
				} else {
					rp := *sc.reply
					if !rp.hang {
						rp = echo(rp.status)
					}
					base = newReceiver(t, rp).srv.URL
				}
				ctx := context.Background()
				if sc.ctx > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, sc.ctx)
					defer cancel()
				}
				err := Retry{Attempts: 2, Sleep: (&sleepRecorder{}).sleep}.Send(ctx, p.make(base), testMessage())
				if err == nil {
					t.Fatal("Send succeeded")
				}
				assertNoSecret(t, err, p.path)
			})
		}
	}
}

func TestMalformedWebhookURLsAreNotQuoted(t *testing.T) {
	bad := "http://127.0.0.1:1/services/T000/B000/" + secretToken + "\x7f"
	for _, n := range []Notifier{
		NewSlack(SlackOptions{URL: bad}),
		NewTeams(TeamsOptions{URL: bad}),
		NewDiscord(DiscordOptions{URL: bad}),
		NewPagerDuty(PagerDutyOptions{URL: bad, RoutingKey: testRoutingKey}),
		NewWebhook(WebhookOptions{URL: bad}),
		NewSlack(SlackOptions{URL: "ftp://[::1/" + secretToken}),
	} {
		t.Run(n.Name()+" says the URL is invalid without quoting it", func(t *testing.T) {
			err := n.Send(context.Background(), testMessage())
			var se *SendError
			if !errors.As(err, &se) || se.Retryable() || !strings.Contains(err.Error(), "invalid webhook URL") {
				t.Fatalf("err = %v, want a permanent invalid-URL *SendError", err)
			}
			assertNoSecret(t, err, "/services/T000/B000/"+secretToken)
		})
	}
}

func TestAnAnswerCutToItsKeptLengthKeepsNoStartOfTheToken(t *testing.T) {
	// The URL echoed starts a few bytes before the kept length ends: a body
	// cut before it is scrubbed would keep the start of the URL's path.
	body := strings.Repeat("x", maxErrorBody-8) + "REQUEST_URL" + strings.Repeat("y", 100)
	for _, p := range testProviders {
		t.Run(p.name+" scrubs the answer before cutting it", func(t *testing.T) {
			err := p.make(newReceiver(t, reply{status: 400, body: body}).srv.URL).Send(context.Background(), testMessage())
			var se *SendError
			if !errors.As(err, &se) || se.Status != 400 {
				t.Fatalf("err = %v, want a *SendError of the 400", err)
			}
			if len(se.Body) > maxErrorBody {
				t.Errorf("body kept is %d bytes, more than %d", len(se.Body), maxErrorBody)
			}
			if first := strings.TrimPrefix(p.path, "/")[:6]; strings.Contains(se.Body[maxErrorBody-16:], first) {
				t.Errorf("the body kept ends with the start of the path %q: %q", first, se.Body[maxErrorBody-16:])
			}
		})
	}
}

// assertNoSecret fails if any printing of err holds the token, the path or
// the query of the webhook URL.
func assertNoSecret(t *testing.T, err error, pathAndQuery string) {
	t.Helper()
	u, perr := url.Parse(pathAndQuery)
	if perr != nil {
		t.Fatal(perr)
	}
	secrets := []string{secretToken, u.Path}
	if u.RawQuery != "" {
		secrets = append(secrets, u.RawQuery)
	}
	for _, text := range errorTexts(err) {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("error text holds %q:\n%s", s, text)
			}
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		t.Errorf("error wraps a *url.Error: %v", ue)
	}
}
