package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// monitorsWorld is a monitors file, a state file and a clock that a
// minute passes on between sweeps.
type monitorsWorld struct {
	env   []string
	file  string
	clock time.Time
}

func newMonitorsWorld(t *testing.T, yaml string, extra ...string) *monitorsWorld {
	t.Helper()
	dir := t.TempDir()
	w := &monitorsWorld{file: filepath.Join(dir, "monitors.yaml"), clock: time.Date(2031, 5, 6, 7, 0, 0, 0, time.UTC)}
	w.write(t, yaml)
	w.env = append([]string{"ENABLE_DNS=false", "ENABLE_PING=false", "TARGETS_FILE=" + w.file,
		"STATE_FILE=" + filepath.Join(dir, "state.json"), "RETRY_COUNT=1", "SWEEP_TIMEOUT_SECONDS=10",
		"ENABLE_ADAPTIVE_BACKOFF=false"}, extra...)
	return w
}

func (w *monitorsWorld) write(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(w.file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (w *monitorsWorld) statePath() string {
	for _, kv := range w.env {
		if p, ok := strings.CutPrefix(kv, "STATE_FILE="); ok {
			return p
		}
	}
	return ""
}

// sweep runs one invocation and returns its report and log.
func (w *monitorsWorld) sweep(t *testing.T) (sweepReport, string) {
	t.Helper()
	now := w.clock
	w.clock = w.clock.Add(time.Minute)
	code, out, errOut := runCLIAt(t, func() time.Time { return now }, w.env, "--json")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	return decodeReport(t, out), errOut
}

func TestEachMonitorAlertsAfterItsOwnThresholdInOneSweep(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	w := newMonitorsWorld(t, `
monitors:
  - {name: payments, id: payments, check: http, target: "`+srv.URL+`/pay", alert_threshold: 1}
  - {name: blog, id: blog, check: http, target: "`+srv.URL+`/blog", alert_threshold: 5}
`, "ALERT_THRESHOLD=3")
	var kinds [][]string
	for range 5 {
		rep, _ := w.sweep(t)
		var k []string
		for _, e := range rep.Events {
			if e.Kind == "down" {
				k = append(k, e.Target)
			}
		}
		kinds = append(kinds, k)
	}
	want := [][]string{{srv.URL + "/pay"}, nil, nil, nil, {srv.URL + "/blog"}}
	for i := range want {
		if strings.Join(kinds[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("sweep %d: down events for %q, want %q (payments pages at once, the blog after five)", i+1, kinds[i], want[i])
		}
	}
}

func TestAMonitorWithEveryIsSkippedUntilDue(t *testing.T) {
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(int))
		*(n.(*int))++
	}))
	t.Cleanup(srv.Close)
	w := newMonitorsWorld(t, `
monitors:
  - {id: slow, check: http, target: "`+srv.URL+`/slow", every: 3m}
  - {id: fast, check: http, target: "`+srv.URL+`/fast"}
`)
	var statuses []string
	for range 4 {
		rep, _ := w.sweep(t)
		for _, r := range rep.Results {
			if r.ID == "slow" {
				statuses = append(statuses, r.Status)
				if r.Status == "skipped" && !strings.HasPrefix(r.Reason+r.Error, "not due until 2031-05-06T07:03:00Z") {
					t.Errorf("skipped with reason %q, want it to say when it is due", r.Reason+r.Error)
				}
			}
		}
	}
	if got := strings.Join(statuses, " "); got != "up skipped skipped up" {
		t.Errorf("every: 3m over four sweeps a minute apart: %s, want up skipped skipped up", got)
	}
	for path, want := range map[string]int{"/slow": 2, "/fast": 4} {
		n, _ := hits.Load(path)
		if n == nil || *(n.(*int)) != want {
			t.Errorf("%s was probed %v times, want %d", path, n, want)
		}
	}
}

// TestAStateStoreOfTheReleaseBeforeKeepsItsIncidentsUnderAMonitorsFile
// reads a state file the release before the monitors file wrote
// (testdata/state/release-before-monitors.json: two http targets on
// 127.0.0.1:9, down three times, their down alerts sent), with the same
// targets now given in a monitors file: their IDs, counters and open
// incidents carry on, so no second down alert is sent and the recovery
// names the incident the old release opened.
func TestAStateStoreOfTheReleaseBeforeKeepsItsIncidentsUnderAMonitorsFile(t *testing.T) {
	var up sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := up.Load(r.URL.Path); !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	old, err := os.ReadFile("../../testdata/state/release-before-monitors.json")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL, "http://")
	w := newMonitorsWorld(t, `
defaults: {alert_threshold: 2}
monitors:
  - {name: health, check: http, target: "`+srv.URL+`/health", timeout: 2s}
  - {name: other, check: http, target: "`+srv.URL+`/other", http: {success_codes: "200-299"}}
`)
	w.clock = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) // after the file's times, whatever today is
	statePath := w.statePath()
	if err := os.WriteFile(statePath, []byte(strings.ReplaceAll(string(old), "127.0.0.1:9/", addr+"/")), 0o600); err != nil {
		t.Fatal(err)
	}

	rep, _ := w.sweep(t)
	if len(rep.Events) != 0 {
		t.Errorf("still down: events %s, want none (the old release's down alerts are latched)", eventKinds(rep))
	}
	stored := readStateFile(t, statePath)
	for _, id := range []string{"http:" + srv.URL + "/health", "http:" + srv.URL + "/other"} {
		rec, ok := stored[id]
		if !ok {
			t.Fatalf("state has no record %s after the sweep: %v", id, keys(stored))
		}
		if rec[7] != float64(4) {
			t.Errorf("%s: consecutive failures %v, want 4 (3 from the old release, 1 now)", id, rec[7])
		}
	}

	up.Store("/health", true)
	rep, _ = w.sweep(t)
	if got := eventKinds(rep); got != "recovered" {
		t.Fatalf("events %q, want one recovered", got)
	}
	e := rep.Events[0]
	if want := time.Unix(0, 1796226754499801522).UTC().Format(time.RFC3339); !strings.HasPrefix(e.Since, want[:16]) {
		t.Errorf("recovery of the incident since %s, want the old release's incident, %s", e.Since, want)
	}
}

// readStateFile returns the state file's records by ID, each a version 2
// record's fields.
func readStateFile(t *testing.T, path string) map[string][]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Targets map[string][]any `json:"targets"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("state file: %v", err)
	}
	return doc.Targets
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSecretsInHeadersAndBodiesReachNoOutput sends secrets in a monitor's
// headers and body (${NAME} and file:) to a server that echoes them into
// the JSON it answers, so that the failing assertion would quote them; and
// searches the log, the report, the state file, the metrics, the alerts
// and `config --monitors` for them.
func TestSecretsInHeadersAndBodiesReachNoOutput(t *testing.T) {
	const (
		token    = "tok 3f9a/1c77e2" // escaped in a URL
		fileKey  = "key-b81d40aa9c"
		bodyPass = "pw-5e6f7a8b9c"
		literal  = "lit-0d1e2f3a4b"
		// 52 bytes: the token after it straddles the 64-byte cut of a
		// quoted expectation.
		longWant = "a-long-expected-greeting-that-puts-the-secret-across"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/redirect" {
			// A server that redirects to a path naming the token.
			// Escaped in the path, with a query that does not unescape.
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			http.Redirect(w, r, "/landing/"+url.PathEscape(tok)+"?x=%zz&t="+url.QueryEscape(tok), http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		echo := r.Header.Get("Authorization") + " " + r.Header.Get("X-Api-Key") + " " + r.Header.Get("X-Literal-Token") + " " + string(body)
		b, _ := json.Marshal(map[string]string{"status": echo})
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	echoAddr := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, 256)
		n, _ := c.Read(buf)
		c.Write(buf[:n]) // echoes what it was sent
	})
	hooks := &receiver{}
	hs := httptest.NewServer(hooks)
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	if err := os.WriteFile(keyFile, []byte(fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	textfile := filepath.Join(dir, "pingpanda.prom")
	w := newMonitorsWorld(t, `
monitors:
  - name: api
    check: http
    target: "`+srv.URL+`/login"
    alert_threshold: 1
    http:
      method: POST
      headers: {Authorization: "Bearer ${API_TOKEN}", X-Api-Key: "file:`+keyFile+`", X-Literal-Token: "`+literal+`"}
      body: '{"password":"${API_PASSWORD}"}'
      expect:
        json: {".status": "ok"}
  - name: redirect
    check: http
    target: "`+srv.URL+`/redirect"
    alert_threshold: 1
    http: {headers: {Authorization: "Bearer ${API_TOKEN}"}, success_codes: "201"}
  - name: greeting
    check: http
    target: "`+srv.URL+`/greeting"
    alert_threshold: 1
    http: {expect: {body_contains: "`+longWant+`${API_TOKEN}"}}
  - name: tcp-echo
    check: tcp
    target: "`+echoAddr+`"
    alert_threshold: 1
    tcp: {send: "AUTH ${API_TOKEN}\r\n", expect: "`+longWant+`${API_TOKEN}"}
`, "API_TOKEN="+token, "API_PASSWORD="+bodyPass, "METRICS_TEXTFILE="+textfile, "VERBOSE=true",
		"SLACK_WEBHOOK_URL="+hs.URL+"/slack/T0/B0/x", "NOTIFICATION_RETRY_BACKOFF_SECONDS=0")

	rep, logs := w.sweep(t)
	if len(rep.Results) != 4 {
		t.Fatalf("results %+v, want 4", rep.Results)
	}
	for _, r := range rep.Results {
		if r.Status != "down" {
			t.Errorf("%s: %s, want down on its assertion", r.ID, r.Status)
		}
	}
	if !strings.Contains(rep.Results[0].Error, ".status") {
		t.Errorf("error %q does not say which assertion failed", rep.Results[0].Error)
	}
	if !strings.Contains(logs, `"msg":"attempt"`) {
		t.Fatal("no debug attempt lines: VERBOSE did not reach the log, so they were not searched")
	}
	raw, _ := json.Marshal(rep)
	_, rawFull, _ := runCLIAt(t, func() time.Time { return w.clock }, w.env, "--json", "--dry-run")
	state, _ := os.ReadFile(w.statePath())
	metrics, _ := os.ReadFile(textfile)
	_, shown, _ := runCLI(t, w.env, "config", "--monitors")
	_, shownJSON, _ := runCLI(t, w.env, "config", "--monitors", "--json")
	_, settings, _ := runCLI(t, w.env, "config")
	outputs := map[string]string{
		"report": string(raw), "whole JSON report": rawFull, "log": logs, "state": string(state), "metrics": string(metrics),
		"alerts": strings.Join(hooks.delivered(), "\n"), "config --monitors": shown + shownJSON, "config": settings,
	}
	if outputs["alerts"] == "" {
		t.Fatal("no alert was delivered: the test would not see a leak through one")
	}
	if !strings.Contains(shown, "Bearer ${API_TOKEN}") || !strings.Contains(shown, "file:"+keyFile) {
		t.Errorf("config --monitors should show the headers as written:\n%s", shown)
	}
	for where, text := range outputs {
		for _, s := range []string{token, url.PathEscape(token), url.QueryEscape(token), fileKey, bodyPass, literal} {
			// Any 8 bytes of a secret, not only the whole of it: a cut
			// quote must not leave a part behind.
			for n := 8; n <= len(s); n++ {
				if strings.Contains(text, s[:n]) || strings.Contains(text, s[len(s)-n:]) {
					t.Errorf("%d bytes of secret %q are in the %s:\n%s", n, s, where, text)
					break
				}
			}
		}
	}
}

// TestEveryCheckOfTheMonitorsFileReachesItsProber runs one sweep of a
// monitor of each check, each with settings of its own that decide its
// result, against servers on loopback: the settings must travel from the
// file through the sweep to each prober.
func TestEveryCheckOfTheMonitorsFileReachesItsProber(t *testing.T) {
	// tcp: a PING/+PONG server.
	tcpAddr := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, 64)
		if n, _ := c.Read(buf); strings.HasPrefix(string(buf[:n]), "PING") {
			c.Write([]byte("+PONG\r\n"))
		}
	})
	// dns: MX and TXT answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dnsSrv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: 60}
		switch q.Qtype {
		case dns.TypeMX:
			m.Answer = append(m.Answer, &dns.MX{Hdr: hdr, Preference: 10, Mx: "mx.example.com."})
		case dns.TypeTXT:
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: []string{"v=spf1 mx -all"}})
		}
		w.WriteMsg(m)
	})}
	go dnsSrv.ActivateAndServe()
	t.Cleanup(func() { dnsSrv.Shutdown() })
	// http: 401 by design, and a JSON API.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","method":%q}`, r.Method)
	}))
	t.Cleanup(api.Close)
	// tls: a certificate for example.com, trusted through SSL_CA_FILE,
	// with 20 days left at the sweep's clock: ok by SSL_WARN_DAYS' 14,
	// a warning by the monitor's 30.
	w := newMonitorsWorld(t, "", "SSL_WARN_DAYS=14", "SSL_CRITICAL_DAYS=3")
	certDER, tlsCert := selfSigned(t, "example.com", w.clock.Add(-time.Hour), w.clock.Add(20*24*time.Hour))
	serveTLS := func() string {
		tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tlsCert}})
		if err != nil {
			t.Fatal(err)
		}
		return serveListener(t, tlsLn, func(c net.Conn) { c.(*tls.Conn).Handshake() })
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	dnsAddr, tlsAddr := pc.LocalAddr().String(), serveTLS()
	_, tcpPort, _ := net.SplitHostPort(tcpAddr)

	w.write(t, `
monitors:
  - {id: tcp-ok, check: tcp, target: "`+tcpAddr+`", tcp: {send: "PING\r\n", expect: "+PONG"}}
  - {id: tcp-bad, check: tcp, target: "`+tcpAddr+`", tcp: {send: "PING\r\n", expect: "+OK"}, timeout: 1s}
  - {id: mx-ok, check: dns, target: example.com, dns: {server: "`+dnsAddr+`", type: MX, expect: ["10 mx.example.com."]}}
  - {id: mx-bad, check: dns, target: example.com, dns: {server: "`+dnsAddr+`", type: MX, expect: ["20 mx2.example.com."]}}
  - {id: txt-ok, check: dns, target: example.com, dns: {server: "`+dnsAddr+`", type: TXT, expect: ["v=spf1 mx -all"]}}
  - {id: admin, check: http, target: "`+api.URL+`/admin", http: {success_codes: "401"}}
  - {id: admin-default, check: http, target: "`+api.URL+`/admin?x=1"}
  - {id: api-post, check: http, target: "`+api.URL+`/api", http: {method: POST, expect: {json: {".method": "POST"}}}}
  - {id: api-get, check: http, target: "`+api.URL+`/api?get", http: {expect: {json: {".method": "POST"}}}}
  - {id: cert-warn, check: tls, target: "`+tlsAddr+`", tls: {server_name: example.com, warn_days: 30}}
  - {id: cert-env, check: tls, target: "`+serveTLS()+`", tls: {server_name: example.com}}
  - {id: cert-name, check: tls, target: "`+tlsAddr+`", tls: {server_name: wrong.example.net}}
  - {id: ping-loss, check: ping, target: 127.0.0.1, ping: {count: 2, max_loss: 0}}
`)
	w.env = append(w.env, "SSL_CA_FILE="+caFile, "PING_MODE=tcp", "PING_TCP_PORT="+tcpPort)
	rep, logs := w.sweep(t)
	got := map[string]string{}
	for _, r := range rep.Results {
		got[r.ID] = r.Status + " " + r.Error
	}
	want := map[string]string{
		"tcp-ok":        "up",
		"tcp-bad":       `down first 7 bytes read do not contain "+OK"`,
		"mx-ok":         "up",
		"mx-bad":        `down answers lack "20 mx2.example.com."`,
		"txt-ok":        "up",
		"admin":         "up",
		"admin-default": "down status 401 not in success codes 200",
		"api-post":      "up",
		"api-get":       `down .method is "GET", want "POST"`,
		"cert-warn":     "up",
		"cert-env":      "up",
		"cert-name":     "down",
		"ping-loss":     "up",
	}
	for id, w := range want {
		if !strings.HasPrefix(got[id], w) {
			t.Errorf("%s: %q, want it to start %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d results, want %d:\n%s", len(got), len(want), logs)
	}
	var certEvents int
	for _, e := range rep.Events {
		if e.Kind == "cert_warning" {
			certEvents++
		}
	}
	if certEvents != 1 {
		t.Errorf("%d cert_warning events, want 1 (cert-warn's own warn_days, not SSL_WARN_DAYS): %s", certEvents, eventKinds(rep))
	}
}

// selfSigned makes a self-signed certificate for name (and 127.0.0.1),
// valid from notBefore to notAfter.
func selfSigned(t *testing.T, name string, notBefore, notAfter time.Time) ([]byte, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveTCP serves handle on a loopback port until the test ends, each
// connection for at most 5 s, and returns the address.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveListener(t, ln, handle)
}

// serveListener serves handle on ln until the test ends.
func serveListener(t *testing.T, ln net.Listener, handle func(net.Conn)) string {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
