package secret

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestScrubberString(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		text    string
		want    string
	}{
		{"no secrets leave the text as it is", nil, "server said " + password, "server said " + password},
		{"empty secrets are ignored", []string{"", ""}, "abc", "abc"},
		{"every occurrence is masked", []string{password}, password + " and " + password, "xxxxx and xxxxx"},
		{"a secret inside a longer one is masked with it, once", []string{"pw", "user:pw"}, "auth user:pw, pw", "auth xxxxx, xxxxx"},
		{"overlapping secrets leave no part of either", []string{"abcd", "cdef"}, "-abcdef-", "-xxxxx-"},
		{"overlapping occurrences of one secret leave no part", []string{"aa"}, "aaa", "xxxxx"},
		{"secrets side by side are masked one by one", []string{"ab", "cd"}, "abcd", "xxxxxxxxxx"},
		{"a mask is never searched again", []string{"x", "xx"}, "x-x", "xxxxx-xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewScrubber(tc.secrets...).String(tc.text); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	if n := NewScrubber("ab", "", "abcdef", "abc").Longest(); n != 6 {
		t.Errorf("Longest = %d, want 6", n)
	}
	if n := (Scrubber{}).Longest(); n != 0 {
		t.Errorf("the zero Scrubber's Longest = %d, want 0", n)
	}
}

// valueError is an error whose text is a field: %#v of a wrapper that
// kept it would print the field.
type valueError struct{ said string }

func (e valueError) Error() string { return "server said " + e.said }

func TestScrub(t *testing.T) {
	t.Run("nil stays nil", func(t *testing.T) {
		if err := Scrub(nil, password); err != nil {
			t.Errorf("Scrub(nil) = %v", err)
		}
	})
	t.Run("an error without the secret is returned as it is", func(t *testing.T) {
		err := errors.New("connection refused")
		if got := Scrub(err, password); got != err {
			t.Errorf("Scrub = %#v, want the error itself", got)
		}
	})
	t.Run("the text is masked and errors.Is and errors.As still reach the cause", func(t *testing.T) {
		cause := &fs.PathError{Op: "open", Path: "/run/" + password, Err: fs.ErrNotExist}
		err := Scrub(fmt.Errorf("redis url: %w", cause), password, "")
		if got, want := err.Error(), "redis url: open /run/xxxxx: file does not exist"; got != want {
			t.Errorf("text %q, want %q", got, want)
		}
		var pe *fs.PathError
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || errors.Unwrap(err) == nil {
			t.Error("the scrubbed error does not reach its cause")
		}
	})
	t.Run("no fmt verb prints the secret", func(t *testing.T) {
		err := Scrub(valueError{said: password}, password)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			if got := fmt.Sprintf(verb, err); strings.Contains(got, password) || !strings.Contains(got, "server said") {
				t.Errorf("%s prints %q", verb, got)
			}
		}
	})
}

func TestWithoutURL(t *testing.T) {
	u := "https://hooks.example/services/" + password
	t.Run("a *url.Error keeps its operation and cause, not its URL", func(t *testing.T) {
		err := WithoutURL(fmt.Errorf("send: %w", &url.Error{Op: "Post", URL: u, Err: context.DeadlineExceeded}))
		if got, want := err.Error(), "post: context deadline exceeded"; got != want {
			t.Errorf("text %q, want %q", got, want)
		}
		var ue *url.Error
		if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue) {
			t.Errorf("%v: wants the cause and no *url.Error", err)
		}
	})
	t.Run("another error is returned as it is", func(t *testing.T) {
		err := errors.New("refused")
		if got := WithoutURL(err); got != err {
			t.Errorf("WithoutURL = %v", got)
		}
	})
}

func TestBasicAuth(t *testing.T) {
	const user, pass = "pp", "p/@ss:w0rd"
	got := BasicAuth(user, pass)
	for _, want := range []string{pass, url.QueryEscape(pass), url.PathEscape(pass), "pp:p%2F%40ss%3Aw0rd",
		base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))} {
		if !slices.Contains(got, want) {
			t.Errorf("BasicAuth = %q, without %q", got, want)
		}
	}
	if got := BasicAuth(user, ""); got != nil {
		t.Errorf("without a password: %q, want nothing", got)
	}
}

func TestWebhookParts(t *testing.T) {
	raw := "https://hooks.slack.com/services/T0AAAAAAAAA/B0BBBBBBBBB/abcdefghijklmnopqrstuvwx?x=1&sig=s%2Fi%2Bg0123456789"
	scrub := NewScrubber(WebhookParts(raw)...)
	for _, text := range []string{
		raw,
		"Post " + raw + ": EOF",
		"path /services/T0AAAAAAAAA/B0BBBBBBBBB/abcdefghijklmnopqrstuvwx not found",
		"token abcdefghijklmnopqrstuvwx revoked",
		"sig s/i+g0123456789 expired",
		"query x=1&sig=s%2Fi%2Bg0123456789",
	} {
		t.Run(fmt.Sprintf("%.40q is scrubbed", text), func(t *testing.T) {
			got := scrub.String(text)
			for _, secret := range []string{"abcdefghijklmnopqrstuvwx", "s/i+g0123456789", "s%2Fi%2Bg0123456789", "B0BBBBBBBBB"} {
				if strings.Contains(got, secret) {
					t.Errorf("%q still holds %q", got, secret)
				}
			}
		})
	}
	t.Run("a short last segment is a secret, a short inner one and the root are not", func(t *testing.T) {
		parts := WebhookParts("https://h.example/api/v1/tok")
		if !slices.Contains(parts, "tok") || slices.Contains(parts, "v1") || slices.Contains(parts, "/") {
			t.Errorf("parts %q", parts)
		}
	})
	t.Run("a URL that does not parse is a secret whole", func(t *testing.T) {
		if parts := WebhookParts("http://h/\x7f" + password); !slices.Equal(parts, []string{"http://h/\x7f" + password}) {
			t.Errorf("parts %q", parts)
		}
	})
}
