package messaging

import (
	"errors"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// An event dated more than MaxClockSkew after its receipt is refused with
// ErrAhead, whichever of its times is ahead; one within the skew, or with
// no receipt time, passes.
func TestNotAhead(t *testing.T) {
	received := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	late := received.Add(MaxClockSkew + time.Second)
	within := received.Add(MaxClockSkew)
	wantAhead := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrAhead) || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: %v, want an invalid ErrAhead", what, err)
		}
	}
	wantAhead("message", Message{Timestamp: late}.NotAhead(received))
	wantAhead("status", StatusUpdate{Status: Read, At: late}.NotAhead(received))
	wantAhead("conversation", Conversation{LastActiveAt: late}.NotAhead(received))
	wantAhead("identity change", IdentityChange{At: late}.NotAhead(received))
	wantAhead("marketing", MarketingChange{Preference: MarketingPreference{OccurredAt: late}}.NotAhead(received))
	wantAhead("kapso message", KapsoMessage{Message: Message{Timestamp: late}}.NotAhead(received))
	wantAhead("kapso message's status", KapsoMessage{Message: Message{Timestamp: received},
		Statuses: []StatusUpdate{{Status: Sent, At: received}, {Status: Read, At: late}}}.NotAhead(received))
	wantAhead("kapso message's conversation", KapsoMessage{Message: Message{Timestamp: received},
		Conversation: &Conversation{LastActiveAt: late}}.NotAhead(received))
	year5138, err := unixTime("99999999999")
	if err != nil {
		t.Fatal(err)
	}
	wantAhead("year 5138", Message{Timestamp: year5138}.NotAhead(received))

	for what, err := range map[string]error{
		"within the skew":    Message{Timestamp: within}.NotAhead(received),
		"in the past":        Message{Timestamp: received.Add(-48 * time.Hour)}.NotAhead(received),
		"no receipt time":    Message{Timestamp: year5138}.NotAhead(time.Time{}),
		"no time of its own": StatusUpdate{Status: Sent}.NotAhead(received),
	} {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
}
