package config

import (
	"strings"
	"testing"
)

func TestWebhookAndPushgatewayURLsMustBeHTTPSUnlessLoopbackOrAllowed(t *testing.T) {
	keys := []string{"SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL", "DISCORD_WEBHOOK_URL", "PUSHGATEWAY_URL"}
	tests := []struct {
		name, url, allow string
		ok               bool
	}{
		{"https anywhere is accepted", "https://hooks.example.com/services/T0/B0/secret-token", "", true},
		{"http to 127.0.0.1 is accepted", "http://127.0.0.1:8080/services/T0/B0/secret-token", "", true},
		{"http to elsewhere in 127/8 is accepted", "http://127.1.2.3/secret-token", "", true},
		{"http to ::1 is accepted", "http://[::1]:8080/secret-token", "", true},
		{"http to localhost is accepted", "http://localhost:9091/secret-token", "", true},
		{"http to a v4-mapped loopback is accepted", "http://[::ffff:127.0.0.1]/secret-token", "", true},
		{"http to a remote name is refused", "http://hooks.example.com/services/T0/B0/secret-token", "", false},
		{"http to a private address is refused", "http://10.0.0.7/secret-token", "", false},
		{"http to a name that starts like localhost is refused", "http://localhost.example.com/secret-token", "", false},
		{"http to 0.0.0.0 is refused", "http://0.0.0.0/secret-token", "", false},
		{"http to a remote name is accepted with ALLOW_INSECURE_URLS", "http://hooks.example.com/secret-token", "true", true},
		{"ALLOW_INSECURE_URLS=false changes nothing", "http://hooks.example.com/secret-token", "false", false},
	}
	for _, tt := range tests {
		for _, key := range keys {
			t.Run(tt.name+" for "+key, func(t *testing.T) {
				env := []string{key + "=" + tt.url}
				if tt.allow != "" {
					env = append(env, "ALLOW_INSECURE_URLS="+tt.allow)
				}
				_, _, err := loadConfig(Sources{Environ: env})
				switch {
				case tt.ok && err != nil:
					t.Fatalf("refused: %v", err)
				case !tt.ok && err == nil:
					t.Fatalf("accepted")
				case !tt.ok && (!strings.Contains(err.Error(), key+": http://") || !strings.Contains(err.Error(), "ALLOW_INSECURE_URLS")):
					t.Fatalf("the error should name %s and the way out: %v", key, err)
				}
				if err != nil && strings.Contains(err.Error(), "secret-token") {
					t.Fatalf("the error quotes the URL: %v", err)
				}
			})
		}
	}
}

func TestRedissWithSkipVerifyWarns(t *testing.T) {
	for _, tt := range []struct {
		url  string
		warn bool
	}{
		{"rediss://:pw@cache.example:6380/0", false},
		{"rediss://:pw@cache.example:6380/0?skip_verify=true", true},
		{"rediss://:pw@cache.example:6380/0?skip_verify=false", false},
	} {
		_, warnings, err := loadConfig(Sources{Environ: []string{"REDIS_URL=" + tt.url}})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(strings.Join(warnings, "\n"), "skip_verify=true turns off verification")
		if got != tt.warn {
			t.Errorf("%s: warned %v, want %v (%q)", tt.url, got, tt.warn, warnings)
		}
		if strings.Contains(strings.Join(warnings, "\n"), "pw@") {
			t.Errorf("a warning quotes the password: %q", warnings)
		}
	}
}
