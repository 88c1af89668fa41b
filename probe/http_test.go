package probe

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newHTTPTestServer serves:
//
//	/status/N   status N
//	/hop/N      a redirect to /hop/N-1; /hop/0 answers 200
//	/loop       a redirect to itself
//	/ua         200 when the User-Agent is "pingpanda", else 400
func newHTTPTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n <= 0 {
			fmt.Fprintln(w, "arrived")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/ua", func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() != "pingpanda" {
			http.Error(w, "unexpected user agent "+r.UserAgent(), http.StatusBadRequest)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func newTestHTTPProber(t *testing.T, o HTTPOptions) *HTTPProber {
	t.Helper()
	p := NewHTTP(o)
	t.Cleanup(p.CloseIdleConnections)
	return p
}

func probeHTTP(p *HTTPProber, rawURL string, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Probe(ctx, Target{Check: HTTP, Address: rawURL})
}

// refusedHTTPAddr returns a loopback address that refuses connections.
func refusedHTTPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHTTPProbe(t *testing.T) {
	srv := newHTTPTestServer(t)
	tests := []struct {
		name          string
		path          string
		success       string // empty: the zero CodeSet
		wantStatus    Status
		wantCode      int
		wantErr       string // exact; empty when up
		wantFinal     string // path of the final URL
		wantRedirects int
	}{
		{name: "200 is up by default", path: "/status/200",
			wantStatus: StatusUp, wantCode: 200, wantFinal: "/status/200"},
		{name: "500 is down and names the code and the success list", path: "/status/500",
			wantStatus: StatusDown, wantCode: 500, wantFinal: "/status/500",
			wantErr: "status 500 not in success codes 200"},
		{name: "204 outside the list is down even though it is not an error", path: "/status/204", success: "200,201",
			wantStatus: StatusDown, wantCode: 204, wantFinal: "/status/204",
			wantErr: "status 204 not in success codes 200-201"},
		{name: "204 inside a range is up", path: "/status/204", success: "200-299",
			wantStatus: StatusUp, wantCode: 204, wantFinal: "/status/204"},
		{name: "a 3xx without a Location header is a final response", path: "/status/304", success: "200",
			wantStatus: StatusDown, wantCode: 304, wantFinal: "/status/304",
			wantErr: "status 304 not in success codes 200"},
		{name: "the default User-Agent is pingpanda", path: "/ua",
			wantStatus: StatusUp, wantCode: 200, wantFinal: "/ua"},
		{name: "a chain of 3 redirects is followed to the end", path: "/hop/3",
			wantStatus: StatusUp, wantCode: 200, wantFinal: "/hop/0", wantRedirects: 3},
		{name: "a chain of exactly 10 redirects is followed", path: "/hop/10",
			wantStatus: StatusUp, wantCode: 200, wantFinal: "/hop/0", wantRedirects: 10},
		{name: "an 11th redirect is not followed", path: "/hop/11",
			wantStatus: StatusDown, wantCode: 302, wantFinal: "/hop/1", wantRedirects: 10,
			wantErr: "stopped after 10 redirects"},
		{name: "a redirect loop is down after 10 redirects", path: "/loop",
			wantStatus: StatusDown, wantCode: 301, wantFinal: "/loop", wantRedirects: 10,
			wantErr: "stopped after 10 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o HTTPOptions
			if tt.success != "" {
				c, err := ParseCodes(tt.success)
				if err != nil {
					t.Fatal(err)
				}
				o.Success = c
			}
			p := newTestHTTPProber(t, o)
			res := probeHTTP(p, srv.URL+tt.path, 5*time.Second)
			if res.Status != tt.wantStatus || res.Error != tt.wantErr {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Error, tt.wantStatus, tt.wantErr)
			}
			d := res.HTTP
			if d == nil {
				t.Fatal("HTTP detail not set")
			}
			if d.StatusCode != tt.wantCode || d.FinalURL != srv.URL+tt.wantFinal || d.Redirects != tt.wantRedirects {
				t.Errorf("detail = %+v, want code %d, final URL %s, %d redirects",
					*d, tt.wantCode, srv.URL+tt.wantFinal, tt.wantRedirects)
			}
			if res.Latency <= 0 {
				t.Errorf("latency = %v, want > 0", res.Latency)
			}
			if res.final {
				t.Error("marked final; another attempt could succeed")
			}
		})
	}
}

func TestHTTPProbeHandlesRequestsAndResponsesLargerThanItsBuffers(t *testing.T) {
	// The connection's buffers are small (httpReadBuffer,
	// httpWriteBuffer): a long URL, long header lines, many headers and a
	// chunked body must still go through whole, on a new connection and
	// on a reused one.
	query := "q=" + strings.Repeat("x", 8*httpWriteBuffer)
	longValue := strings.Repeat("v", 4*httpReadBuffer)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != query {
			http.Error(w, "query cut short", http.StatusBadRequest)
			return
		}
		for i := range 40 {
			w.Header().Set(fmt.Sprintf("X-Filler-%d", i), longValue[:100])
		}
		w.Header().Set("X-Long", longValue)
		w.WriteHeader(http.StatusAccepted)
		for range 10 {
			fmt.Fprint(w, longValue)
			w.(http.Flusher).Flush() // chunked
		}
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	codes, _ := ParseCodes("202")
	p := newTestHTTPProber(t, HTTPOptions{Success: codes})
	for i := range 2 {
		if res := probeHTTP(p, srv.URL+"/?"+query, 5*time.Second); res.Status != StatusUp {
			t.Fatalf("probe %d: %s %q; want up", i+1, res.Status, res.Error)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for two probes, want 1 reused", n)
	}
}

func TestHTTPProbeSendsTheConfiguredUserAgent(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.UserAgent()
	}))
	t.Cleanup(srv.Close)
	p := newTestHTTPProber(t, HTTPOptions{UserAgent: "pingpanda-test/1.0"})
	if res := probeHTTP(p, srv.URL+"/", 5*time.Second); res.Status != StatusUp {
		t.Fatalf("got %s %q, want up", res.Status, res.Error)
	}
	if ua := <-got; ua != "pingpanda-test/1.0" {
		t.Errorf("User-Agent = %q, want pingpanda-test/1.0", ua)
	}
}

func TestHTTPProbeTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	t.Run("a certificate from the given roots is up", func(t *testing.T) {
		p := newTestHTTPProber(t, HTTPOptions{RootCAs: roots})
		if res := probeHTTP(p, srv.URL+"/", 5*time.Second); res.Status != StatusUp {
			t.Fatalf("got %s %q, want up", res.Status, res.Error)
		}
	})
	t.Run("a certificate from an unknown authority is down and says so", func(t *testing.T) {
		p := newTestHTTPProber(t, HTTPOptions{RootCAs: x509.NewCertPool()})
		res := probeHTTP(p, srv.URL+"/", 5*time.Second)
		t.Logf("error: %s", res.Error)
		if res.Status != StatusDown || !strings.Contains(res.Error, "certificate") {
			t.Fatalf("got %s %q, want down naming the certificate", res.Status, res.Error)
		}
		if strings.Contains(res.Error, srv.URL) {
			t.Errorf("error %q contains the URL", res.Error)
		}
		if !res.final {
			t.Error("a certificate that fails verification should not be retried")
		}
	})
}

func TestHTTPProbeGivesUpAtTheDeadline(t *testing.T) {
	const serverDelay = 10 * time.Second
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the client went away
		case <-time.After(serverDelay):
		}
	}))
	t.Cleanup(srv.Close)
	p := newTestHTTPProber(t, HTTPOptions{})

	start := time.Now()
	res := probeHTTP(p, srv.URL+"/slow?token=hush", 100*time.Millisecond)
	took := time.Since(start)

	if res.Status != StatusDown || !strings.HasPrefix(res.Error, "timeout after ") {
		t.Fatalf("got %s %q, want down with a timeout", res.Status, res.Error)
	}
	if took > serverDelay/2 {
		t.Errorf("took %v, want it to return at the 100ms deadline, long before the server's %v", took, serverDelay)
	}
	if res.HTTP.StatusCode != 0 {
		t.Errorf("status code = %d, want 0 when no response arrived", res.HTTP.StatusCode)
	}
}

func TestHTTPProbeReadsOnlyTheStartOfAHugeBody(t *testing.T) {
	const bodySize = 1 << 30
	var written atomic.Int64
	handlerDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.Header().Set("Content-Length", strconv.Itoa(bodySize))
		chunk := make([]byte, 32<<10)
		for written.Load() < bodySize {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return // the client closed the connection
			}
		}
	}))
	t.Cleanup(srv.Close)
	p := newTestHTTPProber(t, HTTPOptions{})

	res := probeHTTP(p, srv.URL+"/huge", 10*time.Second)
	if res.Status != StatusUp {
		t.Fatalf("got %s %q, want up", res.Status, res.Error)
	}
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		t.Fatalf("server still writing after the probe returned (%d bytes so far): the connection was not closed", written.Load())
	}
	// Socket buffers take some megabytes after the client's 64 KiB; the
	// point is that the gigabyte was not sent.
	t.Logf("server wrote %d bytes before the client closed the connection", written.Load())
	if n := written.Load(); n > 64<<20 {
		t.Errorf("server wrote %d bytes, want far less than the %d-byte body", n, bodySize)
	}
}

func TestHTTPProbeErrorsDoNotLeakTheURL(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	refused := refusedHTTPAddr(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/to-refused", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+refused+"/next?token="+secret, http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
	})
	mux.HandleFunc("/bad-location", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://[::1%zz/?token="+secret)
		w.WriteHeader(http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		url     string
		wantErr string // prefix
	}{
		{name: "a refused connection names the address, not the URL",
			url: "http://" + refused + "/path?token=" + secret, wantErr: "connection refused (" + refused + ")"},
		{name: "a redirect to a refused address does not show the redirect's URL",
			url: srv.URL + "/to-refused", wantErr: "connection refused (" + refused + ")"},
		{name: "a redirect loop does not show the looping URL",
			url: srv.URL + "/loop?token=" + secret, wantErr: "stopped after 10 redirects"},
		{name: "an unparsable Location header is not quoted",
			url: srv.URL + "/bad-location", wantErr: "redirect to an invalid url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestHTTPProber(t, HTTPOptions{})
			res := probeHTTP(p, tt.url, 5*time.Second)
			if res.Status != StatusDown || !strings.HasPrefix(res.Error, tt.wantErr) {
				t.Fatalf("got %s %q, want down starting %q", res.Status, res.Error, tt.wantErr)
			}
			t.Logf("error: %s", res.Error)
			if strings.Contains(res.Error, secret) || strings.Contains(res.Error, "/path") {
				t.Errorf("error %q leaks the URL", res.Error)
			}
		})
	}
}

func TestHTTPProbeMarksAnUnusableURLFinal(t *testing.T) {
	p := newTestHTTPProber(t, HTTPOptions{})
	res := probeHTTP(p, "http://bad host/?token=x", time.Second)
	if res.Status != StatusDown || !res.final || !strings.HasPrefix(res.Error, "bad url: ") {
		t.Fatalf("got %s %q final=%v, want a final failure starting \"bad url: \"", res.Status, res.Error, res.final)
	}
}

func TestParseCodes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // String() of the result
		wantErr string
	}{
		{name: "one code", in: "200", want: "200"},
		{name: "a list of codes", in: "200,201,204", want: "200-201,204"},
		{name: "a range", in: "200-299", want: "200-299"},
		{name: "a range and a code with spaces", in: " 200-299, 301 ", want: "200-299,301"},
		{name: "spaces inside a range", in: "200 - 204", want: "200-204"},
		{name: "overlapping and unsorted entries merge", in: "301,250-260,200-255,302", want: "200-260,301-302"},
		{name: "a one-code range prints as a code", in: "404-404", want: "404"},
		{name: "the extremes are allowed", in: "100,599", want: "100,599"},
		{name: "an empty string is an error", in: "", wantErr: "no status codes"},
		{name: "only spaces is an error", in: "  ", wantErr: "no status codes"},
		{name: "a word is not a status code", in: "abc", wantErr: `"abc" is not a status code`},
		{name: "a bad entry is named among good ones", in: "200, 2O4", wantErr: `"2O4" is not a status code`},
		{name: "a signed number is not a status code", in: "+200", wantErr: `"+200" is not a status code`},
		{name: "a backwards range is an error", in: "300-200", wantErr: `range "300-200" is backwards`},
		{name: "a code above 599 is out of range", in: "600", wantErr: `"600" is not a status code from 100 to 599`},
		{name: "a code below 100 is out of range", in: "99", wantErr: `"99" is not a status code from 100 to 599`},
		{name: "leading zeros are out of range", in: "0200", wantErr: `"0200" is not a status code from 100 to 599`},
		{name: "a range end out of range is named", in: "200-600", wantErr: `range "200-600": "600" is not a status code from 100 to 599`},
		{name: "a range with a missing end is an error", in: "200-", wantErr: `range "200-": missing status code`},
		{name: "a double range is an error", in: "200-250-299", wantErr: `range "200-250-299": "250-299" is not a status code`},
		{name: "an empty entry is an error", in: "200,,204", wantErr: `empty entry in "200,,204"`},
		{name: "a trailing comma is an error", in: "200,", wantErr: `empty entry in "200,"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCodes(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseCodes(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCodes(%q): %v", tt.in, err)
			}
			if got := c.String(); got != tt.want {
				t.Errorf("ParseCodes(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsedCodesContain(t *testing.T) {
	c, err := ParseCodes("200-204,301,500-599")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{
		199: false, 200: true, 204: true, 205: false,
		300: false, 301: true, 302: false,
		499: false, 500: true, 599: true, 600: false,
	} {
		if got := c.Contains(code); got != want {
			t.Errorf("Contains(%d) = %v, want %v", code, got, want)
		}
	}
	if (CodeSet{}).Contains(200) {
		t.Error("the empty set contains 200")
	}
}

func FuzzParseCodes(f *testing.F) {
	for _, s := range []string{"200", "200,201,204", "200-299", "200-299, 301", "", "300-200", "abc", "1-", ",", "599-100,100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCodes(s)
		if err != nil {
			if !c.IsEmpty() {
				t.Fatalf("ParseCodes(%q) returned a set along with error %v", s, err)
			}
			return
		}
		if c.IsEmpty() {
			t.Fatalf("ParseCodes(%q) returned an empty set without error", s)
		}
		str := c.String()
		again, err := ParseCodes(str)
		if err != nil {
			t.Fatalf("ParseCodes(%q).String() = %q, which does not parse: %v", s, str, err)
		}
		if again.String() != str {
			t.Fatalf("String() does not round-trip: %q then %q", str, again.String())
		}
		for code := 100; code <= 599; code++ {
			if c.Contains(code) != again.Contains(code) {
				t.Fatalf("%q and its String() %q differ on %d", s, str, code)
			}
		}
	})
}
