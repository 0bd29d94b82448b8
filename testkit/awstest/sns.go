package awstest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// SNS is a client for the local SNS server: fauxqs serves it on the SQS
// endpoint.
func SNS(tb testing.TB, opts ...func(*sns.Options)) *sns.Client {
	ep := endpoint(tb, EnvSQS)
	opts = append([]func(*sns.Options){func(o *sns.Options) { o.BaseEndpoint = aws.String(ep) }}, opts...)
	return sns.NewFromConfig(Config(), opts...)
}
