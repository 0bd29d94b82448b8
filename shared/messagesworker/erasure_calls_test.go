package messagesworker_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// guardedReader is the worker's store behind the erasure guard, with the
// read side the rig checks through.
type guardedReader struct {
	*erasure.Guarded
	messaging.Reader
}

// The guard's bill: on a number that never had an erasure, nothing more
// per event than without it (its mark is read once per MarkTTL, with the
// tenant); on a number that had one, one BatchGetItem of tombstones more
// per write: three per message event (message, conversation, contact), one
// per status event. A status to the erased person reads its message once
// more, and is dropped, its message not being stored: two calls, no
// write. Counted on the real adapters against DynamoDB Local, as
// TestAWSCallsPerEvent counts the worker's own.
func TestAWSCallsPerEventBehindTheErasureGuard(t *testing.T) {
	var calls awstest.Calls
	db := awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	table := awstest.Bridge(awstest.Tables(t))
	msgs := &dynamo.Messages{DB: db, Table: table}
	jobs := &dynamo.Erasures{DB: db, Table: table}
	h, err := erasure.NewHasher([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	g := &erasure.Guarded{Store: msgs, Marks: jobs, Guard: erasure.Guard{Hasher: h, Tombstones: jobs}, Messages: msgs}
	r := newRig(t, stores{store: guardedReader{g, msgs}, pending: &dynamo.Pending{DB: db, Table: table},
		numbers: &dynamo.Numbers{DB: db, Table: table}, rejects: &memstore.Rejects{}})
	r.connect(tenantA, numberB)
	at := int64(1773150000)
	// Someone else was erased from number B, an hour before: B is marked,
	// A is not.
	j, err := erasure.NewJob("era_1", tenantA, numberB, "h", erasure.Identities{Phone: "15550009999"}, time.Unix(at-3600, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := jobs.Open(context.Background(), j, []erasure.Tombstone{{TenantID: tenantA, PhoneNumberID: numberB,
		Hash: h.Person(tenantA, numberB, "phone:15550009999"), ErasedAt: j.RequestedAt, JobID: j.ID}}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	per := func(f func(i int)) float64 {
		calls.Reset()
		for i := range n {
			f(i)
		}
		return float64(calls.Total()) / n
	}
	bill := func(number string) (message, status float64) {
		r.handle(r.meta(number, metaText(number, "wamid.warm"+number, at))) // caches the tenant and the mark
		message = per(func(i int) {
			r.handle(r.meta(number, metaText(number, fmt.Sprintf("wamid.in%s-%d", number, i), at+int64(i)+1)))
		})
		status = per(func(i int) {
			r.handle(r.meta(number, metaStatus(number, fmt.Sprintf("wamid.out%s-%d", number, i), "sent", at+100)))
		})
		return message, status
	}
	message, status := bill(numberA)
	marked, markedStatus := bill(numberB)
	// Statuses to the erased person, dated after the erasure, of messages
	// the erasure deleted.
	erasedStatus := per(func(i int) {
		r.handle(r.meta(numberB, bytes.ReplaceAll(metaStatus(numberB, fmt.Sprintf("wamid.erased-%d", i), "read", at+200),
			[]byte(`"16505551234"`), []byte(`"15550009999"`))))
	})
	t.Logf("aws_calls_per_event_behind_erasure_guard unmarked_message=%.2f unmarked_status=%.2f marked_message=%.2f marked_status=%.2f erased_status=%.2f",
		message, status, marked, markedStatus, erasedStatus)
	if message > 3 || status > 1 || marked > 6 || markedStatus > 2 || erasedStatus > 2 {
		t.Fatalf("calls per event: unmarked %.2f, %.2f (want ≤ 3, 1); marked %.2f, %.2f, to the erased %.2f (want ≤ 6, 2, 2)",
			message, status, marked, markedStatus, erasedStatus)
	}
	if _, ok, _ := msgs.Message(context.Background(), tenantA, "wamid.erased-0"); ok {
		t.Fatal("a status to the erased person of a message not stored was stored")
	}
	if _, ok, _ := msgs.Message(context.Background(), tenantA, "wamid.in"+numberB+"-0"); !ok {
		t.Fatal("someone else's message on the marked number was dropped")
	}
}
