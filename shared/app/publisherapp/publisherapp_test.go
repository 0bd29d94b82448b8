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
		env := map[string]string{config.BridgeTable.Name: "bridge", config.EventsTable.Name: "events",
			config.EventsTopicARN.Name: "arn:aws:sns:us-east-1:123456789012:events", config.EventsRetentionDays.Name: set}
		b := app.Base{Env: func(k string) string { return env[k] }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			AWS: aws.Config{Region: "us-east-1"}}
		w, err := publisherapp.Worker(context.Background(), b, publisherapp.NewClients(b.AWS))
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := w.Feed.(*dynamo.Feed); !ok || f.Retention != want || f.Table != "events" {
			t.Errorf("EVENTS_RETENTION_DAYS=%q: feed %+v, want retention %v", set, w.Feed, want)
		}
	}
}
