package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// specTestDoc is the JSON document /json serves.
const specTestDoc = `{"status":"degraded","count":3,"ok":true,"nothing":null,"pi":3.5,` +
	`"version":"1.2.3","list":[1,2,3],"empty":[],` +
	`"nested":{"items":[{"state":"up"},{"state":"down"}]}}`

// specTestSlow is how long /slow takes to answer: above the tests'
// max_latency and warn_latency, far below their timeouts.
const specTestSlow = 150 * time.Millisecond

// newSpecTestServer serves, on loopback:
//
//	/json          specTestDoc as application/json
//	/text          120 bytes of "x", then "error"
//	/headers       text/html, a Set-Cookie, an X-Api-Key
//	/status/N      status N
//	/slow?code=N   status N (default 200) after specTestSlow
//	/redirect      a 302 to /target, which counts its requests in *targetHits
//	/big?cl=1      70 KiB of "a" then "NEEDLE", with a Content-Length when cl=1
//	/trickle       100 bytes, then nothing until the client goes (at most 5 s)
//	/echo-auth     the request's Authorization, in the body (JSON) and in X-Echo
func newSpecTestServer(t *testing.T) (srv *httptest.Server, targetHits *atomic.Int32) {
	t.Helper()
	targetHits = new(atomic.Int32)
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, specTestDoc)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 120)+"error")
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Set-Cookie", "session=s3ss10n-value")
		w.Header().Set("X-Api-Key", "k3y-value")
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if c := r.URL.Query().Get("code"); c != "" {
			code, _ = strconv.Atoi(c)
		}
		select {
		case <-time.After(specTestSlow):
		case <-r.Context().Done():
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		body := strings.Repeat("a", 70<<10) + "NEEDLE"
		if r.URL.Query().Get("cl") == "1" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		io.WriteString(w, body)
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("t", 100))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/echo-auth", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Echo", auth)
		json.NewEncoder(w).Encode(map[string]any{
			"auth":   auth,
			"padded": strings.Repeat("p", 50) + auth,
		})
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, targetHits
}

func mustCodes(t testing.TB, s string) CodeSet {
	t.Helper()
	c, err := ParseCodes(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustJSON(t testing.TB, path string, want any) JSONExpect {
	t.Helper()
	j, err := NewJSONExpect(path, want)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func probeSpec(p *HTTPProber, rawURL string, hs *HTTPSpec) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Probe(ctx, Target{Check: HTTP, Address: rawURL, Spec: &Spec{HTTP: hs}})
}

func TestHTTPSpecSendsTheConfiguredRequest(t *testing.T) {
	type seen struct {
		method, host, body string
		header             http.Header
		contentLength      int64
	}
	var (
		mu  sync.Mutex
		got seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = seen{method: r.Method, host: r.Host, body: string(b), header: r.Header.Clone(), contentLength: r.ContentLength}
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p := newTestHTTPProber(t, HTTPOptions{})

	tests := []struct {
		name string
		spec *HTTPSpec
		want seen // header: only the headers listed are compared
	}{
		{name: "a POST with headers and a body",
			spec: &HTTPSpec{Method: http.MethodPost, Body: `{"user":"probe"}`, Headers: []Header{
				{"Content-Type", "application/json"},
				{"Authorization", "Bearer t0ken"},
				{"X-Multi", "one"},
				{"x-multi", "two"},
				{"Host", "example.test"},
			}},
			want: seen{method: "POST", host: "example.test", body: `{"user":"probe"}`, contentLength: 16, header: http.Header{
				"Content-Type":  {"application/json"},
				"Authorization": {"Bearer t0ken"},
				"X-Multi":       {"one", "two"},
				"User-Agent":    {"pingpanda"},
			}}},
		{name: "an empty method is a GET with no body",
			spec: &HTTPSpec{},
			want: seen{method: "GET", body: "", contentLength: 0, header: http.Header{"User-Agent": {"pingpanda"}}}},
		{name: "a User-Agent header replaces the prober's",
			spec: &HTTPSpec{Method: http.MethodPut, Headers: []Header{{"User-Agent", "custom/1"}}},
			want: seen{method: "PUT", contentLength: 0, header: http.Header{"User-Agent": {"custom/1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := probeSpec(p, srv.URL+"/r", tt.spec)
			if res.Status != StatusUp {
				t.Fatalf("got %s %q, want up", res.Status, res.Error)
			}
			mu.Lock()
			defer mu.Unlock()
			wantHost := tt.want.host
			if wantHost == "" {
				wantHost = strings.TrimPrefix(srv.URL, "http://")
			}
			if got.method != tt.want.method || got.host != wantHost || got.body != tt.want.body || got.contentLength != tt.want.contentLength {
				t.Errorf("server saw %s Host %q body %q Content-Length %d, want %s Host %q body %q Content-Length %d",
					got.method, got.host, got.body, got.contentLength, tt.want.method, wantHost, tt.want.body, tt.want.contentLength)
			}
			for name, want := range tt.want.header {
				if g := got.header.Values(name); strings.Join(g, "|") != strings.Join(want, "|") {
					t.Errorf("header %s = %q, want %q", name, g, want)
				}
			}
			if got.header.Get("Host") != "" {
				t.Errorf("Host sent as a header too: %q", got.header.Values("Host"))
			}
		})
	}
}

func TestHTTPSpecJudgesTheAnswer(t *testing.T) {
	srv, _ := newSpecTestServer(t)
	p := newTestHTTPProber(t, HTTPOptions{})
	expect := func(e HTTPExpect) *HTTPSpec { return &HTTPSpec{Expect: e} }
	jsonPath := func(path string, want any) *HTTPSpec {
		return expect(HTTPExpect{JSON: []JSONExpect{mustJSON(t, path, want)}})
	}
	tests := []struct {
		name, path string
		spec       *HTTPSpec
		wantErr    string // exact; empty when up
		wantCode   int    // 0: 200
	}{
		// Success codes.
		{name: "401 is up when the success codes say so", path: "/status/401",
			spec: &HTTPSpec{Success: mustCodes(t, "200,401")}, wantCode: 401},
		{name: "401 is down by the prober's success codes", path: "/status/401",
			spec: &HTTPSpec{}, wantCode: 401, wantErr: "status 401 not in success codes 200"},
		{name: "200 is down when the spec's codes leave it out", path: "/status/200",
			spec: &HTTPSpec{Success: mustCodes(t, "201-299")}, wantErr: "status 200 not in success codes 201-299"},
		{name: "assertions are not checked when the status fails", path: "/status/500",
			spec: &HTTPSpec{Expect: HTTPExpect{BodyContains: "nope"}}, wantCode: 500,
			wantErr: "status 500 not in success codes 200"},

		// Response headers.
		{name: "a header that contains the value passes, its name in any case", path: "/headers",
			spec: expect(HTTPExpect{Headers: []Header{{"content-type", "text/"}}})},
		{name: "a header without the value fails quoting it", path: "/headers",
			spec:    expect(HTTPExpect{Headers: []Header{{"Content-Type", "application/json"}}}),
			wantErr: `header Content-Type is "text/html", want it to contain "application/json"`},
		{name: "a missing header fails", path: "/headers",
			spec: expect(HTTPExpect{Headers: []Header{{"Content-Type", "text/html"}, {"X-Foo", "bar"}}}), wantErr: "header X-Foo missing"},
		{name: "a Set-Cookie header's value is not quoted", path: "/headers",
			spec:    expect(HTTPExpect{Headers: []Header{{"Set-Cookie", "other="}}}),
			wantErr: `header Set-Cookie is redacted, want it to contain "other="`},
		{name: "a key header's value is not quoted", path: "/headers",
			spec:    expect(HTTPExpect{Headers: []Header{{"X-Api-Key", "other"}}}),
			wantErr: `header X-Api-Key is redacted, want it to contain "other"`},
		{name: "headers are checked before the body", path: "/headers",
			spec:    expect(HTTPExpect{Headers: []Header{{"X-Foo", "bar"}}, BodyContains: "nope"}),
			wantErr: "header X-Foo missing"},

		// body_contains, body_not_contains, body_regex.
		{name: "body_contains passes", path: "/json",
			spec: expect(HTTPExpect{BodyContains: `"ok":true`})},
		{name: "body_contains fails", path: "/json",
			spec:    expect(HTTPExpect{BodyContains: `"ok":false`}),
			wantErr: `body does not contain "\"ok\":false"`},
		{name: "body_not_contains passes", path: "/json",
			spec: expect(HTTPExpect{BodyNotContains: "error"})},
		{name: "body_not_contains fails at the first occurrence", path: "/text",
			spec:    expect(HTTPExpect{BodyNotContains: "error"}),
			wantErr: `body contains "error" (at byte 120)`},
		{name: "body_regex passes", path: "/json",
			spec: expect(HTTPExpect{BodyRegex: regexp.MustCompile(`version":"[0-9]+`)})},
		{name: "body_regex fails", path: "/json",
			spec:    expect(HTTPExpect{BodyRegex: regexp.MustCompile(`version":"v[0-9]+`)}),
			wantErr: `body does not match regex "version\":\"v[0-9]+"`},
		{name: "body_contains is checked first", path: "/text",
			spec:    expect(HTTPExpect{BodyContains: "nope", BodyNotContains: "error"}),
			wantErr: `body does not contain "nope"`},
		{name: "a long needle is quoted cut short", path: "/text",
			spec:    expect(HTTPExpect{BodyContains: strings.Repeat("n", 100)}),
			wantErr: `body does not contain "` + strings.Repeat("n", 64) + `"…`},

		// JSON paths.
		{name: "json string passes", path: "/json", spec: jsonPath(".status", "degraded")},
		{name: "json string fails", path: "/json", spec: jsonPath(".status", "ok"),
			wantErr: `.status is "degraded", want "ok"`},
		{name: "json number passes against a float64", path: "/json", spec: jsonPath(".count", 3.0)},
		{name: "json number passes against an int", path: "/json", spec: jsonPath(".count", 3)},
		{name: "json number fails", path: "/json", spec: jsonPath(".count", 4.0),
			wantErr: ".count is 3, want 4"},
		{name: "json fraction passes", path: "/json", spec: jsonPath(".pi", 3.5)},
		{name: "json fraction fails", path: "/json", spec: jsonPath(".pi", 3),
			wantErr: ".pi is 3.5, want 3"},
		{name: "an int computed by jq compares with a float64", path: "/json", spec: jsonPath(".list | length", 3.0)},
		{name: "json bool passes", path: "/json", spec: jsonPath(".ok", true)},
		{name: "json bool fails", path: "/json", spec: jsonPath(".ok", false),
			wantErr: ".ok is true, want false"},
		{name: "json null passes", path: "/json", spec: jsonPath(".nothing", nil)},
		{name: "json null fails", path: "/json", spec: jsonPath(".nothing", "x"),
			wantErr: `.nothing is null, want "x"`},
		{name: "a missing key is null", path: "/json", spec: jsonPath(".absent", "x"),
			wantErr: `.absent is null, want "x"`},
		{name: "a string is not the number it spells", path: "/json", spec: jsonPath(".version", 1.2),
			wantErr: `.version is "1.2.3", want 1.2`},
		{name: "json nested array element passes", path: "/json", spec: jsonPath(".nested.items[1].state", "down")},
		{name: "json nested array element fails", path: "/json", spec: jsonPath(".nested.items[0].state", "down"),
			wantErr: `.nested.items[0].state is "up", want "down"`},
		{name: "json array passes with numbers of either type", path: "/json", spec: jsonPath(".list", []any{1.0, 2, 3.0})},
		{name: "json array fails", path: "/json", spec: jsonPath(".list", []any{1.0, 2.0}),
			wantErr: ".list is [1,2,3], want [1,2]"},
		{name: "json object passes", path: "/json", spec: jsonPath(".nested.items[0]", map[string]any{"state": "up"})},
		{name: "json object fails", path: "/json", spec: jsonPath(".nested.items[1]", map[string]any{"state": "up"}),
			wantErr: `.nested.items[1] is {"state":"down"}, want {"state":"up"}`},
		{name: "json path with no value fails", path: "/json", spec: jsonPath(".empty[]", 1.0),
			wantErr: ".empty[]: no value"},
		{name: "json path the first of whose values counts", path: "/json", spec: jsonPath(".list[]", 1.0)},
		{name: "json path that errs fails naming it", path: "/json", spec: jsonPath(".status.x", "y"),
			wantErr: `.status.x: expected an object but got: string ("degraded")`},
		{name: "json paths are checked in order", path: "/json",
			spec: expect(HTTPExpect{JSON: []JSONExpect{
				mustJSON(t, ".ok", true), mustJSON(t, ".count", 2.0), mustJSON(t, ".status", "ok"),
			}}),
			wantErr: ".count is 3, want 2"},
		{name: "a body that is not JSON fails", path: "/text", spec: jsonPath(".status", "ok"),
			wantErr: "body is not JSON: invalid character 'x' looking for beginning of value"},
		{name: "every kind of assertion passing", path: "/json", spec: &HTTPSpec{
			Method: http.MethodGet, Success: mustCodes(t, "200-299"), MaxLatency: 5 * time.Second,
			Expect: HTTPExpect{
				Headers:         []Header{{"Content-Type", "application/json"}},
				BodyContains:    `"ok":true`,
				BodyNotContains: "error",
				BodyRegex:       regexp.MustCompile(`version":"[0-9]+`),
				JSON:            []JSONExpect{mustJSON(t, ".status", "degraded"), mustJSON(t, ".nested.items[1].state", "down")},
			}}},

		// A body over 64 KiB.
		{name: "a needle after 64 KiB is not found", path: "/big",
			spec:    expect(HTTPExpect{BodyContains: "NEEDLE"}),
			wantErr: `body does not contain "NEEDLE" (first 65536 bytes read)`},
		{name: "a needle after 64 KiB is not found, with a Content-Length", path: "/big?cl=1",
			spec:    expect(HTTPExpect{BodyContains: "NEEDLE"}),
			wantErr: `body does not contain "NEEDLE" (first 65536 bytes read)`},
		{name: "a needle before 64 KiB is found in a longer body", path: "/big",
			spec: expect(HTTPExpect{BodyContains: "aaaa"})},
		{name: "a body cut at 64 KiB is not JSON", path: "/big?cl=1", spec: jsonPath(".x", 1),
			wantErr: "body is not JSON: invalid character 'a' looking for beginning of value (first 65536 bytes read)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := probeSpec(p, srv.URL+tt.path, tt.spec)
			wantStatus := StatusUp
			if tt.wantErr != "" {
				wantStatus = StatusDown
			}
			if res.Status != wantStatus || res.Error != tt.wantErr {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Error, wantStatus, tt.wantErr)
			}
			wantCode := tt.wantCode
			if wantCode == 0 {
				wantCode = http.StatusOK
			}
			if res.HTTP == nil || res.HTTP.StatusCode != wantCode {
				t.Errorf("detail %+v, want status code %d", res.HTTP, wantCode)
			}
			if res.Degraded {
				t.Error("degraded without a warn_latency")
			}
		})
	}
}

func TestHTTPSpecBodyCutShortByTheDrainLimitIsJudgedOnWhatArrived(t *testing.T) {
	srv, _ := newSpecTestServer(t)
	p := newTestHTTPProber(t, HTTPOptions{})
	for _, tt := range []struct {
		name    string
		expect  HTTPExpect
		wantErr string
	}{
		{name: "found in what arrived", expect: HTTPExpect{BodyContains: "ttt"}},
		{name: "not found in what arrived", expect: HTTPExpect{BodyContains: "tail"},
			wantErr: `body does not contain "tail" (first 100 bytes read)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := probeSpec(p, srv.URL+"/trickle", &HTTPSpec{Expect: tt.expect})
			took := time.Since(start)
			wantStatus := StatusUp
			if tt.wantErr != "" {
				wantStatus = StatusDown
			}
			if res.Status != wantStatus || res.Error != tt.wantErr {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Error, wantStatus, tt.wantErr)
			}
			// The server holds the body open for 5 s; the drain limit
			// (1 s) must have ended the read, well before the 5 s
			// attempt timeout.
			if took < maxBodyDrain || took > 4*time.Second {
				t.Errorf("took %v, want the drain limit, %v, to end the read", took, maxBodyDrain)
			}
		})
	}
}

func TestHTTPSpecLatencyLimits(t *testing.T) {
	srv, _ := newSpecTestServer(t)
	p := newTestHTTPProber(t, HTTPOptions{})
	latencyErr := regexp.MustCompile(`^latency [0-9.]+m?s above max_latency 100ms$`)
	tests := []struct {
		name         string
		path         string
		spec         *HTTPSpec
		wantStatus   Status
		wantErr      *regexp.Regexp // nil: no error
		wantDegraded bool
	}{
		{name: "slower than max_latency is a failure", path: "/slow",
			spec:       &HTTPSpec{MaxLatency: 100 * time.Millisecond, WarnLatency: 50 * time.Millisecond},
			wantStatus: StatusDown, wantErr: latencyErr},
		{name: "slower than warn_latency is up but degraded", path: "/slow",
			spec:       &HTTPSpec{WarnLatency: 50 * time.Millisecond},
			wantStatus: StatusUp, wantDegraded: true},
		{name: "slower than warn_latency but within max_latency is degraded", path: "/slow",
			spec:       &HTTPSpec{WarnLatency: 50 * time.Millisecond, MaxLatency: 5 * time.Second},
			wantStatus: StatusUp, wantDegraded: true},
		{name: "a slow failure is not degraded", path: "/slow?code=500",
			spec:       &HTTPSpec{WarnLatency: 50 * time.Millisecond},
			wantStatus: StatusDown, wantErr: regexp.MustCompile(`^status 500 not in success codes 200$`)},
		{name: "a slow answer failing an assertion is not degraded", path: "/slow",
			spec:       &HTTPSpec{WarnLatency: 50 * time.Millisecond, Expect: HTTPExpect{BodyContains: "x"}},
			wantStatus: StatusDown, wantErr: regexp.MustCompile(`^body does not contain "x"$`)},
		{name: "within warn_latency is not degraded", path: "/status/200",
			spec:       &HTTPSpec{WarnLatency: 5 * time.Second, MaxLatency: 5 * time.Second},
			wantStatus: StatusUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := probeSpec(p, srv.URL+tt.path, tt.spec)
			if res.Status != tt.wantStatus || res.Degraded != tt.wantDegraded {
				t.Fatalf("got %s degraded=%v %q, want %s degraded=%v", res.Status, res.Degraded, res.Error, tt.wantStatus, tt.wantDegraded)
			}
			if tt.wantErr == nil && res.Error != "" || tt.wantErr != nil && !tt.wantErr.MatchString(res.Error) {
				t.Errorf("error %q, want one matching %v", res.Error, tt.wantErr)
			}
			if strings.HasPrefix(tt.path, "/slow") && res.Latency < specTestSlow {
				t.Errorf("latency %v, below the handler's %v", res.Latency, specTestSlow)
			}
		})
	}
}

func TestLatencyTextIsAlwaysAboveTheLimit(t *testing.T) {
	for _, tt := range []struct {
		latency, limit time.Duration
		want           string
	}{
		{812 * time.Millisecond, 800 * time.Millisecond, "812ms"},
		{812*time.Millisecond + 300*time.Microsecond, 800 * time.Millisecond, "812ms"},
		{800*time.Millisecond + 300*time.Microsecond, 800 * time.Millisecond, "800.3ms"},
		{800*time.Millisecond + 300, 800 * time.Millisecond, "800.0003ms"},
		{1234567 * time.Microsecond, time.Second, "1.235s"},
	} {
		if got := latencyText(tt.latency, tt.limit); got != tt.want {
			t.Errorf("latencyText(%v, %v) = %q, want %q", tt.latency, tt.limit, got, tt.want)
		}
	}
}

func TestHTTPSpecNoRedirects(t *testing.T) {
	srv, targetHits := newSpecTestServer(t)
	p := newTestHTTPProber(t, HTTPOptions{})
	tests := []struct {
		name       string
		spec       *HTTPSpec
		wantStatus Status
		wantErr    string
	}{
		{name: "a 302 in the success codes is up", spec: &HTTPSpec{NoRedirects: true, Success: mustCodes(t, "302")},
			wantStatus: StatusUp},
		{name: "a 302 outside the success codes is down", spec: &HTTPSpec{NoRedirects: true},
			wantStatus: StatusDown, wantErr: "status 302 not in success codes 200"},
		{name: "a 302's headers are asserted on", spec: &HTTPSpec{NoRedirects: true, Success: mustCodes(t, "302"),
			Expect: HTTPExpect{Headers: []Header{{"Location", "/elsewhere"}}}},
			wantStatus: StatusDown, wantErr: `header Location is "/target", want it to contain "/elsewhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targetHits.Store(0)
			res := probeSpec(p, srv.URL+"/redirect", tt.spec)
			if res.Status != tt.wantStatus || res.Error != tt.wantErr {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Error, tt.wantStatus, tt.wantErr)
			}
			if d := res.HTTP; d.StatusCode != http.StatusFound || d.Redirects != 0 || d.FinalURL != srv.URL+"/redirect" {
				t.Errorf("detail %+v, want the 302 of %s/redirect, no redirects", *d, srv.URL)
			}
			if n := targetHits.Load(); n != 0 {
				t.Errorf("the redirect's target got %d requests, want none", n)
			}
		})
	}
	t.Run("followed without NoRedirects", func(t *testing.T) {
		targetHits.Store(0)
		res := probeSpec(p, srv.URL+"/redirect", &HTTPSpec{})
		if res.Status != StatusUp || res.HTTP.Redirects != 1 || targetHits.Load() != 1 {
			t.Errorf("got %s %q, %d redirects, target hit %d times; want up after 1 redirect", res.Status, res.Error, res.HTTP.Redirects, targetHits.Load())
		}
	})
}

func TestHTTPSpecErrorsDoNotCarryTheSecretsTheServerEchoes(t *testing.T) {
	const token = "tok-3f9c0a7d-very-secret-value-0123456789"
	srv, _ := newSpecTestServer(t)
	p := newTestHTTPProber(t, HTTPOptions{})
	r := &Runner{Probers: map[Check]Prober{HTTP: p}, Concurrency: 2, Attempts: 1,
		AttemptTimeout: map[Check]time.Duration{HTTP: 5 * time.Second}}
	headers := []Header{{"Authorization", "Bearer " + token}}
	tests := []struct {
		name   string
		expect HTTPExpect
		// wantErr matches the error, the token replaced by secret.Mask.
		wantErr string
	}{
		{name: "a JSON value quoted whole",
			expect:  HTTPExpect{JSON: []JSONExpect{mustJSON(t, ".auth", "nope")}},
			wantErr: `.auth is "Bearer ` + secret.Mask + `", want "nope"`},
		{name: "a JSON value cut in the middle of the token",
			expect:  HTTPExpect{JSON: []JSONExpect{mustJSON(t, ".padded", "nope")}},
			wantErr: `.padded is "` + strings.Repeat("p", 50) + `Bearer ` + secret.Mask + `", want "nope"`},
		{name: "a jq error, which quotes the token cut short",
			expect:  HTTPExpect{JSON: []JSONExpect{mustJSON(t, ".auth.x", "nope")}},
			wantErr: `.auth.x: expected an object but got: string ("Bearer ` + secret.Mask + `")`},
		{name: "an echoing response header",
			expect:  HTTPExpect{Headers: []Header{{"X-Echo", "nope"}}},
			wantErr: `header X-Echo is "Bearer ` + secret.Mask + `", want it to contain "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &Spec{HTTP: &HTTPSpec{Headers: headers, Expect: tt.expect}, Secrets: secret.NewScrubber(token)}
			res := r.Run(context.Background(), []Target{{Check: HTTP, Address: srv.URL + "/echo-auth", Spec: spec}})[0]
			if res.Status != StatusDown || res.Error != tt.wantErr {
				t.Fatalf("got %s %q, want down %q", res.Status, res.Error, tt.wantErr)
			}
			// No piece of the token either: 6 bytes of it is already
			// more than a mask's neighbourhood could hold by chance.
			for i := 0; i+6 <= len(token); i++ {
				if strings.Contains(res.Error, token[i:i+6]) {
					t.Fatalf("error %q holds %q, part of the token", res.Error, token[i:i+6])
				}
			}
		})
	}
}

func TestQuoteBoundedCutsAtACharacter(t *testing.T) {
	s := strings.Repeat("a", 63) + "é" + "tail" // é straddles byte 64
	if got, want := quoteBounded(s), `"`+strings.Repeat("a", 63)+`"…`; got != want {
		t.Errorf("quoteBounded = %s, want %s", got, want)
	}
	bad := strings.Repeat("b", 10) + "\xff\n"
	if got, want := quoteBounded(bad), strconv.Quote(bad); got != want {
		t.Errorf("quoteBounded = %s, want %s", got, want)
	}
}

func TestJSONEqual(t *testing.T) {
	for _, tt := range []struct {
		a, b any
		want bool
	}{
		{3, 3.0, true}, {3.0, 3, true}, {int64(3), 3.0, true}, {3, 4.0, false},
		{"3", 3.0, false}, {nil, nil, true}, {nil, false, false}, {false, nil, false},
		{true, true, true}, {[]any{1, "a"}, []any{1.0, "a"}, true}, {[]any{1}, []any{1, 2}, false},
		{map[string]any{"a": 1}, map[string]any{"a": 1.0}, true},
		{map[string]any{"a": 1}, map[string]any{"b": 1.0}, false},
		{map[string]any{"a": 1}, []any{1}, false},
	} {
		if got := jsonEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("jsonEqual(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestReadBodyTellsAWholeBodyFromOneCutShort(t *testing.T) {
	for _, n := range []int{0, 1, bodyBufStart - 1, bodyBufStart, bodyBufStart + 1, maxBodyRead - 1, maxBodyRead, maxBodyRead + 1, 3 * maxBodyRead} {
		for _, hint := range []int64{-1, int64(n)} {
			t.Run(fmt.Sprintf("%d bytes, hint %d", n, hint), func(t *testing.T) {
				buf := make([]byte, 16)
				body, complete := readBody(strings.NewReader(strings.Repeat("z", n)), &buf, hint)
				if want := min(n, maxBodyRead); len(body) != want || complete != (n <= maxBodyRead) {
					t.Errorf("read %d bytes, complete %v; want %d, %v", len(body), complete, want, n <= maxBodyRead)
				}
				if cap(buf) > maxBodyRead+1 {
					t.Errorf("buffer grew to %d bytes, past %d", cap(buf), maxBodyRead+1)
				}
			})
		}
	}
}

// jsonFastPathCases are documents and paths on which lookupSimple must
// agree with gojq whenever it answers.
var jsonFastPathCases = struct{ docs, paths []string }{
	docs: []string{
		specTestDoc,
		`{"a":{"b":[10,{"c":"deep"},null,[1,[2]]]},"a":{"b":[20]},"s":"x","n":null,"e":{},"l":[]}`,
		` { "a" : { "b" : [ 1 , 2 ] , "q\"k" : "v\\"w" } , "t" : true , "f" : false } `,
		`{"a\u0062":1,"ab":2}`,
		`[{"a":1},{"a":[2,3]},"s",7e2,-0.5]`,
		`"just a string"`,
		`null`,
		`{"a":"}{]["}`,
		`{"esc":"\"}\\","after":{"x":1}}`,
		`{"and":1,"if":{"then":2}}`,
	},
	paths: []string{
		".status", ".count", ".nested.items[1].state", ".nested.items[5]", ".nested.items[0]",
		".list", ".list[2]", ".empty[0]", ".nothing", ".nothing.x[3].y", ".absent.x",
		".a", ".a.b", ".a.b[0]", ".a.b[1].c", ".a.b[3][1][0]", ".a.b[2].z", ".s", ".s.x", ".s[0]",
		".n.x", ".e.x", ".l[0]", ".t", ".f", ".ab", ".a.q", ".[0]", ".[1].a[1]", ".[2]", ".[9]", ".[0].b",
		".esc", ".after.x", ".and", ".if.then", ".a[-1]", ".a.b[01]", ".", "..", ".a?", ".a | .b",
		".[\"a\"]", `."a"`, ".a.[0]", ".x_1", "[0]", ".a .b",
	},
}

func TestJSONFastPathAgreesWithGojq(t *testing.T) {
	for _, doc := range jsonFastPathCases.docs {
		for _, path := range jsonFastPathCases.paths {
			checkJSONFastPath(t, doc, path)
		}
	}
}

// checkJSONFastPath fails t when lookupSimple answers path on doc other
// than gojq does, or answers where gojq fails.
func checkJSONFastPath(t *testing.T, doc, path string) {
	t.Helper()
	var decoded any
	if json.Unmarshal([]byte(doc), &decoded) != nil {
		return
	}
	raw, ok := lookupSimple(path, []byte(doc))
	if !ok {
		return
	}
	j, err := NewJSONExpect(path, nil)
	if err != nil {
		t.Errorf("lookupSimple took %q, which gojq refuses: %v", path, err)
		return
	}
	want, gotOne, jqErr := j.first(context.Background(), decoded)
	if !gotOne || jqErr != nil {
		t.Errorf("%s on %s: lookupSimple found %s, gojq gives value=%v err=%v", path, doc, raw, gotOne, jqErr)
		return
	}
	var got any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Errorf("%s on %s: lookupSimple found %q, not a JSON value: %v", path, doc, raw, err)
		return
	}
	if !jsonEqual(got, want) {
		t.Errorf("%s on %s: lookupSimple found %s, gojq %v", path, doc, raw, want)
	}
}

func FuzzJSONFastPathAgreesWithGojq(f *testing.F) {
	for i, doc := range jsonFastPathCases.docs {
		f.Add(doc, jsonFastPathCases.paths[i%len(jsonFastPathCases.paths)])
	}
	f.Fuzz(func(t *testing.T, doc, path string) {
		if len(doc) > 4096 || len(path) > 64 {
			return
		}
		checkJSONFastPath(t, doc, path)
	})
}

func TestJSONCheckTakesTheFastPathOnlyWhereItShould(t *testing.T) {
	for _, tt := range []struct {
		path string
		fast bool
	}{
		{".status", true}, {".a.b[0].c", true}, {".[3]", true}, {".a_b1", true},
		{".", false}, {".a | .b", false}, {".a[-1]", false}, {`."a"`, false}, {".a?", false},
		{".and", false}, {"length", false}, {".a[]", false}, {".a.[0]", false},
	} {
		_, ok := lookupSimple(tt.path, []byte(`{"a":{"b":[{"c":1}]},"status":"ok","a_b1":1}`))
		if tt.path == ".[3]" {
			_, ok = lookupSimple(tt.path, []byte(`[0,1,2,3]`))
		}
		if ok != tt.fast {
			t.Errorf("lookupSimple(%q) took it: %v, want %v", tt.path, ok, tt.fast)
		}
	}
}

func TestHTTPSpecRefusesAMethodNetHTTPRefusesAsFinal(t *testing.T) {
	p := newTestHTTPProber(t, HTTPOptions{})
	res := probeSpec(p, "http://127.0.0.1:1/", &HTTPSpec{Method: "GE T"})
	if res.Status != StatusDown || res.Error != `bad method "GE T"` || !res.final {
		t.Errorf("got %s %q final=%v, want down %q, final", res.Status, res.Error, res.final, `bad method "GE T"`)
	}
}
