package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// benchPayloads are the four deliveries make bench measures, kept in events/bench.
var benchPayloads = []string{"kapso-message", "kapso-batch-50", "meta-mixed-50", "meta-statuses-1000"}

type benchDelivery struct {
	path, event string
	body        []byte
}

func loadBenchPayload(tb testing.TB, name string) benchDelivery {
	tb.Helper()
	sm, err := events.Lookup("bench/" + name + ".json")
	if err != nil {
		tb.Fatal(err)
	}
	d := benchDelivery{path: "/webhooks/kapso/" + numberID, event: sm.Event, body: sm.Body}
	if sm.Route == events.RouteMeta {
		d.path = "/webhooks/meta/" + numberID
	}
	return d
}

// staticSecrets is a number's secret already at hand, as the ingest's cache
// has it on every delivery but a cold start's first.
type staticSecrets map[string]string

func (s staticSecrets) Secret(_ context.Context, id string) (string, error) { return s[id], nil }

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkIngest is the real handler, with the real SDK clients signing and
// serialising every call, answered in-process.
func BenchmarkIngest(b *testing.B) {
	db, queue := awstest.InProcessClients()
	h := &webhook.Ingest{
		Claims:            &dynamo.Claims{DB: db, Table: "idempotency"},
		Queue:             &sqsqueue.DeliveryQueue{Client: queue, Bodies: &dynamo.Payloads{DB: db, Table: "idempotency"}},
		Secrets:           &webhook.SecretCache{Source: staticSecrets{numberID: numberSecret}, TTL: time.Hour},
		ProjectSecret:     projectSecret,
		LifecycleQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/lifecycle",
		MessagesQueueURL:  "https://sqs.us-east-1.amazonaws.com/123456789012/messages",
		Log:               slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	mux := http.NewServeMux()
	h.Register(mux)
	for _, name := range benchPayloads {
		d := loadBenchPayload(b, name)
		sig := kapso.Sign(numberSecret, d.body)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(d.body)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				req := httptest.NewRequest(http.MethodPost, d.path, bytes.NewReader(d.body))
				req.Header.Set("X-Webhook-Signature", sig)
				req.Header.Set("X-Webhook-Event", d.event)
				req.Header.Set("X-Idempotency-Key", "bench-"+strconv.Itoa(i))
				w := &discard{h: http.Header{}}
				mux.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// BenchmarkIngestFloor is the least any ingest must do, with the same
// clients: HMAC of the body, json.Valid, a conditional PutItem, one
// SendMessage of the whole body, and the UpdateItem that accepts.
func BenchmarkIngestFloor(b *testing.B) {
	db, queue := awstest.InProcessClients()
	ctx := context.Background()
	for _, name := range benchPayloads {
		d := loadBenchPayload(b, name)
		sig := kapso.Sign(numberSecret, d.body)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(d.body)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				mac := hmac.New(sha256.New, []byte(numberSecret))
				mac.Write(d.body)
				want, _ := hex.DecodeString(sig)
				if !hmac.Equal(mac.Sum(nil), want) || !json.Valid(d.body) {
					b.Fatal("floor refused its payload")
				}
				key := &types.AttributeValueMemberS{Value: "delivery#" + strconv.Itoa(i)}
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("idempotency"),
					Item: map[string]types.AttributeValue{"pk": key,
						"status": &types.AttributeValueMemberS{Value: "in_progress"}},
					ConditionExpression: aws.String("attribute_not_exists(pk)")}); err != nil {
					b.Fatal(err)
				}
				if _, err := queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("https://sqs.us-east-1.amazonaws.com/123456789012/messages"),
					MessageBody: aws.String(string(d.body))}); err != nil {
					b.Fatal(err)
				}
				if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("idempotency"),
					Key: map[string]types.AttributeValue{"pk": key}, UpdateExpression: aws.String("SET #s = :a"),
					ExpressionAttributeNames:  map[string]string{"#s": "status"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: "accepted"}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// callsPerDelivery sends one new delivery, the same delivery again, and a
// delivery too large for a queue message, through an ingest whose real
// clients talk to DynamoDB Local and the local SQS server, and counts the
// requests each one cost.
func callsPerDelivery(t *testing.T, d benchDelivery) (fresh, duplicate, aside int) {
	t.Helper()
	calls := &awstest.Calls{}
	s := newStack(t)
	db := awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	queue := awstest.SQS(t, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	s.ingest.Claims = &dynamo.Claims{DB: db, Table: awstest.Idempotency(s.tables)}
	s.ingest.Queue = &sqsqueue.DeliveryQueue{Client: queue, Bodies: &dynamo.Payloads{DB: db, Table: awstest.Idempotency(s.tables)}}
	// The number's secret is cached, as on every delivery but a cold start's first.
	s.ingest.Secrets = &webhook.SecretCache{Source: staticSecrets{numberID: numberSecret}, TTL: time.Hour}
	post := func(key string, body []byte) int {
		calls.Reset()
		path := "/webhooks/kapso/" + numberID
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte(`{"object"`)) {
			path = "/webhooks/meta/" + numberID
		}
		wantStatus(s.t, s.post(delivery{path: path, body: body, event: d.event, key: key, secret: numberSecret}), http.StatusOK)
		return calls.Total()
	}
	fresh = post("count-1", d.body)
	duplicate = post("count-1", d.body)
	large := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	aside = post("count-2", append(large, `"}`...))
	return fresh, duplicate, aside
}

// The bill of a delivery: three requests whatever its size (claim, send,
// accept), one more when the body is kept aside, and one for a duplicate.
func TestAWSCallsPerDelivery(t *testing.T) {
	for _, name := range benchPayloads {
		t.Run(name, func(t *testing.T) {
			fresh, dup, aside := callsPerDelivery(t, loadBenchPayload(t, name))
			// make bench reads this line.
			t.Logf("aws_calls payload=%s new=%d duplicate=%d aside=%d", name, fresh, dup, aside)
			if fresh != 3 || dup != 1 || aside != 4 {
				t.Fatalf("AWS calls: new %d, duplicate %d, kept aside %d; want 3, 1, 4", fresh, dup, aside)
			}
		})
	}
}
