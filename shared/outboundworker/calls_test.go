package outboundworker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/outboundworker"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// counted is DynamoDB Local and the local SQS server with every call
// counted, the bridge table, and the outbound queue's URL.
func counted(t *testing.T) (*awstest.Calls, *dynamodb.Client, *sqs.Client, string, string) {
	calls := &awstest.Calls{}
	db := awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	q := awstest.SQS(t, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	return calls, db, q, awstest.Bridge(awstest.Tables(t)), awstest.Queues(t)[schema.Outbound.ID].URL
}

// The bill of a send in the steady state: the AWS calls of the tenant API's
// POST …/messages and of the sender's work on its job, counted on the real
// adapters against DynamoDB Local and the local SQS server. make bench can
// read the line this logs (aws_calls_per_send).
func TestAWSCallsPerSend(t *testing.T) {
	ctx := context.Background()
	calls, db, q, table, queueURL := counted(t)
	// With a message retention: the expiries travel in the same writes (a
	// century, so DynamoDB Local, which deletes by the machine's clock,
	// deletes nothing of these past-dated events).
	store := &dynamo.Onboarding{DB: db, Table: table}
	msgs := &dynamo.Messages{DB: db, Table: table, Retention: messaging.Retention{Days: 36500}}
	now := time.Now().UTC()
	if _, err := onboarding.EnsureCustomer(ctx, store, "acme", "Acme", func(context.Context) (string, error) {
		return "cus-1", nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []onboarding.Fact{
		onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: number, SetupLinkID: "sl-1"}, now.Add(-time.Hour)),
		onboarding.WebhookRegistered(number, "wh", now.Add(-time.Hour)),
	} {
		if _, _, err := store.AppendFact(ctx, "acme", f); err != nil {
			t.Fatal(err)
		}
	}
	if err := msgs.PutContact(ctx, "acme", number, messaging.Person{Phone: "16505551234"},
		messaging.Sighting{At: now.Add(-time.Minute), Inbound: true, ConversationID: "conv-1"}); err != nil {
		t.Fatal(err)
	}
	// A named token, looked up once and then cached, and the audit trail.
	secret := namedToken(t, db, table)
	mux := http.NewServeMux()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	(&tenantapi.API{Store: store, Messages: msgs, Outbox: msgs, Outbound: &sqsqueue.OutboundQueue{Client: q, URL: queueURL},
		Token: "token", Tokens: &dynamo.Tokens{DB: db, Table: table}, Audit: &dynamo.AuditLog{DB: db, Table: table},
		Log: log}).Register(mux)
	w := &outboundworker.Worker{Outbox: msgs, Queue: &sqsqueue.OutboundQueue{Client: q, URL: queueURL}, Kapso: &kapso{},
		Pacer: &dynamo.SendPacer{DB: db, Table: table, Rate: 1000}, Log: log}

	const n = 10
	var jobs []events.SQSMessage
	calls.Reset()
	for i := range n {
		req := httptest.NewRequest(http.MethodPost, "/v1/tenants/acme/messages",
			bytes.NewReader([]byte(`{"to":"+16505551234","type":"text","text":{"body":"Your order shipped"}}`)))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("order-%d", i))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("send: %d %s", rec.Code, rec.Body)
		}
		var out struct {
			Message struct{ ID string } `json:"message"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		body, _ := json.Marshal(messaging.OutboundJob{TenantID: "acme", ID: out.Message.ID})
		jobs = append(jobs, events.SQSMessage{MessageId: out.Message.ID, Body: string(body)})
	}
	api := float64(calls.Total()) / n
	apiCounts := calls.Counts()
	calls.Reset()
	for _, j := range jobs {
		if resp, err := w.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{j}}); err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("sender: %v %v", resp, err)
		}
	}
	worker := float64(calls.Total()) / n
	for _, j := range jobs {
		if m, _, _ := msgs.Outbound(ctx, "acme", j.MessageId); m.State != messaging.OutAccepted {
			t.Fatalf("%s is %s after the sender", j.MessageId, m.State)
		}
	}
	t.Logf("aws_calls_per_send api=%.2f sender=%.2f (api %v; sender %v)", api, worker, apiCounts, calls.Counts())
	// The API: 5, the audit entry's PutItem, and the token's GetItem once
	// for the n sends (it is cached a minute).
	if api > 6+1.0/n || worker > 4 {
		t.Fatalf("calls per send: api %.2f (want ≤ %.2f), sender %.2f (want ≤ 4)", api, 6+1.0/n, worker)
	}
	if apiCounts["PutItem"] != 2*n {
		t.Fatalf("PutItem %d for %d sends: want the message's and the audit entry's", apiCounts["PutItem"], n)
	}
}

// namedToken stores a token that may send and returns its secret.
func namedToken(t *testing.T, db *dynamodb.Client, table string) string {
	t.Helper()
	secret, h, err := access.NewSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&dynamo.Tokens{DB: db, Table: table}).CreateToken(context.Background(), h,
		access.Token{Name: "ci", Scopes: []access.Scope{access.Send}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// A claim is stale once the sender's function could no longer be running
// it: the default must be the function's timeout, which the CDK stack
// takes from the queue's consumer timeout.
func TestDefaultClaimTimeoutIsTheSendersTimeout(t *testing.T) {
	if messaging.DefaultClaimTimeout != schema.Outbound.ConsumerTimeout {
		t.Errorf("DefaultClaimTimeout %s, the sender's timeout %s", messaging.DefaultClaimTimeout, schema.Outbound.ConsumerTimeout)
	}
}

// A template send from a number whose WABA's templates are stored costs the
// API one read more, its stored template, and no Kapso call (7 with the
// audit entry; the configured token needs no lookup).
func TestAWSCallsPerTemplateSend(t *testing.T) {
	ctx := context.Background()
	calls, db, q, table, queueURL := counted(t)
	store, msgs := &dynamo.Onboarding{DB: db, Table: table}, &dynamo.Messages{DB: db, Table: table}
	tpls := &dynamo.Templates{DB: db, Table: table}
	now := time.Now().UTC()
	if _, err := onboarding.EnsureCustomer(ctx, store, "acme", "Acme", func(context.Context) (string, error) { return "cus-1", nil }); err != nil {
		t.Fatal(err)
	}
	for _, f := range []onboarding.Fact{
		onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: number, SetupLinkID: "sl-1", BusinessAccountID: "waba-1"}, now.Add(-time.Hour)),
		onboarding.WebhookRegistered(number, "wh", now.Add(-time.Hour)),
	} {
		if _, _, err := store.AppendFact(ctx, "acme", f); err != nil {
			t.Fatal(err)
		}
	}
	read := []templates.Read{{ID: "1", Name: "order_update", Language: "en_US", Category: templates.Utility, Status: templates.Approved,
		Components: json.RawMessage(`[{"type":"BODY","text":"Hi {{1}}, your order ships today."}]`)}}
	if err := tpls.SaveTemplates(ctx, "acme", templates.Merge("acme", "waba-1", nil, read, true, now, templates.SourceAPI),
		&templates.SyncMark{BusinessAccountID: "waba-1", At: now, Count: 1}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&tenantapi.API{Store: store, Messages: msgs, Outbox: msgs, Outbound: &sqsqueue.OutboundQueue{Client: q, URL: queueURL},
		Templates: tpls, Token: "token", Audit: &dynamo.AuditLog{DB: db, Table: table},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(mux)
	const n = 10
	calls.Reset()
	for i := range n {
		req := httptest.NewRequest(http.MethodPost, "/v1/tenants/acme/messages", bytes.NewReader([]byte(`{"to":"+16505551234","type":"template",`+
			`"template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]}}`)))
		req.Header.Set("Authorization", "Bearer token")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("template-%d", i))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("send: %d %s", rec.Code, rec.Body)
		}
	}
	api := float64(calls.Total()) / n
	t.Logf("aws_calls_per_template_send api=%.2f (%v)", api, calls.Counts())
	if api > 7 {
		t.Fatalf("calls per template send: %.2f, want ≤ 7", api)
	}
}
