package docs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// worldMaxExport bounds a person's export in the world: Alice's fits,
// Dora's does not.
const worldMaxExport = 32 << 10

// doraPhone is a person of number 111 with more messages than an export
// of the world takes.
const doraPhone = "15550003333"

// seedExport stores Dora's long messages.
func (w *world) seedExport(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
	dora := messaging.Person{Phone: doraPhone, Name: "Dora"}
	for i := range 10 {
		must(t, w.messages.PutMessage(ctx, tenant, messaging.Message{WAMID: "wamid.dora" + string(rune('a'+i)), PhoneNumberID: "111",
			Direction: messaging.Inbound, Type: "text", Text: strings.Repeat("long ", 800), Timestamp: t0.Add(time.Duration(i) * time.Minute),
			From: dora, To: messaging.Person{Phone: "15550009999"}, ConversationID: "conv-dora"}, nil))
	}
	must(t, w.messages.PutConversation(ctx, tenant, messaging.Conversation{ID: "conv-dora", PhoneNumberID: "111", Person: dora,
		Status: messaging.ConversationEnded, LastActiveAt: t0.Add(10 * time.Minute)}))
	must(t, w.messages.PutContact(ctx, tenant, "111", dora, messaging.Sighting{At: t0, Inbound: true, ConversationID: "conv-dora"}))
}

// exportRequests are the situations of a person's export. They come
// before the erasures, which leave the world's contacts as they are (the
// world runs no erasure).
func exportRequests() []request {
	contact := "/v1/tenants/" + tenant + "/numbers/111/contacts/"
	get := func(name, path string, want int, invalid bool) request {
		return request{name: name, method: "GET", path: path, header: auth, want: want, invalid: invalid}
	}
	return []request{
		get("by current BSUID", contact+"US.200/export", 200, false),
		get("by phone", contact+"15550001111/export", 200, false),
		get("an unknown contact", contact+"US.999/export", 404, false),
		get("on another tenant's number", "/v1/tenants/zeta/numbers/111/contacts/US.200/export", 404, false),
		get("a contact with spaces", contact+"%2B1%20555/export", 400, true),
		get("an unknown query parameter", contact+"US.200/export?format=csv", 400, true),
		get("more than one answer takes", contact+doraPhone+"/export", 422, false),
	}
}
