package stack_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// A person writes three messages, one a photo, and is written to once;
// the tenant erases them: the read API and the bucket no longer hold
// anything of theirs, and the reconciler's catch-up, which reads Kapso's
// history (still holding it), brings nothing back. When they write again,
// that message is stored.
func TestErasedPersonIsGoneAndStaysGone(t *testing.T) {
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"})
	t.Cleanup(s.Stop)
	number, _ := connect(t, s, "acme")
	const phone = "5215512345678"
	ana := map[string]any{"from_phone": "+" + phone, "name": "Ana"}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range ana {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	var wamids []string
	for _, m := range []map[string]any{{"text": "oi"}, {"text": "tudo bem?"}, {"type": "image", "text": "o bolo"}} {
		wamids = append(wamids, sim(t, s, "/_sim/numbers/"+number+"/messages", with(m)).WAMID)
	}
	photo := waitMessage(t, s, "acme", wamids[2], storedMedia)
	photoURL := mediaOf(photo)["url"].(string)
	out := sim(t, s, "/_sim/numbers/"+number+"/outbound", map[string]any{"text": "olá, Ana", "to_phone": phone})
	wamids = append(wamids, out.WAMID)
	for _, w := range wamids {
		waitMessage(t, s, "acme", w, func(map[string]any) bool { return true })
	}
	bob := sim(t, s, "/_sim/numbers/"+number+"/messages", map[string]any{"text": "eu fico", "from_phone": "+5215599999999"}).WAMID
	waitMessage(t, s, "acme", bob, func(map[string]any) bool { return true })

	exportHolds(t, s, number, phone, wamids[:3], wamids[3:])
	status, answer := api(t, s, http.MethodDelete, "/v1/tenants/acme/numbers/"+number+"/contacts/"+phone, "")
	job, _ := answer["erasure"].(map[string]any)
	if status != http.StatusAccepted || job == nil {
		t.Fatalf("DELETE: %d %v", status, answer)
	}
	id := job["id"].(string)
	// The messages worker read the number unmarked while Ana wrote, and
	// keeps that for erasure.MarkTTL: what it stores meanwhile is for the
	// final sweep, minutes later. Past it, the worker sees the mark.
	time.Sleep(erasure.MarkTTL + time.Second)
	rep := reconcileNow(t, s)
	if rep.Erasures.Found != 1 {
		t.Fatalf("the reconciler advanced %+v", rep.Erasures)
	}
	status, answer = api(t, s, http.MethodGet, "/v1/tenants/acme/erasures/"+id, "")
	erased, _ := answer["erasure"].(map[string]any)["erased"].(map[string]any)
	if status != http.StatusOK || erased["messages"] != float64(4) || erased["media_objects"] != float64(1) ||
		erased["contacts"] == float64(0) {
		t.Fatalf("GET erasure: %d %v", status, answer)
	}
	gone := func(when string) {
		t.Helper()
		for _, w := range wamids {
			if status, m := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+w, ""); status != http.StatusNotFound {
				t.Errorf("%s: message %s: %d %v", when, w, status, m)
			}
		}
		if status, c := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/"+phone, ""); status != http.StatusNotFound {
			t.Errorf("%s: contact: %d %v", when, status, c)
		}
		if res, err := http.Get(photoURL); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Errorf("%s: the photo is still in the bucket", when)
			}
		}
	}
	gone("after the erasure")
	exportGone(t, s, number, phone)
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+bob, ""); status != http.StatusOK {
		t.Errorf("someone else's message: %d", status)
	}

	// The catch-up reads Kapso's history again, which still holds Ana's
	// messages: they are handed to the messages worker, which drops them.
	reconcileNow(t, s)
	settled(t, s)
	gone("after the catch-up")

	again := sim(t, s, "/_sim/numbers/"+number+"/messages", with(map[string]any{"text": "voltei"})).WAMID
	waitMessage(t, s, "acme", again, func(map[string]any) bool { return true })
	// The contact is written after the message.
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/"+phone, "")
		return status == http.StatusOK
	}) {
		t.Error("after writing again, the person has no contact")
	}
	erasedOnce(t, s, job, phone, "Ana")
}
