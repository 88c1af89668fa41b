package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// coldStartRef is the reference: a Go program that does nothing but
// connect to the address it is given.
const coldStartRef = `package main

import (
	"net"
	"os"
)

func main() {
	c, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		os.Exit(1)
	}
	c.Close()
}
`

// BenchmarkColdStart measures process start to first probe: the time from
// starting the pingpanda binary, configured with one loopback http target
// (--dry-run, so no state is read), to the target's server seeing the
// connection. The reference is a Go binary that only dials the same
// server, started and timed the same way; x-ref-start is the ratio. Both
// binaries are built, with make build's flags, before the timer starts.
// start-ms and ref-start-ms are the medians; ns/op is a whole pingpanda
// run, start to exit.
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	bin, ref := filepath.Join(dir, "pingpanda"), filepath.Join(dir, "ref")
	src := filepath.Join(dir, "ref.go")
	if err := os.WriteFile(src, []byte(coldStartRef), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, build := range [][]string{
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "."},
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", ref, src},
	} {
		if out, err := exec.Command("go", build...).CombinedOutput(); err != nil {
			b.Fatalf("go %v: %v\n%s", build, err, out)
		}
	}

	conns := make(chan time.Time, 16)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			select {
			case conns <- time.Now():
			default:
			}
		}
	}
	srv.Start()
	b.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"ENABLE_DNS=false", "ENABLE_PING=false",
		"ENABLE_WEBSITE_CHECK=true", "CHECK_WEBSITE=" + srv.URL + "/",
		"RETRY_COUNT=1", "SWEEP_TIMEOUT_SECONDS=10",
		"STATE_FILE=" + filepath.Join(dir, "state.json"),
		"LOG_LEVEL=error",
	}

	// startToConn starts name and returns the time until the server saw
	// its connection; the process is then left to finish.
	startToConn := func(name string, args ...string) time.Duration {
		for len(conns) > 0 {
			<-conns
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env, cmd.Dir = env, dir
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var d time.Duration
		select {
		case t1 := <-conns:
			d = t1.Sub(t0)
		case <-ctx.Done():
			b.Fatalf("%s made no connection in 10 s", filepath.Base(name))
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("%s: %v", filepath.Base(name), err)
		}
		return d
	}

	startToConn(bin, "--dry-run") // page cache warm for both
	startToConn(ref, addr)
	var pp, rf []time.Duration
	for b.Loop() {
		b.StopTimer()
		rf = append(rf, startToConn(ref, addr))
		b.StartTimer()
		pp = append(pp, startToConn(bin, "--dry-run"))
	}
	slices.Sort(pp)
	slices.Sort(rf)
	p, r := pp[len(pp)/2], rf[len(rf)/2]
	b.ReportMetric(float64(p)/float64(time.Millisecond), "start-ms")
	b.ReportMetric(float64(r)/float64(time.Millisecond), "ref-start-ms")
	b.ReportMetric(float64(p)/float64(r), "x-ref-start")
}
