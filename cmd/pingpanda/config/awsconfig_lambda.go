//go:build lambda.norpc

package config

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// loadAWSConfig is staticAWSConfig in the Lambda bootstrap (make lambda
// builds with -tags lambda.norpc), where the function's role credentials
// are always in the environment. A binary built with this tag for anywhere
// else (a container using an EKS or ECS role, a laptop with AWS_PROFILE)
// cannot resolve references with those credentials: build it without the
// tag.
func loadAWSConfig(ctx context.Context, region string, env map[string]string) (aws.Config, error) {
	return staticAWSConfig(ctx, region, env)
}
