package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsfake"
	pplambda "github.com/pingpanda/pingpanda/cmd/pingpanda/lambda"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/sweep"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/redis/go-redis/v9"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/state/redistest"
)

// TestMain lets a test run this package's main() in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("PINGPANDA_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	removeBuilds()
	os.Exit(code)
}

// The three scheduled-event shapes README documents, plus a custom Input
// that overrides dry-run and selects the http checks.
const (
	ruleEvent = `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event",
		"source":"aws.events","account":"123456789012","time":"2026-11-24T05:00:00Z","region":"eu-west-1",
		"resources":["arn:aws:events:eu-west-1:123456789012:rule/pingpanda"],"detail":{}}`
	schedulerEvent = `{"scheduleArn":"arn:aws:scheduler:eu-west-1:123456789012:schedule/default/pingpanda",
		"scheduledTime":"2026-11-24T05:00:00Z","executionId":"d32c5kddcf5bb8c3","attemptNumber":"1"}`
	inputEvent = `{"dry_run":true,"targets":["http"]}`
)

// TestLambdaHandler invokes the handler the way aws-lambda-go does, with
// each event shape: an http target on loopback and a ping target, which
// Lambda cannot probe.
func TestLambdaHandler(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	env := append(testEnv(t, loopbackEnv(target.URL+"/health")), "ENABLE_PING=true", "PING_IPS=127.0.0.1")
	cfg, _, err := config.Load(context.Background(), config.Sources{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := sweep.New(context.Background(), sweep.Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Now: time.Now, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	pplambda.FitSweeper(sw)
	h := lambda.NewHandler(pplambda.Handler{Sweeper: sw})

	httpID, pingID := "http:"+target.URL+"/health", "ping:127.0.0.1"
	tests := []struct {
		name, event string
		trigger     string
		dryRun      bool
		ids         []string
		err         string
	}{
		{"an EventBridge rule", ruleEvent, pplambda.TriggerRule, false, []string{pingID, httpID}, ""},
		{"EventBridge Scheduler", schedulerEvent, pplambda.TriggerScheduler, false, []string{pingID, httpID}, ""},
		{"a custom Input", inputEvent, pplambda.TriggerInput, true, []string{httpID}, ""},
		{"no payload", ``, pplambda.TriggerEmpty, false, []string{pingID, httpID}, ""},
		{"a misspelt override", `{"dry-run":true}`, "", false, nil, `lambda event: unknown field "dry-run"; did you mean "dry_run"?`},
		{"another kind of event", `{"Records":[]}`, pplambda.TriggerOther, false, []string{pingID, httpID}, ""},
		{"an unknown target", `{"targets":["dns"]}`, "", false, nil, `lambda event: targets[0] "dns" matches none of the 2 configured targets`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := h.Invoke(ctx, []byte(tt.event))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rep report.Report
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if rep.Trigger == nil || rep.Trigger.Kind != tt.trigger || rep.DryRun != tt.dryRun || rep.Partial != (len(tt.ids) == 1) {
				t.Fatalf("report.Report = %s", out)
			}
			var ids []string
			for _, r := range rep.Results {
				ids = append(ids, r.ID)
				want := map[string]string{httpID: "up", pingID: "unsupported"}[r.ID]
				if r.Status != want {
					t.Errorf("%s is %s (%s), want %s", r.ID, r.Status, r.Error, want)
				}
				if r.ID == pingID && !strings.Contains(r.Error, "PING_MODE=tcp") {
					t.Errorf("the ping result does not advise PING_MODE=tcp: %q", r.Error)
				}
			}
			if strings.Join(ids, " ") != strings.Join(tt.ids, " ") {
				t.Fatalf("results for %q, want %q", ids, tt.ids)
			}
			if tt.trigger == pplambda.TriggerRule && (rep.Trigger.Scheduled == nil || rep.Trigger.LagSeconds == nil || *rep.Trigger.LagSeconds <= 0) {
				t.Fatalf("the rule's time is not reported: %s", out)
			}
		})
	}
}

// fakeRuntime is the Lambda Runtime API on loopback: it hands out the
// queued events one by one, with a request ID and a deadline, and collects
// what the function posts back. beforeNext, when set, runs as the function
// asks for invocation i (0-based), before it is handed out.
type fakeRuntime struct {
	events     []string
	beforeNext func(i int)

	mu     sync.Mutex
	next   int
	posted chan posted
}

type posted struct {
	requestID, kind, body string
}

func (f *fakeRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const base = "/2018-06-01/runtime/invocation/"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == base+"next":
		f.mu.Lock()
		i := f.next
		f.next++
		f.mu.Unlock()
		if f.beforeNext != nil {
			f.beforeNext(i)
		}
		if i >= len(f.events) {
			<-r.Context().Done() // no more invocations: the function waits, as in Lambda
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", fmt.Sprintf("req-%d", i))
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(10*time.Second).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:pingpanda")
		io.WriteString(w, f.events[i])
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, base):
		id, kind, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, base), "/")
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		w.WriteHeader(http.StatusAccepted)
		f.posted <- posted{id, kind, string(b)}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestLambdaRuntime starts the bootstrap, built as `make lambda` builds it,
// as the Lambda runtime would, against a fake Runtime API, with state in a
// real redis-server. It hands out one event of each shape and one the
// function must refuse, and checks every report, that the refusal is
// posted as an invocation error, and that the Redis connection made on the
// cold start serves every invocation.
func TestLambdaRuntime(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	connections := func() int {
		info, err := rdb.Info(context.Background(), "stats").Result()
		if err != nil {
			t.Errorf("redis INFO: %v", err)
			return -1
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "total_connections_received:"); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Error("redis INFO has no total_connections_received")
		return -1
	}
	conns := map[int]int{} // connections received before invocation i is handed out
	var connsMu sync.Mutex
	rt := &fakeRuntime{
		events: []string{ruleEvent, schedulerEvent, inputEvent, `{"dryRun":true}`},
		beforeNext: func(i int) {
			n := connections()
			connsMu.Lock()
			conns[i] = n
			connsMu.Unlock()
		},
		posted: make(chan posted, 8),
	}
	api := httptest.NewServer(rt)
	defer api.Close()

	cmd := exec.Command(buildBootstrap(t))
	cmd.Env = append(loopbackEnv(target.URL+"/health"),
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"),
		"PATH="+os.Getenv("PATH"),
		"REDIS_URL="+srv.URL(),
		"ENABLE_PING=true", "PING_IPS=127.0.0.1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	httpID := "http:" + target.URL + "/health"
	want := []struct {
		kind, trigger string
		dryRun        bool
		results       int
	}{
		{"response", pplambda.TriggerRule, false, 2},
		{"response", pplambda.TriggerScheduler, false, 2},
		{"response", pplambda.TriggerInput, true, 1},
		{"error", "", false, 0},
	}
	for i, w := range want {
		var got posted
		select {
		case got = <-rt.posted:
		case <-time.After(15 * time.Second):
			t.Fatalf("invocation %d: nothing posted; stderr:\n%s", i, stderr.String())
		}
		if got.requestID != fmt.Sprintf("req-%d", i) || got.kind != w.kind {
			t.Fatalf("invocation %d: posted %s to %s: %s\nstderr:\n%s", i, got.kind, got.requestID, got.body, stderr.String())
		}
		if w.kind == "error" {
			if !strings.Contains(got.body, `lambda event: unknown field \"dryRun\"; did you mean \"dry_run\"?`) {
				t.Fatalf("invocation %d: error = %s", i, got.body)
			}
			continue
		}
		var rep report.Report
		if err := json.Unmarshal([]byte(got.body), &rep); err != nil {
			t.Fatalf("invocation %d: response is not a report: %v\n%s", i, err, got.body)
		}
		if rep.Trigger == nil || rep.Trigger.Kind != w.trigger || rep.Trigger.RequestID != got.requestID ||
			rep.DryRun != w.dryRun || len(rep.Results) != w.results {
			t.Fatalf("invocation %d: report.Report = %s", i, got.body)
		}
		for _, r := range rep.Results {
			if want := map[bool]string{true: "up", false: "unsupported"}[r.ID == httpID]; r.Status != want {
				t.Fatalf("invocation %d: %s is %s, want %s", i, r.ID, r.Status, want)
			}
		}
	}
	// The fourth /next call happens after the third response is posted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		connsMu.Lock()
		_, ok := conns[3]
		connsMu.Unlock()
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	connsMu.Lock()
	defer connsMu.Unlock()
	// Invocations 0 and 1 saved state in Redis (2 is a dry run); the
	// connection count must not grow after the first.
	if conns[1] < 0 || conns[1] != conns[2] || conns[2] != conns[3] {
		t.Fatalf("redis connections received before invocations 1, 2, 3: %d, %d, %d; the function reconnected", conns[1], conns[2], conns[3])
	}
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no state in redis (err %v)", err)
	}
}

// TestLambdaRuntimeConfigError: a configuration the function cannot use
// fails every invocation, whatever its payload, with the loader's message.
func TestLambdaRuntimeConfigError(t *testing.T) {
	rt := &fakeRuntime{events: []string{``, ruleEvent}, posted: make(chan posted, 4)}
	api := httptest.NewServer(rt)
	defer api.Close()
	cmd := exec.Command(buildBootstrap(t))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(api.URL, "http://"),
		"ENABLE_DNS=false", "ENABLE_PING=false", "RETRY_COUNT=many"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := range 2 {
		select {
		case got := <-rt.posted:
			if got.kind != "error" || !strings.Contains(got.body, "configuration: RETRY_COUNT") {
				t.Fatalf("invocation %d: posted %s: %s", i, got.kind, got.body)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("invocation %d: nothing posted; stderr:\n%s", i, stderr.String())
		}
	}
}

// TestLambdaColdStartAWSFailures: a reference AWS refuses for good (not
// found) fails every invocation with the reason; one AWS only throttles
// makes the process exit, so that Lambda starts it afresh and reads the
// references again, rather than failing every sweep until the next cold
// start.
func TestLambdaColdStartAWSFailures(t *testing.T) {
	tests := []struct {
		name     string
		throttle int
		exits    bool
		want     string
	}{
		{"a parameter that does not exist", 0, false, "ParameterNotFound"},
		{"AWS throttling every request", 1000, true, "exiting, so that the next invocation reads the configuration again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := awsfake.New(t)
			if tt.throttle > 0 {
				// Under the fake's lock: its handler takes it before
				// reading, which orders the two for the race detector.
				f.Mu.Lock()
				f.Params["/pingpanda/redis"] = "redis://127.0.0.1:1/0"
				f.Throttle["/pingpanda/redis"] = tt.throttle
				f.Mu.Unlock()
			}
			rt := &fakeRuntime{events: []string{ruleEvent}, posted: make(chan posted, 2)}
			api := httptest.NewServer(rt)
			defer api.Close()
			cmd := exec.Command(buildBootstrap(t))
			cmd.Env = append(f.Environ("REDIS_URL=ssm:/pingpanda/redis"),
				"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"), "AWS_MAX_ATTEMPTS=2")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer cmd.Process.Kill()
			select {
			case err := <-exited:
				if !tt.exits {
					t.Fatalf("the function exited (%v); stderr:\n%s", err, stderr.String())
				}
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != exitFailed || !strings.Contains(stderr.String(), tt.want) {
					t.Fatalf("exit %v, want %d; stderr:\n%s", err, exitFailed, stderr.String())
				}
			case got := <-rt.posted:
				if tt.exits || got.kind != "error" || !strings.Contains(got.body, tt.want) {
					t.Fatalf("posted %s: %s; stderr:\n%s", got.kind, got.body, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("neither exited nor posted; stderr:\n%s", stderr.String())
			}
		})
	}
}
