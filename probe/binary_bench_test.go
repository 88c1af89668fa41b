package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBinarySweep runs the pingpanda binary itself, as a crontab or a
// CronJob would, over n mixed farm targets listed in a TARGETS_FILE: one
// whole sweep with its state file (loaded, applied, saved: the file
// already holds the n records from a first, untimed run), its metrics
// pushed to a Pushgateway stand-in on loopback, the JSON report and the
// logs. Unlike BenchmarkSweep, the farm is in another process, so
// the child's figures are pingpanda's alone:
//
//	peak-RSS-MiB   the child's peak resident set: its VmHWM, read from
//	               /proc every 2 ms while it runs. (Its ru_maxrss would not
//	               do: Linux carries the parent's high-water mark over
//	               exec, and Go execs from the parent's address space.)
//	cpu-ms         the child's CPU time
//	farm-cpu-ms    this process's CPU time meanwhile: the farm's side
//	               (and the Pushgateway stand-in's)
//	pushed-KiB     the metrics pushed, per sweep
//	x-ref-wall     the binary's wall time / the in-process reference's
//	x-ref-cpu      (cpu-ms + farm-cpu-ms) / the reference's CPU time, which
//	               also includes the farm's side
//
// Each tls target needs an address of its own (a target is its address),
// so the farm opens one more TLS listener per tls target.
func BenchmarkBinarySweep(b *testing.B) {
	bb := newBinaryBench(b)
	bin, dir, f, caFile, gateway, pushed := bb.bin, bb.dir, bb.farm, bb.caFile, bb.gateway, &bb.pushed
	var tlsAddrs []string // listeners that last the whole benchmark
	top := b
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for len(tlsAddrs) < n/4 {
				tlsAddrs = append(tlsAddrs, farmServeTCP(top, func(c net.Conn) { farmHandshake(c, f.ca) }))
			}
			ts := f.targets(b, n)
			var yaml strings.Builder
			for i := range ts {
				if ts[i].Check == TLS || ts[i].Check == TCP {
					// A target is its address: each needs a listener of
					// its own. A tcp target only connects, so the TLS
					// listeners serve it too, under another check's ID.
					ts[i].Address = tlsAddrs[i/4]
				}
				fmt.Fprintf(&yaml, "- {check: %s, target: %q, name: %s}\n", ts[i].Check, ts[i].Address, ts[i].Name)
			}
			targetsFile := filepath.Join(b.TempDir(), "targets.yaml")
			if err := os.WriteFile(targetsFile, []byte(yaml.String()), 0o644); err != nil {
				b.Fatal(err)
			}
			env := binaryEnv(f, targetsFile, caFile, filepath.Join(b.TempDir(), "state.json"), gateway.URL)
			run := func() (wall, cpu, farmCPU time.Duration, maxRSSKiB int64) {
				r := binaryRun(b, bin, dir, env, n)
				return r.wall, r.cpu, r.farmCPU, r.peakKiB
			}
			run() // writes the state file, warms the page cache
			ref := f.refProbers(b, benchConcurrency)
			refSweep(context.Background(), ref, ts[:min(n, benchConcurrency)], benchConcurrency)

			var wall, cpu, farmCPU, refWall, refCPU time.Duration
			var peak int64
			pushed.Store(0)
			for b.Loop() {
				b.StopTimer()
				c0, t0 := benchCPU(), time.Now()
				refSweep(context.Background(), ref, ts, benchConcurrency)
				refWall, refCPU = refWall+time.Since(t0), refCPU+benchCPU()-c0
				b.StartTimer()
				w, c, fc, rss := run()
				wall, cpu, farmCPU, peak = wall+w, cpu+c, farmCPU+fc, max(peak, rss)
			}
			sweeps := float64(b.N)
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(cpu.Milliseconds())/sweeps, "cpu-ms")
			b.ReportMetric(float64(farmCPU.Milliseconds())/sweeps, "farm-cpu-ms")
			b.ReportMetric(float64(pushed.Load())/1024/sweeps, "pushed-KiB")
			b.ReportMetric(wall.Seconds()/refWall.Seconds(), "x-ref-wall")
			b.ReportMetric((cpu+farmCPU).Seconds()/refCPU.Seconds(), "x-ref-cpu")
		})
	}
}

// binaryResult is what one run of the binary cost.
type binaryResult struct {
	wall, cpu, farmCPU time.Duration
	peakKiB            int64
}

// binaryRun runs the pingpanda binary once for a JSON report over n
// targets and measures it: its wall and CPU time, this process's CPU time
// meanwhile (the farm's), and the child's peak RSS. It fails the
// benchmark unless most targets were up and the metrics push succeeded.
func binaryRun(b *testing.B, bin, dir string, env []string, n int) binaryResult {
	ctx, cancel := context.WithTimeout(context.Background(), 2*benchDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--json")
	var stdout, stderr bytes.Buffer
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, dir, &stdout, &stderr
	self0, t0 := benchCPU(), time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak := make(chan int64, 1)
	exited := make(chan struct{})
	go func() {
		// VmHWM only grows, so the last read before exit is the peak
		// unless the peak came in the last 2 ms.
		var hwm int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if kib, err := benchPeakRSSKiBOf(strconv.Itoa(cmd.Process.Pid)); err == nil {
				hwm = max(hwm, kib)
			}
			select {
			case <-exited:
				peak <- hwm
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	var r binaryResult
	r.wall, r.farmCPU = time.Since(t0), benchCPU()-self0
	close(exited)
	r.peakKiB = <-peak
	if err != nil {
		b.Fatalf("pingpanda: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Summary    struct{ Targets, Up int }
		PushFailed bool   `json:"push_failed"`
		PushError  string `json:"push_error"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		b.Fatalf("report: %v", err)
	}
	if rep.PushFailed {
		b.Fatalf("metrics push failed: %s", rep.PushError)
	}
	if rep.Summary.Targets != n || 2*rep.Summary.Up < n {
		b.Fatalf("%d of %d targets up (%d in the report)\n%s", rep.Summary.Up, n, rep.Summary.Targets, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return r
}

// binaryEnv is the child's environment: the targets file, the farm's
// resolver, ping mode and CA, a state file and the Pushgateway stand-in;
// plus the profile or GC settings asked of the benchmark
// (PINGPANDA_PROFILE=mem:/tmp/heap.pprof go test -bench ...). GOGC,
// GOMEMLIMIT and GODEBUG set so apply to this process, and so to the
// reference, too; PINGPANDA_BENCH_CHILD_ENV ("GOGC=50 GOMEMLIMIT=40MiB")
// sets them for the child alone.
func binaryEnv(f *farm, targetsFile, caFile, stateFile, gatewayURL string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"ENABLE_DNS=false", "ENABLE_PING=false", "TARGETS_FILE=" + targetsFile,
		"DNS_SERVER=" + f.dnsAddr, "PING_MODE=" + string(f.pingMode), "PING_TCP_PORT=" + strconv.Itoa(f.httpPort),
		"SSL_CA_FILE=" + caFile, "STATE_FILE=" + stateFile,
		"RETRY_COUNT=1", "SWEEP_TIMEOUT_SECONDS=60", "CONCURRENCY=" + strconv.Itoa(benchConcurrency),
		"LOG_LEVEL=WARNING", "PUSHGATEWAY_URL=" + gatewayURL,
	}
	for _, kv := range os.Environ() {
		for _, k := range []string{"PINGPANDA_PROFILE=", "GODEBUG=", "GOGC=", "GOMEMLIMIT="} {
			if strings.HasPrefix(kv, k) {
				env = append(env, kv)
			}
		}
	}
	return append(env, strings.Fields(os.Getenv("PINGPANDA_BENCH_CHILD_ENV"))...)
}

// binaryBench is what the binary benchmarks share: the built binary, the
// farm, its CA in a file and a Pushgateway stand-in on loopback (a
// production sweep pushes its metrics, and building them is part of what
// the sweep costs; it reads each push whole and answers 200, as the
// gateway does).
type binaryBench struct {
	bin, dir, caFile string
	farm             *farm
	gateway          *httptest.Server
	pushed           atomic.Int64
}

func newBinaryBench(b *testing.B) *binaryBench {
	scaleNeedFiles(b, 16384)
	bb := &binaryBench{dir: b.TempDir()}
	bb.bin = filepath.Join(bb.dir, "pingpanda")
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bb.bin, "../cmd/pingpanda").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	bb.farm = farmStart(b)
	bb.caFile = filepath.Join(bb.dir, "ca.pem")
	if err := os.WriteFile(bb.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: bb.farm.ca.cert.Raw}), 0o644); err != nil {
		b.Fatal(err)
	}
	bb.gateway = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		bb.pushed.Add(n)
	}))
	b.Cleanup(bb.gateway.Close)
	return bb
}
