package awsref

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Fetcher reads what references name.
type Fetcher interface {
	// Fetch reads what r names, at most limit bytes.
	Fetch(ctx context.Context, r Ref, limit int64) ([]byte, error)
	// Region is the AWS region the references are read in.
	Region() string
}

// NewFunc makes the Fetcher of one configuration load; environ is the
// process environment as os.Environ gives it.
type NewFunc func(ctx context.Context, environ []string) (Fetcher, error)

// ConfigLoader makes the SDK configuration (credentials, retries) for a
// region, from the AWS_* variables of env.
type ConfigLoader func(ctx context.Context, region string, env map[string]string) (aws.Config, error)

// New is the Fetcher of this build: the SDK's default configuration chain
// (config_default.go), or in the Lambda bootstrap the function's role
// credentials from the environment (config_lambda.go).
func New(ctx context.Context, environ []string) (Fetcher, error) {
	return NewWith(loadConfig)(ctx, environ)
}

// NewWith makes Fetchers whose SDK configuration load makes.
func NewWith(load ConfigLoader) NewFunc {
	return func(ctx context.Context, environ []string) (Fetcher, error) {
		env := awsEnv(environ)
		region := cmp.Or(env["AWS_REGION"], env["AWS_DEFAULT_REGION"])
		if region == "" {
			return nil, errors.New("no AWS region: set AWS_REGION (Lambda sets it)")
		}
		cfg, err := load(ctx, region, env)
		if err != nil {
			return nil, err
		}
		return FromConfig(cfg, env)
	}
}

// awsEnv is the AWS_* part of environ.
func awsEnv(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AWS_") {
			env[k] = v
		}
	}
	return env
}

// client is the Fetcher of the SDK's service clients.
type client struct {
	region  string
	ssm     *ssm.Client
	secrets *secretsmanager.Client
	s3      *s3.Client
}

// FromConfig makes the Fetcher of an SDK configuration. env's endpoint
// overrides (AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_SECRETS_MANAGER,
// AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL) apply to each service; S3 is
// addressed path-style with an override or AWS_S3_USE_PATH_STYLE=true.
func FromConfig(cfg aws.Config, env map[string]string) (Fetcher, error) {
	ssmURL, err := endpoint(env, "SSM")
	if err != nil {
		return nil, err
	}
	smURL, err := endpoint(env, "SECRETS_MANAGER")
	if err != nil {
		return nil, err
	}
	s3URL, err := endpoint(env, "S3")
	if err != nil {
		return nil, err
	}
	return &client{
		region: cfg.Region,
		ssm:    ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = ssmURL }),
		secrets: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			o.BaseEndpoint = smURL
		}),
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = s3URL
			o.UsePathStyle = s3URL != nil || strings.EqualFold(env["AWS_S3_USE_PATH_STYLE"], "true")
			// An object stored without a checksum (most are) would make
			// the SDK print a DEBUG line to stderr on every read.
			o.DisableLogOutputChecksumValidationSkipped = true
		}),
	}, nil
}

// endpoint is a service's endpoint override, or nil for the regional
// endpoint.
func endpoint(env map[string]string, service string) (*string, error) {
	raw := cmp.Or(env["AWS_ENDPOINT_URL_"+service], env["AWS_ENDPOINT_URL"])
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("AWS endpoint override is not an http(s) URL (AWS_ENDPOINT_URL_%s or AWS_ENDPOINT_URL)", service)
	}
	return aws.String(raw), nil
}

func (c *client) Region() string { return c.region }

func (c *client) Fetch(ctx context.Context, r Ref, limit int64) ([]byte, error) {
	var (
		v   string
		err error
	)
	switch r.Kind {
	case "ssm":
		v, err = c.parameter(ctx, r.Name)
	case "secretsmanager":
		v, err = c.secret(ctx, r.Name)
	default:
		return c.object(ctx, r.Bucket, r.Name, limit)
	}
	if err == nil && int64(len(v)) > limit {
		return nil, fmt.Errorf("the %s is larger than %d KiB", r.What(), limit>>10)
	}
	return []byte(v), err
}

func (c *client) parameter(ctx context.Context, name string) (string, error) {
	out, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errors.New("the answer holds no parameter value")
	}
	return *out.Parameter.Value, nil
}

func (c *client) secret(ctx context.Context, id string) (string, error) {
	out, err := c.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", err
	}
	switch {
	case out.SecretString != nil:
		return *out.SecretString, nil
	case out.SecretBinary != nil:
		return string(out.SecretBinary), nil
	}
	return "", errors.New("the answer holds neither SecretString nor SecretBinary")
}

// object reads an S3 object of at most limit bytes.
func (c *client) object(ctx context.Context, bucket, key string, limit int64) ([]byte, error) {
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength > limit {
		return nil, fmt.Errorf("the object is larger than %d MiB", limit>>20)
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the object: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the object is larger than %d MiB", limit>>20)
	}
	return b, nil
}
