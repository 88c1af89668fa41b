package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/push/pushtest"
)

// TestSweepsPushToARealPushgateway runs two sweeps, each a process of its
// own, against a real Pushgateway: the series are there with the right
// values, the error counter grew across the invocations, and a target
// removed from the configuration is gone after the next push.
func TestSweepsPushToARealPushgateway(t *testing.T) {
	gw := pushtest.Start(t)
	srv, down := flakyServer(t)
	down.Store(true)
	state := "STATE_FILE=" + filepath.Join(t.TempDir(), "state.json")
	both := append(loopbackEnv(srv.URL+"/a", srv.URL+"/b"), state, "PUSHGATEWAY_URL="+gw.URL(), "ENABLE_ADAPTIVE_BACKOFF=false")
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	for range 2 {
		code, out, errOut := runCLIAt(t, now, both, "--json")
		if code != exitOK || strings.Contains(out, `"push_failed": true`) {
			t.Fatalf("exit %d, report %s\nlog %s", code, out, errOut)
		}
		clock = clock.Add(time.Minute)
	}
	m := string(gw.Metrics(t))
	for _, want := range []string{
		`pingpanda_website_errors_total{instance="0-of-1",job="pingpanda",url="` + srv.URL + `/a"} 2`,
		`pingpanda_website_status{instance="0-of-1",job="pingpanda",url="` + srv.URL + `/b"} 0`,
		`pingpanda_target_up{check="http",instance="0-of-1",job="pingpanda",target="` + srv.URL + `/a"} 0`,
		`pingpanda_consecutive_failures{check="http",instance="0-of-1",job="pingpanda",target="` + srv.URL + `/a"} 2`,
		`pingpanda_sweep_targets{instance="0-of-1",job="pingpanda",result="down"} 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("the gateway lacks %s", want)
		}
	}
	if t.Failed() {
		t.Fatalf("gateway metrics:\n%s", m)
	}

	down.Store(false)
	onlyA := append(loopbackEnv(srv.URL+"/a"), state, "PUSHGATEWAY_URL="+gw.URL(), "ENABLE_ADAPTIVE_BACKOFF=false")
	if code, _, errOut := runCLIAt(t, now, onlyA); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m = string(gw.Metrics(t))
	if strings.Contains(m, srv.URL+"/b") {
		t.Errorf("a target removed from the configuration is still on the gateway:\n%s", m)
	}
	if !strings.Contains(m, `pingpanda_website_status{instance="0-of-1",job="pingpanda",url="`+srv.URL+`/a"} 1`) {
		t.Errorf("the recovered target is not up on the gateway:\n%s", m)
	}
}

func TestAFailedPushIsReportedAndChangesNothingElse(t *testing.T) {
	srv, _ := flakyServer(t)
	port := freePort(t) // nothing listens there
	textfile := filepath.Join(t.TempDir(), "pingpanda.prom")
	env := append(loopbackEnv(srv.URL), "PUSHGATEWAY_URL=http://pp:hunter2@127.0.0.1:"+strconv.Itoa(port), "METRICS_TEXTFILE="+textfile)
	code, out, errOut := runCLI(t, env, "--json")
	if code != exitOK || !strings.Contains(out, `"push_failed": true`) || !strings.Contains(out, "PUSHGATEWAY_URL") {
		t.Fatalf("exit %d; want 0 with push_failed reported:\n%s", code, out)
	}
	if strings.Contains(out+errOut, "hunter2") {
		t.Fatalf("the Pushgateway password leaked:\n%s\n%s", out, errOut)
	}
	b, err := os.ReadFile(textfile)
	if err != nil || !strings.Contains(string(b), "pingpanda_last_sweep_timestamp_seconds") {
		t.Fatalf("the textfile should still be written (%v):\n%s", err, b)
	}
}
