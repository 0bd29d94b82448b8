package main

import (
	"regexp"
	"slices"
	"strings"

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
		keys, patterns := objectWildcards(f.Access)
		suppress(b.functions[f.Name].Role(), "AwsSolutions-IAM5", reason+keys+"every other statement names its resources.",
			append([]any{"Resource::*"}, patterns...)...)
		for _, a := range f.Access {
			if keys, patterns := objectWildcards(roleAccess(a)); len(patterns) > 0 {
				suppress(b.roles[a.Role.ID], "AwsSolutions-IAM5", keys+"every other statement names its resources.", patterns...)
			}
		}
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

// roleAccess is the grants of the role a grant assumes (none for another
// grant).
func roleAccess(a access) []access {
	if a.Role == nil {
		return nil
	}
	return a.Role.Access
}

// objectWildcards is the reason for, and the exact resource patterns of,
// the key patterns of grants on a bucket's objects ("" and none when
// there are none).
func objectWildcards(grants []access) (string, []any) {
	objects := objectGrantsOf(grants)
	if len(objects) == 0 {
		return "", nil
	}
	var appliesTo []any
	for _, o := range objects {
		// Exactly this pattern on exactly this bucket: another pattern a
		// role gains is reported until it is reasoned.
		keys := strings.ReplaceAll(regexp.QuoteMeta(o.Keys), "/", `\/`)
		appliesTo = append(appliesTo, &cdknag.RegexAppliesTo{
			Regex: jsii.String(`/^Resource::<` + pascal(o.Bucket.ID) + `Bucket[0-9A-F]{8}\.Arn>\/` + keys + `$/`)})
	}
	return "a bucket's objects are named by a key pattern, as their keys (tenant, number, media id or " +
		"SHA-256) are only known at run time, and the pattern names no other bucket's objects nor the bucket itself; ", appliesTo
}

// objectGrantsOf lists the grants on a bucket's objects, one per bucket
// and key pattern.
func objectGrantsOf(grants []access) []access {
	var out []access
	for _, a := range grants {
		if a.Bucket != nil && !slices.ContainsFunc(out, func(o access) bool { return o.Bucket.ID == a.Bucket.ID && o.Keys == a.Keys }) {
			out = append(out, a)
		}
	}
	return out
}
