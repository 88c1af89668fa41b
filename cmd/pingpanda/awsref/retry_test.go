package awsref

import (
	"context"
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

// TestThrottledUntilTheDeadlineCountsItsAttempts: when the context ends
// while the SDK waits to retry a throttled request, the problem never
// reads "… and 0 attempts did not get through" after one was made.
func TestThrottledUntilTheDeadlineCountsItsAttempts(t *testing.T) {
	f := awsfake.New(t)
	f.Params["/pingpanda/busy"] = "v"
	f.Throttle["/pingpanda/busy"] = 100
	cfg := aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(awsfake.KeyID, "fake-secret-key", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = hourBackoff{} })
		},
	}
	c, err := FromConfig(cfg, map[string]string{"AWS_ENDPOINT_URL": f.Srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ref, _, _ := Parse("ssm:/pingpanda/busy", false)
	if _, err = c.Fetch(ctx, ref, 1<<10); err == nil {
		t.Fatal("a parameter throttled every time was read")
	}
	msg := Explain(err, ref, "eu-west-1")
	if strings.Contains(msg, " 0 attempts") {
		t.Errorf("one attempt was made, but the problem says: %s", msg)
	}
}
