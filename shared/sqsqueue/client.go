package sqsqueue

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// NewClient is kapso-bridge's SQS client. It skips the SDK's MD5 check of
// each sent body: the connection is TLS, which already guarantees the bytes
// arrived whole, and the check is one more pass over every delivery (up to
// 1 MiB) on the ingest's hot path.
func NewClient(cfg aws.Config, opts ...func(*sqs.Options)) *sqs.Client {
	return sqs.NewFromConfig(cfg, append([]func(*sqs.Options){func(o *sqs.Options) {
		o.DisableMessageChecksumValidation = true
	}}, opts...)...)
}
