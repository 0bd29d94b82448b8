package leaky

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type Bucket struct{ Client *s3.Client }

// List lists keys: s3:ListBucket in IAM, which the analysis does not guess.
func (b *Bucket) List(ctx context.Context) error {
	_, err := b.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{})
	return err
}
