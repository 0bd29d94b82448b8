package s3media

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Eraser is the offboarding.Eraser of a tenant's objects in the media
// bucket: every key under media.TenantPrefix, a page of up to 1,000 a call
// (one ListObjectsV2, one DeleteObjects).
type Eraser struct {
	Client *s3.Client
	Bucket string
	// Page is the keys one call lists (1,000, S3's most, when zero).
	Page int32
}

var _ offboarding.Eraser = (*Eraser)(nil)

// Name implements offboarding.Eraser.
func (e *Eraser) Name() string { return "media bucket" }

// Erase implements offboarding.Eraser. It lists from the start of the
// prefix each time (what it deleted is gone), so the position is only
// "more".
func (e *Eraser) Erase(ctx context.Context, t offboarding.Target, _ string) (offboarding.Counts, string, error) {
	if !onboarding.ValidTenantID(t.TenantID) {
		return offboarding.Counts{}, "", fmt.Errorf("erase media: tenant id %q", t.TenantID)
	}
	in := &s3.ListObjectsV2Input{Bucket: &e.Bucket, Prefix: aws.String(media.TenantPrefix(t.TenantID))}
	if e.Page > 0 {
		in.MaxKeys = aws.Int32(e.Page)
	}
	out, err := e.Client.ListObjectsV2(ctx, in)
	if err != nil {
		return offboarding.Counts{}, "", fmt.Errorf("list %s's media: %w", t.TenantID, err)
	}
	if len(out.Contents) == 0 {
		return offboarding.Counts{}, "", nil
	}
	ids := make([]types.ObjectIdentifier, 0, len(out.Contents))
	for _, c := range out.Contents {
		ids = append(ids, types.ObjectIdentifier{Key: c.Key})
	}
	del, err := e.Client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &e.Bucket,
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err != nil {
		return offboarding.Counts{}, "", fmt.Errorf("delete %s's media: %w", t.TenantID, err)
	}
	if len(del.Errors) > 0 {
		return offboarding.Counts{}, "", fmt.Errorf("delete %s's media: %d refused, the first %s: %s", t.TenantID,
			len(del.Errors), aws.ToString(del.Errors[0].Key), aws.ToString(del.Errors[0].Code))
	}
	next := ""
	if aws.ToBool(out.IsTruncated) {
		next = "more"
	}
	return offboarding.Counts{Objects: len(ids)}, next, nil
}
