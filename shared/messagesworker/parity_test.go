package messagesworker_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
)

// person is one side of the parity conversations.
type person struct {
	phone, bsuid, parent, username, name string
}

var (
	maria = person{phone: "16505551234", bsuid: "US.13491208655302741918", parent: "US.ENT.11815799212886844830",
		username: "@maria.souza", name: "Maria Souza"}
	hidden = person{bsuid: "BR.88001122334455667788", username: "@ana", name: "Ana"}
)

// inbound is one message a person sends, as Meta's message object.
type inbound struct {
	from   person
	conv   string // Kapso's conversation id
	object map[string]any
}

func parityMessages() []inbound {
	msg := func(id string, ts int64, typ string, body map[string]any) map[string]any {
		m := map[string]any{"id": id, "timestamp": fmt.Sprint(ts), "type": typ}
		for k, v := range body {
			m[k] = v
		}
		return m
	}
	return []inbound{
		{maria, "conv-maria", msg("wamid.P1", 1773150000, "text", map[string]any{"text": map[string]any{"body": "Oi, tudo bem?"}})},
		{maria, "conv-maria", msg("wamid.P2", 1773150060, "image", map[string]any{
			"image":   map[string]any{"id": "media-1", "mime_type": "image/jpeg", "caption": "o recibo"},
			"context": map[string]any{"from": "15550783881", "id": "wamid.P1"}})},
		{maria, "conv-maria", msg("wamid.P3", 1773150120, "reaction", map[string]any{
			"reaction": map[string]any{"message_id": "wamid.P1", "emoji": ""}})},
		{maria, "conv-maria", msg("wamid.P4", 1773150180, "location", map[string]any{
			"location": map[string]any{"latitude": -23.55, "longitude": -46.63, "name": "Loja", "address": "Av. Paulista"}})},
		{hidden, "conv-ana", msg("wamid.P5", 1773150240, "text", map[string]any{"text": map[string]any{"body": "sem telefone"}})},
	}
}

// outbound statuses of one message the business sent.
var parityStatuses = []struct {
	status string
	at     int64
}{{"sent", 1773150300}, {"delivered", 1773150310}, {"read", 1773150320}}

const outboundWAMID = "wamid.OUT1"

// kapsoForms are the Kapso-format deliveries of the parity traffic: each
// inbound message, and the read event of the outbound one.
func kapsoForms(number string) (bodies [][]byte, names []string) {
	for _, in := range parityMessages() {
		m := map[string]any{"to": "15550783881", "from_user_id": in.from.bsuid, "username": in.from.username,
			"kapso": map[string]any{"direction": "inbound", "status": "received", "origin": "cloud_api",
				"contact_name": in.from.name}}
		if in.from.phone != "" {
			m["from"] = in.from.phone
		}
		if in.from.parent != "" {
			m["from_parent_user_id"] = in.from.parent
		}
		for k, v := range in.object {
			m[k] = v
		}
		conv := map[string]any{"id": in.conv, "phone_number_id": number, "business_scoped_user_id": in.from.bsuid,
			"parent_business_scoped_user_id": in.from.parent, "username": in.from.username, "status": "active"}
		if in.from.phone != "" {
			conv["phone_number"] = "+" + in.from.phone
		}
		b, _ := json.Marshal(map[string]any{"message": m, "conversation": conv, "phone_number_id": number})
		bodies, names = append(bodies, b), append(names, "whatsapp.message.received")
	}
	var statuses []any
	for _, s := range parityStatuses {
		statuses = append(statuses, map[string]any{"id": outboundWAMID, "status": s.status, "timestamp": fmt.Sprint(s.at),
			"recipient_id": maria.phone, "recipient_user_id": maria.bsuid})
	}
	out := map[string]any{"id": outboundWAMID, "timestamp": "1773150299", "type": "text",
		"text": map[string]any{"body": "Seu pedido saiu"}, "from": "15550783881", "to": maria.phone, "to_user_id": maria.bsuid,
		"kapso": map[string]any{"direction": "outbound", "status": "read", "statuses": statuses}}
	b, _ := json.Marshal(map[string]any{"message": out, "phone_number_id": number,
		"conversation": map[string]any{"id": "conv-maria", "phone_number_id": number, "phone_number": "+" + maria.phone,
			"business_scoped_user_id": maria.bsuid}})
	return append(bodies, b), append(names, "whatsapp.message.read")
}

// metaForm is the same traffic as one Meta-format delivery: Meta's webhooks
// carry the business's own messages only as statuses.
func metaForm(number string) []byte {
	var changes []any
	for _, in := range parityMessages() {
		m := map[string]any{"from_user_id": in.from.bsuid}
		if in.from.phone != "" {
			m["from"] = in.from.phone
		}
		if in.from.parent != "" {
			m["from_parent_user_id"] = in.from.parent
		}
		for k, v := range in.object {
			m[k] = v
		}
		contact := map[string]any{"profile": map[string]any{"name": in.from.name, "username": in.from.username},
			"user_id": in.from.bsuid}
		if in.from.phone != "" {
			contact["wa_id"] = in.from.phone
		}
		if in.from.parent != "" {
			contact["parent_user_id"] = in.from.parent
		}
		changes = append(changes, map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": number},
			"contacts":          []any{contact}, "messages": []any{m}}})
	}
	var statuses []any
	for _, s := range parityStatuses {
		statuses = append(statuses, map[string]any{"id": outboundWAMID, "status": s.status, "timestamp": fmt.Sprint(s.at),
			"recipient_id": maria.phone, "recipient_user_id": maria.bsuid})
	}
	changes = append(changes, map[string]any{"field": "messages", "value": map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": number},
		"statuses":          statuses}})
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": changes}}})
	return b
}

// Kapso-format and Meta-format traffic for the same messages end in the
// same stored result, as the read API shows it. Tenant A's number gets the
// Kapso form, tenant B's the Meta form; only what one format cannot carry
// differs: Kapso's own fields and conversation ids, and the content of the
// business's own message, which Meta reports as statuses alone.
func TestKapsoAndMetaFormsStoreTheSame(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		r.connect(tenantB, numberB)
		bodies, names := kapsoForms(numberA)
		for i := range bodies {
			r.handle(r.kapso(numberA, names[i], bodies[i]))
		}
		r.handle(r.meta(numberB, metaForm(numberB)))

		api := &tenantapi.API{Token: "t", Messages: r.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		mux := http.NewServeMux()
		api.Register(mux)
		get := func(tenant, path string) map[string]any {
			t.Helper()
			req := httptest.NewRequest(http.MethodGet, "/v1/tenants/"+tenant+path, nil)
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s for %s: %d %s", path, tenant, rec.Code, rec.Body)
			}
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		comparable := func(v map[string]any, keep ...string) map[string]any {
			for _, k := range []string{"kapso", "conversation_id", "phone_number_id"} {
				delete(v, k)
			}
			if len(keep) > 0 {
				out := map[string]any{}
				for _, k := range keep {
					out[k] = v[k]
				}
				return out
			}
			return v
		}
		for _, in := range parityMessages() {
			id := in.object["id"].(string)
			k, m := comparable(get(tenantA, "/messages/"+id)), comparable(get(tenantB, "/messages/"+id))
			if !reflect.DeepEqual(k, m) {
				t.Errorf("%s\nkapso %v\nmeta  %v", id, k, m)
			}
			if k["text"] == "" || k["from"] == nil {
				t.Errorf("%s: %v", id, k)
			}
		}
		keep := []string{"direction", "status", "statuses"}
		k := comparable(get(tenantA, "/messages/"+outboundWAMID), keep...)
		m := comparable(get(tenantB, "/messages/"+outboundWAMID), keep...)
		if !reflect.DeepEqual(k, m) || k["status"] != "read" {
			t.Errorf("outbound\nkapso %v\nmeta  %v", k, m)
		}

		contacts := func(tenant string) []string {
			var out []string
			for _, c := range get(tenant, "/conversations")["conversations"].([]any) {
				c := c.(map[string]any)
				b, _ := json.Marshal([]any{c["contact"], c["status"], c["last_active_at"]})
				out = append(out, string(b))
			}
			sort.Strings(out)
			return out
		}
		if k, m := contacts(tenantA), contacts(tenantB); !reflect.DeepEqual(k, m) || len(k) != 2 {
			t.Errorf("conversations\nkapso %v\nmeta  %v", k, m)
		}
	})
}
