package probe

import (
	"context"
	"os"
	"testing"
	"time"
)

// expiringCtx is a context whose deadline passes between the first and
// the second call of Err, as a real one's timer can.
type expiringCtx struct {
	context.Context
	calls int
}

func (c *expiringCtx) Err() error {
	c.calls++
	if c.calls == 1 {
		return nil
	}
	return context.DeadlineExceeded
}

func TestTimeoutErrorTextCallsASocketTimeoutATimeoutWhileCtxExpires(t *testing.T) {
	// The socket deadline, taken from ctx, fired a moment before ctx's
	// timer; the timer fires while the error is being worded.
	ctx := &expiringCtx{Context: context.Background()}
	got, ok := timeoutErrorText(ctx, os.ErrDeadlineExceeded, 1500*time.Millisecond)
	if !ok || got != "timeout after 1.5s" {
		t.Fatalf("timeoutErrorText = %q, %v; want \"timeout after 1.5s\", true", got, ok)
	}
}
