package dynamo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
)

func TestMediaStoreContract(t *testing.T) {
	storetest.RunMediaStore(t, func(t *testing.T, _ func() time.Time) storetest.MediaStores {
		s := &dynamo.Messages{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
		return storetest.MediaStores{Messages: s, Reader: s, Media: s}
	})
}

// A message's media copy is attributes of the message item, and its retry
// an item of its own: their stream records tell no event, however the copy
// goes (the publisher reads the bridge table's stream).
func TestMediaChangesTellNoEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	table := awstest.Bridge(awstest.Tables(t))
	ms := &dynamo.Messages{DB: db, Table: table}
	const tenant, number = "acme", "106540352242922"
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	image := messaging.Message{WAMID: "wamid.img", PhoneNumberID: number, Direction: messaging.Inbound, Type: "image",
		Media: &messaging.Media{ID: "1234", MIMEType: "image/jpeg"}, Timestamp: at, ConversationID: "conv-1",
		From: messaging.Person{Phone: "16505551234"}}
	got := readStream(t, db, table, func() {
		must(t, ms.PutMessage(ctx, tenant, image, nil))
		for i, info := range []media.Info{
			{State: media.Failed, Error: media.Failure(media.ReasonUnavailable, "Kapso answered 503"), At: at, Attempts: 1},
			{State: media.Failed, Error: media.Failure(media.ReasonChecksum, "sha256 differs"), At: at, Attempts: 2},
			{State: media.Stored, MIMEType: "image/jpeg", Size: 10, SHA256: "ab", Key: "acme/1/1234", At: at},
		} {
			must(t, ms.SetMedia(ctx, tenant, image.WAMID, info, at.Add(time.Duration(i+1)*time.Hour)))
		}
	})
	if want := []string{"message.received wamid.img (webhook)"}; !slices.Equal(got.told(), want) {
		t.Errorf("told %q, want %q", got.told(), want)
	}
	// The put and each media change of the message item; the retry item's
	// put, move and delete.
	if n := got.recordsOf("MSG#acme#wamid.img"); n != 4 {
		t.Errorf("%d records of the message, want 4", n)
	}
	if n := got.recordsOf("MEDIARETRY"); n != 4 {
		t.Errorf("%d records of the retry items, want 4", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
