package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestURLSecretsStayOutOfEveryOutput: an http target whose URL carries a
// password and a token is probed with them (the server refuses the request
// otherwise), but neither appears in the report, the log, the stored state,
// the stats log, the metrics or pingpanda status.
func TestURLSecretsStayOutOfEveryOutput(t *testing.T) {
	const secret = "s3cr3t-"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "monitor" || pass != secret+"pw" || r.URL.Query().Get("token") != secret+"tok" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://monitor:"+secret+"pw@", 1) + "/health?token=" + secret + "tok&page=1"

	dir := t.TempDir()
	files := map[string]string{
		"STATE_FILE":       filepath.Join(dir, "state.json"),
		"METRICS_TEXTFILE": filepath.Join(dir, "pingpanda.prom"),
		"STATS_LOG_FILE":   filepath.Join(dir, "stats.csv"),
	}
	env := append(loopbackEnv(url), "LOG_LEVEL=DEBUG", "STORE_STATS_LOG=true")
	for k, v := range files {
		env = append(env, k+"="+v)
	}
	code, out, logs := runCLI(t, env, "--json")
	if code != exitOK || !strings.Contains(out, `"status": "up"`) && !strings.Contains(out, `"status":"up"`) {
		t.Fatalf("exit %d; the target is not up with its credentials:\n%s\n%s", code, out, logs)
	}
	_, status, statusLogs := runCLI(t, env, "status", "--json")
	outputs := map[string]string{"report": out, "log": logs, "status": status + statusLogs}
	for k, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		outputs[k] = string(b)
	}
	for name, text := range outputs {
		if strings.Contains(text, secret) {
			t.Errorf("the %s leaks a URL secret:\n%s", name, text)
		}
	}
	if !strings.Contains(out, "token=redacted&page=1") || !strings.Contains(status, "//redacted@127.0.0.1") {
		t.Errorf("the report or status does not show the redacted URL:\n%s\n%s", out, status)
	}
}
