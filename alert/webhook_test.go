package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state"
)

// verifySignature is what a receiver does with X-PingPanda-Signature:
// compute the HMAC-SHA256 of the raw body with the shared secret and
// compare it, in constant time, with the header's.
func verifySignature(secret string, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

func TestWebhookSignsTheBodyAsAReceiverChecksIt(t *testing.T) {
	const key = "s3cr3t-hmac-key"
	rc := newReceiver(t, reply{status: http.StatusNoContent})
	n := NewWebhook(WebhookOptions{URL: rc.srv.URL + "/hook", Secret: key})
	m := NewMessage(testEvent(state.KindDown), "prober-1")
	if err := n.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := rc.received()[0]
	sig := got.header.Get("X-PingPanda-Signature")
	if !verifySignature(key, got.body, sig) {
		t.Errorf("signature %q does not verify over the body received", sig)
	}
	if hexSig := strings.TrimPrefix(sig, "sha256="); hexSig != strings.ToLower(hexSig) || len(hexSig) != 64 {
		t.Errorf("signature %q is not sha256= and 64 lower-case hex digits", sig)
	}
	t.Run("a body changed by one byte, or another key, does not verify", func(t *testing.T) {
		changed := slices.Clone(got.body)
		changed[len(changed)-2] ^= 1
		if verifySignature(key, changed, sig) || verifySignature("other", got.body, sig) {
			t.Error("the signature verified what it should not")
		}
	})
	t.Run("the signature is the one Sign gives", func(t *testing.T) {
		if want := Sign(key, got.body); sig != want {
			t.Errorf("header %q, Sign %q", sig, want)
		}
	})
}

func TestWebhookHeaders(t *testing.T) {
	for _, tt := range []struct {
		name   string
		secret string
		signed bool
	}{
		{"without a secret, no signature header", "", false},
		{"with a secret, a signature header", "k", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, reply{status: 200})
			m := NewMessage(testEvent(state.KindRecovered), "prober-1")
			if err := NewWebhook(WebhookOptions{URL: rc.srv.URL, Secret: tt.secret}).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			h := rc.received()[0].header
			if _, ok := h["X-Pingpanda-Signature"]; ok != tt.signed {
				t.Errorf("signature header present: %v, want %v", ok, tt.signed)
			}
			for k, want := range map[string]string{
				"Content-Type":           "application/json",
				"User-Agent":             "pingpanda",
				"X-PingPanda-Event-Id":   "0123456789abcdef01234567",
				"X-PingPanda-Event-Kind": "recovered",
				"X-PingPanda-Timestamp":  fmt.Sprint(fixedAt.Unix()),
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestWebhookEventDocument(t *testing.T) {
	rc := newReceiver(t, reply{status: 200})
	e := testEvent(state.KindRecovered)
	e.Group, e.Labels = "shop", map[string]string{"team": "web"}
	if err := NewWebhook(WebhookOptions{URL: rc.srv.URL}).Send(context.Background(), NewMessage(e, "prober-1")); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(rc.received()[0].body, &doc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"version": 1.0, "id": e.ID, "incident": e.Incident(), "kind": "recovered", "status": "RECOVERED",
		"check": "http", "target": e.Target, "target_id": e.TargetID, "name": "Shop", "group": "shop",
		"since": "2026-11-24T02:56:00Z", "at": "2026-11-24T03:00:00Z", "duration_seconds": 240.0,
		"error": "", "source": "prober-1",
	} {
		if doc[k] != want {
			t.Errorf("%s = %#v, want %#v", k, doc[k], want)
		}
	}
	if fmt.Sprint(doc["labels"]) != "map[team:web]" || fmt.Sprint(doc["locations"]) != "[]" {
		t.Errorf("labels %v, locations %v", doc["labels"], doc["locations"])
	}
	t.Run("an event without labels or a start has {} and null", func(t *testing.T) {
		b, err := json.Marshal(NewWebhookEvent(NewMessage(state.Event{Kind: state.KindDown, Check: "dns", Target: "example.com", At: fixedAt}, "")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"labels":{}`) || !strings.Contains(string(b), `"since":null`) || !strings.Contains(string(b), `"locations":[]`) {
			t.Errorf("document %s", b)
		}
	})
}

func TestWebhookAnswersGetTheirVerdict(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   verdict
	}{
		{200, vDelivered}, {201, vDelivered}, {202, vDelivered}, {204, vDelivered},
		{404, vBroken}, {410, vBroken}, {401, vBroken}, {403, vBroken},
		{400, vRejected}, {405, vRejected}, {409, vRejected}, {413, vRejected}, {415, vRejected}, {422, vRejected},
		{408, vRetry}, {429, vRetry}, {500, vRetry}, {502, vRetry}, {503, vRetry},
		{302, vKeep},
	} {
		t.Run(fmt.Sprintf("%d is %s", tt.status, tt.want), func(t *testing.T) {
			rc := newReceiver(t, reply{status: tt.status, body: "at REQUEST_URL"})
			url := rc.srv.URL + "/hooks/" + secretToken + "?token=" + secretToken
			err := NewWebhook(WebhookOptions{Name: "hook", URL: url, Secret: "KEY" + secretToken}).Send(context.Background(), testMessage())
			if got := verdictOf(err); got != tt.want {
				t.Fatalf("%v is %q, want %q", err, got, tt.want)
			}
			if err == nil {
				return
			}
			var se *SendError
			if !errors.As(err, &se) || se.Provider != "hook" || se.Type != "webhook" {
				t.Fatalf("err = %#v", err)
			}
			if tt.want == vBroken && !strings.HasPrefix(se.Diagnosis(), fmt.Sprintf(`the webhook channel "hook" answered HTTP %d: `, tt.status)) {
				t.Errorf("diagnosis %q", se.Diagnosis())
			}
			assertNoSecret(t, err, "/hooks/"+secretToken+"?token="+secretToken)
			if strings.Contains(se.Body+se.Diagnosis(), secretToken) {
				t.Errorf("body %q or diagnosis %q holds the token", se.Body, se.Diagnosis())
			}
		})
	}
}

func TestWebhookRetriesARequestTimeout(t *testing.T) {
	rc := newReceiver(t, reply{status: http.StatusRequestTimeout}, reply{status: 200})
	var s sleepRecorder
	if err := (Retry{Attempts: 3, Backoff: time.Second, Sleep: s.sleep}).Send(context.Background(), NewWebhook(WebhookOptions{URL: rc.srv.URL}), testMessage()); err != nil {
		t.Fatal(err)
	}
	if got := rc.received(); len(got) != 2 || got[0].header.Get("X-PingPanda-Event-Id") != got[1].header.Get("X-PingPanda-Event-Id") {
		t.Errorf("%d requests, want 2 with the same event ID", len(got))
	}
}

func TestTheStructuredProvidersDoNotChangeTheOthers(t *testing.T) {
	t.Run("a Slack 408 is still kept for the next sweep, not retried", func(t *testing.T) {
		if v := verdictOf(&SendError{Provider: "slack", Status: 408}); v != vKeep {
			t.Errorf("%s", v)
		}
	})
	t.Run("post sends its two headers and no others of the webhook's", func(t *testing.T) {
		rc := newReceiver(t, reply{status: 200})
		if err := NewSlack(SlackOptions{URL: rc.srv.URL}).Send(context.Background(), testMessage()); err != nil {
			t.Fatal(err)
		}
		for k := range rc.received()[0].header {
			if strings.HasPrefix(k, "X-Pingpanda") {
				t.Errorf("slack request has %s", k)
			}
		}
	})
}
