package probe

import (
	"strings"
	"testing"
)

// TestReviewURLUsernameTokenStaysOutOfTheID: README ("A URL's secrets stay
// out of everything pingpanda writes") and Target.Shown promise that an
// http target's credentials never reach the ID, the report, logs, state,
// metrics or alerts. Only the password is redacted: a token given as the
// userinfo's user name — GitHub's https://TOKEN@api.github.com, Stripe's
// https://sk_live_…:@api.stripe.com — is kept verbatim, and so is written
// to every one of those places.
func TestReviewURLUsernameTokenStaysOutOfTheID(t *testing.T) {
	tests := []struct{ url, secret string }{
		{"https://ghp_reviewsecret@api.github.com/user", "ghp_reviewsecret"},
		{"https://sk_live_reviewsecret:@api.stripe.com/v1/balance", "sk_live_reviewsecret"},
	}
	for _, tt := range tests {
		tg, err := ParseTarget(HTTP, tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if id := tg.ID(); strings.Contains(id, tt.secret) {
			t.Errorf("ID %q shows the token given as the URL's user name", id)
		}
	}
}
