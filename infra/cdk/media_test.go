package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

var (
	withRetentionOnce sync.Once
	withRetention     synthesized
	withRetentionErr  error
)

// stackWithMediaRetention is the stack of a deploy that sets
// mediaRetentionDays=30.
func stackWithMediaRetention(t *testing.T) synthesized {
	t.Helper()
	withRetentionOnce.Do(func() {
		withRetention, withRetentionErr = synth(map[string]string{"eventsWebhookUrl": testEventsWebhookURL, "mediaRetentionDays": "30"})
	})
	if withRetentionErr != nil {
		t.Fatal(withRetentionErr)
	}
	return withRetention
}

// The media bucket is private, encrypted with a rotating key of its own
// (with the S3 Bucket Key), unversioned, logs its requests into the access
// log bucket, and is kept, with its key, when the stack is deleted.
func TestMediaBucket(t *testing.T) {
	if got := len(ofType("AWS::S3::Bucket")); got != len(schema.Buckets)+1 {
		t.Errorf("buckets = %d, want the schema's and the access log bucket", got)
	}
	_, bucket := one(t, "AWS::S3::Bucket", "MediaBucket")
	p := bucket.Properties
	sse := list(prop(p, "BucketEncryption", "ServerSideEncryptionConfiguration"))
	if len(sse) != 1 {
		t.Fatalf("encryption = %v", sse)
	}
	checks := map[string][2]any{
		"block public ACLs":      {prop(p, "PublicAccessBlockConfiguration", "BlockPublicAcls"), true},
		"block public policy":    {prop(p, "PublicAccessBlockConfiguration", "BlockPublicPolicy"), true},
		"ignore public ACLs":     {prop(p, "PublicAccessBlockConfiguration", "IgnorePublicAcls"), true},
		"restrict public bucket": {prop(p, "PublicAccessBlockConfiguration", "RestrictPublicBuckets"), true},
		"ownership":              {render(prop(p, "OwnershipControls", "Rules")), `{"ObjectOwnership":"BucketOwnerEnforced"}`},
		"SSE":                    {prop(sse[0], "ServerSideEncryptionByDefault", "SSEAlgorithm"), "aws:kms"},
		"SSE key":                {render(prop(sse[0], "ServerSideEncryptionByDefault", "KMSMasterKeyID")), "MediaBucketKey"},
		"bucket key":             {prop(sse[0], "BucketKeyEnabled"), true},
		"versioning":             {p["VersioningConfiguration"], nil},
		"access logs":            {render(prop(p, "LoggingConfiguration", "DestinationBucketName")), "AccessLogsBucket"},
		"access log prefix":      {prop(p, "LoggingConfiguration", "LogFilePrefix"), "media/"},
		"retained":               {bucket.DeletionPolicy, "Retain"},
		"lifecycle": {render(prop(p, "LifecycleConfiguration", "Rules")),
			`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"Id":"abort-incomplete-uploads","Status":"Enabled"}`},
	}
	for what, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("media bucket %s = %v, want %v", what, c[0], c[1])
		}
	}
	_, key := one(t, "AWS::KMS::Key", "MediaBucketKey")
	if key.Properties["EnableKeyRotation"] != true || key.DeletionPolicy != "Retain" {
		t.Errorf("media key: rotation %v, deletion %q", key.Properties["EnableKeyRotation"], key.DeletionPolicy)
	}
	if got := render(tpl.Outputs["MediaBucketName"]["Value"]); got != "MediaBucket" {
		t.Errorf("output MediaBucketName = %q", got)
	}
}

// Both buckets refuse requests without TLS, and with TLS older than 1.2,
// whoever makes them, on the bucket and on every object; nothing in their
// policies allows anything but S3's log delivery into the log bucket, from
// the media bucket of this account.
func TestBucketPoliciesRefuseAnythingButTLS(t *testing.T) {
	policies := map[string][]any{}
	for _, bp := range ofType("AWS::S3::BucketPolicy") {
		policies[render(bp.Properties["Bucket"])] = list(prop(bp.Properties, "PolicyDocument", "Statement"))
	}
	for _, name := range []string{"MediaBucket", "AccessLogsBucket"} {
		var insecure, oldTLS bool
		for _, st := range policies[name] {
			if prop(st, "Effect") != "Deny" || prop(st, "Principal", "AWS") != "*" || render(prop(st, "Action")) != "s3:*" {
				continue
			}
			resources := sorted([]string{render(list(prop(st, "Resource"))[0]), render(list(prop(st, "Resource"))[1])})
			if !slices.Equal(resources, []string{name, name + "/*"}) {
				t.Errorf("%s: a deny on %v", name, resources)
			}
			insecure = insecure || prop(st, "Condition", "Bool", "aws:SecureTransport") == "false"
			oldTLS = oldTLS || prop(st, "Condition", "NumericLessThan", "s3:TlsVersion") == 1.2
		}
		if !insecure || !oldTLS {
			t.Errorf("%s's policy: refuses plain HTTP %v, TLS below 1.2 %v", name, insecure, oldTLS)
		}
	}
	var allows []string
	for name, sts := range policies {
		for _, st := range sts {
			if prop(st, "Effect") == "Allow" {
				allows = append(allows, name+" "+render(prop(st, "Principal", "Service"))+" "+render(prop(st, "Action"))+" "+
					render(prop(st, "Resource"))+" "+render(prop(st, "Condition", "ArnLike", "aws:SourceArn")))
			}
		}
	}
	if want := []string{"AccessLogsBucket logging.s3.amazonaws.com s3:PutObject AccessLogsBucket/media/* MediaBucket"}; !slices.Equal(allows, want) {
		t.Errorf("bucket policies allow %q, want %q", allows, want)
	}
}

// The log bucket is S3-encrypted (S3 delivers no logs into a KMS-encrypted
// bucket), private, expires its logs with the log groups, and is kept.
func TestAccessLogsBucket(t *testing.T) {
	_, logs := one(t, "AWS::S3::Bucket", "AccessLogsBucket")
	p := logs.Properties
	checks := map[string][2]any{
		"SSE": {render(prop(p, "BucketEncryption", "ServerSideEncryptionConfiguration")),
			`{"ServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}`},
		"block public policy": {prop(p, "PublicAccessBlockConfiguration", "BlockPublicPolicy"), true},
		"ownership":           {render(prop(p, "OwnershipControls", "Rules")), `{"ObjectOwnership":"BucketOwnerEnforced"}`},
		"lifecycle": {render(prop(p, "LifecycleConfiguration", "Rules")),
			`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"ExpirationInDays":30,"Id":"expire-logs","Status":"Enabled"}`},
		"retained": {logs.DeletionPolicy, "Retain"},
	}
	for what, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("access log bucket %s = %v, want %v", what, c[0], c[1])
		}
	}
}

// mediaRetentionDays adds a rule expiring every object after that many
// days; incomplete uploads are still aborted after one.
func TestMediaRetentionDaysExpiresObjects(t *testing.T) {
	s := stackWithMediaRetention(t)
	rules := mediaBucketRules(t, s)
	want := []string{
		`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"Id":"abort-incomplete-uploads","Status":"Enabled"}`,
		`{"ExpirationInDays":30,"Id":"expire-objects","Status":"Enabled"}`,
	}
	if !slices.Equal(rules, want) {
		t.Errorf("lifecycle rules = %v, want %v", rules, want)
	}
	assertNagClean(t, s)
}

// Every subscription of the schema whose queue has a consumer (the test
// stack builds them all) is there, with exactly the schema's filter policy,
// or none when the schema has none.
func TestSubscriptionsFilterAsTheSchemaSays(t *testing.T) {
	byQueue := map[string]cfnResource{}
	for _, r := range ofType("AWS::SNS::Subscription") {
		if r.Properties["Protocol"] == "sqs" {
			byQueue[render(r.Properties["Endpoint"])] = r
		}
	}
	subscribed := 0
	for _, s := range schema.Subscriptions {
		if consumerOf(s.Queue) == nil {
			continue
		}
		subscribed++
		r, ok := byQueue[pascal(s.Queue.ID)+"Queue"]
		if !ok {
			t.Errorf("the %s queue is not subscribed", s.Queue.ID)
			continue
		}
		var want any
		if s.FilterPolicy != "" {
			if err := json.Unmarshal([]byte(s.FilterPolicy), &want); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.Properties["FilterPolicy"]; !reflect.DeepEqual(got, want) {
			t.Errorf("the %s queue's filter policy = %v, want %v", s.Queue.ID, got, want)
		}
		if r.Properties["RawMessageDelivery"] != s.Raw || render(r.Properties["TopicArn"]) != pascal(s.Topic.ID)+"Topic" {
			t.Errorf("the %s queue's subscription = %v", s.Queue.ID, r.Properties)
		} // Its policy lets that topic, and only it, send to it.
		var senders []string
		for _, qp := range ofType("AWS::SQS::QueuePolicy") {
			if render(qp.Properties["Queues"]) != pascal(s.Queue.ID)+"Queue" {
				continue
			}
			for _, st := range list(prop(qp.Properties, "PolicyDocument", "Statement")) {
				if prop(st, "Effect") == "Allow" {
					senders = append(senders, render(prop(st, "Principal", "Service"))+" "+render(prop(st, "Action"))+" "+
						render(prop(st, "Condition", "ArnEquals", "aws:SourceArn")))
				}
			}
		}
		if want := []string{"sns.amazonaws.com sqs:SendMessage " + pascal(s.Topic.ID) + "Topic"}; !slices.Equal(senders, want) {
			t.Errorf("the %s queue's policy allows %q, want %q", s.Queue.ID, senders, want)
		}
	}
	if len(byQueue) != subscribed {
		t.Errorf("queue subscriptions = %d, want %d", len(byQueue), subscribed)
	}
}

// cdk-nag's wildcard finding is suppressed on an object grant for exactly
// the key patterns its role is granted, on exactly its bucket: no role
// may gain another pattern, on that bucket or another, unreported.
func TestObjectWildcardsAreSuppressedForTheirKeyPatternsAlone(t *testing.T) {
	objects := func(keys string) string {
		return `/^Resource::<MediaBucket[0-9A-F]{8}\.Arn>\/` + strings.ReplaceAll(regexp.QuoteMeta(keys), "/", `\/`) + `$/`
	}
	want := map[string][]string{
		"MediaRole":     {objects("*")},
		"TenantapiRole": {objects("*/*/uploads/*")},
		"MediaReadRole": {objects("*")},
		// An offboarding deletes the media objects a tenant's items name, an
		// erasure the person's.
		"ReconcileRole": {objects("*")},
	}
	roles := []string{"MediaReadRole"}
	for id := range wantGrants {
		roles = append(roles, id+"Role")
	}
	for _, role := range roles {
		var got []string
		for _, r := range ofType("AWS::IAM::Policy") {
			if render(r.Properties["Roles"]) != role {
				continue
			}
			var meta struct {
				CdkNag struct {
					Rules []struct {
						ID        string `json:"id"`
						AppliesTo []any  `json:"applies_to"`
					} `json:"rules_to_suppress"`
				} `json:"cdk_nag"`
			}
			raw, _ := json.Marshal(r.Metadata)
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatal(err)
			}
			for _, rule := range meta.CdkNag.Rules {
				if rule.ID != "AwsSolutions-IAM5" {
					continue
				}
				for _, a := range rule.AppliesTo {
					if a == "Resource::*" {
						continue
					}
					got = append(got, fmt.Sprint(prop(a, "regex")))
				}
			}
		}
		if !slices.Equal(sorted(got), sorted(want[role])) {
			t.Errorf("%s: wildcards suppressed for %q, want %q", role, got, want[role])
		}
	}
}

// mediaBucketRules are the media bucket's lifecycle rules, rendered.
func mediaBucketRules(t *testing.T, s synthesized) []string {
	t.Helper()
	_, bucket := s.tpl.one(t, "AWS::S3::Bucket", "MediaBucket")
	var rules []string
	for _, r := range list(prop(bucket.Properties, "LifecycleConfiguration", "Rules")) {
		rules = append(rules, render(r))
	}
	return rules
}
