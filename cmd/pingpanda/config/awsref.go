package config

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// awsTimeout bounds the resolution of every AWS reference of one load,
// retries included.
const awsTimeout = 10 * time.Second

// awsRef is a value kept in AWS: ssm:NAME (SSM Parameter Store),
// secretsmanager:ID (Secrets Manager) or s3://BUCKET/KEY (TARGETS_FILE
// only). The reference is not secret; what it names may be.
type awsRef struct {
	text   string // as written
	kind   string // "ssm", "secretsmanager" or "s3"
	name   string // parameter name, secret name or ARN, object key
	bucket string
}

// parseAWSRef recognises a reference. ok is false for a value that is not
// one; err says what is wrong with one that is malformed.
func parseAWSRef(v string, s3Allowed bool) (ref awsRef, ok bool, err error) {
	ref.text = v
	switch {
	case strings.HasPrefix(v, "ssm:"):
		ref.kind, ref.name = "ssm", strings.TrimPrefix(v, "ssm:")
		if ref.name == "" || strings.ContainsAny(ref.name, " \t") {
			return ref, true, errors.New("is not a parameter name (want ssm:/path/name)")
		}
	case strings.HasPrefix(v, "secretsmanager:"):
		ref.kind, ref.name = "secretsmanager", strings.TrimPrefix(v, "secretsmanager:")
		if ref.name == "" || strings.ContainsAny(ref.name, " \t") {
			return ref, true, errors.New("is not a secret name or ARN (want secretsmanager:NAME-OR-ARN)")
		}
	case s3Allowed && strings.HasPrefix(v, "s3://"):
		ref.kind = "s3"
		ref.bucket, ref.name, _ = strings.Cut(strings.TrimPrefix(v, "s3://"), "/")
		if ref.bucket == "" || ref.name == "" || strings.HasSuffix(ref.name, "/") {
			return ref, true, errors.New("is not an object (want s3://bucket/key)")
		}
	default:
		return ref, false, nil
	}
	return ref, true, nil
}

// action is the IAM action reading the reference needs.
func (r awsRef) action() string {
	switch r.kind {
	case "ssm":
		return "ssm:GetParameter"
	case "secretsmanager":
		return "secretsmanager:GetSecretValue"
	}
	return "s3:GetObject"
}

// arn is the resource an IAM policy must name; the account is left for
// the reader to fill in.
func (r awsRef) arn(region string) string {
	if strings.HasPrefix(r.name, "arn:") {
		return r.name
	}
	partition := "aws"
	if strings.HasPrefix(region, "cn-") {
		partition = "aws-cn"
	}
	switch r.kind {
	case "ssm":
		return fmt.Sprintf("arn:%s:ssm:%s:<account>:parameter/%s", partition, region, strings.TrimPrefix(r.name, "/"))
	case "secretsmanager":
		// Secret ARNs end in a random six-character suffix.
		return fmt.Sprintf("arn:%s:secretsmanager:%s:<account>:secret:%s-*", partition, region, r.name)
	}
	return fmt.Sprintf("arn:%s:s3:::%s/%s", partition, r.bucket, r.name)
}

// what names the kind of thing the reference points at.
func (r awsRef) what() string {
	switch r.kind {
	case "ssm":
		return "parameter"
	case "secretsmanager":
		return "secret"
	}
	return "object"
}

// fetch reads what the reference names, at most limit bytes.
func (r awsRef) fetch(ctx context.Context, s awsStore, limit int64) ([]byte, error) {
	var (
		v   string
		err error
	)
	switch r.kind {
	case "ssm":
		v, err = s.getParameter(ctx, r.name)
	case "secretsmanager":
		v, err = s.getSecret(ctx, r.name)
	default:
		return s.getObject(ctx, r.bucket, r.name, limit)
	}
	if err == nil && int64(len(v)) > limit {
		return nil, fmt.Errorf("the %s is larger than %d KiB", r.what(), limit>>10)
	}
	return []byte(v), err
}

// awsJob is one reference to resolve: a secret key's, or TARGETS_FILE's.
type awsJob struct {
	key   string
	ref   awsRef
	limit int64
	value []byte
	err   error
}

// resolveAWS resolves the AWS references among the secret keys and
// TARGETS_FILE, all at once and within awsTimeout. Without a reference it
// does nothing: the SDK is not even configured. Problems name the key and
// the reference, never a value.
func (l *loader) resolveAWS(ctx context.Context) {
	var jobs []*awsJob
	for _, k := range keys {
		if !k.secret && k.name != "TARGETS_FILE" {
			continue
		}
		if l.values[k.name].ref != "" {
			continue // read from a file: its content is the value, never a reference
		}
		v := strings.TrimSpace(l.values[k.name].value)
		ref, ok, err := parseAWSRef(v, k.name == "TARGETS_FILE")
		if !ok {
			continue
		}
		if k.name == "TARGETS_FILE" {
			l.targetsRef = true
		}
		if err != nil {
			l.problem("%s: %q %v", k.name, v, err)
			l.setResolved(k.name, "", v)
			continue
		}
		limit := int64(maxSecretFile)
		if k.name == "TARGETS_FILE" {
			limit = maxTargetsFile
		}
		jobs = append(jobs, &awsJob{key: k.name, ref: ref, limit: limit})
	}
	if len(jobs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	newStore := l.newAWS
	if newStore == nil {
		newStore = newAWSClient
	}
	store, err := newStore(ctx, l.environ)
	if err != nil {
		for _, j := range jobs {
			l.problem("%s: %s: %v", j.key, j.ref.text, err)
			l.setResolved(j.key, "", j.ref.text)
		}
		return
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { j.value, j.err = j.ref.fetch(ctx, store, j.limit) })
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			l.problem("%s: %s: %s", j.key, j.ref.text, explainAWSError(j.err, j.ref, store.region()))
			l.transient = l.transient || transientAWSError(j.err)
			j.value = nil
		}
		if j.key == "TARGETS_FILE" {
			l.targetsData = j.value
			continue
		}
		v := strings.TrimSpace(string(j.value))
		if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
			// The Secrets Manager console stores key/value pairs as JSON
			// by default; the value itself is wanted.
			l.problem("%s: %s holds a JSON object, not the value itself (value not shown); "+
				"store the plain value (the console's Plaintext tab)", j.key, j.ref.text)
			v = ""
		}
		l.setResolved(j.key, v, j.ref.text)
	}
}

// setResolved replaces a secret key's reference by the value it names,
// remembering the reference for `pingpanda config` and for problems.
func (l *loader) setResolved(key, value, ref string) {
	if key == "TARGETS_FILE" {
		return
	}
	s := l.values[key]
	l.values[key] = setting{value: value, source: s.source, ref: ref}
}

// transientAWSError reports whether reading a reference may succeed if
// tried again later: throttling, a server error, a timeout or a broken
// connection, as opposed to a missing parameter or a denied permission.
func transientAWSError(err error) bool {
	var api *awsAPIError
	var creds *credentialsError
	switch {
	case errors.As(err, &creds):
		return false
	case errors.As(err, &api):
		return throttleCodes[api.Code] || api.Status >= 500
	case errors.Is(err, context.Canceled):
		return false
	}
	return true // a timeout or a network error
}

// resourceARN finds the resource an access-denied message names.
var resourceARN = regexp.MustCompile(`on resource:? (arn:[^\s"]+)`)

// kmsKeyARN finds the KMS key a KMS error names.
var kmsKeyARN = regexp.MustCompile(`arn:aws[\w-]*:kms:[^\s"]+`)

// throttleCodes are the error codes meaning "slow down".
var throttleCodes = map[string]bool{
	"ThrottlingException": true, "Throttling": true, "ThrottledException": true,
	"TooManyRequestsException": true, "RequestLimitExceeded": true, "SlowDown": true,
	"ProvisionedThroughputExceededException": true, "RequestThrottled": true,
	"RequestThrottledException": true,
}

// explainAWSError says in plain words what went wrong reading a reference,
// with the AWS error code and what to do.
func explainAWSError(err error, ref awsRef, region string) string {
	var (
		api   *awsAPIError
		creds *credentialsError
	)
	switch {
	case errors.As(err, &creds):
		return fmt.Sprintf("no AWS credentials: give the function or pod a role, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (%v)", creds.err)
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer from AWS in time; check the network path to AWS (a Lambda in a VPC needs a NAT gateway or VPC endpoints for SSM, Secrets Manager and S3)"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case !errors.As(err, &api):
		return fmt.Sprintf("cannot read the %s: %v", ref.what(), err)
	}
	code := api.Code
	switch code {
	case "ParameterNotFound", "ParameterVersionNotFound", "ResourceNotFoundException", "NoSuchKey", "NotFound":
		return fmt.Sprintf("%s not found in %s (%s); check the name and the region", ref.what(), region, code)
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %q not found (NoSuchBucket); check the name", ref.bucket)
	case "AccessDeniedException", "AccessDenied", "Forbidden":
		resource := ref.arn(region)
		if m := resourceARN.FindStringSubmatch(api.Message); m != nil {
			resource = m[1]
		}
		if strings.Contains(api.Message, "kms:") || strings.Contains(api.Message, "KMS") {
			key := "the KMS key that encrypts the " + ref.what()
			if m := kmsKeyARN.FindString(api.Message); m != "" {
				key = m
			}
			return fmt.Sprintf("access denied by KMS (%s); grant kms:Decrypt on %s", code, key)
		}
		advice := fmt.Sprintf("grant %s on %s", ref.action(), resource)
		switch ref.kind {
		case "ssm":
			advice += ", and kms:Decrypt on its key if it is a SecureString under a customer managed KMS key"
		case "secretsmanager":
			advice += ", and kms:Decrypt on its key if the secret uses a customer managed KMS key"
		}
		return fmt.Sprintf("access denied (%s); %s", code, advice)
	case "DecryptionFailure", "InvalidKeyId", "KMSAccessDeniedException", "KMSDisabledException", "KMSNotFoundException":
		return fmt.Sprintf("cannot decrypt the %s (%s); grant kms:Decrypt on its KMS key and check that the key is enabled", ref.what(), code)
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		if api.BucketRegion != "" && api.BucketRegion != region {
			return fmt.Sprintf("the bucket is in %s, not %s (%s); set AWS_REGION=%s", api.BucketRegion, region, code, api.BucketRegion)
		}
	case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
		"ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "InvalidToken":
		return fmt.Sprintf("AWS refused the credentials (%s); check the role or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN", code)
	}
	if throttleCodes[code] {
		return fmt.Sprintf("AWS is throttling the requests (%s) and %d attempts did not get through; try again later", code, api.Attempts)
	}
	if api.Message != "" {
		return fmt.Sprintf("AWS answered %s (HTTP %d): %s", code, api.Status, shorten(api.Message))
	}
	return fmt.Sprintf("AWS answered %s (HTTP %d)", code, api.Status)
}

// shorten keeps an AWS message to one readable line.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
