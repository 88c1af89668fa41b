// Package cron holds pingpanda's crontab line and systemd units, and tests
// that run them: the crontab line under a real cron daemon, the units
// through systemd-analyze.
package cron

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/infra/internal/pingpandatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pingpandatest.Cleanup()
	os.Exit(code)
}

// cronWait bounds the wait for two runs: cron starts jobs at the top of a
// minute, so two runs take at most two minutes from its start.
const cronWait = 150 * time.Second

// TestCronRunsTheCrontabLineTwice installs infra/cron/crontab, with its
// paths pointed at a freshly built binary, a temporary env-file and log,
// into a real cron daemon, and waits for two sweeps to show in the state.
//
// The daemon runs in a private mount namespace where its crontab directory,
// /etc/cron.d, /etc/crontab and /run are empty temporary directories: it
// sees only this test's crontab, the machine's own crontabs are neither
// read nor touched, and it takes no lock outside. The only target is an
// HTTP server of this test on 127.0.0.1.
func TestCronRunsTheCrontabLineTwice(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		pingpandatest.Unavailable(t, "running cron in a mount namespace needs root")
	}
	for _, tool := range []string{"cron", "crontab", "unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			pingpandatest.Unavailable(t, "%s is not installed (Debian packages cron, util-linux, mount)", tool)
		}
	}
	bin := pingpandatest.Binary(t)
	dir := t.TempDir()

	var (
		mu   sync.Mutex
		hits []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, time.Now())
		mu.Unlock()
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	hitCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(hits)
	}

	envFile := filepath.Join(dir, "pingpanda.env")
	stateFile := filepath.Join(dir, "state", "state.json")
	logFile := filepath.Join(dir, "pingpanda.log")
	env := strings.Join([]string{
		"ENABLE_DNS=false",
		"ENABLE_PING=false",
		"ENABLE_SSL_CHECK=false",
		"ENABLE_WEBSITE_CHECK=true",
		"CHECK_WEBSITE=" + srv.URL + "/",
		"STATE_FILE=" + stateFile,
		"LOG_FORMAT=json",
	}, "\n") + "\n"
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}

	tab, err := crontabFor(pingpandatest.ReadFile(t, "infra/cron/crontab"), map[string]string{
		"/usr/local/bin/pingpanda":     bin,
		"/etc/pingpanda/pingpanda.env": envFile,
		"/var/log/pingpanda.log":       logFile,
		"MAILTO=ops@example.com":       `MAILTO=""`,
	})
	if err != nil {
		t.Fatal(err)
	}
	tabFile := filepath.Join(dir, "crontab")
	if err := os.WriteFile(tabFile, tab, 0o600); err != nil {
		t.Fatal(err)
	}

	script, err := namespaceScript(dir, tabFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cronWait+30*time.Second)
	defer cancel()
	var cronOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-ec", script)
	cmd.Stdout, cmd.Stderr = &cronOut, &cronOut
	// cron and the jobs it starts share a process group, ended together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting cron: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cancel()
				<-exited
			}
		}
	}
	defer stop()
	diagnose := func() {
		t.Logf("cron's output:\n%s", cronOut.String())
		if b, err := os.ReadFile(logFile); err == nil {
			t.Logf("%s:\n%s", logFile, b)
		}
	}

	// Two runs: the HTTP server sees two requests, and the state file then
	// shows the second sweep's result.
	start := time.Now()
	deadline := start.Add(cronWait)
	var st status
	for {
		select {
		case err := <-exited:
			stopped = true
			diagnose()
			t.Fatalf("cron exited early: %v", err)
		case <-time.After(time.Second):
		}
		if hitCount() >= 2 {
			st, err = readStatus(ctx, bin, envFile)
			if err == nil && len(st.Targets) == 1 && st.Targets[0].Checks >= 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			diagnose()
			t.Fatalf("after %s: %d requests and status %+v (%v); want two sweeps", cronWait, hitCount(), st, err)
		}
	}
	stop()
	t.Logf("two runs %s after cron started", time.Since(start).Round(time.Second))

	tg := st.Targets[0]
	if tg.Checks != 2 || tg.Status != "up" || tg.Failures != 0 || !tg.Configured {
		t.Errorf("state after two runs: %+v; want 2 checks, up, no failures", tg)
	}
	mu.Lock()
	gap := hits[1].Sub(hits[0])
	n := len(hits)
	mu.Unlock()
	if n != 2 {
		t.Errorf("%d requests, want one per run", n)
	}
	if gap < 50*time.Second || gap > 70*time.Second {
		t.Errorf("the runs were %s apart; cron runs the line once a minute", gap)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("the crontab line sends its output to the log file: %v", err)
	}
	if got := bytes.Count(log, []byte(`"msg":"sweep done"`)); got != 2 {
		diagnose()
		t.Errorf("%d sweeps logged, want 2", got)
	}
	if bytes.Contains(log, []byte(`"level":"ERROR"`)) {
		diagnose()
		t.Error("the log has errors")
	}
}

// crontabFor returns the crontab with each old string replaced. Every old
// string must be there (a changed crontab must change this test too), and
// no path or address of the original may be left.
func crontabFor(orig []byte, replace map[string]string) ([]byte, error) {
	out := orig
	for old, repl := range replace {
		if !bytes.Contains(out, []byte(old)) {
			return nil, fmt.Errorf("infra/cron/crontab no longer contains %q", old)
		}
		out = bytes.ReplaceAll(out, []byte(old), []byte(repl))
	}
	for _, left := range []string{"/usr/local/bin/", "/etc/pingpanda/", "/var/log/", "example.com"} {
		if bytes.Contains(out, []byte(left)) {
			return nil, fmt.Errorf("infra/cron/crontab still names %s after substitution", left)
		}
	}
	jobs := 0
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		l := string(bytes.TrimSpace(line))
		if l == "" || strings.HasPrefix(l, "#") || strings.Contains(strings.SplitN(l, " ", 2)[0], "=") {
			continue
		}
		if !strings.HasPrefix(l, "* * * * *") {
			return nil, fmt.Errorf("crontab line %q does not run every minute", l)
		}
		jobs++
	}
	if jobs != 1 {
		return nil, fmt.Errorf("infra/cron/crontab has %d job lines, want 1", jobs)
	}
	return out, nil
}

// namespaceScript is the shell script, run inside the new mount namespace,
// that hides the machine's crontabs behind empty directories, installs tab
// as root's crontab with the crontab command, and becomes cron.
func namespaceScript(dir, tab string) (string, error) {
	spool := filepath.Join(dir, "spool")
	crontabs := filepath.Join(spool, "crontabs")
	empty := filepath.Join(dir, "empty")
	run := filepath.Join(dir, "run")
	etcCrontab := filepath.Join(dir, "etc-crontab")
	for _, d := range []string{crontabs, empty, run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	// Debian's crontab directory: group crontab, sticky, writable by the
	// group only, as the crontab command expects.
	if g, err := user.LookupGroup("crontab"); err == nil {
		var gid int
		fmt.Sscan(g.Gid, &gid)
		if err := os.Chown(crontabs, 0, gid); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(crontabs, 0o1730); err != nil {
		return "", err
	}
	if err := os.WriteFile(etcCrontab, nil, 0o644); err != nil {
		return "", err
	}
	var b strings.Builder
	bind := func(src, dst string) {
		if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
			return // nothing there to hide
		}
		fmt.Fprintf(&b, "mount --bind %s %s\n", shellQuote(src), shellQuote(dst))
	}
	if _, err := os.Stat("/var/spool/cron"); err != nil {
		return "", fmt.Errorf("cron's spool directory: %w", err)
	}
	bind(spool, "/var/spool/cron")
	bind(empty, "/etc/cron.d")
	bind(etcCrontab, "/etc/crontab")
	bind(run, "/run") // cron's pid file and lock
	fmt.Fprintf(&b, "crontab -u root %s\n", shellQuote(tab))
	b.WriteString("exec cron -f\n")
	return b.String(), nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// status is the part of `pingpanda status --json` this test reads.
type status struct {
	Targets []struct {
		ID         string `json:"id"`
		Configured bool   `json:"configured"`
		Status     string `json:"status"`
		Checks     int    `json:"checks"`
		Failures   int    `json:"failures"`
	} `json:"targets"`
}

func readStatus(ctx context.Context, bin, envFile string) (status, error) {
	var st status
	cmd := exec.CommandContext(ctx, bin, "-c", envFile, "status", "--json")
	cmd.Env = []string{}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return st, fmt.Errorf("pingpanda status: %w: %s", err, stderr.String())
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("pingpanda status --json: %w", err)
	}
	return st, nil
}
