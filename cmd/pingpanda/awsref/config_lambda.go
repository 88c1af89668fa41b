//go:build lambda.norpc

package awsref

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// loadConfig is staticAWSConfig in the Lambda bootstrap (make lambda
// builds with -tags lambda.norpc), where the function's role credentials
// are always in the environment. A binary built with this tag for anywhere
// else (a container using an EKS or ECS role, a laptop with AWS_PROFILE)
// cannot resolve references with those credentials: build it without the
// tag.
func loadConfig(ctx context.Context, region string, env map[string]string) (aws.Config, error) {
	return StaticConfig(ctx, region, env)
}
