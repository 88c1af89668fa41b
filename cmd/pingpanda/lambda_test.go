package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain lets a test run this package's main() in a child process, as
// the Lambda runtime would start the bootstrap.
func TestMain(m *testing.M) {
	if os.Getenv("PINGPANDA_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestLambdaInvocationIsOneSweep stands up a fake Lambda Runtime API on
// loopback, starts the command with AWS_LAMBDA_RUNTIME_API pointing at it,
// hands it one invocation and reads the report it posts back.
func TestLambdaInvocationIsOneSweep(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()

	responses := make(chan string, 1)
	var served atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
			if served.Swap(true) {
				<-r.Context().Done() // no second invocation
				return
			}
			deadline := time.Now().Add(10 * time.Second).UnixMilli()
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline, 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:pingpanda")
			io.WriteString(w, `{"source":"aws.events","detail-type":"Scheduled Event"}`)
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/2018-06-01/runtime/invocation/req-1/"):
			b, _ := io.ReadAll(r.Body)
			responses <- strings.TrimPrefix(r.URL.Path, "/2018-06-01/runtime/invocation/req-1/") + " " + string(b)
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer api.Close()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(loopbackEnv(target.URL+"/health"),
		"PINGPANDA_TEST_RUN_MAIN=1",
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"),
		"PATH="+os.Getenv("PATH"),
		"STATE_FILE="+filepath.Join(t.TempDir(), "state.json"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	select {
	case got := <-responses:
		kind, body, _ := strings.Cut(got, " ")
		if kind != "response" {
			t.Fatalf("posted %s: %s\nstderr:\n%s", kind, body, stderr.String())
		}
		var rep report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("response is not a report: %v\n%s", err, body)
		}
		if len(rep.Results) != 1 || rep.Results[0].Status != "up" || rep.Results[0].ID != "http:"+target.URL+"/health" {
			t.Fatalf("report = %s", body)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no response posted; stderr:\n%s", stderr.String())
	}
}
