package stack_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// exportHolds checks the person's export on the number: their contact,
// and in their conversations exactly the messages inbound and outbound.
func exportHolds(t *testing.T, s *stack.Stack, number, contact string, inbound, outbound []string) {
	t.Helper()
	status, doc := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/"+contact+"/export", "")
	if c, _ := doc["contact"].(map[string]any); status != http.StatusOK || c["phone_number"] != contact {
		t.Fatalf("export: %d %v", status, doc)
	}
	var in, out []string
	convs, _ := doc["conversations"].([]any)
	for _, c := range convs {
		msgs, _ := c.(map[string]any)["messages"].([]any)
		for _, m := range msgs {
			m := m.(map[string]any)
			if m["direction"] == "inbound" {
				in = append(in, m["wamid"].(string))
			} else {
				out = append(out, m["wamid"].(string))
			}
		}
	}
	slices.Sort(in)
	slices.Sort(out)
	if !slices.Equal(in, slices.Sorted(slices.Values(inbound))) || !slices.Equal(out, slices.Sorted(slices.Values(outbound))) {
		t.Errorf("export lists inbound %v and outbound %v, want %v and %v", in, out, inbound, outbound)
	}
}

// exportGone checks the person has no export on the number.
func exportGone(t *testing.T, s *stack.Stack, number, contact string) {
	t.Helper()
	if status, doc := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/"+contact+"/export", ""); status != http.StatusNotFound {
		t.Errorf("export after the erasure: %d %v", status, doc)
	}
}

// erasedOnce waits for the erasure's final sweep, has the reconciler run
// it, and checks the tenant's feed tells contact.erased once for it,
// naming none of the identities.
func erasedOnce(t *testing.T, s *stack.Stack, job map[string]any, identities ...string) {
	t.Helper()
	id := job["id"].(string)
	requested, err := time.Parse(time.RFC3339Nano, job["requested_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(requested.Add(erasure.SweepDelay + time.Second)))
	reconcileNow(t, s)
	status, answer := api(t, s, http.MethodGet, "/v1/tenants/acme/erasures/"+id, "")
	if e, _ := answer["erasure"].(map[string]any); status != http.StatusOK || e["state"] != "done" {
		t.Fatalf("after the final sweep: %d %v", status, answer)
	}
	told := func() []any {
		var out []any
		for _, e := range feedOf(t, s, "acme", bridgeevents.ContactErased) {
			if data, _ := e.(map[string]any)["data"].(map[string]any); data["erasure_id"] == id {
				out = append(out, e)
			}
		}
		return out
	}
	poll.Until(30*time.Second, 200*time.Millisecond, func() bool { return len(told()) > 0 })
	// Settled, an event told twice would be listed twice.
	settled(t, s)
	events := told()
	if len(events) != 1 {
		t.Fatalf("contact.erased of %s told %d times: %v", id, len(events), events)
	}
	raw, _ := json.Marshal(events[0])
	for _, name := range identities {
		if strings.Contains(string(raw), name) {
			t.Errorf("contact.erased names %s: %s", name, raw)
		}
	}
	data := events[0].(map[string]any)["data"].(map[string]any)
	if erased, _ := data["erased"].(map[string]any); erased["messages"] == float64(0) || data["requested_at"] != job["requested_at"] {
		t.Errorf("contact.erased data %v", data)
	}
}
