package lifecycleworker

import (
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

func TestKapsoStateConfirms(t *testing.T) {
	for _, c := range []struct {
		state kapsoState
		event string
		want  bool
	}{
		{kapsoState{Status: "CONNECTED"}, kapso.EventPhoneNumberDisconnected, false},
		{kapsoState{Status: "DISCONNECTED"}, kapso.EventPhoneNumberDisconnected, true},
		{kapsoState{Gone: true}, kapso.EventPhoneNumberDisconnected, true},
		{kapsoState{Status: "CONNECTED"}, kapso.EventPhoneNumberDeleted, false},
		{kapsoState{Gone: true}, kapso.EventPhoneNumberDeleted, true},
		{kapsoState{Status: "MIGRATED"}, kapso.EventPhoneNumberOffboarded, true},
		{kapsoState{Status: "DISCONNECTED"}, kapso.EventPhoneNumberReconnected, false},
		{kapsoState{Status: "CONNECTED"}, kapso.EventPhoneNumberReconnected, true},
		{kapsoState{Status: "FLAGGED"}, kapso.EventAccountRestricted, true},
		{kapsoState{Status: "CONNECTED"}, kapso.EventAccountRestricted, false},
		{kapsoState{Status: "BANNED"}, kapso.EventAccountDisabled, true},
		{kapsoState{Status: "RESTRICTED"}, kapso.EventAccountDisabled, false},
		{kapsoState{Status: "CONNECTED"}, kapso.EventAccountReinstated, true},
		{kapsoState{Gone: true}, kapso.EventAccountReinstated, false},
		{kapsoState{Status: ""}, kapso.EventPhoneNumberDisconnected, false},
		{kapsoState{Status: "CONNECTED"}, "whatsapp.phone_number.unknown", false},
	} {
		if got := c.state.confirms(c.event); got != c.want {
			t.Errorf("%+v confirms %s: %v, want %v", c.state, c.event, got, c.want)
		}
	}
}
