package lifecycleworker_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// change makes Kapso's state of the number what change says. The
// simulator has no project webhook here, so nothing is delivered: the test
// hands the worker the event itself.
func (s *stack) change(number, change string) {
	s.t.Helper()
	if _, _, err := s.sim.ChangeNumber(number, change, "meta_token_expired"); err != nil && !errors.Is(err, kapsosim.ErrNoWebhook) {
		s.t.Fatal(err)
	}
}

func lifecycleEvent(id, name, number string, at time.Time) envelope.Event {
	body, _ := json.Marshal(map[string]any{"phone_number_id": number, "reason": "meta_token_expired"})
	return envelope.Event{ID: id, Source: envelope.SourceKapsoProject, Name: name, ReceivedAt: at, Payload: body}
}

func timelineHas(conn onboarding.Connection, kind onboarding.FactKind) bool {
	for _, e := range conn.Timeline {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// A signed body replayed under another event name and key (only the body
// is signed) changes nothing: Kapso still shows the number connected, so
// the claim is recorded as suspicious and the tenant stays connected.
func TestReplayedBodyUnderAnotherNameChangesNothing(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	created := createdEvent("c#0", number, customer, "acme")
	s.handle(created)
	before := s.load("acme")

	at := time.Now().Add(time.Minute)
	for i, name := range []string{kapso.EventPhoneNumberDisconnected, kapso.EventPhoneNumberDeleted,
		kapso.EventPhoneNumberOffboarded, kapso.EventAccountDisabled, kapso.EventAccountRestricted} {
		replay := created
		replay.ID, replay.Name, replay.ReceivedAt = "replay"+string(rune('0'+i))+"#0", name, at
		s.handle(replay)
	}
	conn := s.load("acme")
	n, _ := conn.PhoneNumber(number)
	if conn.Tenant.Status != onboarding.TenantConnected || n.Status != onboarding.NumberStatusConnected || n.Restricted {
		t.Fatalf("after replays: tenant %s, number %s restricted %v", conn.Tenant.Status, n.Status, n.Restricted)
	}
	if !timelineHas(conn, onboarding.FactSuspiciousWebhook) || len(conn.Timeline) != len(before.Timeline)+5 {
		t.Fatalf("timeline: %+v", conn.Timeline)
	}
}

// Each event that takes something away or gives it back changes the tenant
// once Kapso's state bears it out, and not before.
func TestLifecycleEventsChangeWhatKapsoConfirms(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	s.handle(createdEvent("c#0", number, customer, "acme"))
	at := time.Now()
	step := func(id, event, change string, want onboarding.PhoneNumberStatus) {
		t.Helper()
		at = at.Add(time.Minute)
		s.handle(lifecycleEvent(id+"-early", event, number, at)) // before Kapso shows it: suspicious
		if n, _ := s.load("acme").PhoneNumber(number); n.Status == want && want != onboarding.NumberStatusConnected {
			t.Fatalf("%s applied before Kapso showed it", event)
		}
		s.change(number, change)
		at = at.Add(time.Minute)
		s.handle(lifecycleEvent(id, event, number, at))
		if n, _ := s.load("acme").PhoneNumber(number); n.Status != want {
			t.Fatalf("after %s: number %s, want %s", event, n.Status, want)
		}
	}
	step("d", kapso.EventPhoneNumberDisconnected, "disconnected", onboarding.NumberStatusDisconnected)
	if st := s.load("acme").Tenant.Status; st != onboarding.TenantReconnectRequired {
		t.Fatalf("tenant %s after disconnection", st)
	}
	step("r", kapso.EventPhoneNumberReconnected, "reconnected", onboarding.NumberStatusConnected)
	step("x", kapso.EventAccountDisabled, "disabled", onboarding.NumberStatusAccountDisabled)
	step("i", kapso.EventAccountReinstated, "reinstated", onboarding.NumberStatusConnected)
	step("del", kapso.EventPhoneNumberDeleted, "deleted", onboarding.NumberStatusDeleted)
}

// connectedNumber is acme's number, connected, with the worker on a test
// clock.
func connectedNumber(t *testing.T) (*stack, string, *testclock.Clock) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	s.handle(createdEvent("c#0", number, customer, "acme"))
	clock := testclock.New(time.Now())
	s.worker.Now = clock.Now
	return s, number, clock
}

// The reconciler's check finds what Kapso shows and the stored state lacks,
// records it once, and changes nothing when they agree.
func TestCorrectNumberFollowsKapso(t *testing.T) {
	s, number, clock := connectedNumber(t)
	ctx := context.Background()
	correct := func(want bool) {
		t.Helper()
		changed, err := s.worker.CorrectNumber(ctx, "acme", number)
		if err != nil || changed != want {
			t.Fatalf("changed %v, want %v (%v)", changed, want, err)
		}
	}
	correct(false)
	for _, c := range []struct {
		change string
		want   onboarding.PhoneNumberStatus
	}{
		{"disconnected", onboarding.NumberStatusDisconnected},
		{"reconnected", onboarding.NumberStatusConnected},
		{"disabled", onboarding.NumberStatusAccountDisabled},
		{"reinstated", onboarding.NumberStatusConnected},
		{"deleted", onboarding.NumberStatusDeleted},
	} {
		clock.Advance(time.Millisecond) // facts found at distinct instants
		s.change(number, c.change)
		correct(true)
		correct(false)
		if n, _ := s.load("acme").PhoneNumber(number); n.Status != c.want {
			t.Fatalf("after %s: %s", c.change, n.Status)
		}
	}
}

// The reconciler's check records the number's health from the same answer:
// once when first read, again only when Kapso shows it changed, never for
// a number no longer connected.
func TestCorrectNumberRecordsHealthOnChange(t *testing.T) {
	s, number, clock := connectedNumber(t)
	ctx := context.Background()
	readings := func() int {
		n := 0
		for _, e := range s.load("acme").Timeline {
			if e.Kind == onboarding.FactHealthRead {
				n++
			}
		}
		return n
	}
	check := func(wantReadings int, quality, name string) {
		t.Helper()
		clock.Advance(time.Minute)
		if changed, err := s.worker.CorrectNumber(ctx, "acme", number); err != nil || changed {
			t.Fatalf("CorrectNumber = %v, %v", changed, err)
		}
		n, _ := s.load("acme").PhoneNumber(number)
		h, read := n.Health()
		if got := readings(); got != wantReadings || !read || h.QualityRating != quality || h.NameStatus != name {
			t.Fatalf("%d readings, health %+v (read %v); want %d, %s %s", got, h, read, wantReadings, quality, name)
		}
	}
	check(1, "GREEN", "APPROVED")
	if h, _ := s.load("acme").PhoneNumbers[0].Health(); h.MessagingLimitTier != "TIER_1K" || h.Throughput != "STANDARD" {
		t.Fatalf("first reading %+v", h)
	}
	check(1, "GREEN", "APPROVED") // unchanged: nothing written
	if err := s.sim.SetNumberHealth(number, kapsosim.NumberHealth{QualityRating: "RED"}); err != nil {
		t.Fatal(err)
	}
	check(2, "RED", "APPROVED")
	check(2, "RED", "APPROVED")
	if err := s.sim.SetNumberHealth(number, kapsosim.NumberHealth{QualityRating: "GREEN", NameStatus: "DECLINED"}); err != nil {
		t.Fatal(err)
	}
	check(3, "GREEN", "DECLINED")
	// Disconnected: the correction is recorded, the health is not read.
	if err := s.sim.SetNumberHealth(number, kapsosim.NumberHealth{QualityRating: "YELLOW"}); err != nil {
		t.Fatal(err)
	}
	s.change(number, "disconnected")
	if changed, err := s.worker.CorrectNumber(ctx, "acme", number); err != nil || !changed || readings() != 3 {
		t.Fatalf("disconnected: changed %v, %v, %d readings", changed, err, readings())
	}
}
