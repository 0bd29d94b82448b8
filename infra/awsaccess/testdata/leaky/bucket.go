package leaky

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type Bucket struct{ Client *s3.Client }

// Versions lists object versions: s3:ListBucketVersions in IAM, which the
// analysis does not guess.
func (b *Bucket) Versions(ctx context.Context) error {
	_, err := b.Client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{})
	return err
}
