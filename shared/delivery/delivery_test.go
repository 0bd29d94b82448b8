package delivery_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/shared/delivery"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

func message(t *testing.T, id string, d envelope.Delivery, body []byte) events.SQSMessage {
	t.Helper()
	m, err := envelope.Encode(d, body)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: id, Body: m}
}

func intake(labelled bool) (delivery.Intake, *memstore.Payloads, *memstore.Rejects) {
	p, r := &memstore.Payloads{}, &memstore.Rejects{}
	return delivery.Intake{Payloads: p, Rejects: r, Log: slog.New(slog.DiscardHandler), Level: slog.LevelWarn,
		Labelled: labelled}, p, r
}

func TestOpenGivesTheBodyInlineOrStoredAside(t *testing.T) {
	ctx := context.Background()
	in, payloads, rejects := intake(true)
	d := envelope.Delivery{Source: envelope.SourceKapsoProject, Key: "k-inline", ReceivedAt: time.Now().UTC()}
	got, body, ok, err := in.Open(ctx, message(t, "m1", d, []byte(`{"a":1}`)))
	if !ok || err != nil || got.Key != "k-inline" || string(body) != `{"a":1}` {
		t.Fatalf("inline: %+v %q %v %v", got, body, ok, err)
	}
	if err := payloads.Put(ctx, "ref-1", []byte(`{"big":true}`)); err != nil {
		t.Fatal(err)
	}
	d.Key, d.BodyRef = "k-aside", "ref-1"
	got, body, ok, err = in.Open(ctx, message(t, "m2", d, nil))
	if !ok || err != nil || got.Key != "k-aside" || string(body) != `{"big":true}` {
		t.Fatalf("stored aside: %+v %q %v %v", got, body, ok, err)
	}
	if kept, _ := rejects.List(ctx, time.Now()); len(kept) != 0 {
		t.Fatalf("kept aside: %+v", kept)
	}
}

// A body not found may be a read that raced its write: the message fails,
// to be delivered again, and nothing is kept aside.
func TestOpenFailsWhenTheStoredBodyCannotBeLoaded(t *testing.T) {
	ctx := context.Background()
	in, _, rejects := intake(true)
	d := envelope.Delivery{Source: envelope.SourceKapsoProject, Key: "k", BodyRef: "missing", ReceivedAt: time.Now().UTC()}
	if _, _, ok, err := in.Open(ctx, message(t, "m", d, nil)); ok || !errors.Is(err, envelope.ErrBodyNotFound) {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	in.Payloads = nil
	if _, _, ok, err := in.Open(ctx, message(t, "m", d, nil)); ok || err == nil {
		t.Fatalf("without a payload store: ok %v, err %v", ok, err)
	}
	if kept, _ := rejects.List(ctx, time.Now()); len(kept) != 0 {
		t.Fatalf("kept aside: %+v", kept)
	}
}

// A message in no known format is kept aside whole, under its message ID,
// at the time SQS took it in, and acknowledged.
func TestOpenKeepsAMalformedMessageAside(t *testing.T) {
	ctx := context.Background()
	sent := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	msg := events.SQSMessage{MessageId: "m-bad", Body: "not a delivery",
		Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(sent.UnixMilli(), 10)}}
	for _, labelled := range []bool{true, false} {
		in, _, rejects := intake(labelled)
		if _, _, ok, err := in.Open(ctx, msg); ok || err != nil {
			t.Fatalf("labelled %v: ok %v, err %v", labelled, ok, err)
		}
		kept, _ := rejects.List(ctx, sent)
		want := "malformed queue message: no header line"
		if labelled {
			want = "unusable: " + want
		}
		if len(kept) != 1 || kept[0].ID != "message#m-bad" || kept[0].Reason != want ||
			string(kept[0].Raw) != "not a delivery" || !kept[0].ReceivedAt.Equal(sent) {
			t.Fatalf("labelled %v: kept %+v", labelled, kept)
		}
	}
	in, _, _ := intake(true)
	in.Rejects = nil
	if _, _, ok, err := in.Open(ctx, msg); ok || err == nil {
		t.Fatalf("without a reject store: ok %v, err %v", ok, err)
	}
}

func TestKeepAsideBoundsTheReason(t *testing.T) {
	ctx := context.Background()
	in, _, rejects := intake(true)
	at := time.Now().UTC()
	if err := in.KeepAside(ctx, "ev#0", delivery.Suspicious, strings.Repeat("é", 2000), at, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	kept, _ := rejects.List(ctx, at)
	if len(kept) != 1 {
		t.Fatalf("kept %+v", kept)
	}
	r := kept[0].Reason
	if !strings.HasPrefix(r, "suspicious: é") || !strings.HasSuffix(r, "é…") || !utf8.ValidString(r) ||
		len(r) > delivery.MaxReasonBytes+len("…") {
		t.Fatalf("reason of %d bytes: %q…%q", len(r), r[:20], r[len(r)-10:])
	}
}
