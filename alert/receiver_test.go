package alert

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state"
)

// reply is one scripted answer of a receiver.
type reply struct {
	status int
	header map[string]string
	// body is the answer's body; REQUEST_URL in it is replaced by the URL
	// requested, REQUEST_BODY by the request's body.
	body string
	hang bool // never answer: wait until the client gives up
	// arrived, if set, is sent to (without blocking) when the request has
	// arrived, before the answer.
	arrived chan struct{}
}

// receiver is a loopback webhook that answers from a script and records
// what it was sent.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	script   []reply // consumed in order; the last one repeats
	requests []*received
}

type received struct {
	path   string
	query  url.Values
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, script ...reply) *receiver {
	t.Helper()
	rc := &receiver{script: script}
	release := make(chan struct{})
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, &received{path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: body})
		rp := reply{status: http.StatusOK}
		if len(rc.script) > 0 {
			rp = rc.script[0]
			if len(rc.script) > 1 {
				rc.script = rc.script[1:]
			}
		}
		rc.mu.Unlock()
		if rp.arrived != nil {
			select {
			case rp.arrived <- struct{}{}:
			default:
			}
		}
		if rp.hang {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rp.status)
		io.WriteString(w, strings.NewReplacer("REQUEST_URL", r.URL.String(), "REQUEST_BODY", string(body)).Replace(rp.body))
	}))
	t.Cleanup(rc.srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: hanging handlers return
	return rc
}

func (rc *receiver) received() []*received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*received(nil), rc.requests...)
}

// secret paths: each provider's webhook URL shape, with the token
// SECRETTOKEN, pointed at a loopback receiver.
const secretToken = "SECRETTOKEN"

// testProvider makes a provider's notifier for a receiver at base.
type testProvider struct {
	name string
	// path is the webhook URL's path and query, with secretToken in it
	// unless the provider's secret is elsewhere (PagerDuty's routing key).
	path string
	make func(base string) Notifier
	// verdicts are the provider's own readings of HTTP statuses, where
	// they differ from every provider's.
	verdicts map[int]verdict
}

// testRoutingKey is the PagerDuty routing key of the tests: 32 characters,
// secretToken among them.
const testRoutingKey = secretToken + "0123456789abcdefghijk"

var testProviders = []testProvider{
	{
		name: "slack",
		path: "/services/T000/B000/" + secretToken,
		make: func(base string) Notifier {
			return NewSlack(SlackOptions{URL: base + "/services/T000/B000/" + secretToken, Username: "PingPanda"})
		},
	},
	{
		name: "teams-workflows",
		path: "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig=" + secretToken,
		make: func(base string) Notifier {
			return NewTeams(TeamsOptions{URL: base + "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig=" + secretToken})
		},
	},
	{
		// A legacy connector URL must keep its real host for the card to be
		// chosen, so the client carries it to the loopback receiver.
		name: "teams-legacy",
		path: "/webhookb2/aaaa@bbbb/IncomingWebhook/" + secretToken + "/dddd",
		make: func(base string) Notifier {
			return NewTeams(TeamsOptions{
				URL:    "https://contoso.webhook.office.com/webhookb2/aaaa@bbbb/IncomingWebhook/" + secretToken + "/dddd",
				Client: &http.Client{Transport: loopbackTransport(base)},
			})
		},
	},
	{
		name: "discord",
		path: "/api/webhooks/123/" + secretToken,
		make: func(base string) Notifier {
			return NewDiscord(DiscordOptions{URL: base + "/api/webhooks/123/" + secretToken, Username: "PingPanda"})
		},
	},
	{
		// The routing key is the secret; the events URL is not.
		name: "pagerduty",
		path: "/v2/enqueue",
		make: func(base string) Notifier {
			return NewPagerDuty(PagerDutyOptions{RoutingKey: testRoutingKey, URL: base + "/v2/enqueue"})
		},
	},
	{
		name: "webhook",
		path: "/hooks/pingpanda/" + secretToken + "?token=" + secretToken,
		make: func(base string) Notifier {
			return NewWebhook(WebhookOptions{
				Name: "hook", URL: base + "/hooks/pingpanda/" + secretToken + "?token=" + secretToken, Secret: "HMACKEY-" + secretToken,
			})
		},
		verdicts: map[int]verdict{405: vRejected, 408: vRetry, 409: vRejected},
	},
}

// loopbackTransport sends every request to base (scheme and host), keeping
// its path and query.
func loopbackTransport(base string) http.RoundTripper {
	to, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = to.Scheme, to.Host, ""
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// refusedBase is a loopback base URL where nothing listens.
func refusedBase(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// sleepRecorder is an injected Retry.Sleep that returns at once and
// remembers what it was asked to wait.
type sleepRecorder struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleepRecorder) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// testMessage is the message the delivery tests send.
func testMessage() Message { return NewMessage(testEvent(state.KindDown), "prober-1") }
