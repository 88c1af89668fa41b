package state

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe"
	"github.com/redis/go-redis/v9"
)

// benchStateSizes are the record counts: 100 under -short (the CI smoke
// run), 100 and 1,000 by default, 10,000 as well with
// PINGPANDA_BENCH_FULL=1 (make bench).
func benchStateSizes() []int {
	switch {
	case testing.Short():
		return []int{100}
	case os.Getenv("PINGPANDA_BENCH_FULL") != "":
		return []int{100, 1000, 10000}
	}
	return []int{100, 1000}
}

// BenchmarkRedisSweepState is a sweep's whole use of the state against a
// real redis-server on loopback: Lock, Load of n records, Apply of n
// results, Save of n records, Unlock. The records exist already (a steady
// state: every sweep after the first). Besides ns/op it reports the round
// trips per sweep, which must not grow with n, the wall time of Load,
// Apply and Save, and allocations per target.
func BenchmarkRedisSweepState(b *testing.B) {
	addr, _ := startRedis(b)
	for _, n := range benchStateSizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			ctx := context.Background()
			var trips atomic.Int64
			client := redis.NewClient(&redis.Options{Addr: addr, PipelinePoolSize: -1})
			client.AddHook(countTrips{&trips})
			b.Cleanup(func() { client.Close() })
			s, err := NewRedisStore(ctx, RedisOptions{Client: client, Namespace: fmt.Sprintf("bench-%d", n), Now: fixedClock(t0)})
			if err != nil {
				b.Fatal(err)
			}
			p := defaults()
			results, ids := benchResults(n)
			now := time.Now()
			var phases [3]time.Duration // load, apply, save: wall time
			sweep := func() {
				lease, err := s.Lock(ctx, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				loaded, err := s.Load(ctx, ids)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				next, _ := Apply(loaded.States, results, now, p)
				t2 := time.Now()
				if _, err := s.Save(ctx, lease, SaveRequest{States: next, Retention: p.Retention}); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				phases[0] += t1.Sub(t0)
				phases[1] += t2.Sub(t1)
				phases[2] += t3.Sub(t2)
				if err := s.Unlock(ctx, lease); err != nil {
					b.Fatal(err)
				}
				now = now.Add(time.Minute)
			}
			sweep() // the records exist from here on
			for i, st := range benchLoad(b, s, ids) {
				if st.ID != ids[i] {
					b.Fatalf("record %d of %d is %q, want %q", i+1, n, st.ID, ids[i])
				}
			}

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0, srv0 := benchProcessCPU(), benchServerCPU(b, client)
			trips.Store(0)
			phases = [3]time.Duration{}
			for b.Loop() {
				sweep()
			}
			rt := trips.Load()
			cpu, srv := benchProcessCPU()-cpu0, benchServerCPU(b, client)-srv0
			runtime.ReadMemStats(&after)
			// CPU time, unlike wall time, hardly depends on what else the
			// machine is running.
			b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "client-cpu-ms")
			b.ReportMetric(float64(srv.Microseconds())/1e3/float64(b.N), "server-cpu-ms")
			b.ReportMetric(float64(rt)/float64(b.N), "round-trips/sweep")
			for i, name := range []string{"load-ms", "apply-ms", "save-ms"} {
				b.ReportMetric(float64(phases[i].Microseconds())/1e3/float64(b.N), name)
			}
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n*b.N), "allocs/target")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n*b.N), "B/target")
		})
	}
}

// benchProcessCPU is the user plus system CPU time this process has used.
func benchProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchServerCPU is the CPU time redis-server has used, from INFO cpu
// (used_cpu_user plus used_cpu_sys, in seconds).
func benchServerCPU(b *testing.B, c *redis.Client) time.Duration {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu: %s: %v", line, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

func benchLoad(b *testing.B, s *RedisStore, ids []string) []TargetState {
	l, err := s.Load(context.Background(), ids)
	if err != nil {
		b.Fatal(err)
	}
	return l.States
}

// benchResults are n up results of mixed checks, with their details, and
// their targets' IDs in the same order.
func benchResults(n int) ([]probe.Result, []string) {
	results := make([]probe.Result, n)
	ids := make([]string, n)
	for i := range results {
		c := probe.Checks[i%len(probe.Checks)]
		r := probe.Result{
			Target:   probe.Target{Check: c, Name: fmt.Sprintf("t%d", i), Address: fmt.Sprintf("t%d.example.com", i)},
			Status:   probe.StatusUp,
			Latency:  time.Duration(i%50+1) * time.Millisecond,
			Attempts: 1,
		}
		if c == probe.TLS {
			r.Target.Address += ":443"
			r.TLS = &probe.TLSDetail{NotAfter: time.Now().Add(60 * 24 * time.Hour), DaysLeft: 60, Level: probe.CertOK, Subject: "x", Issuer: "y"}
		}
		results[i] = r
		ids[i] = r.Target.ID()
	}
	return results, ids
}

// countTrips counts the commands and pipelines sent: the round trips.
type countTrips struct{ n *atomic.Int64 }

func (c countTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c countTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c countTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}
