package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
)

func event(id, typ, subject string, version int64, status string) bridgeevents.Event {
	data := []byte(`{}`)
	if status != "" {
		data = fmt.Appendf(nil, `{"status":%q}`, status)
	}
	return bridgeevents.Event{ID: id, Type: typ, Subject: subject, Version: version, Data: data}
}

// The stored state of a small run: two inbound messages, an outbound one
// that reached sent then read, and two sends, one accepted then sent (the
// sent told under its WAMID), one failed unsent.
func smallRun() *chaos {
	return &chaos{
		stored: map[string]storedMessage{
			"wamid.in1":  {direction: "inbound", known: true},
			"wamid.in2":  {direction: "inbound", known: true},
			"wamid.out1": {direction: "outbound", status: "read"},
			"wamid.api1": {direction: "outbound", status: "sent"},
		},
		checked: map[string]*expected{
			"wamid.out1": {statuses: map[string]bool{"sent": true, "?read": true}},
			"wamid.api1": {statuses: map[string]bool{"sent": true}},
		},
		finalSends: map[string]sendView{
			"out_1": {ID: "out_1", WAMID: "wamid.api1", Status: "sent"},
			"out_2": {ID: "out_2", Status: "failed", FailureReason: "rejected"},
		},
	}
}

func complete() map[string]bridgeevents.Event {
	got := map[string]bridgeevents.Event{}
	for _, e := range []bridgeevents.Event{
		event("e1", bridgeevents.MessageReceived, "message:wamid.in1", 1, ""),
		event("e2", bridgeevents.MessageReceived, "message:wamid.in2", 1, ""),
		event("e3", bridgeevents.MessageStatusChanged, "message:wamid.out1", 5, "sent"),
		event("e4", bridgeevents.MessageStatusChanged, "message:wamid.out1", 8, "read"),
		event("e5", bridgeevents.MessageStatusChanged, "message:out_1", 1, "queued"),
		event("e6", bridgeevents.MessageStatusChanged, "message:out_1", 2, "sending"),
		event("e7", bridgeevents.MessageStatusChanged, "message:out_1", 4, "accepted"),
		event("e8", bridgeevents.MessageStatusChanged, "message:wamid.api1", 5, "sent"),
		event("e9", bridgeevents.MessageStatusChanged, "message:out_2", 1, "queued"),
		event("e10", bridgeevents.MessageStatusChanged, "message:out_2", 2, "sending"),
		event("e11", bridgeevents.MessageStatusChanged, "message:out_2", 3, "unknown"),
		event("e12", bridgeevents.MessageStatusChanged, "message:out_2", 4, "failed"),
		event("e13", bridgeevents.ConversationStatusChanged, "conversation:c1", 4, ""),
	} {
		got[e.ID] = e
	}
	return got
}

func TestEventChecksPassOnEveryChangeOnce(t *testing.T) {
	var notes []string
	f := smallRun().wants().check(complete(), func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) })
	if f != (eventFindings{}) || len(notes) > 0 {
		t.Fatalf("findings %+v: %v", f, notes)
	}
}

func TestEventChecksFindEachMismatch(t *testing.T) {
	cases := map[string]struct {
		change func(got map[string]bridgeevents.Event)
		want   eventFindings
	}{
		"a stored message without message.received": {func(got map[string]bridgeevents.Event) { delete(got, "e2") },
			eventFindings{receivedMissing: 1}},
		"a message received under two ids": {func(got map[string]bridgeevents.Event) {
			got["x"] = event("x", bridgeevents.MessageReceived, "message:wamid.in1", 1, "")
		}, eventFindings{receivedDoubled: 1}},
		"a message.received of no stored message": {func(got map[string]bridgeevents.Event) {
			got["x"] = event("x", bridgeevents.MessageReceived, "message:wamid.never", 1, "")
		}, eventFindings{orphans: 1}},
		"a send's claim untold": {func(got map[string]bridgeevents.Event) { delete(got, "e6") },
			eventFindings{statusMissing: 1}},
		"a send's delivery status untold": {func(got map[string]bridgeevents.Event) { delete(got, "e8") },
			eventFindings{statusMissing: 1}},
		"a send's status under two ids": {func(got map[string]bridgeevents.Event) {
			got["x"] = event("x", bridgeevents.MessageStatusChanged, "message:out_1", 5, "sent")
		}, eventFindings{statusDoubled: 1}},
		"a status the message never reached": {func(got map[string]bridgeevents.Event) {
			got["x"] = event("x", bridgeevents.MessageStatusChanged, "message:wamid.out1", 6, "delivered")
		}, eventFindings{orphans: 1}},
		"a failed send told accepted": {func(got map[string]bridgeevents.Event) {
			got["x"] = event("x", bridgeevents.MessageStatusChanged, "message:out_2", 4, "accepted")
		}, eventFindings{orphans: 1}},
		"a status of no message": {func(got map[string]bridgeevents.Event) {
			got["x"] = event("x", bridgeevents.MessageStatusChanged, "message:out_9", 1, "queued")
		}, eventFindings{orphans: 1}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := complete()
			c.change(got)
			var notes []string
			f := smallRun().wants().check(got, func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) })
			if f != c.want || len(notes) == 0 {
				t.Fatalf("findings %+v, want %+v; notes %v", f, c.want, notes)
			}
		})
	}
}

func TestReceiverTakesOnlyVerifiedEvents(t *testing.T) {
	secret, err := bridgeevents.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReceiver(secret, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := bridgeevents.Secret(secret)
	body := []byte(`{"id":"evt_1","type":"message.received","timestamp":"2026-12-07T10:00:00Z","tenant_id":"acme","source":"webhook","subject":"message:wamid.1","version":1,"data":{}}`)
	post := func(id string, sign []byte, body []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
		now := time.Now()
		req.Header.Set(bridgeevents.HeaderID, id)
		req.Header.Set(bridgeevents.HeaderTimestamp, fmt.Sprint(now.Unix()))
		req.Header.Set(bridgeevents.HeaderSignature, bridgeevents.Sign(sign, id, now, body))
		w := httptest.NewRecorder()
		r.serve(w, req)
		return w.Code
	}
	if st := post("evt_1", []byte(strings.Repeat("k", 32)), body); st != http.StatusUnauthorized {
		t.Errorf("another key: %d", st)
	}
	if st := post("evt_2", key, body); st != http.StatusBadRequest {
		t.Errorf("webhook-id not the event's: %d", st)
	}
	for range 2 {
		if st := post("evt_1", key, body); st != http.StatusNoContent {
			t.Errorf("signed: %d", st)
		}
	}
	got, counts, _ := r.snapshot()
	if len(got) != 1 || counts.Attempts != 4 || counts.BadSignature != 1 || counts.NotEvent != 1 || counts.Duplicates != 1 {
		t.Fatalf("got %v, counts %+v", got, counts)
	}
	r.failRate = 1
	if st := post("evt_1", key, body); st != http.StatusInternalServerError {
		t.Errorf("failing: %d", st)
	}
	if _, counts, _ := r.snapshot(); counts.Failed != 1 || counts.Duplicates != 1 {
		t.Fatalf("counts %+v", counts)
	}
}
