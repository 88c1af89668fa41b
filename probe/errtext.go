package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
	"unicode/utf8"
)

// The checks word their errors alike: "timeout after 1.5s", "connection
// refused", "connection closed by the server".

// describeErr words a network error for a message that already names the
// operation and address.
func describeErr(err error, elapsed time.Duration) string {
	if s, ok := timeoutErrorText(context.Background(), err, elapsed); ok {
		return s
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled after " + roundElapsed(elapsed)
	}
	if errors.Is(err, io.EOF) {
		return "connection closed by the server"
	}
	if s, ok := errnoText(err, false); ok {
		return s
	}
	var (
		sysErr *os.SyscallError
		opErr  *net.OpError
	)
	switch {
	case errors.As(err, &sysErr):
		return sysErr.Err.Error()
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	}
	return err.Error()
}

// timeoutErrorText reports an attempt cut short, by ctx or by a deadline
// of its own, as "timeout after 1.5s" (or "cancelled after …").
func timeoutErrorText(ctx context.Context, err error, elapsed time.Duration) (string, bool) {
	e := roundElapsed(elapsed)
	// ctx.Err() is read once: a socket deadline taken from ctx fires a
	// moment before ctx's own timer, which may fire between two reads
	// and turn a timeout into "cancelled".
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return "timeout after " + e, true
	case ctxErr != nil:
		return "cancelled after " + e, true
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout after " + e, true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout after " + e, true
	}
	return "", false
}

// errnoText names the common connection failures plainly; withAddr adds
// the address dialled when there is one: "connection refused (127.0.0.1:1)".
func errnoText(err error, withAddr bool) (string, bool) {
	var msg string
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		msg = "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		msg = "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		msg = "network unreachable"
	default:
		return "", false
	}
	var opErr *net.OpError
	if withAddr && errors.As(err, &opErr) && opErr.Addr != nil {
		msg += " (" + opErr.Addr.String() + ")"
	}
	return msg, true
}

// roundElapsed prints a duration to the millisecond below a second and to
// the tenth of a second above.
func roundElapsed(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// quoteCut quotes (strconv.Quote) at most n bytes of s, cut at the start
// of a character, followed by "…" when cut. strconv.Quote escapes what is
// not printable UTF-8, so the result is one line of valid UTF-8 whatever
// bytes s holds.
func quoteCut(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	// Back to the start of the character n falls in; bytes that start
	// no character are escaped one by one, so a cut between them is
	// fine.
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			if r, size := utf8.DecodeRuneInString(s[i:]); (r != utf8.RuneError || size > 1) && i+size > n {
				n = i
			}
			break
		}
	}
	return strconv.Quote(s[:n]) + "…"
}
