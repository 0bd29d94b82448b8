package publisherapp_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/publisherapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
)

// The feed keeps events EVENTS_RETENTION_DAYS, whose default is the
// domain's retention.
func TestTheFeedKeepsEventsTheDaysSet(t *testing.T) {
	days, err := strconv.Atoi(config.EventsRetentionDays.Default)
	if err != nil || time.Duration(days)*24*time.Hour != eventing.Retention {
		t.Errorf("EVENTS_RETENTION_DAYS default %q, eventing.Retention %v", config.EventsRetentionDays.Default, eventing.Retention)
	}
	for set, want := range map[string]time.Duration{"": eventing.Retention, "7": 7 * 24 * time.Hour} {
		if f := feed(t, set, ""); f.Retention != want || f.Table != "events" {
			t.Errorf("EVENTS_RETENTION_DAYS=%q: feed %+v, want retention %v", set, f, want)
		}
	}
}

// feed is the feed of the publisher built with those retentions.
func feed(t *testing.T, eventsDays, messagesDays string) *dynamo.Feed {
	t.Helper()
	env := map[string]string{config.BridgeTable.Name: "bridge", config.EventsTable.Name: "events",
		config.EventsTopicARN.Name:      "arn:aws:sns:us-east-1:123456789012:events",
		config.EventsRetentionDays.Name: eventsDays, config.MessageRetentionDays.Name: messagesDays}
	b := app.Base{Env: func(k string) string { return env[k] }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AWS: aws.Config{Region: "us-east-1"}}
	w, err := publisherapp.Worker(context.Background(), b, publisherapp.NewClients(b.AWS))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := w.Feed.(*dynamo.Feed)
	if !ok {
		t.Fatalf("feed %T", w.Feed)
	}
	return f
}

// With MESSAGE_RETENTION_DAYS, no event outlives the messages: the feed
// keeps the shorter of the two retentions.
func TestTheFeedKeepsNoEventLongerThanTheMessages(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		events, messages string
		want             time.Duration
	}{{"", "", eventing.Retention}, {"", "7", 7 * day}, {"3", "7", 3 * day}, {"", "90", eventing.Retention}, {"60", "90", 60 * day}} {
		if f := feed(t, c.events, c.messages); f.Retention != c.want {
			t.Errorf("events %q, messages %q days: feed %+v, want retention %v", c.events, c.messages, f, c.want)
		}
	}
}
