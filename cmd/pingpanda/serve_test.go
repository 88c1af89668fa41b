package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNextWait(t *testing.T) {
	tests := []struct {
		name                   string
		interval, jitter, took time.Duration
		u                      float64
		want                   time.Duration
	}{
		{"no jitter waits the interval less the sweep", 15 * time.Second, 0, 2 * time.Second, 0.3, 13 * time.Second},
		{"the lowest draw takes half the jitter off", 15 * time.Second, 4 * time.Second, 0, 0, 13 * time.Second},
		{"the middle draw waits the interval", 15 * time.Second, 4 * time.Second, 0, 0.5, 15 * time.Second},
		{"a sweep longer than the interval is followed at once", 15 * time.Second, 4 * time.Second, 40 * time.Second, 0.9, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextWait(tt.interval, tt.jitter, tt.took, tt.u); got != tt.want {
				t.Errorf("nextWait = %v, want %v", got, tt.want)
			}
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func get(url string) (int, string) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeSweepsServesMetricsAndStopsOnSIGTERM runs `pingpanda serve` as
// its own process: it serves the sweep's series on /metrics and /healthz,
// and on SIGTERM stops within a second with its state saved.
func TestServeSweepsServesMetricsAndStopsOnSIGTERM(t *testing.T) {
	srv, _ := flakyServer(t)
	port := freePort(t)
	statePath := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(loopbackEnv(srv.URL+"/health"),
		"PINGPANDA_TEST_RUN_MAIN=1", "PATH="+os.Getenv("PATH"),
		// The race detector sleeps a second at exit by default.
		"GORACE=atexit_sleep_ms=0",
		"STATE_FILE="+statePath, "INTERVAL=1", "JITTER_SECONDS=0", "VERBOSE=true",
		"ENABLE_PROMETHEUS=true", "PROMETHEUS_PORT="+strconv.Itoa(port))
	var logs syncLog
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, body := get(base + "/metrics"); code == http.StatusOK && strings.Contains(body, "pingpanda_target_up{") {
			metrics = body
			break
		}
	}
	want := `pingpanda_target_up{check="http",target="` + srv.URL + `/health"} 1`
	if !strings.Contains(metrics, want) {
		t.Fatalf("/metrics never showed %s:\n%s\nlog:\n%s", want, metrics, logs.String())
	}
	if code, body := get(base + "/healthz"); code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/healthz = %d %s", code, body)
	}

	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if took := time.Since(start); took > time.Second {
			t.Errorf("stopped %v after SIGTERM, want within 1 s; log:\n%s", took, logs.String())
		}
		if err != nil {
			t.Errorf("exit: %v\nlog:\n%s", err, logs.String())
		}
		done <- nil // for the deferred wait
	case <-time.After(5 * time.Second):
		t.Fatalf("serve did not stop within 5 s of SIGTERM; log:\n%s", logs.String())
	}
	b, err := os.ReadFile(statePath)
	if err != nil || !strings.Contains(string(b), srv.URL+"/health") {
		t.Fatalf("state not saved (%v):\n%s", err, b)
	}
}

func TestServeSaysClearlyWhenItsPortIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	srv, _ := flakyServer(t)
	env := append(loopbackEnv(srv.URL), "ENABLE_PROMETHEUS=true", "PROMETHEUS_PORT="+strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, _, errOut := runCLIContext(t, ctx, env, "serve")
	if code != exitFailed || !strings.Contains(errOut, "cannot serve /metrics") || !strings.Contains(errOut, "address already in use") ||
		!strings.Contains(errOut, "127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("exit %d; want 1 and a clear message naming the address:\n%s", code, errOut)
	}
	if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
		t.Errorf("a crash trace instead of a message:\n%s", errOut)
	}
}

func TestServeDryRunWritesNoStateAndSendsNoAlert(t *testing.T) {
	w := newAlertWorld(t, "ALERT_THRESHOLD=1", "INTERVAL=1", "JITTER_SECONDS=0")
	w.down(true)
	statePath := filepath.Join(t.TempDir(), "state.json")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	code, _, errOut := runCLIContext(t, ctx, append(w.env, "STATE_FILE="+statePath), "serve", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Errorf("serve --dry-run wrote state (%v)", err)
	}
	if n := len(w.slack.delivered()) + len(w.discord.delivered()); n != 0 {
		t.Errorf("serve --dry-run sent %d alerts", n)
	}
	if !strings.Contains(errOut, `"msg":"sweep done"`) {
		t.Errorf("no sweep ran:\n%s", errOut)
	}
}

func TestServeRefusesFlagsThatDoNotApply(t *testing.T) {
	for _, flag := range []string{"--json", "--fail-on-down"} {
		if code, _, errOut := runCLI(t, nil, "serve", flag); code != exitConfig || !strings.Contains(errOut, "serve prints no report") {
			t.Errorf("serve %s: exit %d, %s", flag, code, errOut)
		}
	}
}
