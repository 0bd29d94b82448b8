package tenantapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// exportStack is a tenant API over Ana's and Bo's messages on one number.
type exportStack struct {
	t      *testing.T
	msgs   *memstore.Messages
	jobs   *memstore.Erasures
	tokens *memstore.Tokens
	clock  *testclock.Clock
	api    *tenantapi.API
	mux    *http.ServeMux
}

const exportNumber = "106540352242922"

func newExportStack(t *testing.T, maxBytes int) *exportStack {
	t.Helper()
	h, err := erasure.NewHasher([]byte(strings.Repeat("k", 32)))
	must(t, err)
	s := &exportStack{t: t, msgs: &memstore.Messages{}, jobs: &memstore.Erasures{}, tokens: &memstore.Tokens{},
		clock: testclock.New(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)), mux: http.NewServeMux()}
	s.api = &tenantapi.API{Messages: s.msgs, Erasures: &tenantapi.Erasures{Jobs: s.jobs, Tombstones: s.jobs, Hasher: h},
		Token: apiToken, Tokens: s.tokens, Now: s.clock.Now, MaxExportBytes: maxBytes,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: 5 * time.Second}
	s.api.Register(s.mux)
	ctx := context.Background()
	t0 := s.clock.Now().Add(-2 * time.Hour)
	business := messaging.Person{Phone: "15550009999"}
	ana := messaging.Person{BSUID: "MX.1", Phone: "5215512345678", Name: "Ana"}
	bo := messaging.Person{Phone: "5215587654321", Name: "Bo"}
	for _, m := range []messaging.Message{
		{WAMID: "wamid.ana2", Direction: messaging.Inbound, Text: "second", Timestamp: t0.Add(2 * time.Minute), From: ana, To: business,
			ConversationID: "conv-ana"},
		{WAMID: "wamid.ana1", Direction: messaging.Inbound, Text: "first", Timestamp: t0, From: ana, To: business, ConversationID: "conv-ana",
			Media: &messaging.Media{ID: "media-1", MIMEType: "image/jpeg", Caption: "a cat"}},
		{WAMID: "wamid.bo1", Direction: messaging.Inbound, Text: "Bo's", Timestamp: t0, From: bo, To: business, ConversationID: "conv-bo"},
	} {
		m.PhoneNumberID, m.Type = exportNumber, "text"
		if m.Media != nil {
			m.Type = "image"
		}
		must(t, s.msgs.PutMessage(ctx, "acme", m, nil))
	}
	for _, c := range []messaging.Conversation{
		{ID: "conv-ana", PhoneNumberID: exportNumber, Person: ana, Status: messaging.ConversationActive, LastActiveAt: t0.Add(3 * time.Minute)},
		{ID: "conv-bo", PhoneNumberID: exportNumber, Person: bo, Status: messaging.ConversationActive, LastActiveAt: t0},
	} {
		must(t, s.msgs.PutConversation(ctx, "acme", c))
	}
	must(t, s.msgs.PutContact(ctx, "acme", exportNumber, ana, messaging.Sighting{At: t0.Add(2 * time.Minute), Inbound: true,
		ConversationID: "conv-ana"}))
	must(t, s.msgs.PutContact(ctx, "acme", exportNumber, bo, messaging.Sighting{At: t0, Inbound: true, ConversationID: "conv-bo"}))
	// A send to Ana, through the API, not yet accepted.
	out := messaging.OutboundMessage{ID: messaging.OutboundID("acme", "key-1"), TenantID: "acme", IdempotencyKey: "key-1",
		PhoneNumberID: exportNumber, To: ana, Type: "text", Text: "reply", Body: []byte(`{}`), ConversationID: "conv-ana",
		CreatedAt: t0.Add(5 * time.Minute), UpdatedAt: t0.Add(5 * time.Minute)}
	_, _, err = s.msgs.CreateOutbound(ctx, out)
	must(t, err)
	return s
}

func (s *exportStack) token(scopes ...access.Scope) string {
	s.t.Helper()
	secret, h, err := access.NewSecret(rand.Reader)
	must(s.t, err)
	must(s.t, s.tokens.CreateToken(context.Background(), h, access.Token{Name: "t", Scopes: scopes, CreatedAt: s.clock.Now()}))
	return secret
}

func (s *exportStack) get(path, token string) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return rec
}

func exportPath(contact string) string {
	return "/v1/tenants/acme/numbers/" + exportNumber + "/contacts/" + contact + "/export"
}

// An export is everything of the person on the number, by any of their
// names: the contact, their conversation with every message oldest first
// (the send included, and listed among the sends), their erasures; nothing
// of anyone else.
func TestExportContact(t *testing.T) {
	s := newExportStack(t, 0)
	job, err := erasure.NewJob("era_ana1", "acme", exportNumber, "h", erasure.Identities{Phone: "5215512345678"}, s.clock.Now())
	must(t, err)
	_, _, err = s.jobs.Open(context.Background(), job, []erasure.Tombstone{{TenantID: "acme", PhoneNumberID: exportNumber,
		Hash: s.api.Erasures.Hasher.Person("acme", exportNumber, messaging.Person{Phone: "5215512345678"}.Key()), ErasedAt: s.clock.Now(),
		JobID: job.ID}})
	must(t, err)
	var first string
	for _, name := range []string{"5215512345678", "MX.1"} {
		rec := s.get(exportPath(name), apiToken)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
		}
		var doc tenantapi.ContactExport
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if !doc.ExportedAt.Equal(s.clock.Now()) || doc.Contact.PhoneNumber != "5215512345678" || doc.Contact.BusinessScopedUserID != "MX.1" {
			t.Errorf("%s: exported_at %v, contact %+v", name, doc.ExportedAt, doc.Contact)
		}
		if len(doc.Conversations) != 1 || doc.Conversations[0].ID != "conv-ana" || doc.Conversations[0].Conversation == nil {
			t.Fatalf("%s: conversations %+v", name, doc.Conversations)
		}
		var ids []string
		for _, m := range doc.Conversations[0].Messages {
			ids = append(ids, m.ID+" "+m.Direction)
		}
		want := "wamid.ana1 inbound,wamid.ana2 inbound," + messaging.OutboundID("acme", "key-1") + " outbound"
		if strings.Join(ids, ",") != want {
			t.Errorf("%s: messages %v, want %s", name, ids, want)
		}
		msgs := doc.Conversations[0].Messages
		if msgs[0].MessageContent == nil || msgs[0].Media == nil || msgs[0].Media.MIMEType != "image/jpeg" || msgs[0].Statuses == nil {
			t.Errorf("%s: the image %+v", name, msgs[0])
		}
		if len(doc.Sends) != 1 || doc.Sends[0].ID != messaging.OutboundID("acme", "key-1") || doc.Sends[0].Status != "queued" {
			t.Errorf("%s: sends %+v", name, doc.Sends)
		}
		if len(doc.Erasures) != 1 || doc.Erasures[0] != (tenantapi.ExportErasure{ID: "era_ana1", State: "pending"}) {
			t.Errorf("%s: erasures %+v", name, doc.Erasures)
		}
		if strings.Contains(rec.Body.String(), "Bo") || strings.Contains(rec.Body.String(), "5215587654321") {
			t.Errorf("%s: the export holds another person: %s", name, rec.Body)
		}
		if first == "" {
			first = rec.Body.String()
		} else if rec.Body.String() != first {
			t.Errorf("by %s, another export:\n%s\n%s", name, rec.Body, first)
		}
	}
}

// An unknown person is 404, as the contact's GET answers; a malformed
// path is 400; neither says more than the public message.
func TestExportContactRefuses(t *testing.T) {
	s := newExportStack(t, 0)
	for path, want := range map[string]int{
		exportPath("5215500000000"): http.StatusNotFound,
		"/v1/tenants/globex/numbers/" + exportNumber + "/contacts/MX.1/export": http.StatusNotFound,
		"/v1/tenants/acme/numbers/999/contacts/MX.1/export":                    http.StatusNotFound,
		exportPath("MX%201"): http.StatusBadRequest,
		exportPath(strings.Repeat("9", tenantapi.MaxPathIDBytes+1)):             http.StatusBadRequest,
		"/v1/tenants/ac%20me/numbers/" + exportNumber + "/contacts/MX.1/export": http.StatusBadRequest,
		"/v1/tenants/acme/numbers/1%C3%A9/contacts/MX.1/export":                 http.StatusBadRequest,
		exportPath("MX.1") + "?format=csv":                                      http.StatusBadRequest,
	} {
		rec := s.get(path, apiToken)
		var body struct {
			Error struct{ Code, Message string }
		}
		if rec.Code != want || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code == "" ||
			strings.Contains(body.Error.Message, "memstore") {
			t.Errorf("%s: %d %s, want %d", path, rec.Code, rec.Body, want)
		}
	}
}

// A person with more than an export takes is 422 export_too_large, which
// names the paged routes; nothing of the document is answered.
func TestExportContactTooLarge(t *testing.T) {
	s := newExportStack(t, 2048)
	if rec := s.get(exportPath("5215587654321"), apiToken); rec.Code != http.StatusOK {
		t.Fatalf("Bo's small export: %d %s", rec.Code, rec.Body)
	}
	rec := s.get(exportPath("MX.1"), apiToken)
	var body struct {
		Error struct{ Code, Message string }
	}
	if rec.Code != http.StatusUnprocessableEntity || json.Unmarshal(rec.Body.Bytes(), &body) != nil ||
		body.Error.Code != "export_too_large" || !strings.Contains(body.Error.Message, "/conversations/{conversation_id}/messages") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "wamid.") || strings.Contains(rec.Body.String(), "5215512345678") {
		t.Errorf("a part of the export in the refusal: %s", rec.Body)
	}
	if tenantapi.DefaultMaxExportBytes != 5<<20 {
		t.Errorf("the default bound is %d bytes", tenantapi.DefaultMaxExportBytes)
	}
}

// The export needs read: a read token has it, a token without read is
// 403 insufficient_scope.
func TestExportContactNeedsRead(t *testing.T) {
	s := newExportStack(t, 0)
	if rec := s.get(exportPath("MX.1"), s.token(access.Read)); rec.Code != http.StatusOK {
		t.Errorf("a read token: %d %s", rec.Code, rec.Body)
	}
	rec := s.get(exportPath("MX.1"), s.token(access.Send, access.Erase, access.Onboard))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"insufficient_scope"`) ||
		strings.Contains(rec.Body.String(), "wamid.") {
		t.Errorf("a token without read: %d %s", rec.Code, rec.Body)
	}
}
