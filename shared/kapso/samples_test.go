package kapso

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
)

const (
	pnid     = "106540352242922"
	customer = "c2a7e1d4-5b3f-4e8a-a9d6-71f0b2c4e815"
	project  = "6f1c3a52-8d2e-4b7a-9c41-2f5e7d9a1b03"
	waba     = "102290129340398"
	convID   = "0b8e3f2a-6c1d-4e59-a7b3-4d2f8c9e1a70"
	maria    = "US.13491208655302741918"
	joao     = "BR.77210938475610293847"
)

// sampleCase is what one sample file must split into, and a check of its
// decoded content.
type sampleCase struct {
	count int    // number of items
	name  string // every item's name
	pnid  string // every item's phone_number_id
	check func(t *testing.T, items []Item)
}

func one(name, pnid string, check func(t *testing.T, raw json.RawMessage)) sampleCase {
	return sampleCase{count: 1, name: name, pnid: pnid, check: func(t *testing.T, items []Item) {
		check(t, items[0].Payload)
	}}
}

func messageCase(name, wantType, wantStatus string, check func(t *testing.T, ev MessageEvent)) sampleCase {
	return one(name, pnid, func(t *testing.T, raw json.RawMessage) {
		ev, err := DecodeMessageEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ev.PhoneNumberID != pnid || ev.Message.ID == "" || ev.Conversation.ID == "" {
			t.Errorf("ids: phone_number_id %q, message %q, conversation %q", ev.PhoneNumberID, ev.Message.ID, ev.Conversation.ID)
		}
		if ev.Message.Type != wantType || ev.Message.Kapso.Status != wantStatus {
			t.Errorf("type %q status %q, want %q %q", ev.Message.Type, ev.Message.Kapso.Status, wantType, wantStatus)
		}
		if check != nil {
			check(t, ev)
		}
	})
}

func lifecycleCase(name, wantReason string) sampleCase {
	return one(name, pnid, func(t *testing.T, raw json.RawMessage) {
		ev, err := DecodePhoneNumberLifecycle(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ev.PhoneNumberID != pnid || ev.BusinessAccountID != waba || ev.Reason != wantReason {
			t.Errorf("got %+v", ev)
		}
		if ev.Customer == nil || ev.Customer.ExternalCustomerID != "tenant-acme-001" || ev.Project == nil || ev.Project.ID != project {
			t.Errorf("customer %+v project %+v", ev.Customer, ev.Project)
		}
	})
}

func workflowCase(name, wantStatus string, check func(t *testing.T, ev WorkflowEvent)) sampleCase {
	return one(name, "", func(t *testing.T, raw json.RawMessage) {
		ev, err := decodeWorkflowEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Event != name || ev.Status != wantStatus || ev.ProjectID != project || ev.WhatsAppConversationID != convID {
			t.Errorf("got %+v", ev)
		}
		check(t, ev)
	})
}

func conversationCase(name, wantStatus string, check func(t *testing.T, ev ConversationEvent)) sampleCase {
	return one(name, pnid, func(t *testing.T, raw json.RawMessage) {
		ev, err := DecodeConversationEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ev.PhoneNumberID != pnid || ev.Conversation.ID != convID || ev.Conversation.Status != wantStatus {
			t.Errorf("got %+v", ev)
		}
		if ev.Conversation.BusinessScopedUserID != maria {
			t.Errorf("bsuid %q", ev.Conversation.BusinessScopedUserID)
		}
		if check != nil {
			check(t, ev)
		}
	})
}

func sampleCases() map[string]sampleCase {
	outbound := func(wantStatuses int) func(t *testing.T, ev MessageEvent) {
		return func(t *testing.T, ev MessageEvent) {
			if ev.Message.Kapso.Direction != "outbound" || ev.Message.ToUserID != maria || len(ev.Message.Kapso.Statuses) != wantStatuses {
				t.Errorf("direction %q to_user_id %q statuses %d", ev.Message.Kapso.Direction, ev.Message.ToUserID, len(ev.Message.Kapso.Statuses))
			}
			for _, s := range ev.Message.Kapso.Statuses {
				if s.Errors != nil {
					t.Errorf("unexpected errors %+v", s.Errors)
				}
			}
		}
	}
	received := messageCase(EventMessageReceived, "text", "received", func(t *testing.T, ev MessageEvent) {
		if !ev.IsNewConversation || ev.Message.From != "16505551234" || ev.Message.FromUserID != maria || ev.Message.Text == nil || ev.Message.Text.Body != "Oi! Vocês entregam hoje?" {
			t.Errorf("got %+v", ev.Message)
		}
	})
	return map[string]sampleCase{
		"kapso/whatsapp.message.received.json":                           received,
		"kapso/legacy-wrapper.whatsapp.message.received.json":            received,
		"kapso/legacy-wrapper.no-header.whatsapp.message.delivered.json": messageCase(EventMessageDelivered, "text", "delivered", outbound(2)),
		"kapso/whatsapp.message.received.batch.json": {count: 3, name: EventMessageReceived, pnid: pnid, check: func(t *testing.T, items []Item) {
			var types []string
			for _, it := range items {
				ev, err := DecodeMessageEvent(it.Payload)
				if err != nil {
					t.Fatal(err)
				}
				types = append(types, ev.Message.Type)
				if ev.Message.Type == "image" && (len(ev.Message.Image) == 0 || !ev.Message.Kapso.HasMedia || ev.Message.Kapso.MediaURL == "") {
					t.Errorf("image message without media: %+v", ev.Message)
				}
			}
			if !slices.Equal(types, []string{"text", "image", "text"}) {
				t.Errorf("types %v", types)
			}
		}},
		"bench/kapso-message.json": messageCase(EventMessageReceived, "text", "received", nil),
		"bench/kapso-batch-50.json": {count: 50, name: EventMessageReceived, pnid: pnid, check: func(t *testing.T, items []Item) {
			for _, it := range items {
				ev, err := DecodeMessageEvent(it.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if ev.PhoneNumberID != pnid || ev.Message.ID == "" || ev.Conversation.ID == "" || ev.Message.Kapso.Direction != "inbound" {
					t.Errorf("got %+v", ev)
				}
			}
		}},
		"kapso/whatsapp.message.received.batch-empty.json": {count: 0, check: func(*testing.T, []Item) {}},
		"kapso/whatsapp.message.received.bsuid-only.json": messageCase(EventMessageReceived, "text", "received", func(t *testing.T, ev MessageEvent) {
			if ev.Message.From != "" || ev.Conversation.PhoneNumber != "" {
				t.Errorf("phone present: from %q conversation %q", ev.Message.From, ev.Conversation.PhoneNumber)
			}
			if ev.Message.FromUserID != joao || !IsBSUID(ev.Message.FromUserID) || !isParentBSUID(ev.Conversation.ParentBusinessScopedUserID) {
				t.Errorf("bsuids %q %q", ev.Message.FromUserID, ev.Conversation.ParentBusinessScopedUserID)
			}
		}),
		"kapso/whatsapp.message.received.reaction-removal.json": messageCase(EventMessageReceived, "reaction", "received", func(t *testing.T, ev MessageEvent) {
			if !ev.Message.IsReactionRemoval() || ev.Message.Reaction == nil || ev.Message.Reaction.MessageID == "" {
				t.Errorf("reaction %+v", ev.Message.Reaction)
			}
		}),
		"kapso/whatsapp.message.sent.json":      messageCase(EventMessageSent, "text", "sent", outbound(1)),
		"kapso/whatsapp.message.delivered.json": messageCase(EventMessageDelivered, "text", "delivered", outbound(2)),
		"kapso/whatsapp.message.read.json":      messageCase(EventMessageRead, "text", "read", outbound(3)),
		"kapso/whatsapp.message.failed.json": messageCase(EventMessageFailed, "text", "failed", func(t *testing.T, ev MessageEvent) {
			var errs []StatusError
			if st := ev.Message.Kapso.Statuses; len(st) > 0 {
				errs = st[len(st)-1].Errors
			}
			if len(errs) != 1 || errs[0].Code != 131047 || !strings.Contains(errs[0].Details(), "24 hours") {
				t.Errorf("errors %+v", errs)
			}
		}),
		"kapso/whatsapp.conversation.created.json": conversationCase(EventConversationCreated, "active", nil),
		"kapso/whatsapp.conversation.ended.json":   conversationCase(EventConversationEnded, "ended", nil),
		"kapso/whatsapp.conversation.inactive.json": conversationCase(EventConversationInactive, "active", func(t *testing.T, ev ConversationEvent) {
			if ev.Inactivity == nil || ev.Inactivity.Minutes != 60 || ev.SinceMessage == nil || ev.SinceMessage.Direction != "outbound" {
				t.Errorf("inactivity %+v since %+v", ev.Inactivity, ev.SinceMessage)
			}
		}),
		"kapso/whatsapp.contact.identity_changed.json": one(EventContactIdentityChanged, pnid, func(t *testing.T, raw json.RawMessage) {
			ev, err := DecodeContactIdentityChanged(raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Contact.BusinessScopedUserID != maria || ev.Previous.BusinessScopedUserID == maria || !IsBSUID(ev.Previous.BusinessScopedUserID) {
				t.Errorf("got %+v", ev)
			}
		}),
		"kapso/whatsapp.contact.marketing_preference_changed.json": one(EventContactMarketingPreference, pnid, func(t *testing.T, raw json.RawMessage) {
			ev, err := DecodeMarketingPreferenceChanged(raw)
			if err != nil {
				t.Fatal(err)
			}
			if mp := ev.MarketingPreference; mp.Status != "opted_out" || mp.PreviousStatus != "opted_in" || mp.Sequence != 7 || ev.Contact.WaID != "16505551234" {
				t.Errorf("got %+v", ev)
			}
		}),
		"kapso/whatsapp.meta_business_agent.handover.json": conversationCase(EventMetaBusinessAgentHandover, "active", nil),
		"kapso/whatsapp.phone_number.created.json": one(EventPhoneNumberCreated, pnid, func(t *testing.T, raw json.RawMessage) {
			ev, err := DecodeConnectionCreated(EventPhoneNumberCreated, raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Customer.ID != customer || ev.Project.ID != project || ev.BusinessAccountID != "" || ev.IsCoexistence != nil || ev.SetupLink != nil {
				t.Errorf("minimal shape decoded as %+v", ev)
			}
		}),
		"kapso/whatsapp.phone_number.created.full.json": one(EventPhoneNumberCreated, pnid, func(t *testing.T, raw json.RawMessage) {
			ev, err := decodePhoneNumberCreated(raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.BusinessAccountID != waba || ev.IsCoexistence == nil || !*ev.IsCoexistence || ev.SetupLink == nil || ev.SetupLink.Status != "used" || ev.Customer.ExternalCustomerID != "tenant-acme-001" {
				t.Errorf("got %+v", ev)
			}
		}),
		"kapso/whatsapp.config.created.json": one(EventConfigCreated, pnid, func(t *testing.T, raw json.RawMessage) {
			c, err := decodeConfigCreated(raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.PhoneNumber == nil || c.PhoneNumber.PhoneNumber != "+15550783881" || c.SetupLink == nil || !c.SetupLink.ProvisionPhoneNumber || c.CreationContext.Sandbox {
				t.Errorf("got %+v", c)
			}
			ev, err := DecodeConnectionCreated(EventConfigCreated, raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.PhoneNumberID != pnid || ev.BusinessAccountID != waba || ev.Customer.ID != customer || ev.IsCoexistence == nil || *ev.IsCoexistence || ev.DisplayPhoneNumber == "" {
				t.Errorf("as v2: %+v", ev)
			}
		}),
		"kapso/whatsapp.phone_number.deleted.json":      lifecycleCase(EventPhoneNumberDeleted, "deleted_by_user"),
		"kapso/whatsapp.phone_number.offboarded.json":   lifecycleCase(EventPhoneNumberOffboarded, "customer_offboarded"),
		"kapso/whatsapp.phone_number.disconnected.json": lifecycleCase(EventPhoneNumberDisconnected, "meta_token_expired"),
		"kapso/whatsapp.phone_number.reconnected.json":  lifecycleCase(EventPhoneNumberReconnected, ""),
		"kapso/whatsapp.account.disabled.json":          lifecycleCase(EventAccountDisabled, "ACCOUNT_DISABLED"),
		"kapso/whatsapp.account.restricted.json":        lifecycleCase(EventAccountRestricted, "RESTRICTED_ADD_PHONE_NUMBER_ACTION"),
		"kapso/whatsapp.account.reinstated.json":        lifecycleCase(EventAccountReinstated, ""),
		"kapso/whatsapp.account.violation.json":         lifecycleCase(EventAccountViolation, "SCAM"),
		"kapso/workflow.execution.handoff.json": workflowCase(EventWorkflowExecutionHandoff, "handoff", func(t *testing.T, ev WorkflowEvent) {
			if ev.Handoff == nil || ev.Handoff.Source != "agent" || ev.Error != nil {
				t.Errorf("handoff %+v error %+v", ev.Handoff, ev.Error)
			}
		}),
		"kapso/workflow.execution.failed.json": workflowCase(EventWorkflowExecutionFailed, "failed", func(t *testing.T, ev WorkflowEvent) {
			if ev.Error == nil || !strings.Contains(ev.Error.Message, "timed out") || ev.Handoff != nil {
				t.Errorf("handoff %+v error %+v", ev.Handoff, ev.Error)
			}
		}),
		"kapso/project.event.json": one(EventProjectEvent, "", func(t *testing.T, raw json.RawMessage) {
			var body struct {
				ProjectID string `json:"project_id"`
			}
			if err := json.Unmarshal(raw, &body); err != nil || body.ProjectID != project {
				t.Errorf("project_id %q, err %v", body.ProjectID, err)
			}
		}),
		"kapso/kapso_agent.run.completed.json": one("kapso_agent.run.completed", pnid, func(t *testing.T, raw json.RawMessage) {
			if !strings.Contains(string(raw), `"run_id"`) {
				t.Errorf("payload %s", raw)
			}
		}),
		"kapso/unknown.whatsapp.phone_number.quality_changed.json": one("whatsapp.phone_number.quality_changed", pnid, func(t *testing.T, raw json.RawMessage) {
			if !strings.Contains(string(raw), `"YELLOW"`) {
				t.Errorf("payload %s", raw)
			}
		}),
	}
}

// TestSamples splits every sample of the manifest: Kapso samples into the
// expected events, bad ones into ErrMalformed, and Meta payloads (which are
// not Kapso's format) into a single unnamed event, never an error.
func TestSamples(t *testing.T) {
	samples, err := events.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cases := sampleCases()
	covered := map[string]bool{}
	for _, s := range samples {
		t.Run(s.Path, func(t *testing.T) {
			items, err := Split(s.Event, s.Body)
			switch s.Route {
			case events.RouteBad:
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			case events.RouteMeta:
				if err != nil || len(items) != 1 || items[0].Name != EventUnknown || items[0].PhoneNumberID != "" {
					t.Fatalf("items %+v err %v", items, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc, ok := cases[s.Path]
			if !ok {
				t.Fatal("no expectation for this sample")
			}
			if len(items) != tc.count {
				t.Fatalf("%d items, want %d", len(items), tc.count)
			}
			for i, it := range items {
				covered[it.Name] = true
				if it.Name != tc.name || it.PhoneNumberID != tc.pnid {
					t.Errorf("item %d: name %q pnid %q, want %q %q", i, it.Name, it.PhoneNumberID, tc.name, tc.pnid)
				}
				if isProjectEvent(it.Name) != (s.Route == events.RouteProject) {
					t.Errorf("item %d: %q on route %s", i, it.Name, s.Route)
				}
				if !json.Valid(it.Payload) {
					t.Errorf("item %d: payload is not JSON", i)
				}
			}
			tc.check(t, items)
		})
	}
	for path := range cases {
		if !slices.ContainsFunc(samples, func(s events.Sample) bool { return s.Path == path }) {
			t.Errorf("expectation for missing sample %s", path)
		}
	}
	for _, name := range documentedEvents() {
		if !covered[name] {
			t.Errorf("no sample for documented event %s", name)
		}
	}
}
