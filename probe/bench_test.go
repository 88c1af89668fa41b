package probe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"
)

// Sweep benchmarks run one Runner over many farm targets per iteration,
// with the settings of a production sweep: 512 attempts in flight, the
// default attempt timeouts, a 60 s sweep deadline; one attempt each, so
// that every figure is the cost of one check. Building the farm, the
// probers and the targets is not timed. Besides ns/op they report:
//
//	targets/s        targets probed per second of sweep
//	B/target         bytes allocated per target
//	allocs/target    allocations per target
//	peak-RSS-MiB     the process's peak resident set (VmHWM) during the
//	                 benchmark, reset before it where the kernel allows
//
// The farm runs in the same process, so allocations and RSS include the
// servers' side of every check, not only the probers'.
const (
	benchConcurrency = 512
	benchDeadline    = 60 * time.Second
	// benchFiles is what a sweep of 512 may hold open at once, with room
	// to spare: per attempt a client socket and the farm's end of it, or a
	// raw ICMP or UDP socket, plus both ends of the http prober's idle
	// connections. About 1,400 were seen open at once with N=10000.
	benchFiles = 4096
)

func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			benchSweep(b, n, func(f *farm) []Target { return f.targets(b, n) })
		})
	}
}

func BenchmarkSweepByKind(b *testing.B) {
	const n = 1000
	for _, c := range Checks {
		b.Run(fmt.Sprintf("%s/N=%d", c, n), func(b *testing.B) {
			benchSweep(b, n, func(f *farm) []Target { return f.targetsOf(b, c, n) })
		})
	}
}

// benchSweep times sweeps of the n targets that targets builds on a fresh
// farm, and fails if any target is not up.
func benchSweep(b *testing.B, n int, targets func(*farm) []Target) {
	scaleNeedFiles(b, benchFiles)
	f := farmStart(b)
	r := f.runner(b, benchConcurrency, 1)
	ts := targets(f)
	if len(ts) != n {
		b.Fatalf("%d targets built, want %d", len(ts), n)
	}

	runtime.GC()
	debug.FreeOSMemory()
	benchResetPeakRSS(b)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
		results := r.Run(ctx, ts)
		cancel()
		if down := scaleNotUp(results); down != "" {
			b.Fatalf("every farm target should be up (ping mode %s):\n%s", f.pingMode, down)
		}
	}

	runtime.ReadMemStats(&after)
	probed := float64(n) * float64(b.N)
	b.ReportMetric(probed/b.Elapsed().Seconds(), "targets/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/probed, "B/target")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/probed, "allocs/target")
	if kib, err := benchPeakRSSKiB(); err == nil {
		b.ReportMetric(float64(kib)/1024, "peak-RSS-MiB")
	} else {
		b.Logf("peak RSS not reported: %v", err)
	}
}

// benchResetPeakRSS resets the process's VmHWM to its current RSS, so that
// each benchmark reports its own peak rather than the largest so far. It
// only logs when the kernel does not allow it.
func benchResetPeakRSS(b *testing.B) {
	// "5" resets the peak RSS (Linux 4.0 and later; proc(5)).
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS cannot be reset (%v); it is the process's peak so far", err)
	}
}

// benchPeakRSSKiB reads VmHWM, the peak resident set, from
// /proc/self/status.
func benchPeakRSSKiB() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:"))
		if !ok {
			continue
		}
		kib := bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))
		return strconv.ParseInt(string(kib), 10, 64)
	}
	return 0, fmt.Errorf("no VmHWM line in /proc/self/status")
}
