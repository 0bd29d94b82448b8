package main

import (
	"slices"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressFindings records, with its reason, each cdk-nag finding that is a
// deliberate choice. Everything else cdk-nag reports fails `cdk synth`.
func (b *bridge) suppressFindings() {
	suppress := func(construct any, id, reason string, appliesTo ...any) {
		s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
		if len(appliesTo) > 0 {
			s.AppliesTo = &appliesTo
		}
		cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
	}
	for _, s := range secrets {
		suppress(b.secrets[s.Name], "AwsSolutions-SMG4",
			"Kapso issues the API key and the webhook secrets and the operator chooses the bridge token; "+
				"there is no rotation function that could change them on Kapso's side.")
	}
	for _, f := range functions {
		if !b.builds(f) {
			continue
		}
		reason := "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
		appliesTo := []any{"Resource::*"}
		if buckets := bucketsOf(f); len(buckets) > 0 {
			reason += "a bucket's objects are named by a key pattern, as their keys (tenant, number, media id) are " +
				"only known at run time, and the pattern names no other bucket's objects nor the bucket itself; "
			for _, id := range buckets {
				appliesTo = append(appliesTo, &cdknag.RegexAppliesTo{
					Regex: jsii.String(`/^Resource::<` + pascal(id) + `Bucket[0-9A-F]{8}\.Arn>\/.+$/`)})
			}
		}
		suppress(b.functions[f.Name].Role(), "AwsSolutions-IAM5", reason+"every other statement names its resources.", appliesTo...)
	}
	suppress(b.api, "AwsSolutions-APIG4",
		"Requests are authenticated in the functions: webhooks by their HMAC signatures, /v1 by the bridge "+
			"API bearer token, and the setup redirects are public browser navigations that are only a hint.")
	if b.accessLogs != nil {
		suppress(b.accessLogs, "AwsSolutions-S1",
			"This bucket receives the other buckets' server access logs; logging its own requests into itself "+
				"would log each log delivery without end.")
	}
	for _, d := range b.dlqs {
		if d.OfSchedule {
			suppress(d.Queue, "AwsSolutions-SQS3",
				"This queue is itself the schedule's dead-letter queue; cdk-nag only recognises queue redrive targets.")
		}
	}
}

// bucketsOf lists the ids of the buckets f has grants on.
func bucketsOf(f function) []string {
	var ids []string
	for _, a := range f.Access {
		if a.Bucket != nil && !slices.Contains(ids, a.Bucket.ID) {
			ids = append(ids, a.Bucket.ID)
		}
	}
	return ids
}
