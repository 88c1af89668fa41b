package probe

import (
	"strings"
	"testing"

	"github.com/pingpanda/pingpanda/probe/secret"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name    string
		check   Check
		raw     string
		want    string // normalised address
		wantErr string // substring of the error
	}{
		{"a domain is lower-cased and loses its trailing dot", DNS, " Example.COM. ", "example.com", ""},
		{"a domain with an empty label is refused", DNS, "a..b", "", "empty label"},
		{"a domain with a space is refused", DNS, "a b.com", "", `character ' ' is not allowed`},
		{"an IPv4 ping target is kept", Ping, "1.1.1.1", "1.1.1.1", ""},
		{"a bracketed IPv6 ping target loses its brackets", Ping, "[::1]", "::1", ""},
		{"an IPv4-mapped IPv6 address becomes IPv4", Ping, "::ffff:10.0.0.1", "10.0.0.1", ""},
		{"a ping host name is lower-cased", Ping, "Router.LAN", "router.lan", ""},
		{"a ping target with a port is refused", Ping, "host:80", "", "ping takes no port"},
		{"a URL gets a path and loses its default port", HTTP, "HTTPS://Example.com:443", "https://example.com/", ""},
		{"a URL keeps a non-default port, path and query", HTTP, "http://example.com:8080/health?x=1#frag", "http://example.com:8080/health?x=1", ""},
		{"white space in a query is percent-encoded", HTTP, "http://example.com/?a b\u00a0 #frag", "http://example.com/?a%20b%C2%A0%20", ""},
		{"an IPv6 URL keeps its brackets", HTTP, "http://[::1]:8080", "http://[::1]:8080/", ""},
		{"a URL without a scheme suggests https", HTTP, "example.com/health", "", "did you mean https://example.com/health"},
		{"an ftp URL is refused", HTTP, "ftp://example.com", "", `scheme "ftp" is not http or https`},
		{"a URL without a scheme keeps its token out of the error", HTTP, "example.com/x?token=s3cr3t", "", "did you mean https://example.com/x?token=redacted ?"},
		{"a bad URL keeps its password out of the error", HTTP, "http://u:s3cr3t@example.com:99999/", "", `"http://redacted@example.com:99999/"`},
		{"a URL with a bad port is refused", HTTP, "http://example.com:99999/", "", "port"},
		{"a tls host gets port 443", TLS, "Example.com", "example.com:443", ""},
		{"a tls host:port is kept", TLS, "example.com:8443", "example.com:8443", ""},
		{"a bracketed IPv6 tls target gets port 443", TLS, "[2001:DB8::1]", "[2001:db8::1]:443", ""},
		{"a bracketed IPv6 tls target keeps its port", TLS, "[::1]:8443", "[::1]:8443", ""},
		{"a bare IPv6 tls target gets port 443", TLS, "::1", "[::1]:443", ""},
		{"a tls port of zero is refused", TLS, "example.com:0", "", `port "0" is not a number from 1 to 65535`},
		{"text after the bracket is refused", TLS, "[::1]x", "", `unexpected "x"`},
		{"an empty target is refused", DNS, "  ", "", "empty target"},
		{"an unknown check is refused", Check("smtp"), "x", "", "unknown check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTarget(tt.check, tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTarget(%q, %q) error = %v, want one containing %q", tt.check, tt.raw, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTarget(%q, %q): %v", tt.check, tt.raw, err)
			}
			if got.Address != tt.want {
				t.Errorf("Address = %q, want %q", got.Address, tt.want)
			}
			if got.ID() != string(tt.check)+":"+tt.want {
				t.Errorf("ID = %q", got.ID())
			}
		})
	}
}

func TestParseCheckAcceptsTheOriginalNames(t *testing.T) {
	for in, want := range map[string]Check{"dns": DNS, "PING": Ping, "icmp": Ping, "website": HTTP, "https": HTTP, "ssl": TLS, "tls": TLS} {
		if got, err := ParseCheck(in); err != nil || got != want {
			t.Errorf("ParseCheck(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseCheck("smtp"); err == nil {
		t.Error("ParseCheck(smtp) succeeded")
	}
}

// FuzzParseTarget checks that no input panics and that normalising is
// idempotent: a normalised address parses back to itself, so a target's ID
// is stable across runs.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"example.com", "1.1.1.1", "[::1]:443", "::1", "https://Example.com:443/x?y#z", "host:80", "[fe80::1%eth0]", "http://[::1]:0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, c := range Checks {
			tg, err := ParseTarget(c, raw)
			if err != nil {
				continue
			}
			again, err := ParseTarget(c, tg.Address)
			if err != nil {
				t.Fatalf("%s: %q normalised to %q, which does not parse: %v", c, raw, tg.Address, err)
			}
			if again.Address != tg.Address {
				t.Fatalf("%s: %q normalised to %q, then to %q", c, raw, tg.Address, again.Address)
			}
		}
	})
}

func TestTargetShownHidesURLSecrets(t *testing.T) {
	tests := []struct {
		check      Check
		addr, want string
	}{
		{HTTP, "https://example.com/health", "https://example.com/health"},
		{HTTP, "https://example.com/?region=eu&page=2", "https://example.com/?region=eu&page=2"},
		{HTTP, "https://example.com/?token=s3cr3t&region=eu", "https://example.com/?token=redacted&region=eu"},
		{HTTP, "https://example.com/?b=1&API_KEY=s3cr3t&a=2", "https://example.com/?b=1&API_KEY=redacted&a=2"},
		{HTTP, "https://example.com/x?X-Amz-Signature=abc&X-Amz-Credential=def&X-Amz-Date=20261124",
			"https://example.com/x?X-Amz-Signature=redacted&X-Amz-Credential=redacted&X-Amz-Date=20261124"},
		{HTTP, "https://example.com/?access%5Ftoken=s3cr3t", "https://example.com/?access%5Ftoken=redacted"},
		{HTTP, "https://user:s3cr3t@example.com/", "https://redacted@example.com/"},
		{HTTP, "https://s3cr3t@api.example.com/", "https://redacted@api.example.com/"}, // a token as the user name
		{HTTP, "https://s3cr3t:@api.example.com/", "https://redacted@api.example.com/"},
		{HTTP, "https://example.com/?apiKey=s3cr3t&client_secret=s3cr3t&X-Amz-Security-Token=s3cr3t&sessionid=s3cr3t",
			"https://example.com/?apiKey=redacted&client_secret=redacted&X-Amz-Security-Token=redacted&sessionid=redacted"},
		{HTTP, "https://example.com/?keyword=a&monkey=b&signup=c&author=d&design=e&passage=f",
			"https://example.com/?keyword=a&monkey=b&signup=c&author=d&design=e&passage=f"},
		{HTTP, "https://example.com/?token", "https://example.com/?token"}, // no value to hide
		{DNS, "token.example.com", "token.example.com"},
	}
	for _, tt := range tests {
		tg := Target{Check: tt.check, Address: tt.addr}
		if got := tg.Shown(); got != tt.want {
			t.Errorf("Shown(%q) = %q, want %q", tt.addr, got, tt.want)
		}
		if got, want := tg.ID(), string(tt.check)+":"+tt.want; got != want {
			t.Errorf("ID(%q) = %q, want %q", tt.addr, got, want)
		}
		if strings.Contains(tg.ID(), "s3cr3t") {
			t.Errorf("ID(%q) keeps the secret", tt.addr)
		}
	}
}

func TestRedactURLOfWhatDoesNotParse(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"http://u:s3cr3t@exa mple.com/p?token=s3cr3t", "http://redacted@exa mple.com/p?redacted"},
		{"http://exa mple.com/p", "http://exa mple.com/p"},
		{"u:s3cr3t@host%zz/p", "redacted@host%zz/p"},
		{"%zz?sig=s3cr3t", "%zz?redacted"},
	}
	for _, tt := range tests {
		if got := secret.URL(tt.raw); got != tt.want || strings.Contains(got, "s3cr3t") {
			t.Errorf("secret.URL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
