package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// MediaStores is a media.Store and the messages store it keeps its Info
// on: the messages are put through Messages and read through Reader.
type MediaStores struct {
	Messages messaging.Store
	Reader   messaging.Reader
	Media    media.Store
}

// inboundImage is an inbound image message with its media id.
func inboundImage(wamid string, ts time.Time) messaging.Message {
	return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Inbound, Type: "image",
		Media:     &messaging.Media{ID: "media-" + wamid, MIMEType: "image/jpeg", Caption: "a cat"},
		Timestamp: ts, From: ana, ConversationID: "conv-1"}
}

func storedInfo(wamid string, at time.Time) media.Info {
	return media.Info{State: media.Stored, MIMEType: "image/jpeg", Size: 1234,
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Key:    media.ObjectKey(tenantA, number, "media-"+wamid), At: at, Attempts: 1}
}

func failedInfo(reason string, at time.Time, attempts int) media.Info {
	return media.Info{State: media.Failed, Error: media.Failure(reason, "Kapso answered 503"), At: at, Attempts: attempts}
}

func mediaState(t *testing.T, s media.Store, tenant, wamid string) media.Info {
	t.Helper()
	info, ok, err := s.MediaState(context.Background(), tenant, wamid)
	if err != nil || !ok {
		t.Fatalf("media state of %s: ok %v, %v", wamid, ok, err)
	}
	return info
}

func dueRetries(t *testing.T, s media.Store, now time.Time, limit int) []media.Retry {
	t.Helper()
	rs, err := s.DueMediaRetries(context.Background(), now, limit)
	if err != nil {
		t.Fatalf("due media retries at %s: %v", now, err)
	}
	return rs
}

func sameInfo(t *testing.T, what string, got, want media.Info) {
	t.Helper()
	if !got.At.Equal(want.At) {
		t.Errorf("%s: at %s, want %s", what, got.At, want.At)
	}
	got.At, want.At = time.Time{}, time.Time{}
	equal(t, what, got, want)
}

// RunMediaStore is the contract of a media.Store.
func RunMediaStore(t *testing.T, newStores func(t *testing.T, now func() time.Time) MediaStores) {
	ctx := context.Background()
	a := media.Retry{TenantID: tenantA, WAMID: "wamid.a"}
	run(t, newStores, map[string]func(t *testing.T, s MediaStores, clk *testclock.Clock){
		"a message with media is pending until a state is set": func(t *testing.T, s MediaStores, _ *testclock.Clock) {
			must(t, s.Messages.PutMessage(ctx, tenantA, inboundImage("wamid.a", at(1)), nil))
			must(t, s.Messages.PutMessage(ctx, tenantA, messaging.Message{WAMID: "wamid.text", PhoneNumberID: number,
				Direction: messaging.Inbound, Type: "text", Text: "hi", Timestamp: at(1), From: ana}, nil))
			equal(t, "image", mediaState(t, s.Media, tenantA, "wamid.a"), media.Info{State: media.Pending})
			// As recorded, the message has no copy yet.
			equal(t, "as the message reads", message(t, s.Reader, tenantA, "wamid.a").MediaCopy, media.Info{})
			equal(t, "text", mediaState(t, s.Media, tenantA, "wamid.text"), media.Info{})
			for _, k := range [][2]string{{tenantA, "wamid.never"}, {tenantB, "wamid.a"}} {
				if info, ok, err := s.Media.MediaState(ctx, k[0], k[1]); ok || err != nil {
					t.Errorf("%s of %s: %+v, ok %v, %v; want not found", k[1], k[0], info, ok, err)
				}
			}
		},
		"the state of a message not stored is refused": func(t *testing.T, s MediaStores, _ *testclock.Clock) {
			must(t, s.Messages.PutMessage(ctx, tenantA, inboundImage("wamid.a", at(1)), nil))
			err := s.Media.SetMedia(ctx, tenantB, "wamid.a", failedInfo(media.ReasonUnavailable, at(2), 1), at(3))
			if errs.CodeOf(err) != errs.NotFound {
				t.Errorf("set media of another tenant's message: %v, want not found", err)
			}
			equal(t, "retries", dueRetries(t, s.Media, at(60), 10), []media.Retry(nil))
			if _, ok, _ := s.Media.MediaState(ctx, tenantB, "wamid.a"); ok {
				t.Error("setting media made the message")
			}
			// A copy that ends after its message was erased: the message
			// is not made again, nor any item naming its person.
			err = s.Media.SetMedia(ctx, tenantB, "wamid.a", storedInfo("wamid.a", at(2)), time.Time{})
			if errs.CodeOf(err) != errs.NotFound {
				t.Errorf("record a copy of a message not stored: %v, want not found", err)
			}
			if _, ok, _ := s.Media.MediaState(ctx, tenantB, "wamid.a"); ok {
				t.Error("recording a copy made the message")
			}
			if m, ok, _ := s.Reader.Message(ctx, tenantB, "wamid.a"); ok {
				t.Errorf("recording a copy made the message: %+v", m)
			}
		},
		"a failed copy that may succeed is a retry due at next": func(t *testing.T, s MediaStores, _ *testclock.Clock) {
			must(t, s.Messages.PutMessage(ctx, tenantA, inboundImage("wamid.a", at(1)), nil))
			failed := failedInfo(media.ReasonUnavailable, at(2), 1)
			must(t, s.Media.SetMedia(ctx, tenantA, "wamid.a", failed, at(10)))
			sameInfo(t, "failed", mediaState(t, s.Media, tenantA, "wamid.a"), failed)
			sameInfo(t, "failed, as the message reads", message(t, s.Reader, tenantA, "wamid.a").MediaCopy, failed)
			equal(t, "before due", dueRetries(t, s.Media, at(10).Add(-time.Nanosecond), 10), []media.Retry(nil))
			equal(t, "due", dueRetries(t, s.Media, at(10), 10), []media.Retry{a})
			// Failing again moves the retry; it is still one.
			again := failedInfo(media.ReasonChecksum, at(11), 2)
			must(t, s.Media.SetMedia(ctx, tenantA, "wamid.a", again, at(70)))
			sameInfo(t, "failed again", mediaState(t, s.Media, tenantA, "wamid.a"), again)
			equal(t, "moved: not due at the old time", dueRetries(t, s.Media, at(69), 10), []media.Retry(nil))
			equal(t, "moved: due at the new time", dueRetries(t, s.Media, at(70), 10), []media.Retry{a})
		},
		"stored is final and ends the retry": func(t *testing.T, s MediaStores, _ *testclock.Clock) {
			must(t, s.Messages.PutMessage(ctx, tenantA, inboundImage("wamid.a", at(1)), nil))
			must(t, s.Media.SetMedia(ctx, tenantA, "wamid.a", failedInfo(media.ReasonUnavailable, at(2), 1), at(10)))
			stored := storedInfo("wamid.a", at(12))
			must(t, s.Media.SetMedia(ctx, tenantA, "wamid.a", stored, time.Time{}))
			equal(t, "retries once stored", dueRetries(t, s.Media, at(600), 10), []media.Retry(nil))
			for _, later := range []media.Info{failedInfo(media.ReasonUnavailable, at(13), 2), {State: media.Pending, At: at(13)},
				storedInfo("wamid.other", at(14))} {
				must(t, s.Media.SetMedia(ctx, tenantA, "wamid.a", later, at(20)))
				sameInfo(t, fmt.Sprintf("after %s", later.State), mediaState(t, s.Media, tenantA, "wamid.a"), stored)
			}
			equal(t, "retries after later states", dueRetries(t, s.Media, at(600), 10), []media.Retry(nil))
			// The message reads with its copy, alone and listed, its own
			// content untouched.
			got := message(t, s.Reader, tenantA, "wamid.a")
			equal(t, "message", got.Message, inboundImage("wamid.a", at(1)))
			sameInfo(t, "stored, as the message reads", got.MediaCopy, stored)
			listed, _, err := s.Reader.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 10})
			must(t, err)
			if len(listed) != 1 {
				t.Fatalf("listed %d messages, want 1", len(listed))
			}
			sameInfo(t, "stored, as the message lists", listed[0].MediaCopy, stored)
		},
		"a permanent failure is no retry": func(t *testing.T, s MediaStores, _ *testclock.Clock) {
			must(t, s.Messages.PutMessage(ctx, tenantA, inboundImage("wamid.a", at(1)), nil))
			must(t, s.Media.SetMedia(ctx, tenantA, "wamid.a", failedInfo(media.ReasonUnavailable, at(2), 1), at(10)))
			tooLarge := failedInfo(media.ReasonTooLarge, at(11), 2)
			must(t, s.Media.SetMedia(ctx, tenantA, "wamid.a", tooLarge, at(20)))
			sameInfo(t, "too large", mediaState(t, s.Media, tenantA, "wamid.a"), tooLarge)
			equal(t, "retries", dueRetries(t, s.Media, at(600), 10), []media.Retry(nil))
		},
		"due retries come oldest first, per tenant, up to the limit": func(t *testing.T, s MediaStores, _ *testclock.Clock) {
			due := map[media.Retry]int{
				{TenantID: tenantA, WAMID: "wamid.3"}: 30, {TenantID: tenantB, WAMID: "wamid.3"}: 10,
				{TenantID: tenantA, WAMID: "wamid.1"}: 20, {TenantID: tenantA, WAMID: "wamid.2"}: 40,
				{TenantID: tenantB, WAMID: "wamid.9"}: 90,
			}
			for r, minute := range due {
				must(t, s.Messages.PutMessage(ctx, r.TenantID, inboundImage(r.WAMID, at(1)), nil))
				must(t, s.Media.SetMedia(ctx, r.TenantID, r.WAMID, failedInfo(media.ReasonUnavailable, at(2), 1), at(minute)))
			}
			equal(t, "due at 40", dueRetries(t, s.Media, at(40), 10), []media.Retry{
				{TenantID: tenantB, WAMID: "wamid.3"}, {TenantID: tenantA, WAMID: "wamid.1"},
				{TenantID: tenantA, WAMID: "wamid.3"}, {TenantID: tenantA, WAMID: "wamid.2"}})
			equal(t, "limit 2", dueRetries(t, s.Media, at(40), 2), []media.Retry{
				{TenantID: tenantB, WAMID: "wamid.3"}, {TenantID: tenantA, WAMID: "wamid.1"}})
			// The same WAMID of another tenant is another message.
			must(t, s.Media.SetMedia(ctx, tenantB, "wamid.3", storedInfo("wamid.3", at(41)), time.Time{}))
			equal(t, "after tenant B's is stored", dueRetries(t, s.Media, at(40), 10), []media.Retry{
				{TenantID: tenantA, WAMID: "wamid.1"}, {TenantID: tenantA, WAMID: "wamid.3"},
				{TenantID: tenantA, WAMID: "wamid.2"}})
			equal(t, "tenant A's", mediaState(t, s.Media, tenantA, "wamid.3").State, media.Failed)
		},
		"a stored copy racing failed ones stays stored": func(t *testing.T, s MediaStores, _ *testclock.Clock) {
			must(t, s.Messages.PutMessage(ctx, tenantA, inboundImage("wamid.a", at(1)), nil))
			stored := storedInfo("wamid.a", at(5))
			var wg sync.WaitGroup
			errc := make(chan error, 9)
			for i := range 9 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 4 {
						errc <- s.Media.SetMedia(ctx, tenantA, "wamid.a", stored, time.Time{})
						return
					}
					errc <- s.Media.SetMedia(ctx, tenantA, "wamid.a", failedInfo(media.ReasonUnavailable, at(2+i), i+1), at(10+i))
				}()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				must(t, err)
			}
			sameInfo(t, "after the race", mediaState(t, s.Media, tenantA, "wamid.a"), stored)
			equal(t, "retries after the race", dueRetries(t, s.Media, at(600), 10), []media.Retry(nil))
		},
	})
}
