package secret

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

const password = "s3cr3t-Pa55"

func TestURL(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"a URL without secrets is unchanged", "https://example.com/health?region=eu&page=2", "https://example.com/health?region=eu&page=2"},
		{"a token parameter is hidden, the others keep their order", "https://example.com/?b=1&API_KEY=" + password + "&a=2", "https://example.com/?b=1&API_KEY=redacted&a=2"},
		{"signed-URL parameters are hidden", "https://example.com/x?X-Amz-Signature=abc&X-Amz-Credential=def&X-Amz-Date=20261124",
			"https://example.com/x?X-Amz-Signature=redacted&X-Amz-Credential=redacted&X-Amz-Date=20261124"},
		{"a parameter name is read decoded", "https://example.com/?access%5Ftoken=" + password, "https://example.com/?access%5Ftoken=redacted"},
		{"words are split where lower case turns upper", "https://example.com/?apiKey=" + password + "&sessionid=" + password, "https://example.com/?apiKey=redacted&sessionid=redacted"},
		{"names that only contain a secret word are kept", "https://example.com/?keyword=a&monkey=b&signup=c&author=d&passage=f", "https://example.com/?keyword=a&monkey=b&signup=c&author=d&passage=f"},
		{"a parameter without a value has nothing to hide", "https://example.com/?token", "https://example.com/?token"},
		{"user and password are hidden together", "https://user:" + password + "@example.com/", "https://redacted@example.com/"},
		{"a token as the user name is hidden", "https://" + password + "@api.example.com/", "https://redacted@api.example.com/"},
		{"what does not parse loses its query and what stands before an @", "http://u:" + password + "@exa mple.com/p?token=" + password, "http://redacted@exa mple.com/p?redacted"},
		{"what has no scheme loses the same", "u:" + password + "@host%zz/p", "redacted@host%zz/p"},
		{"a bad escape alone keeps its path", "%zz?sig=" + password, "%zz?redacted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := URL(tc.raw)
			if got != tc.want {
				t.Errorf("URL(%q) = %q, want %q", tc.raw, got, tc.want)
			}
			if strings.Contains(got, password) {
				t.Errorf("URL(%q) = %q keeps the secret", tc.raw, got)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"empty stays empty", "", ""},
		{"a webhook keeps its host, its path and token go", "https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/REDACTED"},
		{"a Redis URL keeps its user, its password and database go", "rediss://user:" + password + "@redis.internal:6380/0", "rediss://user:REDACTED@redis.internal:6380/REDACTED"},
		{"a URL without a path or secret is whole", "redis://redis:6379", "redis://redis:6379"},
		{"a query goes with the path", "https://example.com/hook?token=" + password, "https://example.com/REDACTED"},
		{"what is not a URL goes whole", "not a url " + password, "REDACTED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Endpoint(tc.raw); got != tc.want {
				t.Errorf("Endpoint(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		name, raw, want string
		masked          []string
	}{
		{"a password is masked, the user stays", "redis://user:" + password + "@localhost:6379/2", "redis://user:xxxxx@localhost:6379/2", []string{password}},
		{"a password without a user", "rediss://:" + password + "@cache.example:6380", "rediss://:xxxxx@cache.example:6380", []string{password}},
		{"a password option is masked and given back decoded", "redis://sentinel:26379?master_name=m&sentinel_password=a%2Fb", "redis://sentinel:26379?master_name=m&sentinel_password=xxxxx", []string{"a%2Fb", "a/b"}},
		{"the options keep their order", "redis://h?password=p1&addr=b:1&addr=a:1", "redis://h?password=xxxxx&addr=b:1&addr=a:1", []string{"p1"}},
		{"a user without a password has nothing masked", "redis://user@h:6379", "redis://user@h:6379", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			shown, masked := Password(u)
			if shown != tc.want || !slices.Equal(masked, tc.masked) {
				t.Errorf("Password(%q) = %q, %q; want %q, %q", tc.raw, shown, masked, tc.want, tc.masked)
			}
			if u.String() != tc.raw {
				t.Errorf("Password changed its argument to %q", u)
			}
		})
	}
}

// FuzzRedactURL checks that what URL shows of a URL never depends on its
// password or its token, and so never holds either.
func FuzzRedactURL(f *testing.F) {
	f.Add("example.com", "user", password, uint8(0), "tok-123456")
	f.Add("exa mple.com", "", "p@ss/w:rd?", uint8(3), "a&b=c")
	f.Add("h@x", "u", "pw", uint8(5), "")
	f.Add("h?x=1", "u%zz", "12345678", uint8(7), "%zz")
	f.Add("[::1", "token", "x", uint8(2), "y")
	names := []string{"token", "api_key", "apiKey", "access_token", "X-Amz-Signature", "client_secret", "password", "sig"}
	f.Fuzz(func(t *testing.T, host, user, pass string, which uint8, token string) {
		if strings.ContainsAny(host, "#") {
			// A fragment is not a query: URL leaves it as it is, and
			// targets have theirs removed before they are shown.
			t.Skip()
		}
		build := func(pass, token string) string {
			return "https://" + url.UserPassword(user, pass).String() + "@" + host +
				"/p?a=1&" + url.QueryEscape(names[int(which)%len(names)]) + "=" + url.QueryEscape(token)
		}
		got := URL(build(pass, token))
		ref := URL(build("PLACEHOLDER-PASS", "PLACEHOLDER-TOKEN"))
		if got != ref {
			t.Fatalf("what URL shows depends on the secrets:\n%q\n%q", got, ref)
		}
		for _, s := range []string{pass, url.PathEscape(pass), url.QueryEscape(pass), token, url.QueryEscape(token)} {
			if len(s) >= 4 && strings.Contains(got, s) && !strings.Contains(ref, s) {
				t.Fatalf("URL(%q) = %q holds the secret %q", build(pass, token), got, s)
			}
		}
	})
}
