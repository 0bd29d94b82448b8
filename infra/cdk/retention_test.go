package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// messageRetentionDays reaches every function that reads it, and the media
// bucket keeps no object longer than the messages: the shorter of the two
// retentions expires its objects.
func TestMessageRetentionDays(t *testing.T) {
	s, err := synth(map[string]string{"eventsWebhookUrl": testEventsWebhookURL, "mediaRetentionDays": "30", "messageRetentionDays": "7"})
	if err != nil {
		t.Fatal(err)
	}
	rules := mediaBucketRules(t, s)
	want := []string{
		`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1},"Id":"abort-incomplete-uploads","Status":"Enabled"}`,
		`{"ExpirationInDays":7,"Id":"expire-objects","Status":"Enabled"}`,
	}
	if !slices.Equal(rules, want) {
		t.Errorf("lifecycle rules = %v, want %v", rules, want)
	}
	for _, fn := range config.Functions {
		_, r := s.tpl.one(t, "AWS::Lambda::Function", strings.ToUpper(string(fn)[:1])+string(fn)[1:]+"Function")
		v, ok := prop(r.Properties, "Environment", "Variables").(map[string]any)[config.MessageRetentionDays.Name]
		if reads := config.MessageRetentionDays.ReadBy(fn); reads != ok || (ok && v != "7") {
			t.Errorf("%s: %s = %v (set %v), want 7 exactly when it reads it (%v)", fn, config.MessageRetentionDays.Name, v, ok, reads)
		}
	}
	assertNagClean(t, s)
}

// The media bucket's expiry is the shorter of the two retentions, either
// alone when the other is unset, none when both are.
func TestMediaBucketRetentionDays(t *testing.T) {
	for _, c := range []struct{ media, messages, want int }{{0, 0, 0}, {30, 0, 30}, {0, 10, 10}, {30, 7, 7}, {5, 90, 5}} {
		b := &bridge{settings: Settings{MediaRetentionDays: c.media, MessageRetentionDays: c.messages}}
		if got := b.retentionDays(schema.MediaBucket); got != c.want {
			t.Errorf("media %d, messages %d: the bucket keeps objects %d days, want %d", c.media, c.messages, got, c.want)
		}
	}
}

// messageRetentionDays is a positive whole number, or unset.
func TestMessageRetentionDaysParsing(t *testing.T) {
	base := map[string]string{"assetDir": "x", "appSuccessUrl": testSuccessURL, "appFailureUrl": testFailureURL}
	for v, want := range map[string]int{"": 0, "1": 1, "365": 365} {
		ctx := map[string]string{"messageRetentionDays": v}
		for k, b := range base {
			ctx[k] = b
		}
		s, err := LoadSettings(mapLookup(ctx), noEnv)
		if err != nil || s.MessageRetentionDays != want {
			t.Errorf("messageRetentionDays=%q: %d, %v; want %d", v, s.MessageRetentionDays, err, want)
		}
	}
	for _, v := range []string{"0", "-3", "7d", "1.5"} {
		ctx := map[string]string{"messageRetentionDays": v}
		for k, b := range base {
			ctx[k] = b
		}
		if _, err := LoadSettings(mapLookup(ctx), noEnv); err == nil || !strings.Contains(err.Error(), "messageRetentionDays must be a positive integer") {
			t.Errorf("messageRetentionDays=%q: err %v, want it refused", v, err)
		}
	}
}
