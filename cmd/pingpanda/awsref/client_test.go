package awsref

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsfake"
)

// TestNewReadsEveryKindWithoutACABundle is the regression of issue 13: the
// hand-written client dereferenced the SDK configuration's HTTPClient,
// which LoadDefaultConfig leaves nil unless AWS_CA_BUNDLE is set, so every
// reference panicked outside Lambda on a machine without it. The SDK's
// service clients bring their own. The SDK's default chain reads the
// process environment, so the test sets that up itself.
func TestNewReadsEveryKindWithoutACABundle(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CA_BUNDLE": "", "AWS_PROFILE": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	os.Unsetenv("AWS_CA_BUNDLE")
	f := awsfake.New(t)
	f.Params["/p"] = "from-ssm"
	f.Secrets["s"] = "from-secrets-manager"
	f.Objects["bucket/key.yaml"] = []byte("from-s3")
	fetcher, err := New(context.Background(), f.Environ())
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"ssm:/p": "from-ssm", "secretsmanager:s": "from-secrets-manager", "s3://bucket/key.yaml": "from-s3"} {
		r, _, err := Parse(ref, true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fetcher.Fetch(context.Background(), r, 1<<10)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", ref, got, err, want)
		}
	}
	if _, unsigned, _ := f.Counts(); unsigned != 0 {
		t.Errorf("%d requests were not signed with the test key", unsigned)
	}
}

func TestSizeLimitsHold(t *testing.T) {
	f := awsfake.New(t)
	f.Params["/big"] = string(make([]byte, 2048))
	f.Objects["bucket/big"] = make([]byte, 2<<20)
	fetcher, err := NewWith(StaticConfig)(context.Background(), f.Environ())
	if err != nil {
		t.Fatal(err)
	}
	for ref, limit := range map[string]int64{"ssm:/big": 1 << 10, "s3://bucket/big": 1 << 20} {
		r, _, _ := Parse(ref, true)
		if _, err := fetcher.Fetch(context.Background(), r, limit); err == nil {
			t.Errorf("%s: read past its limit of %d bytes", ref, limit)
		}
	}
}
