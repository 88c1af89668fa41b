//go:build lambda.norpc

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// loadAWSConfig is staticAWSConfig in the Lambda bootstrap (make lambda
// builds with -tags lambda.norpc), where the function's role credentials
// are always in the environment.
func loadAWSConfig(ctx context.Context, region string, env map[string]string) (aws.Config, error) {
	return staticAWSConfig(ctx, region, env)
}
