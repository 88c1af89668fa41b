package push

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/push/pushtest"
	"github.com/pingpanda/pingpanda/state"
)

// gatewayFamilies scrapes a real gateway and parses what it holds.
func gatewayFamilies(t *testing.T, gw *pushtest.Gateway) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(gw.Metrics(t)))
	if err != nil {
		t.Fatalf("parse the gateway's /metrics: %v", err)
	}
	return fams
}

// sample finds the series of name whose labels include want; ok is false
// when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	mf := fams[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// gatewaySweep is one sweep of up to three targets: a dns target up, a
// ping target down with the given stored failure total, and, when
// withHTTP, an http target up.
func gatewaySweep(t *testing.T, at time.Time, pingFailures int64, withHTTP bool) Sweep {
	dns := target(t, probe.DNS, "a.example")
	ping := target(t, probe.Ping, "192.0.2.1")
	web := target(t, probe.HTTP, "https://gone.example/")
	s := Sweep{
		At: at, Duration: time.Second,
		Results: []probe.Result{
			{Target: dns, Status: probe.StatusUp, Latency: 10 * time.Millisecond, Attempts: 1},
			{Target: ping, Status: probe.StatusDown, Latency: time.Second, Attempts: 3},
		},
		States: []state.TargetState{
			{Status: state.Up, Stats: state.Stats{Failures: 1, LatencyLast: 0.01}},
			{Status: state.Down, ConsecutiveFailures: int(pingFailures), Stats: state.Stats{Failures: pingFailures}},
		},
	}
	if withHTTP {
		s.Results = append(s.Results, probe.Result{Target: web, Status: probe.StatusUp, Latency: 100 * time.Millisecond, Attempts: 1})
		s.States = append(s.States, state.TargetState{Status: state.Up, Stats: state.Stats{Failures: 2, LatencyLast: 0.1}})
	}
	return s
}

func TestPushToARealPushgatewayReplacesTheGroup(t *testing.T) {
	gw := pushtest.Start(t)
	group := map[string]string{"job": "pingpanda", "instance": "0-of-1"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range group {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	push := func(s Sweep) {
		t.Helper()
		// A fresh Pushgateway per push, as each invocation is a fresh process.
		p := NewPushgateway(PushgatewayOptions{URL: gw.URL(), Instance: "0-of-1"})
		if err := p.Push(t.Context(), s); err != nil {
			t.Fatalf("push: %v", err)
		}
	}

	first := sweepAt
	push(gatewaySweep(t, first, 3, true))
	fams := gatewayFamilies(t, gw)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{DNSStatus, with(map[string]string{"domain": "a.example"}), 1},
		{PingStatus, with(map[string]string{"target": "192.0.2.1"}), 0},
		{PingErrorsTotal, with(map[string]string{"target": "192.0.2.1"}), 3},
		{WebsiteStatus, with(map[string]string{"url": "https://gone.example/"}), 1},
		{TargetUp, with(map[string]string{"check": "http", "target": "https://gone.example/"}), 1},
		{ConsecutiveFailures, with(map[string]string{"check": "ping", "target": "192.0.2.1"}), 3},
		{SweepTargets, with(map[string]string{"result": "up"}), 2},
		{LastSweepTimestamp, group, float64(first.Unix())},
	} {
		if got, ok := sample(fams, c.name, c.labels); !ok || got != c.want {
			t.Errorf("after the first push, %s%v = %v (present: %v); want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if typ := fams[PingErrorsTotal].GetType(); typ != dto.MetricType_COUNTER {
		t.Errorf("the gateway holds %s as a %s; want a counter", PingErrorsTotal, typ)
	}

	// The next invocation: one more failure, and the http target removed
	// from the configuration.
	second := first.Add(time.Minute)
	push(gatewaySweep(t, second, 4, false))
	fams = gatewayFamilies(t, gw)
	if got, _ := sample(fams, PingErrorsTotal, with(map[string]string{"target": "192.0.2.1"})); got != 4 {
		t.Errorf("after the second push, %s = %v; want it grown from 3 to 4", PingErrorsTotal, got)
	}
	if got, _ := sample(fams, DNSErrorsTotal, with(map[string]string{"domain": "a.example"})); got != 1 {
		t.Errorf("after the second push, %s = %v; want 1, unchanged", DNSErrorsTotal, got)
	}
	if got, _ := sample(fams, LastSweepTimestamp, group); got != float64(second.Unix()) {
		t.Errorf("after the second push, %s = %v; want %v", LastSweepTimestamp, got, float64(second.Unix()))
	}
	for _, name := range []string{WebsiteStatus, WebsiteErrorsTotal, WebsiteResponse} {
		if _, ok := sample(fams, name, with(nil)); ok {
			t.Errorf("%s of the removed http target is still on the gateway", name)
		}
	}
	for _, name := range []string{TargetUp, ProbeDuration, ConsecutiveFailures} {
		if _, ok := sample(fams, name, with(map[string]string{"check": "http"})); ok {
			t.Errorf("%s{check=\"http\"} of the removed target is still on the gateway", name)
		}
	}
}

func TestPushShardsNeverOverwriteEachOther(t *testing.T) {
	gw := pushtest.Start(t)
	shard := func(instance, domain string, failures int64) {
		t.Helper()
		tg := target(t, probe.DNS, domain)
		s := Sweep{At: sweepAt,
			Results: []probe.Result{{Target: tg, Status: probe.StatusDown, Attempts: 1}},
			States:  []state.TargetState{{Status: state.Down, Stats: state.Stats{Failures: failures}}}}
		p := NewPushgateway(PushgatewayOptions{URL: gw.URL(), Instance: instance})
		if err := p.Push(t.Context(), s); err != nil {
			t.Fatalf("push %s: %v", instance, err)
		}
	}
	shard("0-of-2", "zero.example", 1)
	shard("1-of-2", "one.example", 10)
	shard("0-of-2", "zero.example", 2) // shard 0's next sweep

	fams := gatewayFamilies(t, gw)
	for _, c := range []struct {
		instance, domain string
		want             float64
	}{
		{"0-of-2", "zero.example", 2},
		{"1-of-2", "one.example", 10},
	} {
		labels := map[string]string{"job": "pingpanda", "instance": c.instance, "domain": c.domain}
		if got, ok := sample(fams, DNSErrorsTotal, labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present: %v); want %v", DNSErrorsTotal, labels, got, ok, c.want)
		}
		if n := countSeries(fams, SweepTargets, map[string]string{"instance": c.instance}); n != 3 {
			t.Errorf("instance %s has %d %s series; want 3", c.instance, n, SweepTargets)
		}
	}
}

func countSeries(fams map[string]*dto.MetricFamily, name string, want map[string]string) int {
	n := 0
	for _, m := range fams[name].GetMetric() {
		match := 0
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(want) {
			n++
		}
	}
	return n
}

// request is what a test gateway received.
type request struct {
	method, path, contentType string
	user, password            string
	auth                      bool
	body                      []byte
	contentLength             int64
	transferEncoding          []string
	rawPath                   string
}

// recordingGateway answers every request with status and remembers it.
func recordingGateway(t *testing.T, status int, answer func(r *http.Request) string) (*httptest.Server, func() []request) {
	var (
		mu   sync.Mutex
		reqs []request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, ok := r.BasicAuth()
		mu.Lock()
		reqs = append(reqs, request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), user, pass, ok, body,
			r.ContentLength, r.TransferEncoding, r.URL.EscapedPath()})
		mu.Unlock()
		w.WriteHeader(status)
		if answer != nil {
			io.WriteString(w, answer(r))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), reqs...)
	}
}

func TestPushRequest(t *testing.T) {
	srv, _ := recordingGateway(t, http.StatusOK, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name               string
		opts               PushgatewayOptions
		path               string
		wantUser, wantPass string
		wantAuth           bool
	}{
		{
			name: "puts to the job and instance group, without authentication by default",
			opts: PushgatewayOptions{URL: srv.URL, Instance: "0-of-1"},
			path: "/metrics/job/pingpanda/instance/0-of-1",
		},
		{
			name: "keeps a path prefix and a trailing slash does not double",
			opts: PushgatewayOptions{URL: srv.URL + "/gw/", Job: "probes", Instance: "2-of-3"},
			path: "/gw/metrics/job/probes/instance/2-of-3",
		},
		{
			name: "authenticates with the options' username and password",
			opts: PushgatewayOptions{URL: srv.URL, Instance: "0-of-1", Username: "pp", Password: "s3cret"},
			path: "/metrics/job/pingpanda/instance/0-of-1", wantAuth: true, wantUser: "pp", wantPass: "s3cret",
		},
		{
			name: "moves credentials in the URL to basic authentication",
			opts: PushgatewayOptions{URL: "http://u%40x:p%2Fw@" + host, Instance: "0-of-1"},
			path: "/metrics/job/pingpanda/instance/0-of-1", wantAuth: true, wantUser: "u@x", wantPass: "p/w",
		},
		{
			name: "prefers the options' credentials to the URL's",
			opts: PushgatewayOptions{URL: "http://u:urlpass@" + host, Instance: "0-of-1", Username: "pp", Password: "optpass"},
			path: "/metrics/job/pingpanda/instance/0-of-1", wantAuth: true, wantUser: "pp", wantPass: "optpass",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A server of its own per case, so the requests are this case's.
			srv, received := recordingGateway(t, http.StatusOK, nil)
			tc.opts.URL = strings.Replace(tc.opts.URL, host, strings.TrimPrefix(srv.URL, "http://"), 1)
			sweep := gatewaySweep(t, sweepAt, 1, true)
			if err := NewPushgateway(tc.opts).Push(t.Context(), sweep); err != nil {
				t.Fatal(err)
			}
			reqs := received()
			if len(reqs) != 1 {
				t.Fatalf("the gateway got %d requests; want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPut || r.path != tc.path {
				t.Errorf("got %s %s; want PUT %s", r.method, r.path, tc.path)
			}
			if r.auth != tc.wantAuth || r.user != tc.wantUser || r.password != tc.wantPass {
				t.Errorf("basic auth %v %q:%q; want %v %q:%q", r.auth, r.user, r.password, tc.wantAuth, tc.wantUser, tc.wantPass)
			}
			// The body is the sweep's families, in the format it says.
			dec := expfmt.NewDecoder(bytes.NewReader(r.body), expfmt.Format(r.contentType))
			n := 0
			for {
				var mf dto.MetricFamily
				if err := dec.Decode(&mf); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("decode the pushed body (%s): %v", r.contentType, err)
				}
				n++
			}
			if r.contentType != TextContentType {
				t.Errorf("content type %q; want %q", r.contentType, TextContentType)
			}
			if want := textFamilies(t, text(t, sweep)); n != len(want) {
				t.Errorf("pushed %d families; want %d", n, len(want))
			}
			// Sent as it is written: no length known beforehand.
			if r.contentLength != -1 || !slices.Equal(r.transferEncoding, []string{"chunked"}) {
				t.Errorf("body sent with length %d, transfer encoding %v; want it streamed (chunked)", r.contentLength, r.transferEncoding)
			}
		})
	}
}

// secrets are the credentials the error tests use: in the URL and in the
// options, with characters that URLs escape.
const (
	urlUser  = "url-user"
	urlPass  = "url/P@ss:w0rd-1"
	optUser  = "opt-user"
	optPass  = "opt/P@ss:w0rd-2"
	notShown = "path-token-9"
)

// secretForms are every spelling of the credentials that must not appear
// in an error.
func secretForms() []string {
	var forms []string
	for _, c := range [][2]string{{urlUser, urlPass}, {optUser, optPass}} {
		forms = append(forms, c[1], url.QueryEscape(c[1]), url.PathEscape(c[1]),
			url.UserPassword(c[0], c[1]).String(),
			base64.StdEncoding.EncodeToString([]byte(c[0]+":"+c[1])))
	}
	return append(forms, notShown)
}

// withCredentials puts the URL credentials and a path that must not be
// shown into base (http://host:port).
func withCredentials(base string) string {
	u, _ := url.Parse(base)
	u.User = url.UserPassword(urlUser, urlPass)
	u.Path = "/" + notShown
	return u.String()
}

// echo answers with everything the request carried: its URL, its
// Authorization header and the password it decodes to.
func echo(r *http.Request) string {
	_, pass, _ := r.BasicAuth()
	return "rejected " + r.URL.String() + " auth=" + r.Header.Get("Authorization") + " password=" + pass
}

func TestPushErrorsNeverHoldCredentials(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	unauthorized, _ := recordingGateway(t, http.StatusUnauthorized, echo)
	badRequest, _ := recordingGateway(t, http.StatusBadRequest, echo)
	redirect, _ := recordingGateway(t, http.StatusFound, echo)
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client leave
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(hanging.Close)

	tests := []struct {
		name       string
		base       string
		timeout    time.Duration
		wantStatus int
		wantIs     error
	}{
		{name: "a closed port", base: closed},
		{name: "a 401 that echoes the request", base: unauthorized.URL, wantStatus: http.StatusUnauthorized},
		{name: "a 400 that echoes the request", base: badRequest.URL, wantStatus: http.StatusBadRequest},
		{name: "a redirect, not followed", base: redirect.URL, wantStatus: http.StatusFound},
		{name: "a gateway that does not answer in time", base: hanging.URL, timeout: 200 * time.Millisecond, wantIs: context.DeadlineExceeded},
	}
	for _, tc := range tests {
		for _, creds := range []struct {
			name string
			opts PushgatewayOptions
		}{
			{"in the URL", PushgatewayOptions{URL: withCredentials(tc.base), Instance: "0-of-1"}},
			{"in the options", PushgatewayOptions{URL: withCredentials(tc.base), Instance: "0-of-1", Username: optUser, Password: optPass}},
		} {
			t.Run(tc.name+" with credentials "+creds.name, func(t *testing.T) {
				ctx := t.Context()
				if tc.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				err := NewPushgateway(creds.opts).Push(ctx, gatewaySweep(t, sweepAt, 1, true))
				if err == nil {
					t.Fatal("push succeeded; want an error")
				}
				msg := err.Error()
				for _, s := range secretForms() {
					if strings.Contains(msg, s) {
						t.Errorf("error holds %q: %s", s, msg)
					}
				}
				var pe *PushError
				if !errors.As(err, &pe) {
					t.Fatalf("error is a %T, not a *PushError: %s", err, msg)
				}
				if pe.Gateway != tc.base || !strings.Contains(msg, tc.base) {
					t.Errorf("error names gateway %q (%s); want %q", pe.Gateway, msg, tc.base)
				}
				if pe.Status != tc.wantStatus {
					t.Errorf("status %d; want %d (%s)", pe.Status, tc.wantStatus, msg)
				}
				var ue *url.Error
				if errors.As(err, &ue) {
					t.Errorf("error wraps a *url.Error, which prints the URL: %s", msg)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("error is not %v: %s", tc.wantIs, msg)
				}
				t.Log(msg)
			})
		}
	}
}

func TestPushKeepsOnlyTheStartOfALongRefusal(t *testing.T) {
	srv, _ := recordingGateway(t, http.StatusBadRequest, func(*http.Request) string {
		return "pushed metrics are invalid: " + strings.Repeat("x", 1<<20)
	})
	err := NewPushgateway(PushgatewayOptions{URL: srv.URL, Instance: "0-of-1"}).Push(t.Context(), Sweep{At: sweepAt})
	var pe *PushError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v; want a *PushError", err)
	}
	if len(pe.Body) > maxErrorBody || !strings.HasPrefix(pe.Body, "pushed metrics are invalid: x") {
		t.Errorf("body kept is %d bytes, starting %.40q; want at most %d, the start of the answer", len(pe.Body), pe.Body, maxErrorBody)
	}
}

func TestPushScrubsASecretCutByTheKeptLength(t *testing.T) {
	// The password starts a few bytes before the kept length ends, so a
	// body cut before scrubbing would keep its first characters.
	srv, _ := recordingGateway(t, http.StatusBadRequest, func(r *http.Request) string {
		_, pass, _ := r.BasicAuth()
		return strings.Repeat("x", maxErrorBody-4) + pass + strings.Repeat("y", 100)
	})
	err := NewPushgateway(PushgatewayOptions{URL: srv.URL, Instance: "0-of-1", Username: optUser, Password: optPass}).
		Push(t.Context(), Sweep{At: sweepAt})
	if err == nil {
		t.Fatal("push succeeded; want an error")
	}
	if msg := err.Error(); strings.Contains(msg, optPass[:4]) {
		t.Errorf("error holds the start of the password: %s", msg[len(msg)-40:])
	}
}

func TestPushgatewayOptionsItCannotUse(t *testing.T) {
	tests := []struct {
		name string
		opts PushgatewayOptions
		want string
	}{
		{"a URL that does not parse", PushgatewayOptions{URL: "http://" + urlUser + ":" + urlPass + "@host:port%zz/" + notShown, Instance: "0-of-1"},
			"pushgateway URL is not a URL (not shown: it may hold credentials)"},
		{"a URL without a scheme", PushgatewayOptions{URL: "gateway.example:9091", Instance: "0-of-1"},
			"pushgateway URL must start with http:// or https://"},
		{"a URL of another scheme", PushgatewayOptions{URL: "ftp://" + url.UserPassword(urlUser, urlPass).String() + "@gateway.example/", Instance: "0-of-1"},
			"pushgateway URL must start with http:// or https://"},
		{"a URL without a host", PushgatewayOptions{URL: "http:///" + notShown, Instance: "0-of-1"},
			"pushgateway URL has no host"},
		{"a URL with a query", PushgatewayOptions{URL: "https://gateway.example/?token=" + notShown, Instance: "0-of-1"},
			"pushgateway URL must not have a query or fragment (the push path is appended to it)"},
		{"an empty instance", PushgatewayOptions{URL: "https://gateway.example/"},
			"pushgateway: empty instance (the shard, such as 0-of-1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name+" fails every push, without quoting the URL", func(t *testing.T) {
			p := NewPushgateway(tc.opts)
			for range 2 {
				err := p.Push(t.Context(), Sweep{At: sweepAt})
				if err == nil || err.Error() != tc.want {
					t.Fatalf("got %v; want %q", err, tc.want)
				}
			}
		})
	}
}

func TestPushURLIsClientGolangs(t *testing.T) {
	// client_golang's push package built the URL before; a gateway (or the
	// proxy in front of it) must see the same group path.
	for _, tc := range []struct{ job, instance string }{
		{"pingpanda", "0-of-1"},
		{"probes/eu", "2-of-3"},
		{"pingpanda", "a b+c%d"},
		{"pingpanda", "x/y"},
		{"", "0-of-1"},
		{"jöb", "ü"},
	} {
		t.Run(fmt.Sprintf("job %q instance %q", tc.job, tc.instance), func(t *testing.T) {
			var theirs urlDoer
			err := push.New("http://gateway.example:9091/prefix/", cmp.Or(tc.job, DefaultJob)).
				Grouping("instance", tc.instance).Client(&theirs).Push()
			if err != nil {
				t.Fatal(err)
			}
			var ours urlDoer
			p := NewPushgateway(PushgatewayOptions{URL: "http://gateway.example:9091/prefix/", Job: tc.job, Instance: tc.instance, Client: &ours})
			if tc.instance == "" {
				return // refused before sending: see TestPushgatewayOptionsItCannotUse
			}
			if err := p.Push(t.Context(), Sweep{At: sweepAt}); err != nil {
				t.Fatal(err)
			}
			if ours.url != theirs.url {
				t.Errorf("pushed to %s; client_golang pushes to %s", ours.url, theirs.url)
			}
		})
	}
}

// urlDoer answers 200 to every request, and keeps the last one's URL.
type urlDoer struct{ url string }

func (d *urlDoer) Do(r *http.Request) (*http.Response, error) {
	d.url = r.URL.String()
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// doerFunc is an HTTPDoer of one function.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestPushReturnsWhenTheBodyIsNotReadToItsEnd(t *testing.T) {
	// The body is written as it is sent; a client that stops reading it
	// must not leave Push (or the goroutine writing it) waiting.
	big := mixedSweep(t, 2000)
	for _, tc := range []struct {
		name string
		do   doerFunc
		want int // the PushError's status, 0 for none
	}{
		{"a client that fails without reading the body", func(*http.Request) (*http.Response, error) {
			return nil, errors.New("dial tcp: connection refused")
		}, -1},
		{"a gateway that refuses after reading a little", func(r *http.Request) (*http.Response, error) {
			io.ReadFull(r.Body, make([]byte, 100))
			return &http.Response{StatusCode: http.StatusBadRequest, Body: io.NopCloser(strings.NewReader("bad"))}, nil
		}, http.StatusBadRequest},
		{"a gateway that accepts without reading", func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := NewPushgateway(PushgatewayOptions{URL: "http://gateway.example", Instance: "0-of-1", Client: tc.do}).Push(ctx, big)
			var pe *PushError
			switch {
			case tc.want == 0 && err != nil:
				t.Errorf("got %v; want success", err)
			case tc.want != 0 && !errors.As(err, &pe):
				t.Errorf("got %v; want a *PushError", err)
			case tc.want > 0 && pe.Status != tc.want:
				t.Errorf("status %d; want %d", pe.Status, tc.want)
			}
		})
	}
}
