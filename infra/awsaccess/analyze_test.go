package awsaccess

import (
	"reflect"
	"strings"
	"testing"
)

func ops(actions ...string) []Op {
	var out []Op
	for _, a := range actions {
		idx := strings.HasSuffix(a, " index")
		out = append(out, Op{Action: strings.TrimSuffix(a, " index"), Index: idx})
	}
	return out
}

func TestAnalyzeFixture(t *testing.T) {
	as, err := Analyze("testdata/fixture", "example.com/fixture")
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(as); !reflect.DeepEqual(got, []string{"example.com/fixture.Bucket", "example.com/fixture.Queue", "example.com/fixture.Secrets",
		"example.com/fixture.Store", "example.com/fixture.Stream", "example.com/fixture.Topic"}) {
		t.Fatalf("adapters = %v", got)
	}
	want := map[string]map[string]Method{
		"Store": {
			"Put":       {Ops: ops("dynamodb:PutItem")},
			"Get":       {Ops: ops("dynamodb:GetItem")},
			"Save":      {Ops: ops("dynamodb:PutItem", "dynamodb:Query")},
			"list":      {Ops: ops("dynamodb:Query")},
			"ByIndex":   {Ops: ops("dynamodb:Query index")},
			"ScanIndex": {Ops: ops("dynamodb:Scan index")},
			"Recurse":   {Ops: ops("dynamodb:PutItem")},
			// A transaction is allowed by the actions of its items' kinds:
			// IAM has no TransactWriteItems or TransactGetItems action.
			"Transact":     {Ops: ops("dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem")},
			"TransactRead": {Ops: ops("dynamodb:GetItem")},
			// Items declared in a slice and appended to it.
			"TransactGrown": {Ops: ops("dynamodb:DeleteItem", "dynamodb:UpdateItem")},
		},
		// A batch send is allowed by sqs:SendMessage; the body store is
		// reached through the Spill field, whose Drop is never called.
		"Queue":   {"Send": {Ops: ops("sqs:SendMessage"), Calls: []Call{{"Spill", "Keep"}}}},
		"Secrets": {"Read": {Ops: ops("secretsmanager:GetSecretValue")}},
		// A batch publish is allowed by sns:Publish.
		"Topic": {"PublishAll": {Ops: ops("sns:Publish")}, "PublishOne": {Ops: ops("sns:Publish")}},
		// IAM names DynamoDB Streams' operations under dynamodb.
		"Stream": {"Read": {Ops: ops("dynamodb:GetRecords", "dynamodb:GetShardIterator")}},
		// Every step of a multipart upload is s3:PutObject, but its abort;
		// a presigned GET needs s3:GetObject of its signer.
		"Bucket": {
			"PutSmall": {Ops: ops("s3:PutObject")},
			"PutLarge": {Ops: ops("s3:AbortMultipartUpload", "s3:PutObject")},
			"Delete":   {Ops: ops("s3:DeleteObject")},
			"URL":      {Ops: ops("s3:GetObject")},
		},
	}
	for name, methods := range want {
		got := as["example.com/fixture."+name].Methods
		if len(got) != len(methods) {
			t.Errorf("%s methods = %v", name, sortedKeys(got))
		}
		for m, w := range methods {
			if !reflect.DeepEqual(got[m], w) {
				t.Errorf("%s.%s = %+v, want %+v", name, m, got[m], w)
			}
		}
	}
}

// Whatever the analysis cannot follow fails it, naming where.
func TestAnalyzeRefusesWhatItCannotFollow(t *testing.T) {
	_, err := Analyze("testdata/leaky", "example.com/leaky")
	if err == nil {
		t.Fatal("leaky adapters analyzed")
	}
	for _, want := range []string{
		"leaky.go:26:",  // the client given to elsewhere.Use
		"leaky.go:30:",  // the client in another adapter's literal
		"leaky.go:31:",  // a method of that adapter
		"leaky.go:36:",  // an input whose index cannot be told
		"leaky.go:44:",  // transaction items not written out in the input
		"leaky.go:50:",  // a transaction item not written out
		"bucket.go:13:", // an S3 operation IAM names otherwise
		"grown.go:14:",  // items appended from a slice made elsewhere
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

// The real adapters, by method: what each calls, through every helper.
func TestAnalyzeRealAdapters(t *testing.T) {
	as, err := Load("../..", "shared/dynamo", "shared/sqsqueue", "shared/config/awssecrets", "shared/snstopic", "shared/s3media")
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/kapso-bridge/kapso-bridge/shared/"
	want := map[string]Method{
		"dynamo.Claims.Claim":                  {Ops: ops("dynamodb:PutItem")},
		"dynamo.Claims.Accept":                 {Ops: ops("dynamodb:UpdateItem")},
		"dynamo.Claims.Release":                {Ops: ops("dynamodb:DeleteItem")},
		"dynamo.Payloads.Put":                  {Ops: ops("dynamodb:BatchWriteItem")},
		"dynamo.Payloads.Get":                  {Ops: ops("dynamodb:GetItem")},
		"dynamo.Rejects.Keep":                  {Ops: ops("dynamodb:PutItem")},
		"dynamo.Onboarding.TenantOfLink":       {Ops: ops("dynamodb:GetItem")},
		"dynamo.Onboarding.Load":               {Ops: ops("dynamodb:Query")},
		"dynamo.Onboarding.AppendFact":         {Ops: ops("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem")},
		"dynamo.Onboarding.TenantsWithStatus":  {Ops: ops("dynamodb:Query index")},
		"dynamo.Numbers.Secret":                {Ops: ops("dynamodb:GetItem")},
		"dynamo.Numbers.NumbersMissingWebhook": {Ops: ops("dynamodb:Query index")},
		// The accept's TransactWriteItems updates two items; a send under a
		// derived conversation id may put that id's alias.
		"dynamo.Messages.MoveOutbound":         {Ops: ops("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")},
		"dynamo.Messages.CreateOutbound":       {Ops: ops("dynamodb:PutItem")},
		"sqsqueue.DeliveryQueue.Send":          {Ops: ops("sqs:SendMessage"), Calls: []Call{{"Bodies", "Put"}}},
		"sqsqueue.Poller.Once":                 {Ops: ops("sqs:DeleteMessage", "sqs:ReceiveMessage")},
		"config/awssecrets.Source.SecretValue": {Ops: ops("secretsmanager:GetSecretValue")},
		// The feed: appended in BatchWriteItem calls, read by Query.
		"dynamo.Feed.Append": {Ops: ops("dynamodb:BatchWriteItem")},
		// Events go in PublishBatch calls, which sns:Publish allows.
		"snstopic.Publisher.Publish": {Ops: ops("sns:Publish")},
		// A put is one PutObject or a multipart upload, aborted, or the
		// object deleted, when it fails; a URL is a presigned GetObject,
		// signed with the function's own credentials or with a session of
		// the read role it assumes for the key's tenant.
		"s3media.Objects.Put":            {Ops: ops("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject")},
		"s3media.Objects.PresignGet":     {Calls: []Call{{"reads", "PresignGet"}}},
		"s3media.OwnReads.PresignGet":    {Ops: ops("s3:GetObject")},
		"s3media.TenantReads.PresignGet": {Ops: ops("s3:GetObject", "sts:AssumeRole")},
		// A message's copy of its media, with its retry item, in one
		// transaction.
		"dynamo.Messages.SetMedia": {Ops: ops("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")},
	}
	for name, w := range want {
		i := strings.LastIndex(name, ".")
		a := as[module+name[:i]]
		if a == nil {
			t.Errorf("%s: no adapter", name[:i])
			continue
		}
		if got := a.Methods[name[i+1:]]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %+v, want %+v", name, got, w)
		}
	}
}
