package messagesworker_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// metaText is a Meta delivery of one text from maria.
func metaText(number, wamid string, at int64) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"contacts":[{"profile":{"name":"Maria Souza"},"wa_id":"16505551234","user_id":"US.13491208655302741918"}],"messages":[{"from":"16505551234","from_user_id":"US.13491208655302741918","id":%q,"timestamp":"%d","type":"text","text":{"body":"hello"}}]}}]}]}`,
		number, wamid, at)
}

// The worker's bill in the steady state (the number's tenant cached, the
// person known): DynamoDB calls per message event and per status event,
// counted on the real adapters against DynamoDB Local. make bench reports
// the line this logs as aws_calls_per_event.
func TestAWSCallsPerEvent(t *testing.T) {
	var calls awstest.Calls
	db := awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	table := awstest.Bridge(awstest.Tables(t))
	// With a message retention: the expiries travel in the same writes (a
	// century, so DynamoDB Local, which deletes by the machine's clock,
	// deletes nothing of these past-dated events).
	retention := messaging.Retention{Days: 36500}
	r := newRig(t, stores{store: &dynamo.Messages{DB: db, Table: table, Retention: retention},
		pending: &dynamo.Pending{DB: db, Table: table, Retention: retention},
		numbers: &dynamo.Numbers{DB: db, Table: table}, rejects: &memstore.Rejects{}})
	const n = 20
	at := int64(1773150000)
	r.handle(r.meta(numberA, metaText(numberA, "wamid.warm", at))) // caches the tenant, meets the person

	per := func(f func(i int)) float64 {
		calls.Reset()
		for i := range n {
			f(i)
		}
		return float64(calls.Total()) / n
	}
	message := per(func(i int) {
		r.handle(r.meta(numberA, metaText(numberA, fmt.Sprintf("wamid.in%d", i), at+int64(i)+1)))
	})
	duplicate := per(func(i int) {
		r.handle(r.meta(numberA, metaText(numberA, fmt.Sprintf("wamid.in%d", i), at+int64(i)+1)))
	})
	status := per(func(i int) {
		r.handle(r.meta(numberA, metaStatus(numberA, fmt.Sprintf("wamid.out%d", i), "sent", at+100)))
	})
	next := per(func(i int) {
		r.handle(r.meta(numberA, metaStatus(numberA, fmt.Sprintf("wamid.out%d", i), "delivered", at+110)))
	})
	dupStatus := per(func(i int) {
		r.handle(r.meta(numberA, metaStatus(numberA, fmt.Sprintf("wamid.out%d", i), "delivered", at+110)))
	})
	// make bench reads this line.
	t.Logf("aws_calls_per_event message=%.2f duplicate_message=%.2f status=%.2f next_status=%.2f duplicate_status=%.2f",
		message, duplicate, status, next, dupStatus)
	if message > 3 || status > 1 || next > 1 || dupStatus > 1 {
		t.Fatalf("calls per event: message %.2f (want ≤ 3), statuses %.2f, %.2f, %.2f (want ≤ 1)", message, status, next, dupStatus)
	}
}
