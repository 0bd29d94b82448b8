package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// boundsBase is one inbound Kapso text message with every identity field.
const boundsBase = `{"message":{"id":"wamid.bounds","timestamp":"1773151320","type":"text","from":"16505551234",
	"from_user_id":"US.13491208655302741918","username":"@maria","to":"15550783881","text":{"body":"hi"},
	"kapso":{"direction":"inbound","content":"hi","origin":"cloud_api","contact_name":"Maria"}},
	"conversation":{"id":"conv-1","phone_number":"+16505551234","status":"active","phone_number_id":"106540352242922"},
	"phone_number_id":"106540352242922"}`

// with returns raw (a string or bytes) with the value at the dotted path
// set to v (objects on the way are created).
func with[R string | []byte](t *testing.T, raw R, path string, v any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(path, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kapsoNormalised(t *testing.T, body []byte) (KapsoMessage, error) {
	t.Helper()
	ev, err := kapso.DecodeMessageEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	return FromKapsoMessage(kapso.EventMessageReceived, ev)
}

// wantOutOfBounds holds err to a bound's refusal: Invalid, ErrOutOfBounds,
// naming the field, never quoting the value.
func wantOutOfBounds(t *testing.T, err error, field string) {
	t.Helper()
	if !errors.Is(err, ErrOutOfBounds) || errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("got %v, want an invalid ErrOutOfBounds", err)
	}
	if !strings.Contains(err.Error(), field+":") {
		t.Errorf("%q does not name %s", err, field)
	}
	if strings.Contains(err.Error(), strings.Repeat("x", 32)) {
		t.Errorf("the error quotes the value: %.200s", err)
	}
}

func TestKapsoMessageBounds(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	statuses := make([]any, MaxStatuses+1)
	for i := range statuses {
		statuses[i] = map[string]any{"id": "wamid.bounds", "status": "sent", "timestamp": "1773151320"}
	}
	media := func(k string, v any) map[string]any {
		m := map[string]any{"id": "m-1", "mime_type": "image/jpeg"}
		m[k] = v
		return m
	}
	image := func(k string, v any) []byte {
		b := with(t, boundsBase, "message.type", "image")
		return with(t, string(b), "message.image", media(k, v))
	}
	reaction := func(k string, v any) []byte {
		b := with(t, boundsBase, "message.type", "reaction")
		return with(t, string(b), "message.reaction", map[string]any{"message_id": "wamid.x", "emoji": "👍", k: v})
	}
	outbound := with(t, boundsBase, "message.kapso.direction", "outbound")
	failures := func(n int, text string) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"id": "wamid.bounds", "status": "failed", "timestamp": fmt.Sprint(1773151320 + i),
				"errors": []any{map[string]any{"code": 131026, "title": text, "message": text,
					"error_data": map[string]any{"details": text}}}}
		}
		return out
	}
	for _, c := range []struct {
		name, field string
		body        []byte
	}{
		{"a 3,000-byte WAMID", "wamid", with(t, boundsBase, "message.id", "wamid."+x(3000))},
		{"a 2,000-byte conversation id", "conversation_id", with(t, boundsBase, "conversation.id", x(2000))},
		{"a 300 KB text", "text", with(t, boundsBase, "message.text.body", x(300<<10))},
		{"a text one character too long", "text", with(t, boundsBase, "message.text.body", x(MaxTextChars+1))},
		{"a long phone number id", "phone_number_id", with(t, with(t, boundsBase, "conversation.phone_number_id", ""),
			"phone_number_id", x(MaxIDBytes+1))},
		{"a long BSUID", "from.bsuid", with(t, boundsBase, "message.from_user_id", x(MaxIDBytes+1))},
		{"a long parent BSUID", "from.parent_bsuid", with(t, boundsBase, "message.from_parent_user_id", x(MaxIDBytes+1))},
		{"a long phone", "from.phone", with(t, with(t, boundsBase, "message.from", "1"+strings.Repeat("5", MaxIDBytes)),
			"conversation.phone_number", "")},
		{"a long username", "from.username", with(t, boundsBase, "message.username", x(MaxNameChars+1))},
		{"a long name", "from.name", with(t, boundsBase, "message.kapso.contact_name", x(MaxNameChars+1))},
		{"a long recipient", "to.phone", with(t, boundsBase, "message.to", "1"+strings.Repeat("5", MaxIDBytes))},
		{"a long type", "type", with(t, boundsBase, "message.type", x(MaxNameChars+1))},
		{"a long reply id", "reply_to", with(t, boundsBase, "message.context", map[string]any{"id": x(MaxIDBytes + 1)})},
		{"a long caption", "media.caption", image("caption", x(MaxTextChars+1))},
		{"a long filename", "media.filename", image("filename", x(MaxNameChars+1))},
		{"a long MIME type", "media.mime_type", image("mime_type", x(MaxNameChars+1))},
		{"a long media id", "media.id", image("id", x(MaxIDBytes+1))},
		{"a long media link", "media.url", image("link", "https://"+x(MaxURLBytes))},
		{"a long emoji", "reaction.emoji", reaction("emoji", x(MaxNameChars+1))},
		{"a long reacted WAMID", "reaction.message_id", reaction("message_id", x(MaxIDBytes+1))},
		{"a long Kapso content", "kapso.content", with(t, boundsBase, "message.kapso.content", x(MaxTextChars+1))},
		{"a long Kapso origin", "kapso.origin", with(t, boundsBase, "message.kapso.origin", x(MaxNameChars+1))},
		{"a long Kapso media URL", "kapso.media_url", with(t, boundsBase, "message.kapso.media_url", x(MaxURLBytes+1))},
		{"a long transcript", "kapso.transcript", with(t, boundsBase, "message.kapso.transcript", x(MaxTextChars+1))},
		{"too many statuses", "statuses", with(t, outbound, "message.kapso.statuses", statuses)},
		{"a long failure title", "status.error.title", with(t, outbound, "message.kapso.statuses", []any{map[string]any{
			"id": "wamid.bounds", "status": "failed", "timestamp": "1773151320",
			"errors": []any{map[string]any{"code": 131026, "title": x(MaxErrorChars + 1)}}}})},
		{"a long failure detail", "status.error.details", with(t, outbound, "message.kapso.statuses", []any{map[string]any{
			"id": "wamid.bounds", "status": "failed", "timestamp": "1773151320",
			"errors": []any{map[string]any{"code": 131026, "error_data": map[string]any{"details": x(MaxErrorChars + 1)}}}}})},
		// Every field within its bound, together beyond the item's: the
		// message's fields, or its statuses' failures with them.
		{"statuses together too large", "message", with(t, with(t, outbound, "message.text.body", strings.Repeat("é", MaxTextChars)),
			"message.kapso.statuses", failures(MaxStatuses, strings.Repeat("🙂", MaxErrorChars)))},
		{"fields together too large", "message", with(t, with(t, boundsBase, "message.text.body", strings.Repeat("🙂", MaxTextChars)),
			"message.kapso.content", strings.Repeat("é", MaxTextChars))},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := kapsoNormalised(t, c.body)
			wantOutOfBounds(t, err, c.field)
		})
	}

	// At their bounds, counted in characters where the bound is.
	for name, body := range map[string][]byte{
		"a 256-byte WAMID":        with(t, boundsBase, "message.id", x(MaxIDBytes)),
		"a text at its bound":     with(t, boundsBase, "message.text.body", strings.Repeat("é", MaxTextChars)),
		"a name at its bound":     with(t, boundsBase, "message.kapso.contact_name", strings.Repeat("ñ", MaxNameChars)),
		"sixteen statuses":        with(t, outbound, "message.kapso.statuses", statuses[:MaxStatuses]),
		"a conversation at 256":   with(t, boundsBase, "conversation.id", x(MaxIDBytes)),
		"a media link at its cap": image("link", x(MaxURLBytes)),
	} {
		if _, err := kapsoNormalised(t, body); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestOtherEventBounds(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	metaMessage := func(id, name string) meta.MessageEvent {
		return meta.MessageEvent{
			Metadata: meta.Metadata{PhoneNumberID: "106540352242922"},
			Message: meta.Message{ID: id, Timestamp: "1773151320", Type: "text", From: "16505551234",
				Text: &meta.Text{Body: "hi"}},
			Contact: &meta.Contact{WaID: "16505551234", Profile: meta.Profile{Name: name}},
		}
	}
	_, err := FromMetaMessage(metaMessage("wamid."+x(3000), "Maria"))
	wantOutOfBounds(t, err, "wamid")
	_, err = FromMetaMessage(metaMessage("wamid.ok", x(MaxNameChars+1)))
	wantOutOfBounds(t, err, "from.name")

	status := func(id string, e meta.Error) meta.StatusEvent {
		return meta.StatusEvent{Metadata: meta.Metadata{PhoneNumberID: "106540352242922"},
			Status: meta.Status{ID: id, Status: "failed", Timestamp: "1773151320", RecipientID: "16505551234", Errors: []meta.Error{e}}}
	}
	_, err = FromMetaStatus(status("wamid."+x(3000), meta.Error{Code: 1}))
	wantOutOfBounds(t, err, "status.id")
	_, err = FromMetaStatus(status("wamid.ok", meta.Error{Code: 1, Message: x(MaxErrorChars + 1)}))
	wantOutOfBounds(t, err, "status.error.message")

	conv := func(id, phone string) kapso.ConversationEvent {
		return kapso.ConversationEvent{PhoneNumberID: "106540352242922",
			Conversation: kapso.Conversation{ID: id, PhoneNumber: phone, Status: "active"}}
	}
	_, err = FromKapsoConversation(kapso.EventConversationCreated, conv(x(2000), "+16505551234"))
	wantOutOfBounds(t, err, "conversation.id")
	_, err = FromKapsoConversation(kapso.EventConversationCreated, conv("conv-1", "1"+strings.Repeat("5", MaxIDBytes)))
	wantOutOfBounds(t, err, "conversation.phone")

	_, err = FromKapsoIdentityChange(kapso.ContactIdentityChanged{PhoneNumberID: "106540352242922",
		Previous: kapso.ContactIdentity{BusinessScopedUserID: "US.1"},
		Contact:  kapso.Contact{BusinessScopedUserID: "US.2", ProfileName: x(MaxNameChars + 1)}})
	wantOutOfBounds(t, err, "contact.name")
	_, err = FromMetaUserIDUpdate([]byte(`{"wa_id":"1`+strings.Repeat("5", MaxIDBytes)+`","user_id":"US.2","previous_user_id":"US.1"}`),
		"106540352242922")
	wantOutOfBounds(t, err, "contact.phone")

	_, err = FromKapsoMarketingPreference(kapso.MarketingPreferenceChanged{PhoneNumberID: "106540352242922",
		Contact:             kapso.Contact{WaID: "16505551234"},
		MarketingPreference: kapso.MarketingPreference{Status: x(MaxNameChars + 1), Sequence: 1}})
	wantOutOfBounds(t, err, "marketing_preference.status")
}
