package awsref

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// StaticConfig is the configuration of the Lambda bootstrap: Lambda
// always gives the function's role credentials as AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, so the SDK's whole chain
// (and its SSO, STS and sign-in clients, 2.4 MB of the binary) is not
// needed there.
func StaticConfig(_ context.Context, region string, env map[string]string) (aws.Config, error) {
	id, secret := env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set " +
			"(Lambda sets them from the function's role; this Lambda build reads no other source)")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, env["AWS_SESSION_TOKEN"])),
	}, nil
}
