package main

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressFindings records, with its reason, each cdk-nag finding that is a
// deliberate choice. Everything else cdk-nag reports fails `cdk synth`.
func (b *bridge) suppressFindings() {
	suppress := func(construct any, id, reason string, appliesTo ...string) {
		s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
		if len(appliesTo) > 0 {
			var list []any
			for _, a := range appliesTo {
				list = append(list, a)
			}
			s.AppliesTo = &list
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
		suppress(b.functions[f.Name].Role(), "AwsSolutions-IAM5",
			"X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "+
				"every other statement names its resources.",
			"Resource::*")
	}
	suppress(b.api, "AwsSolutions-APIG4",
		"Requests are authenticated in the functions: webhooks by their HMAC signatures, /v1 by the bridge "+
			"API bearer token, and the setup redirects are public browser navigations that are only a hint.")
	for _, d := range b.dlqs {
		if d.OfSchedule {
			suppress(d.Queue, "AwsSolutions-SQS3",
				"This queue is itself the schedule's dead-letter queue; cdk-nag only recognises queue redrive targets.")
		}
	}
}
