package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// multipartUploadsKept is how long an upload that was never completed nor
// aborted (a worker that died mid-copy) keeps its parts: they cost storage
// and are no object anyone can read.
const multipartUploadsKept = 24 * 60 * 60 // seconds

// addBuckets builds every schema bucket, and one bucket of their server
// access logs.
//
// A bucket is private (every public access blocked, ACLs off), refuses
// requests without TLS 1.2, and is encrypted with a customer-managed key of
// its own, as the tables are: reading an object then takes a grant on the
// key as well as on the bucket, every use of the key is in CloudTrail, and
// disabling the key stops every presigned URL at once. The S3 Bucket Key
// keeps the KMS requests to a few per object rather than one per request.
// A function that presigns GETs needs kms:Decrypt itself: the URL acts with
// its signer's permissions when it is used.
//
// Versioning is off: an object is written once under a key no other object
// takes (the media id, or the upload's SHA-256), and a deletion or an
// expiry must remove the bytes, not keep them as an older version.
//
// Objects expire after mediaRetentionDays or messageRetentionDays, the
// shorter when both are set; otherwise they are kept. Incomplete multipart uploads are aborted after a day.
//
// The bucket is kept when the stack is deleted, as the bridge table is:
// the messages there name its objects, and CloudFormation cannot delete a
// bucket that holds any.
func (b *bridge) addBuckets() {
	if len(schema.Buckets) == 0 {
		return
	}
	// Presigned GETs never pass through the API: S3's own log is the only
	// record of who fetched what. SSE-S3, since S3 cannot deliver its logs
	// into a bucket encrypted with a KMS key.
	logs := awss3.NewBucket(b.stack, jsii.String("AccessLogsBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-logs"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(b.settings.LogRetentionDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Seconds(jsii.Number(multipartUploadsKept)),
		}},
		// An audit record outlives the stack it records.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	b.accessLogs = logs
	for _, s := range schema.Buckets {
		id := pascal(s.ID) + "Bucket"
		// The retained bucket's objects cannot be read without it.
		key := b.newKey(id+"Key", "kapso-bridge's "+s.ID+" bucket", awscdk.RemovalPolicy_RETAIN)
		rules := []*awss3.LifecycleRule{{
			Id:                                  jsii.String("abort-incomplete-uploads"),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Seconds(jsii.Number(multipartUploadsKept)),
		}}
		if days := b.retentionDays(s); days > 0 {
			rules = append(rules, &awss3.LifecycleRule{
				Id:         jsii.String("expire-objects"),
				Expiration: awscdk.Duration_Days(jsii.Number(days)),
			})
		}
		bucket := awss3.NewBucket(b.stack, jsii.String(id), &awss3.BucketProps{
			BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
			ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
			Encryption:             awss3.BucketEncryption_KMS,
			EncryptionKey:          key,
			BucketKeyEnabled:       jsii.Bool(true),
			EnforceSSL:             jsii.Bool(true),
			MinimumTLSVersion:      jsii.Number(1.2),
			Versioned:              jsii.Bool(false),
			ServerAccessLogsBucket: logs,
			ServerAccessLogsPrefix: jsii.String(s.ID + "/"),
			LifecycleRules:         &rules,
			RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		})
		b.buckets[s.ID], b.bucketKeys[s.ID] = bucket, key
		b.values[s.EnvVar] = bucket.BucketName()
	}
}

// retentionDays is how many days the bucket keeps each object; 0 is for
// ever. A message's media goes no later than the message: the media bucket
// keeps the shorter of the media and the message retentions.
func (b *bridge) retentionDays(s schema.Bucket) int {
	if s.ID == schema.MediaBucket.ID {
		return messaging.Shorter(b.settings.MediaRetentionDays, b.settings.MessageRetentionDays)
	}
	return 0
}
