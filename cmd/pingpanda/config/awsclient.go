package config

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// awsStore fetches the values that references name: an SSM parameter, a
// Secrets Manager secret, an S3 object. Errors never hold a fetched value.
type awsStore interface {
	getParameter(ctx context.Context, name string) (string, error)
	getSecret(ctx context.Context, id string) (string, error)
	getObject(ctx context.Context, bucket, key string, limit int64) ([]byte, error)
	region() string
}

// newAWSStoreFunc makes the awsStore of one configuration load. loadConfig
// calls it only when a reference is present.
type newAWSStoreFunc func(ctx context.Context, environ []string) (awsStore, error)

// awsClient is the awsStore of aws-sdk-go-v2: its configuration (the
// credential chain, retry settings, HTTP client) and its SigV4 signer. The
// three calls are made here rather than through the SDK's service clients,
// which would add 2.4 MB to the Lambda bootstrap for three requests (see
// BENCHMARKS.md).
type awsClient struct {
	cfg      aws.Config
	env      map[string]string
	retryer  aws.Retryer
	signer   *v4.Signer
	s3signer *v4.Signer
}

// maxAWSResponse bounds an SSM or Secrets Manager answer (a parameter holds
// at most 8 KB, a secret 64 KB) and any error body.
const maxAWSResponse = 1 << 20

// awsConfigLoader makes the SDK configuration (credentials, HTTP client,
// retry settings) for a region, given the AWS_* variables of the loader's
// environment.
type awsConfigLoader func(ctx context.Context, region string, env map[string]string) (aws.Config, error)

// newAWSClient is the awsStore of this build: loadAWSConfig is the SDK's
// default chain (awsconfig_default.go), or in the Lambda bootstrap
// staticAWSConfig (awsconfig_lambda.go).
func newAWSClient(ctx context.Context, environ []string) (awsStore, error) {
	return newAWSClientWith(loadAWSConfig)(ctx, environ)
}

// newAWSClientWith makes awsClients whose configuration load makes.
func newAWSClientWith(load awsConfigLoader) newAWSStoreFunc {
	return func(ctx context.Context, environ []string) (awsStore, error) {
		env := map[string]string{}
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AWS_") {
				env[k] = v
			}
		}
		region := cmp.Or(env["AWS_REGION"], env["AWS_DEFAULT_REGION"])
		if region == "" {
			return nil, errors.New("no AWS region: set AWS_REGION (Lambda sets it)")
		}
		cfg, err := load(ctx, region, env)
		if err != nil {
			return nil, err
		}
		return newAWSClientFromConfig(cfg, env), nil
	}
}

// staticAWSConfig is the configuration of the Lambda bootstrap: Lambda
// always gives the function's role credentials as AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, so the SDK's whole chain
// (and its SSO, STS and sign-in clients, 2.4 MB of the binary) is not
// needed there.
func staticAWSConfig(_ context.Context, region string, env map[string]string) (aws.Config, error) {
	id, secret := env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set " +
			"(Lambda sets them from the function's role; this Lambda build reads no other source)")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, env["AWS_SESSION_TOKEN"])),
		HTTPClient:  awshttp.NewBuildableClient(),
	}, nil
}

func newAWSClientFromConfig(cfg aws.Config, env map[string]string) *awsClient {
	c := &awsClient{
		cfg:      cfg,
		env:      env,
		signer:   v4.NewSigner(),
		s3signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
	}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer()
	} else {
		c.retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			if cfg.RetryMaxAttempts > 0 {
				o.MaxAttempts = cfg.RetryMaxAttempts
			}
		})
	}
	return c
}

func (c *awsClient) region() string { return c.cfg.Region }

// endpoint is a service's base URL: AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL (the SDK's variables), else the regional endpoint.
// custom says an override is in use.
func (c *awsClient) endpoint(host, envSuffix string) (u *url.URL, custom bool, err error) {
	raw := cmp.Or(c.env["AWS_ENDPOINT_URL_"+envSuffix], c.env["AWS_ENDPOINT_URL"])
	if raw == "" {
		suffix := "amazonaws.com"
		if strings.HasPrefix(c.cfg.Region, "cn-") {
			suffix = "amazonaws.com.cn"
		}
		return &url.URL{Scheme: "https", Host: host + "." + c.cfg.Region + "." + suffix, Path: "/"}, false, nil
	}
	u, err = url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, true, fmt.Errorf("AWS endpoint override is not an http(s) URL (AWS_ENDPOINT_URL_%s or AWS_ENDPOINT_URL)", envSuffix)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, true, nil
}

// ssmParameter and secretValue are the parts of the answers used here.
type ssmParameter struct {
	Parameter struct {
		Value *string `json:"Value"`
	} `json:"Parameter"`
}

type secretValue struct {
	SecretString *string `json:"SecretString"`
	SecretBinary []byte  `json:"SecretBinary"`
}

func (c *awsClient) getParameter(ctx context.Context, name string) (string, error) {
	var out ssmParameter
	err := c.callJSON(ctx, "ssm", "SSM", "AmazonSSM.GetParameter",
		map[string]any{"Name": name, "WithDecryption": true}, &out)
	if err != nil {
		return "", err
	}
	if out.Parameter.Value == nil {
		return "", errors.New("the answer holds no parameter value")
	}
	return *out.Parameter.Value, nil
}

func (c *awsClient) getSecret(ctx context.Context, id string) (string, error) {
	var out secretValue
	err := c.callJSON(ctx, "secretsmanager", "SECRETS_MANAGER", "secretsmanager.GetSecretValue",
		map[string]any{"SecretId": id}, &out)
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

// callJSON makes one call of the AWS JSON 1.1 protocol (SSM, Secrets
// Manager) and decodes its answer into out.
func (c *awsClient) callJSON(ctx context.Context, service, envSuffix, target string, in, out any) error {
	base, _, err := c.endpoint(service, envSuffix)
	if err != nil {
		return err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, service, c.signer, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		return req, nil
	}, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAWSResponse+1))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", cleanURLError(err))
	}
	if len(b) > maxAWSResponse {
		return fmt.Errorf("the answer is larger than %d KiB", maxAWSResponse>>10)
	}
	if err := json.Unmarshal(b, out); err != nil {
		// The decoder's message may quote the payload: leave it out.
		return errors.New("the answer is not the JSON expected")
	}
	return nil
}

// getObject reads an S3 object of at most limit bytes. Buckets are
// addressed virtual-hosted style, except with an endpoint override,
// AWS_S3_USE_PATH_STYLE=true, or a bucket name with dots.
func (c *awsClient) getObject(ctx context.Context, bucket, key string, limit int64) ([]byte, error) {
	base, custom, err := c.endpoint("s3", "S3")
	if err != nil {
		return nil, err
	}
	pathStyle := custom || strings.EqualFold(c.env["AWS_S3_USE_PATH_STYLE"], "true")
	u := objectURL(base, pathStyle, bucket, key)
	resp, err := c.send(ctx, "s3", c.s3signer, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("the object is larger than %d MiB", limit>>20)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the object: %w", cleanURLError(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the object is larger than %d MiB", limit>>20)
	}
	return b, nil
}

// objectURL is the URL of an S3 object: path-style (endpoint/bucket/key)
// when asked or when the bucket name has dots (which break the wildcard
// certificate), else virtual-hosted (bucket.endpoint/key).
func objectURL(base *url.URL, pathStyle bool, bucket, key string) string {
	u := *base
	if pathStyle || strings.Contains(bucket, ".") {
		prefix := strings.TrimSuffix(u.Path, "/")
		u.Path = prefix + "/" + bucket + "/" + key
		u.RawPath = prefix + "/" + s3Escape(bucket) + "/" + s3Escape(key)
	} else {
		u.Host = bucket + "." + u.Host
		u.Path = "/" + key
		u.RawPath = "/" + s3Escape(key)
	}
	return u.String()
}

// s3Escape escapes an object key as S3 signs it: every byte but the
// unreserved ones and '/'.
func s3Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' ||
			ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/' {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// send signs and sends the request that build makes, retrying what the
// SDK's retryer says is worth retrying (throttling, 5xx, broken
// connections) with its backoff. A response is returned only with a 2xx
// status; any other status is an *awsAPIError.
func (c *awsClient) send(ctx context.Context, service string, signer *v4.Signer, build func() (*http.Request, error), body []byte) (*http.Response, error) {
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, service, signer, build, payloadHash)
		if err == nil {
			return resp, nil
		}
		// fail returns err as given up on after this attempt.
		fail := func() (*http.Response, error) {
			var api *awsAPIError
			if errors.As(err, &api) {
				api.Attempts = attempt
			}
			return nil, cleanURLError(err)
		}
		if attempt >= c.retryer.MaxAttempts() || !c.retryer.IsErrorRetryable(err) || ctx.Err() != nil {
			return fail()
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return fail()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail()
		case <-t.C:
		}
	}
}

func (c *awsClient) attempt(ctx context.Context, service string, signer *v4.Signer, build func() (*http.Request, error), payloadHash string) (*http.Response, error) {
	req, err := build()
	if err != nil {
		return nil, err
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, &credentialsError{err: err}
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := signer.SignHTTP(ctx, creds, req, payloadHash, service, c.cfg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing the request: %w", err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, parseAWSError(resp, b)
}

// credentialsError is a failure of the SDK's credential chain. It is never
// retried here: the chain has its own retries.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "no AWS credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// awsAPIError is an error answer of an AWS service. It has the methods the
// SDK's retryer looks for (ErrorCode, HTTPStatusCode).
type awsAPIError struct {
	Code, Message string
	Status        int
	// BucketRegion is S3's x-amz-bucket-region, set when the bucket is
	// elsewhere.
	BucketRegion string
	Attempts     int
}

func (e *awsAPIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}
func (e *awsAPIError) ErrorCode() string    { return e.Code }
func (e *awsAPIError) ErrorMessage() string { return e.Message }
func (e *awsAPIError) HTTPStatusCode() int  { return e.Status }

// parseAWSError reads the code and message of an error answer: JSON
// (`__type`, `message`) or S3's XML (`<Error><Code>`).
func parseAWSError(resp *http.Response, body []byte) *awsAPIError {
	e := &awsAPIError{Status: resp.StatusCode, BucketRegion: resp.Header.Get("X-Amz-Bucket-Region")}
	var j struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	var x struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	switch {
	case json.Unmarshal(body, &j) == nil:
		e.Code, e.Message = cmp.Or(j.Type, j.Code), cmp.Or(j.Message, j.MessageU)
	case xml.Unmarshal(body, &x) == nil:
		e.Code, e.Message = x.Code, x.Message
	}
	if h := resp.Header.Get("X-Amzn-ErrorType"); e.Code == "" && h != "" {
		e.Code = h
	}
	// "com.amazonaws.ssm#ParameterNotFound", "ParameterNotFound:http://…"
	if i := strings.LastIndexByte(e.Code, '#'); i >= 0 {
		e.Code = e.Code[i+1:]
	}
	if i := strings.IndexByte(e.Code, ':'); i >= 0 {
		e.Code = e.Code[:i]
	}
	if e.Code == "" {
		switch resp.StatusCode {
		case http.StatusNotFound:
			e.Code = "NotFound"
		case http.StatusForbidden:
			e.Code = "AccessDenied"
		default:
			e.Code = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

// cleanURLError drops what an *url.Error adds: the method and the whole
// URL, which a reader of the error does not need.
func cleanURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
