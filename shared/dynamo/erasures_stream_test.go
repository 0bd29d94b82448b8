package dynamo_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// An erasure tells contact.erased once, from the stream record of the
// save that makes it done, and the event names none of its identities;
// its other saves, its lock and tombstones tell nothing.
func TestTheStreamTellsAnErasureDoneOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	table := awstest.Bridge(awstest.Tables(t))
	s := &dynamo.Erasures{DB: db, Table: table}
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ids := erasure.Identities{Phone: "15550001111", BSUIDs: []string{"US.100"}}
	j, err := erasure.NewJob("era_stream1", "acme", "111", "personhash", ids, at)
	if err != nil {
		t.Fatal(err)
	}
	stones := []erasure.Tombstone{{TenantID: "acme", PhoneNumberID: "111", Hash: "personhash", ErasedAt: at, JobID: j.ID}}
	got := readStream(t, db, table, func() {
		if _, _, err := s.Open(ctx, j, stones); err != nil {
			t.Fatal(err)
		}
		for j.State.Open() {
			next := j.Advanced(erasure.Progress{Messages: 1}, "", true, at.Add(3*time.Minute))
			if err := s.Save(ctx, next, j.Position); err != nil {
				t.Fatal(err)
			}
			j = next
		}
	})
	if len(got.events) != 1 || got.events[0].Type != bridgeevents.ContactErased || got.events[0].Subject != "erasure:era_stream1" {
		t.Fatalf("events %+v", got.events)
	}
	raw, _ := json.Marshal(got.events[0])
	for _, id := range []string{"15550001111", "US.100", "personhash"} {
		if strings.Contains(string(raw), id) {
			t.Errorf("contact.erased names %s: %s", id, raw)
		}
	}
	var data bridgeevents.ContactErasure
	if err := json.Unmarshal(got.events[0].Data, &data); err != nil || data.ErasureID != j.ID || data.Erased.Messages != j.Progress.Messages ||
		!data.ErasedAt.Equal(j.DoneAt) {
		t.Errorf("data %s: %v", got.events[0].Data, err)
	}
}
