package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// A send whose outbound item an erasure deleted (with its person) is not
// made again by any move of the outbound worker or the reconciler: the
// claim, the stale claim's unknown, the accept with the worker's copy of
// the content (the write that also makes the message item), the
// reconciler's adoption and its unconfirmed failure each find it gone,
// and the table holds nothing naming the person.
func TestMovesOfAnErasedSendMakeNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	table := awstest.Bridge(awstest.Tables(t))
	ms := &dynamo.Messages{DB: db, Table: table}
	const phone = "16505551234"
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	req := messaging.OutboundRequest{PhoneNumberID: "106540352242922", To: "+" + phone, Type: messaging.OutTypeText,
		OutContent: messaging.OutContent{Text: &messaging.OutText{Body: "Your order shipped"}}}
	m, err := messaging.NewOutbound("acme", "key-1", req, "106540352242922", "", at)
	if err != nil {
		t.Fatal(err)
	}
	m.ConversationID = messaging.MetaConversationID(m.PhoneNumberID, messaging.Person{Phone: phone})
	if _, _, err := ms.CreateOutbound(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "OUT#acme#" + m.ID}, "sk": &types.AttributeValueMemberS{Value: "OUT"}}}); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []messaging.Transition{
		{From: []messaging.OutboundState{messaging.OutQueued}, To: messaging.OutSending, Claim: "c1"},
		{From: []messaging.OutboundState{messaging.OutSending}, To: messaging.OutUnknown},
		{From: []messaging.OutboundState{messaging.OutSending, messaging.OutUnknown}, To: messaging.OutAccepted,
			WAMID: "wamid.sent", Content: &m},
		{From: []messaging.OutboundState{messaging.OutUnknown, messaging.OutSending}, To: messaging.OutAccepted,
			WAMID: "wamid.adopted"},
		{From: []messaging.OutboundState{messaging.OutUnknown}, To: messaging.OutFailed, Reason: messaging.ReasonUnconfirmed},
	} {
		tr.At = at.Add(time.Minute)
		if _, err := ms.MoveOutbound(ctx, "acme", m.ID, tr); !errors.Is(err, messaging.ErrOutboundNotFound) {
			t.Errorf("move to %s: %v, want not found", tr.To, err)
		}
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if s := awstest.Strings(it); strings.Contains(s, phone) || strings.Contains(s, m.ID) || strings.Contains(s, "wamid.") {
			t.Errorf("an item of the erased send: %s", s)
		}
	}
}
