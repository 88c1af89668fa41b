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
	"syscall"
	"testing"
	"time"
)

// Sweep benchmarks run one Runner over many farm targets per iteration,
// with the settings of a production sweep: 512 attempts in flight, the
// default attempt timeouts, a 60 s sweep deadline; one attempt each, so
// that every figure is the cost of one check. Building the farm, the
// probers and the targets is not timed. Besides the ratios to the
// reference (see BenchmarkSweep) they report:
//
//	B/target         bytes allocated per target
//	allocs/target    allocations per target
//	peak-RSS-MiB     the process's peak resident set (VmHWM) during the
//	                 sweep, reset before it where the kernel allows
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

// benchSizes are the sweep sizes: 100 under -short (the CI smoke run),
// 100 and 1,000 by default, and 10,000 as well with PINGPANDA_BENCH_FULL=1
// (make bench).
func benchSizes() []int {
	switch {
	case testing.Short():
		return []int{100}
	case os.Getenv("PINGPANDA_BENCH_FULL") != "":
		return []int{100, 1000, 10000}
	}
	return []int{100, 1000}
}

// BenchmarkSweep sweeps n farm targets of each check alone and mixed
// (round-robin over Checks), with pingpanda's Runner and, in the same
// iteration on the same farm, with the reference probers of ref_test.go.
// Besides ns/op (pingpanda's sweep alone) it reports:
//
//	x-ref-wall       pingpanda's wall time / the reference's
//	x-ref-cpu        pingpanda's CPU time (user+system, getrusage) / the reference's
//	cpu-ms           pingpanda's CPU time per sweep
//	ref-cpu-ms       the reference's CPU time per sweep
//	ref-ms           the reference's wall time per sweep
//	not-up           pingpanda's targets not up per sweep (a lost ICMP reply, say)
//	ref-not-up       the same for the reference
//
// CPU time is the whole process's, so it includes the farm's side of every
// check for both; the ratios are diluted by it, never flattered.
func BenchmarkSweep(b *testing.B) {
	scaleNeedFiles(b, benchFiles)
	f := farmStart(b)
	kinds := append([]string{"mixed"}, func() []string {
		var s []string
		for _, c := range Checks {
			s = append(s, string(c))
		}
		return s
	}()...)
	for _, kind := range kinds {
		for _, n := range benchSizes() {
			b.Run(fmt.Sprintf("%s/N=%d", kind, n), func(b *testing.B) {
				var ts []Target
				if kind == "mixed" {
					ts = f.targets(b, n)
				} else {
					ts = f.targetsOf(b, Check(kind), n)
				}
				benchSweep(b, f, ts)
			})
		}
	}
}

// benchSweep times sweeps of targets by pingpanda and by the reference.
func benchSweep(b *testing.B, f *farm, ts []Target) {
	r := f.runner(b, benchConcurrency, 1)
	ref := f.refProbers(b, benchConcurrency)
	n := len(ts)

	// Warm both up on one round of targets: certificates issued, first
	// connections made, worker stacks grown, so that neither pays for
	// first use in the timed sweep.
	warm := ts[:min(n, benchConcurrency)]
	wctx, wcancel := context.WithTimeout(context.Background(), benchDeadline)
	r.Run(wctx, warm)
	refSweep(wctx, ref, warm, benchConcurrency)
	wcancel()

	var m benchMeasure
	var pp, rf benchCost
	for b.Loop() {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
		m.start()
		notUp := refSweep(ctx, ref, ts, benchConcurrency)
		rf.add(m.stop(), notUp)
		cancel()
		b.StartTimer()

		ctx, cancel = context.WithTimeout(context.Background(), benchDeadline)
		m.start()
		results := r.Run(ctx, ts)
		c := m.stop()
		cancel()
		notUp = 0
		for _, res := range results {
			if res.Status != StatusUp {
				notUp++
			}
		}
		pp.add(c, notUp)
		if down := scaleNotUp(results); down != "" {
			b.Logf("not up (ping mode %s):\n%s", f.pingMode, down)
		}
	}
	// A few targets not up is a finding (a lost reply, a handshake past
	// its 5 s timeout on a machine crowded by other work), reported as
	// not-up; most of them not up is a broken farm.
	if 2*pp.notUp > n*b.N || 2*rf.notUp > n*b.N {
		b.Fatalf("most farm targets not up: pingpanda %d, reference %d", pp.notUp, rf.notUp)
	}

	sweeps := float64(b.N)
	probed := float64(n) * sweeps
	b.ReportMetric(pp.wall.Seconds()/rf.wall.Seconds(), "x-ref-wall")
	b.ReportMetric(pp.cpu.Seconds()/rf.cpu.Seconds(), "x-ref-cpu")
	b.ReportMetric(float64(pp.cpu.Milliseconds())/sweeps, "cpu-ms")
	b.ReportMetric(float64(rf.cpu.Milliseconds())/sweeps, "ref-cpu-ms")
	b.ReportMetric(float64(rf.wall.Milliseconds())/sweeps, "ref-ms")
	b.ReportMetric(float64(pp.allocs)/probed, "allocs/target")
	b.ReportMetric(float64(rf.allocs)/probed, "ref-allocs/target")
	b.ReportMetric(float64(pp.bytes)/probed, "B/target")
	b.ReportMetric(float64(pp.peakKiB)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(rf.peakKiB)/1024, "ref-peak-RSS-MiB")
	b.ReportMetric(float64(pp.notUp)/sweeps, "not-up")
	b.ReportMetric(float64(rf.notUp)/sweeps, "ref-not-up")
}

// benchCost adds up what the sweeps of one prober cost.
type benchCost struct {
	wall, cpu     time.Duration
	allocs, bytes uint64
	peakKiB       int64 // the largest peak of any sweep
	notUp         int
}

func (c *benchCost) add(s benchSample, notUp int) {
	c.wall += s.wall
	c.cpu += s.cpu
	c.allocs += s.allocs
	c.bytes += s.bytes
	c.peakKiB = max(c.peakKiB, s.peakKiB)
	c.notUp += notUp
}

// benchMeasure measures one sweep: wall time, CPU time of the process,
// allocations and peak RSS.
type benchMeasure struct {
	t0    time.Time
	cpu0  time.Duration
	mem0  runtime.MemStats
	noRSS bool
}

type benchSample struct {
	wall, cpu     time.Duration
	allocs, bytes uint64
	peakKiB       int64
}

func (m *benchMeasure) start() {
	runtime.GC()
	debug.FreeOSMemory()
	m.noRSS = benchResetPeakRSS() != nil
	runtime.ReadMemStats(&m.mem0)
	m.cpu0 = benchCPU()
	m.t0 = time.Now()
}

func (m *benchMeasure) stop() benchSample {
	s := benchSample{wall: time.Since(m.t0), cpu: benchCPU() - m.cpu0}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	s.allocs, s.bytes = mem.Mallocs-m.mem0.Mallocs, mem.TotalAlloc-m.mem0.TotalAlloc
	if kib, err := benchPeakRSSKiB(); err == nil && !m.noRSS {
		s.peakKiB = kib
	}
	return s
}

// benchCPU is the user plus system CPU time the process has used.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchResetPeakRSS resets the process's VmHWM to its current RSS, so that
// each benchmark reports its own peak rather than the largest so far. It
// fails when the kernel does not allow it, and then no peak is reported.
func benchResetPeakRSS() error {
	// "5" resets the peak RSS (Linux 4.0 and later; proc(5)).
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// benchPeakRSSKiB reads VmHWM, the peak resident set, from
// /proc/self/status.
func benchPeakRSSKiB() (int64, error) { return benchPeakRSSKiBOf("self") }

// benchPeakRSSKiBOf reads VmHWM from /proc/<pid>/status.
func benchPeakRSSKiBOf(pid string) (int64, error) {
	path := "/proc/" + pid + "/status"
	data, err := os.ReadFile(path)
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
	return 0, fmt.Errorf("no VmHWM line in %s", path)
}
