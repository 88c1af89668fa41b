package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// notPermittedFixes are what every "icmp not permitted" error must name.
var notPermittedFixes = []string{"icmp not permitted", "CAP_NET_RAW", "net.ipv4.ping_group_range", "PING_MODE=tcp"}

// The namespace tests run the test binary again in a fresh network
// namespace, where it may change net.ipv4.ping_group_range (its own copy)
// and drop root, then report what each probe returned.
const (
	pingNetnsEnv       = "PINGPANDA_TEST_PING_NETNS"    // the scenario the child runs
	pingNetnsParentEnv = "PINGPANDA_TEST_PING_PARENTNS" // the parent's namespace, which the child must not be in
	pingNetnsPrefix    = "pingpanda-netns-result: "
	nobody             = 65534
)

// pingNetnsResult is one probe's outcome, as the child reports it.
type pingNetnsResult struct {
	Case     string
	Status   Status
	Error    string
	Final    bool
	Mode     PingMode
	Addr     string
	Received int
	Elapsed  time.Duration
	SetupErr string `json:",omitempty"`
}

func TestPingInNetworkNamespace(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		check    func(t *testing.T, r pingNetnsResult)
		cases    []string
	}{
		{
			name:     "datagram ping works for a group inside ping_group_range",
			scenario: "allowed",
			cases:    []string{"unprivileged", "auto", "auto again", "privileged"},
			check: func(t *testing.T, r pingNetnsResult) {
				if r.Case == "privileged" {
					// nobody has no CAP_NET_RAW, even here.
					checkNotPermitted(t, r)
					return
				}
				if r.Status != StatusUp || r.Mode != PingUnprivileged || r.Addr != "127.0.0.1" || r.Received != 2 {
					t.Errorf("%s: %+v, want up over a datagram socket to 127.0.0.1 with 2 replies", r.Case, r)
				}
			},
		},
		{
			name:     "a ping nothing answers is down and may be retried",
			scenario: "unanswered",
			cases:    []string{"loopback down", "echoes ignored"},
			check: func(t *testing.T, r pingNetnsResult) {
				if r.Status != StatusDown || r.Final || r.Mode != PingPrivileged || r.Received != 0 {
					t.Errorf("%s: %+v, want down, retryable, privileged, no replies", r.Case, r)
				}
				wantErr := map[string]string{"loopback down": "ping 127.0.0.1: ", "echoes ignored": "ping 127.0.0.1: no reply to 2 echo requests in "}[r.Case]
				if !strings.HasPrefix(r.Error, wantErr) {
					t.Errorf("%s: error = %q, want it to start %q", r.Case, r.Error, wantErr)
				}
				// "echoes ignored" has a 300 ms attempt; the probe must end
				// with it, not when pro-bing's receiver next wakes.
				if limit := 450 * time.Millisecond; r.Elapsed > limit {
					t.Errorf("%s: took %v, want it to end with its attempt (within %v)", r.Case, r.Elapsed, limit)
				}
			},
		},
		{
			name:     "every icmp mode is unsupported when neither socket is permitted",
			scenario: "denied",
			cases:    []string{"auto", "auto again", "privileged", "unprivileged"},
			check:    checkNotPermitted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := runPingNetnsChild(t, tt.scenario)
			var got []string
			for _, r := range results {
				t.Logf("%s: %s %q (mode %s, %d replies, %v)", r.Case, r.Status, r.Error, r.Mode, r.Received, r.Elapsed)
				got = append(got, r.Case)
				tt.check(t, r)
			}
			if strings.Join(got, ",") != strings.Join(tt.cases, ",") {
				t.Errorf("child reported cases %q, want %q", got, tt.cases)
			}
		})
	}
}

func checkNotPermitted(t *testing.T, r pingNetnsResult) {
	t.Helper()
	if r.Status != StatusUnsupported || !r.Final {
		t.Errorf("%s: status = %q, final = %v (error %q), want unsupported and final", r.Case, r.Status, r.Final, r.Error)
	}
	for _, s := range notPermittedFixes {
		if !strings.Contains(r.Error, s) {
			t.Errorf("%s: error = %q, want it to mention %q", r.Case, r.Error, s)
		}
	}
	if r.Elapsed > time.Second {
		t.Errorf("%s: took %v to find out ICMP is not permitted", r.Case, r.Elapsed)
	}
}

// runPingNetnsChild runs TestPingNetnsHelper in a new network namespace and
// returns what it reported.
func runPingNetnsChild(t *testing.T, scenario string) []pingNetnsResult {
	t.Helper()
	parentNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		unavailable(t, "cannot read this process's network namespace: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPingNetnsHelper$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), pingNetnsEnv+"="+scenario, pingNetnsParentEnv+"="+parentNS)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		unavailable(t, "cannot start a process in a new network namespace: %v", err)
	}

	var results []pingNetnsResult
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), pingNetnsPrefix)
		if !ok {
			continue
		}
		var r pingNetnsResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("child wrote %q: %v", line, err)
		}
		if r.SetupErr != "" {
			t.Fatalf("child could not set up its namespace: %s", r.SetupErr)
		}
		results = append(results, r)
	}
	// A failing child (a data race, a panic) fails the test even when it
	// reported results.
	if err != nil || len(results) == 0 {
		t.Fatalf("child failed (%v) with %d results\nstdout:\n%s\nstderr:\n%s", err, len(results), stdout.String(), stderr.String())
	}
	return results
}

// TestPingNetnsHelper is the child of TestPingInNetworkNamespace; run on
// its own it does nothing.
func TestPingNetnsHelper(t *testing.T) {
	scenario := os.Getenv(pingNetnsEnv)
	if scenario == "" {
		return
	}
	report := func(r pingNetnsResult) {
		b, _ := json.Marshal(r)
		fmt.Printf("%s%s\n", pingNetnsPrefix, b)
	}
	probe := func(name string, p *PingProber, timeout time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		res := p.Probe(ctx, pingTarget("127.0.0.1"))
		r := pingNetnsResult{Case: name, Status: res.Status, Error: res.Error, Final: res.final, Elapsed: time.Since(start)}
		if res.Ping != nil {
			r.Mode, r.Addr, r.Received = res.Ping.Mode, res.Ping.Addr, res.Ping.Received
		}
		report(r)
	}
	step := func(err error) bool {
		if err != nil {
			report(pingNetnsResult{SetupErr: err.Error()})
		}
		return err == nil
	}
	privileged := NewPing(PingOptions{Mode: PingPrivileged, Count: 2})

	if !step(pingNetnsCheckIsolated()) {
		return
	}
	if scenario == "unanswered" {
		// Still root: raw sockets work, but nothing answers.
		probe("loopback down", privileged, 2*time.Second)
		if !step(pingBringLoopbackUp()) || !step(os.WriteFile("/proc/sys/net/ipv4/icmp_echo_ignore_all", []byte("1"), 0)) {
			return
		}
		probe("echoes ignored", privileged, 300*time.Millisecond)
		return
	}

	if !step(pingBringLoopbackUp()) {
		return
	}
	if scenario == "allowed" && !step(os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0)) {
		return
	}
	if !step(pingDropToNobody()) {
		return
	}
	auto := NewPing(PingOptions{Mode: PingAuto, Count: 2})
	unprivileged := NewPing(PingOptions{Mode: PingUnprivileged, Count: 2})
	// The same auto prober twice: the second attempt uses what the first
	// learned.
	switch scenario {
	case "allowed":
		probe("unprivileged", unprivileged, 2*time.Second)
		probe("auto", auto, 2*time.Second)
		probe("auto again", auto, 2*time.Second)
		probe("privileged", privileged, 2*time.Second)
	case "denied":
		probe("auto", auto, 2*time.Second)
		probe("auto again", auto, 2*time.Second)
		probe("privileged", privileged, 2*time.Second)
		probe("unprivileged", unprivileged, 2*time.Second)
	}
}

// pingNetnsCheckIsolated makes sure the child is not in its parent's
// network namespace, whose sysctls it must never change. /proc/sys/net
// shows the namespace of the process that reads it.
func pingNetnsCheckIsolated() error {
	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return err
	}
	if parent := os.Getenv(pingNetnsParentEnv); parent == "" || ns == parent {
		return fmt.Errorf("not in a network namespace of its own (%s, parent %q); refusing to touch sysctls", ns, parent)
	}
	return nil
}

// pingDropToNobody gives up root for good: no supplementary groups, uid and
// gid nobody, so no CAP_NET_RAW.
func pingDropToNobody() error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(nobody); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(nobody); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	if os.Geteuid() != nobody || os.Getegid() != nobody {
		return fmt.Errorf("still uid %d gid %d after dropping to nobody", os.Geteuid(), os.Getegid())
	}
	return nil
}

// pingBringLoopbackUp sets IFF_UP on lo, as `ip link set lo up` does.
func pingBringLoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
