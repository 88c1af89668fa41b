package config

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsfake"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsref"
)

// isolateAWS keeps the SDK's own reading of the process environment away
// from anything real: no profile, no shared files, no IMDS.
func isolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
}

// Secret values the fake holds; none may appear in any error or warning.
const (
	redisSecret   = "redis://pp:hunter2-redis@127.0.0.1:6379/0"
	slackSecret   = "https://hooks.slack.example/services/T0/B0/slack-token-xyz"
	badRedisValue = "http://not-redis-but-secret-token@127.0.0.1/"
	targetsYAML   = "- {check: http, target: https://shop.example/health, name: shop}\n- {check: dns, target: example.org}\n"
)

func newFakeWithData(t *testing.T) *awsfake.Fake {
	f := awsfake.New(t)
	f.Params["/pingpanda/redis"] = redisSecret
	f.Params["/pingpanda/bad-redis"] = badRedisValue
	f.Params["/pingpanda/token"] = "xoxb-token-secret:abc"
	f.Params["/pingpanda/not-a-url"] = "pg-password-secret-without-scheme"
	f.Params["/pingpanda/busy"] = redisSecret
	f.Throttle["/pingpanda/busy"] = 2
	f.Params["/pingpanda/targets"] = targetsYAML
	f.Params["/pingpanda/targets-bad"] = "- {check: smtp, target: mail.example}\n"
	f.Denied["/pingpanda/denied"] = true
	f.Params["/pingpanda/kms"] = redisSecret
	f.KMSDenied["/pingpanda/kms"] = true
	f.Secrets["pingpanda/slack"] = slackSecret
	f.Secrets["pingpanda/pushgateway-password"] = "pg-password-secret"
	f.Secrets["pingpanda/as-json"] = `{"url": "` + slackSecret + `"}`
	f.Denied["pingpanda/denied"] = true
	f.Objects["pingpanda-config/targets.yaml"] = []byte(targetsYAML)
	f.Objects["pingpanda-config/huge.yaml"] = make([]byte, maxTargetsFile+1)
	f.Denied["pingpanda-config/denied.yaml"] = true
	return f
}

func TestAWSReferencesAreResolvedThroughTheAPIs(t *testing.T) {
	isolateAWS(t)
	tests := []struct {
		name string
		env  []string
		// check looks at the loaded configuration.
		check func(t *testing.T, cfg *Config)
		// problems are the exact problems expected, in order.
		problems []string
		// seen is what the fake was asked for, sorted.
		seen string
	}{
		{
			name: "an SSM parameter is read, decrypted, and used as the value",
			env:  []string{"REDIS_URL=ssm:/pingpanda/redis"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.RedisURL != redisSecret {
					t.Errorf("RedisURL = %q", cfg.RedisURL)
				}
			},
			seen: "ssm /pingpanda/redis",
		},
		{
			name: "a Secrets Manager secret is read and used as the value",
			env:  []string{"SLACK_WEBHOOK_URL=secretsmanager:pingpanda/slack"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.Alerts.SlackURL != slackSecret {
					t.Errorf("SlackURL = %q", cfg.Alerts.SlackURL)
				}
			},
			seen: "secretsmanager pingpanda/slack",
		},
		{
			name: "several references are resolved in one load",
			env: []string{"REDIS_URL=ssm:/pingpanda/redis", "SLACK_WEBHOOK_URL=secretsmanager:pingpanda/slack",
				"PUSHGATEWAY_PASSWORD=secretsmanager:pingpanda/pushgateway-password", "TARGETS_FILE=s3://pingpanda-config/targets.yaml"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.RedisURL != redisSecret || cfg.Alerts.SlackURL != slackSecret || cfg.Metrics.Password != "pg-password-secret" || len(cfg.Targets) != 2 {
					t.Errorf("not every reference was resolved: %d targets", len(cfg.Targets))
				}
			},
			seen: "s3 pingpanda-config/targets.yaml secretsmanager pingpanda/pushgateway-password secretsmanager pingpanda/slack ssm /pingpanda/redis",
		},
		{
			name: "a throttled request is retried by the SDK's retryer until it succeeds",
			env:  []string{"REDIS_URL=ssm:/pingpanda/busy"},
			check: func(t *testing.T, cfg *Config) {
				if cfg.RedisURL != redisSecret {
					t.Errorf("RedisURL = %q", cfg.RedisURL)
				}
			},
			seen: "ssm /pingpanda/busy ssm /pingpanda/busy ssm /pingpanda/busy",
		},
		{
			name: "TARGETS_FILE from S3 adds its targets",
			env:  []string{"TARGETS_FILE=s3://pingpanda-config/targets.yaml"},
			check: func(t *testing.T, cfg *Config) {
				if got := targetIDs(cfg); got != "http:https://shop.example/health dns:example.org" {
					t.Errorf("targets = %q", got)
				}
			},
			seen: "s3 pingpanda-config/targets.yaml",
		},
		{
			name: "TARGETS_FILE from an SSM parameter adds its targets",
			env:  []string{"TARGETS_FILE=ssm:/pingpanda/targets"},
			check: func(t *testing.T, cfg *Config) {
				if got := targetIDs(cfg); got != "http:https://shop.example/health dns:example.org" {
					t.Errorf("targets = %q", got)
				}
			},
			seen: "ssm /pingpanda/targets",
		},
		{
			name:     "a secret stored as key/value JSON is refused without showing it",
			env:      []string{"SLACK_WEBHOOK_URL=secretsmanager:pingpanda/as-json"},
			problems: []string{"SLACK_WEBHOOK_URL: secretsmanager:pingpanda/as-json holds a JSON object, not the value itself (value not shown); store the plain value (the console's Plaintext tab)"},
			seen:     "secretsmanager pingpanda/as-json",
		},
		{
			name:     "a missing parameter says so, with the region",
			env:      []string{"REDIS_URL=ssm:/pingpanda/missing"},
			problems: []string{"REDIS_URL: ssm:/pingpanda/missing: parameter not found in eu-west-1 (ParameterNotFound); check the name and the region"},
			seen:     "ssm /pingpanda/missing",
		},
		{
			name: "access denied names the action and the resource to grant",
			env:  []string{"REDIS_URL=ssm:/pingpanda/denied"},
			problems: []string{"REDIS_URL: ssm:/pingpanda/denied: access denied (AccessDeniedException); grant ssm:GetParameter on " +
				"arn:aws:ssm:eu-west-1:123456789012:parameter/pingpanda/denied, and kms:Decrypt on its key if it is a SecureString under a customer managed KMS key"},
			seen: "ssm /pingpanda/denied",
		},
		{
			name:     "a value that fails validation is reported like a literal one, without the value",
			env:      []string{"REDIS_URL=ssm:/pingpanda/bad-redis"},
			problems: []string{`REDIS_URL: scheme "http" is not redis://, rediss:// or unix:// (value read from ssm:/pingpanda/bad-redis)`},
			seen:     "ssm /pingpanda/bad-redis",
		},
		{
			name:     "the start of a secret that is no URL is not shown as its scheme",
			env:      []string{"SLACK_WEBHOOK_URL=ssm:/pingpanda/token"},
			problems: []string{`SLACK_WEBHOOK_URL: scheme (not shown) is not https:// (value read from ssm:/pingpanda/token)`},
			seen:     "ssm /pingpanda/token",
		},
		{
			name:     "a bad targets file in SSM is reported by line",
			env:      []string{"TARGETS_FILE=ssm:/pingpanda/targets-bad"},
			problems: []string{`ssm:/pingpanda/targets-bad:1: monitor mail.example: check: "smtp": unknown check (want dns, ping, http, tls or tcp)`},
			seen:     "ssm /pingpanda/targets-bad",
		},
		{
			name:     "an S3 object larger than the local file limit is refused",
			env:      []string{"TARGETS_FILE=s3://pingpanda-config/huge.yaml"},
			problems: []string{"TARGETS_FILE: s3://pingpanda-config/huge.yaml: cannot read the object: the object is larger than 16 MiB"},
			seen:     "s3 pingpanda-config/huge.yaml",
		},
		{
			name:     "credentials the service does not know are named as the problem",
			env:      []string{"REDIS_URL=ssm:/pingpanda/redis", "AWS_ACCESS_KEY_ID=AKIDSOMEONEELSE"},
			problems: []string{"REDIS_URL: ssm:/pingpanda/redis: AWS refused the credentials (UnrecognizedClientException); check the role or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeWithData(t)
			cfg, warnings, err := Load(context.Background(), Sources{Environ: f.Environ(tt.env...)})
			assertNoSecret(t, err, warnings)
			var problems []string
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("error %v is not a *Error", err)
				}
				problems = ce.Problems
			}
			if strings.Join(problems, "\n") != strings.Join(tt.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(tt.problems, "\n"))
			}
			if tt.check != nil && cfg != nil {
				tt.check(t, cfg)
			}
			_, unsigned, seen := f.Counts()
			if strings.Join(sortedCopy(seen), " ") != tt.seen {
				t.Errorf("the fake was asked for %q, want %q", sortedCopy(seen), tt.seen)
			}
			if unsigned != 0 && !strings.Contains(strings.Join(tt.env, " "), "AKIDSOMEONEELSE") {
				t.Errorf("%d requests were not signed with the test key", unsigned)
			}
		})
	}
}

// TestAWSReferenceProblemsAreReportedTogether loads every failing kind of
// reference at once and compares the whole message with a golden file.
func TestAWSReferenceProblemsAreReportedTogether(t *testing.T) {
	isolateAWS(t)
	f := newFakeWithData(t)
	envFile := filepath.Join(testdataDir, "config", "aws-refs.env")
	_, warnings, err := loadConfig(Sources{Environ: f.Environ(), EnvFile: envFile})
	assertNoSecret(t, err, warnings)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("loadConfig = %v; want a *Error", err)
	}
	golden(t, filepath.Join(testdataDir, "config", "aws-refs.err"), err.Error()+"\n")
	if requests, unsigned, _ := f.Counts(); requests == 0 || unsigned != 0 {
		t.Errorf("%d requests, %d of them unsigned", requests, unsigned)
	}
}

func TestWithoutAReferenceAWSIsNeverTouched(t *testing.T) {
	isolateAWS(t)
	f := awsfake.New(t)
	var inits atomic.Int32
	counting := func(ctx context.Context, environ []string) (awsref.Fetcher, error) {
		inits.Add(1)
		return awsref.New(ctx, environ)
	}
	secretFile := filepath.Join(t.TempDir(), "teams")
	if err := os.WriteFile(secretFile, []byte("https://teams.example/webhook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := f.Environ("REDIS_URL=redis://127.0.0.1:6379/0", "SLACK_WEBHOOK_URL=https://hooks.slack.example/x",
		"TEAMS_WEBHOOK_URL=file:"+secretFile, "TARGETS_FILE="+filepath.Join(testdataDir, "config", "targets.yaml"))
	if _, _, err := Load(context.Background(), Sources{Environ: env, NewAWS: counting}); err != nil {
		t.Fatal(err)
	}
	// A secret file's content is the value, never a reference in turn;
	// and, not being a URL, it is refused without being shown.
	refFile := filepath.Join(t.TempDir(), "discord")
	if err := os.WriteFile(refFile, []byte("ssm:/s3cr3t-looking-like-a-ref\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(context.Background(), Sources{Environ: append(env, "DISCORD_WEBHOOK_URL=file:"+refFile), NewAWS: counting})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "DISCORD_WEBHOOK_URL") {
		t.Errorf("a secret file holding ssm:…: %v", err)
	}
	requests, _, _ := f.Counts()
	if inits.Load() != 0 || requests != 0 {
		t.Errorf("the SDK was configured %d times and the fake asked %d times; want 0 and 0", inits.Load(), requests)
	}
	// The same seam does see a reference, so the zero above means something.
	if _, _, err := Load(context.Background(), Sources{Environ: f.Environ("REDIS_URL=ssm:/pingpanda/redis"), NewAWS: counting}); err == nil {
		t.Fatal("a missing parameter loaded without a problem")
	}
	if requests, _, _ := f.Counts(); inits.Load() != 1 || requests != 1 {
		t.Errorf("with one reference: %d SDK configurations and %d requests, want 1 and 1", inits.Load(), requests)
	}
}

func TestConfigShowsAReferencedSecretRedactedWithItsReference(t *testing.T) {
	isolateAWS(t)
	f := newFakeWithData(t)
	cfg, warnings, err := loadConfig(Sources{Environ: f.Environ("REDIS_URL=ssm:/pingpanda/redis", "SLACK_WEBHOOK_URL=secretsmanager:pingpanda/slack")})
	if err != nil {
		t.Fatal(err)
	}
	out, errOut := shown(t, cfg), strings.Join(warnings, "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^REDIS_URL=redis://pp:REDACTED@127\.0\.0\.1:6379/REDACTED +# environment, read from ssm:/pingpanda/redis$`),
		regexp.MustCompile(`(?m)^SLACK_WEBHOOK_URL=https://hooks\.slack\.example/REDACTED +# environment, read from secretsmanager:pingpanda/slack$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("config output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "hunter2") || strings.Contains(out+errOut, "slack-token-xyz") {
		t.Errorf("config printed a secret:\n%s\n%s", out, errOut)
	}
}

// assertNoSecret fails if any of the fake's secret values shows in an
// error or a warning.
func assertNoSecret(t *testing.T, err error, warnings []string) {
	t.Helper()
	text := strings.Join(warnings, "\n")
	if err != nil {
		text += "\n" + err.Error()
	}
	for _, s := range []string{"hunter2", "slack-token-xyz", "not-redis-but-secret-token", "pg-password-secret", "fake-secret-key", "xoxb"} {
		if strings.Contains(text, s) {
			t.Errorf("a secret (%s…) shows in the problems or warnings:\n%s", s[:4], text)
		}
	}
}

func targetIDs(cfg *Config) string {
	var ids []string
	for _, tg := range cfg.Targets {
		ids = append(ids, tg.ID())
	}
	return strings.Join(ids, " ")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestTheLambdaBuildReadsItsCredentialsFromTheEnvironment runs the Lambda
// bootstrap's configuration (awsref.StaticConfig, selected by -tags
// lambda.norpc) against the fake, and without keys.
func TestTheLambdaBuildReadsItsCredentialsFromTheEnvironment(t *testing.T) {
	f := newFakeWithData(t)
	src := Sources{Environ: f.Environ("REDIS_URL=ssm:/pingpanda/redis", "AWS_SESSION_TOKEN=lambda-session-token"),
		NewAWS: awsref.NewWith(awsref.StaticConfig)}
	cfg, warnings, err := Load(context.Background(), src)
	assertNoSecret(t, err, warnings)
	if err != nil || cfg.RedisURL != redisSecret {
		t.Fatalf("loadConfig = %v", err)
	}
	if _, unsigned, _ := f.Counts(); unsigned != 0 {
		t.Errorf("%d requests were not signed", unsigned)
	}
	src.Environ = []string{"AWS_REGION=eu-west-1", "AWS_ENDPOINT_URL=" + f.Srv.URL, "REDIS_URL=ssm:/pingpanda/redis"}
	_, _, err = Load(context.Background(), src)
	want := "REDIS_URL: ssm:/pingpanda/redis: no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("without keys: %v\nwant %s…", err, want)
	}
}

func TestAnUnansweredReferenceEndsWithTheContext(t *testing.T) {
	isolateAWS(t)
	f := awsfake.New(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hang.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := Load(ctx, Sources{Environ: f.Environ("AWS_ENDPOINT_URL="+hang.URL, "REDIS_URL=ssm:/pingpanda/redis")})
	want := "REDIS_URL: ssm:/pingpanda/redis: no answer from AWS in time;"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want %s…", err, want)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("the load outlived its context by seconds")
	}
}
