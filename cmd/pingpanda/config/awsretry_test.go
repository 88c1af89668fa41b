package config

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsfake"
)

// hourBackoff waits longer than any test's context lasts.
type hourBackoff struct{}

func (hourBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Hour, nil }

// TestThrottledUntilTheDeadlineCountsItsAttempts: when the context
// ends while send waits to retry a throttled request (awsclient.go, the
// ctx.Done branch of send), the error returned never gets its Attempts
// set, so the problem reads "AWS is throttling the requests
// (ThrottlingException) and 0 attempts did not get through" after one
// attempt was made.
func TestThrottledUntilTheDeadlineCountsItsAttempts(t *testing.T) {
	f := awsfake.New(t)
	f.Params["/pingpanda/busy"] = "v"
	f.Throttle["/pingpanda/busy"] = 100
	cfg := aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(awsfake.KeyID, "fake-secret-key", ""),
		HTTPClient:  http.DefaultClient,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = hourBackoff{} })
		},
	}
	c := newAWSClientFromConfig(cfg, map[string]string{"AWS_ENDPOINT_URL": f.Srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.getParameter(ctx, "/pingpanda/busy")
	if err == nil {
		t.Fatal("a parameter throttled every time was read")
	}
	ref, _, _ := parseAWSRef("ssm:/pingpanda/busy", false)
	msg := explainAWSError(err, ref, "eu-west-1")
	if strings.Contains(msg, " 0 attempts") {
		t.Errorf("one attempt was made, but the problem says: %s", msg)
	}
}
