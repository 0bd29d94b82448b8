package stack_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// With MESSAGE_RETENTION_DAYS=1, a message Meta dated two days ago is past
// its expiry as soon as it is stored: no read shows it, while a message of
// now in the same conversation, and the conversation its activity keeps,
// are shown. The bridge's own clock cannot be moved: the simulator's is,
// so the old message carries an old time, as a late delivery would.
func TestMessagesPastTheRetentionAreNotShown(t *testing.T) {
	kapsoClock := testclock.NewRunning()
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h", config.MessageRetentionDays.Name: "1"},
		func(o *stack.Options) { o.SimNow = kapsoClock.Now })
	t.Cleanup(s.Stop)
	number, _ := connect(t, s, "acme")
	person := map[string]any{"from_phone": "+5215512345678", "name": "Ana"}
	say := func(text string) string {
		return sim(t, s, "/_sim/numbers/"+number+"/messages", map[string]any{"text": text, "from_phone": person["from_phone"],
			"name": person["name"]}).WAMID
	}
	kapsoClock.Advance(-48 * time.Hour)
	old := say("from two days ago")
	kapsoClock.Advance(48 * time.Hour)
	fresh := waitMessage(t, s, "acme", say("from now"), func(m map[string]any) bool { return true })
	settled(t, s)

	if status, body := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+old, ""); status != http.StatusNotFound {
		t.Errorf("the message past its expiry: %d %v, want 404", status, body)
	}
	conv, _ := fresh["conversation_id"].(string)
	if conv == "" {
		t.Fatalf("the fresh message has no conversation: %v", fresh)
	}
	if n := listed(t, s, "acme", conv, old); n != 0 {
		t.Errorf("the conversation lists the expired message %d times", n)
	}
	if n := listed(t, s, "acme", conv, fresh["id"].(string)); n != 1 {
		t.Errorf("the conversation lists the fresh message %d times", n)
	}
	_, page := api(t, s, http.MethodGet, "/v1/tenants/acme/conversations", "")
	convs, _ := page["conversations"].([]any)
	if len(convs) != 1 || convs[0].(map[string]any)["id"] != conv {
		t.Errorf("conversations %v, want the one kept by the fresh message", page)
	}
}
