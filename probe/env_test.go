package probe

import (
	"fmt"
	"os"
	"testing"
)

// unavailable skips a test whose environment is missing (no privileges, no
// namespaces) — except in CI, where PINGPANDA_CI is set and every
// integration test must run, so a missing piece is a failure.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("PINGPANDA_CI") != "" {
		t.Fatalf("PINGPANDA_CI is set, so this must run: %s", msg)
	}
	t.Skip(msg)
}
