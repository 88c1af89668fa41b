//go:build !lambda.norpc

package awsref

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// loadAWSConfig loads the SDK's default configuration. The region, static
// keys and the IMDS switch come from env, the loader's environment (the
// same as the process's in production); the rest of the credential chain
// (AWS_PROFILE and shared files, web identity, container credentials,
// IMDS) and AWS_MAX_ATTEMPTS/AWS_RETRY_MODE are the SDK's, read from the
// process environment.
func loadConfig(ctx context.Context, region string, env map[string]string) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if id, secret := env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]; id != "" && secret != "" && env["AWS_PROFILE"] == "" {
		// As the SDK's chain does: keys in the environment win unless a
		// profile is named.
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, secret, env["AWS_SESSION_TOKEN"])))
	}
	if strings.EqualFold(env["AWS_EC2_METADATA_DISABLED"], "true") {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return cfg, nil
}
