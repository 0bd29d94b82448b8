package stack_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// A first template to a person never seen is answered with a conversation
// id derived from the number and the person; Kapso's sent webhook then
// names its own conversation. The id the 202 gave keeps listing the
// message, as Kapso's does.
func TestTheConversationIDOfAFirstSendKeepsWorking(t *testing.T) {
	s := startStackEvery(t, "1h")
	connect(t, s, "acme")
	status, body := send(t, s, "acme", "first-contact-1",
		`{"to":"+16505550000","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	if status != http.StatusAccepted {
		t.Fatalf("template to a new person: %d %v", status, body)
	}
	id := fmt.Sprint(message(body)["id"])
	derived, _ := message(body)["conversation_id"].(string)
	if !messaging.IsDerivedConversationID(derived) {
		t.Fatalf("answered conversation %q, want a derived id", derived)
	}
	// The sent webhook moves the message to Kapso's conversation.
	m := waitMessage(t, s, "acme", id, func(m map[string]any) bool {
		c, _ := m["conversation_id"].(string)
		return m["status"] == "sent" && c != "" && c != derived
	})
	kapsoConv := fmt.Sprint(m["conversation_id"])
	if strings.HasPrefix(kapsoConv, "meta:") {
		t.Fatalf("Kapso's conversation %q", kapsoConv)
	}
	if n := listed(t, s, "acme", kapsoConv, id); n != 1 {
		t.Errorf("Kapso's conversation lists the message %d times", n)
	}
	// The message moves to Kapso's conversation in one write and the
	// derived id gets its alias in the next, so the alias may land a moment
	// after the move is seen.
	n := 0
	poll.Until(5*time.Second, 20*time.Millisecond, func() bool { n = listed(t, s, "acme", derived, id); return n == 1 })
	if n != 1 {
		t.Errorf("the conversation id the send was answered with lists the message %d times", n)
	}
}
