package probe

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// A secret is cut out before any text that holds it is cut short: a
// secret cut in half no longer matches the scrubber, and its first half
// would be left in the error.
func TestNoPartOfASecretSurvivesInAnyErrorOrDetail(t *testing.T) {
	const token = "tok-9f8e7d6c5b4a39281706"
	const quoted = `tq"9f8e7d6c\5b4a3928`   // escaped in JSON
	long := strings.Repeat("x", 50) + token // past the 64-byte quote
	sc := secret.NewScrubber(token, long, quoted)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/landing/"+token, http.StatusFound)
		case "/landing/" + token:
			w.WriteHeader(http.StatusOK)
		default:
			w.Header().Set("Content-Type", "application/json")
			b, _ := json.Marshal(map[string]any{"obj": map[string]string{"a": quoted}, "t": token})
			w.Write(b)
		}
	}))
	t.Cleanup(echo.Close)
	bannerAddr := farmServeTCP(t, func(c net.Conn) { c.Write([]byte("220 ready\r\n")) })

	httpT := func(path string, h *HTTPSpec) Target {
		tg, err := ParseTarget(HTTP, echo.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		tg.Spec = &Spec{HTTP: h, Secrets: sc}
		return tg
	}
	tests := []struct {
		name string
		t    Target
	}{
		{"body_contains", httpT("/", &HTTPSpec{Expect: HTTPExpect{BodyContains: long}})},
		{"body_not_contains", httpT("/", &HTTPSpec{Expect: HTTPExpect{BodyNotContains: token}})},
		{"expected header", httpT("/", &HTTPSpec{Expect: HTTPExpect{Headers: []Header{{"Content-Type", long}}}})},
		{"a JSON value with quotes and backslashes", httpT("/", &HTTPSpec{Expect: HTTPExpect{JSON: []JSONExpect{mustJSON(t, ".obj", "x")}}})},
		{"a redirect to a path with the token", httpT("/redirect", &HTTPSpec{Success: mustCodes(t, "201")})},
		{"tcp expect", Target{Check: TCP, Address: bannerAddr, Spec: &Spec{TCP: &TCPSpec{Expect: long}, Secrets: sc}}},
	}
	r := &Runner{Probers: map[Check]Prober{HTTP: NewHTTP(HTTPOptions{}), TCP: NewTCP(TCPOptions{})}, Concurrency: 4, Attempts: 1}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	targets := make([]Target, len(tests))
	for i, tt := range tests {
		targets[i] = tt.t
	}
	for i, res := range r.Run(ctx, targets) {
		res.Target = Target{} // holds the spec, and so the secrets, by design
		b, _ := json.Marshal(res)
		text := string(b)
		if res.Status != StatusDown {
			t.Errorf("%s: %s, want down", tests[i].name, res.Status)
		}
		for _, sec := range []string{token, quoted, strings.ReplaceAll(quoted, `"`, `\"`)} {
			for n := 8; n <= len(sec); n++ {
				if strings.Contains(text, sec[:n]) || strings.Contains(text, sec[len(sec)-n:]) {
					t.Errorf("%s: %d bytes of a secret survive: %s", tests[i].name, n, text)
					break
				}
			}
		}
	}
}
