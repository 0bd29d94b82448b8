package messaging_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// A claim counts an attempt and records its token, a failure why, an
// accept the WAMID; every move records its state and time, in UTC.
func TestTransitionApply(t *testing.T) {
	from := []messaging.OutboundState{messaging.OutQueued, messaging.OutUnknown}
	at := base.In(time.FixedZone("UTC-3", -3*3600))
	m := messaging.OutboundMessage{ID: "out_1", State: messaging.OutQueued, Attempts: 1, Claim: "c-0"}
	claim := messaging.Transition{From: from, To: messaging.OutSending, At: at, Claim: "c-1"}
	if !claim.Allows(messaging.OutQueued) || claim.Allows(messaging.OutSending) {
		t.Error("Allows does not follow From")
	}
	got := claim.Apply(m)
	want := messaging.OutboundMessage{ID: "out_1", State: messaging.OutSending, Attempts: 2, Claim: "c-1", UpdatedAt: base}
	if !reflect.DeepEqual(got, want) || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("claimed: %+v", got)
	}
	cause := &messaging.StatusError{Code: 131026, Title: "Undeliverable"}
	failed := messaging.Transition{From: from, To: messaging.OutFailed, At: at, Reason: messaging.ReasonRejected, Error: cause}.Apply(got)
	cause.Code = 0
	if failed.State != messaging.OutFailed || failed.Reason != messaging.ReasonRejected || failed.Error == nil ||
		failed.Error.Code != 131026 || failed.Attempts != 2 || failed.Claim != "c-1" {
		t.Errorf("failed: %+v", failed)
	}
	accepted := messaging.Transition{From: from, To: messaging.OutAccepted, At: at, WAMID: "wamid.1"}.Apply(got)
	if accepted.State != messaging.OutAccepted || accepted.WAMID != "wamid.1" || accepted.Attempts != 2 {
		t.Errorf("accepted: %+v", accepted)
	}
}

// A created message is queued, whatever the caller set.
func TestCreated(t *testing.T) {
	m := messaging.OutboundMessage{ID: "out_1", State: messaging.OutFailed, WAMID: "wamid.1", Reason: messaging.ReasonRejected,
		Error: &messaging.StatusError{Code: 1}, Text: "hi"}.Created()
	if !reflect.DeepEqual(m, messaging.OutboundMessage{ID: "out_1", State: messaging.OutQueued, Text: "hi"}) {
		t.Errorf("%+v", m)
	}
}
