// Package awsref owns pingpanda's AWS references: values kept in SSM
// Parameter Store (ssm:NAME), Secrets Manager (secretsmanager:ID) or S3
// (s3://BUCKET/KEY), parsed here and fetched through the AWS SDK's own
// service clients (their retries, endpoints, credential chain and
// defaults). Errors explain what to fix, naming the reference and the IAM
// action, and never hold a fetched value.
package awsref

import (
	"errors"
	"fmt"
	"strings"
)

// Ref is a value kept in AWS: ssm:NAME (SSM Parameter Store),
// secretsmanager:ID (Secrets Manager) or s3://BUCKET/KEY (TARGETS_FILE
// only). The reference is not secret; what it names may be.
type Ref struct {
	Text   string // as written
	Kind   string // "ssm", "secretsmanager" or "s3"
	Name   string // parameter name, secret name or ARN, object key
	Bucket string
}

// Parse recognises a reference; s3:// is one only where s3Allowed. ok is false for a value that is not
// one; err says what is wrong with one that is malformed.
func Parse(v string, s3Allowed bool) (ref Ref, ok bool, err error) {
	ref.Text = v
	switch {
	case strings.HasPrefix(v, "ssm:"):
		ref.Kind, ref.Name = "ssm", strings.TrimPrefix(v, "ssm:")
		if ref.Name == "" || strings.ContainsAny(ref.Name, " \t") {
			return ref, true, errors.New("is not a parameter name (want ssm:/path/name)")
		}
	case strings.HasPrefix(v, "secretsmanager:"):
		ref.Kind, ref.Name = "secretsmanager", strings.TrimPrefix(v, "secretsmanager:")
		if ref.Name == "" || strings.ContainsAny(ref.Name, " \t") {
			return ref, true, errors.New("is not a secret name or ARN (want secretsmanager:NAME-OR-ARN)")
		}
	case s3Allowed && strings.HasPrefix(v, "s3://"):
		ref.Kind = "s3"
		ref.Bucket, ref.Name, _ = strings.Cut(strings.TrimPrefix(v, "s3://"), "/")
		if ref.Bucket == "" || ref.Name == "" || strings.HasSuffix(ref.Name, "/") {
			return ref, true, errors.New("is not an object (want s3://bucket/key)")
		}
	default:
		return ref, false, nil
	}
	return ref, true, nil
}

// Action is the IAM action reading the reference needs.
func (r Ref) Action() string {
	switch r.Kind {
	case "ssm":
		return "ssm:GetParameter"
	case "secretsmanager":
		return "secretsmanager:GetSecretValue"
	}
	return "s3:GetObject"
}

// ARN is the resource an IAM policy must name; the account is left for
// the reader to fill in.
func (r Ref) ARN(region string) string {
	if strings.HasPrefix(r.Name, "arn:") {
		return r.Name
	}
	partition := "aws"
	if strings.HasPrefix(region, "cn-") {
		partition = "aws-cn"
	}
	switch r.Kind {
	case "ssm":
		return fmt.Sprintf("arn:%s:ssm:%s:<account>:parameter/%s", partition, region, strings.TrimPrefix(r.Name, "/"))
	case "secretsmanager":
		// Secret ARNs end in a random six-character suffix.
		return fmt.Sprintf("arn:%s:secretsmanager:%s:<account>:secret:%s-*", partition, region, r.Name)
	}
	return fmt.Sprintf("arn:%s:s3:::%s/%s", partition, r.Bucket, r.Name)
}

// What names the kind of thing the reference points at.
func (r Ref) What() string {
	switch r.Kind {
	case "ssm":
		return "parameter"
	case "secretsmanager":
		return "secret"
	}
	return "object"
}
