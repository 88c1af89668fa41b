package awsref

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Transient reports whether reading a reference may succeed if
// tried again later: throttling, a server error, a timeout or a broken
// connection, as opposed to a missing parameter or a denied permission.
func Transient(err error) bool {
	f := inspect(err)
	switch {
	case f.creds != nil:
		return false
	case f.code != "":
		return throttleCodes[f.code] || f.status >= 500
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

// Explain says in plain words what went wrong reading a reference,
// with the AWS error code and what to do.
func Explain(err error, ref Ref, region string) string {
	api := inspect(err)
	switch {
	case api.creds != nil:
		return fmt.Sprintf("no AWS credentials: give the function or pod a role, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (%v)", api.creds)
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer from AWS in time; check the network path to AWS (a Lambda in a VPC needs a NAT gateway or VPC endpoints for SSM, Secrets Manager and S3)"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case api.code == "":
		return fmt.Sprintf("cannot read the %s: %v", ref.What(), err)
	}
	code := api.code
	switch code {
	case "ParameterNotFound", "ParameterVersionNotFound", "ResourceNotFoundException", "NoSuchKey", "NotFound":
		return fmt.Sprintf("%s not found in %s (%s); check the name and the region", ref.What(), region, code)
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %q not found (NoSuchBucket); check the name", ref.Bucket)
	case "AccessDeniedException", "AccessDenied", "Forbidden":
		resource := ref.ARN(region)
		if m := resourceARN.FindStringSubmatch(api.message); m != nil {
			resource = m[1]
		}
		if strings.Contains(api.message, "kms:") || strings.Contains(api.message, "KMS") {
			key := "the KMS key that encrypts the " + ref.What()
			if m := kmsKeyARN.FindString(api.message); m != "" {
				key = m
			}
			return fmt.Sprintf("access denied by KMS (%s); grant kms:Decrypt on %s", code, key)
		}
		advice := fmt.Sprintf("grant %s on %s", ref.Action(), resource)
		switch ref.Kind {
		case "ssm":
			advice += ", and kms:Decrypt on its key if it is a SecureString under a customer managed KMS key"
		case "secretsmanager":
			advice += ", and kms:Decrypt on its key if the secret uses a customer managed KMS key"
		}
		return fmt.Sprintf("access denied (%s); %s", code, advice)
	case "DecryptionFailure", "InvalidKeyId", "KMSAccessDeniedException", "KMSDisabledException", "KMSNotFoundException":
		return fmt.Sprintf("cannot decrypt the %s (%s); grant kms:Decrypt on its KMS key and check that the key is enabled", ref.What(), code)
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		if api.bucketRegion != "" && api.bucketRegion != region {
			return fmt.Sprintf("the bucket is in %s, not %s (%s); set AWS_REGION=%s", api.bucketRegion, region, code, api.bucketRegion)
		}
	case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
		"ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "InvalidToken":
		return fmt.Sprintf("AWS refused the credentials (%s); check the role or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN", code)
	}
	if throttleCodes[code] {
		if api.attempts > 0 {
			return fmt.Sprintf("AWS is throttling the requests (%s) and %d attempts did not get through; try again later", code, api.attempts)
		}
		return fmt.Sprintf("AWS is throttling the requests (%s) and the retries did not get through in time; try again later", code)
	}
	if api.message != "" {
		return fmt.Sprintf("AWS answered %s (HTTP %d): %s", code, api.status, shorten(api.message))
	}
	return fmt.Sprintf("AWS answered %s (HTTP %d)", code, api.status)
}

// shorten keeps an AWS message to one readable line.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// failure is what an SDK error says: the API error's code and message,
// the HTTP status, S3's bucket region, the attempts made, or a failure of
// the credential chain.
type failure struct {
	code, message string
	status        int
	bucketRegion  string
	attempts      int
	creds         error
}

func inspect(err error) failure {
	var f failure
	var signing *v4.SigningError
	if errors.As(err, &signing) {
		f.creds = signing.Err
		return f
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		f.status = re.HTTPStatusCode()
		if re.Response != nil {
			f.bucketRegion = re.Response.Header.Get("X-Amz-Bucket-Region")
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		f.code, f.message = api.ErrorCode(), api.ErrorMessage()
	}
	if f.code == "" || f.code == "UnknownError" {
		switch f.status {
		case 0:
			f.code = ""
		case http.StatusNotFound:
			f.code = "NotFound"
		case http.StatusForbidden:
			f.code = "AccessDenied"
		default:
			f.code = http.StatusText(f.status)
		}
	}
	var max *retry.MaxAttemptsError
	if errors.As(err, &max) {
		f.attempts = max.Attempt
	}
	return f
}
