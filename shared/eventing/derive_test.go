package eventing_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

const (
	tenant = "acme"
	number = "106540352242922"
	wamid  = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUJDMDAwMDAwMDAwMDAwMDAwNAA="
	bsuidA = "US.13491208655302741918"
	bsuidB = "US.55501234567890123456"
	bsuidC = "US.77701234567890123456"
)

var (
	at      = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	outID   = messaging.OutboundID(tenant, "key-1")
	ana     = messaging.Person{BSUID: bsuidA, Phone: "16505551234", Name: "Ana"}
	storeAt = at.Add(time.Hour)
)

func minutes(n int) time.Time { return at.Add(time.Duration(n) * time.Minute) }

// want is one event Derive should make: its type, subject, version,
// source, and the data it carries (compared as JSON).
type want struct {
	typ, subject string
	version      int64
	source       string
	data         any
}

func check(t *testing.T, name string, c eventing.Change, wants ...want) {
	t.Helper()
	if c.At.IsZero() {
		c.At = storeAt
	}
	got, err := eventing.Derive(c)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(got) != len(wants) {
		t.Fatalf("%s: %d events %+v, want %d", name, len(got), got, len(wants))
	}
	for i, w := range wants {
		e := got[i]
		detail := map[string]any{}
		if err := json.Unmarshal(e.Data, &detail); err != nil {
			t.Fatal(err)
		}
		if e.Type != w.typ || e.Subject != w.subject || e.Version != w.version || e.Source != w.source ||
			e.TenantID != tenant || !e.Timestamp.Equal(c.At) {
			t.Errorf("%s: event %d is %s %s v%d from %s of %s at %v, want %s %s v%d from %s", name, i, e.Type, e.Subject,
				e.Version, e.Source, e.TenantID, e.Timestamp, w.typ, w.subject, w.version, w.source)
		}
		if e.ID != eventing.ID(e.Type, tenant, e.Subject, e.Version, statusOf(detail)) {
			t.Errorf("%s: event %d id %s is not the id of what it reports", name, i, e.ID)
		}
		wantData, _ := json.Marshal(w.data)
		if string(e.Data) != string(wantData) {
			t.Errorf("%s: event %d data\n got %s\nwant %s", name, i, e.Data, wantData)
		}
		raw, _ := json.Marshal(e)
		if _, err := bridgeevents.Decode(raw); err != nil {
			t.Errorf("%s: event %d does not decode: %v", name, i, err)
		}
	}
	// Told again, the change makes the same events.
	again, _ := eventing.Derive(c)
	if !reflect.DeepEqual(again, got) {
		t.Errorf("%s: told again %+v, first %+v", name, again, got)
	}
}

// statusOf is what an event's data says the change came to: the detail
// its id is made of.
func statusOf(data map[string]any) string {
	if m, ok := data["message"].(map[string]any); ok {
		return m["id"].(string)
	}
	if _, ok := data["quality_rating"]; ok {
		var parts []string
		for _, k := range []string{"quality_rating", "messaging_limit_tier", "name_status", "throughput", "verified_name"} {
			parts = append(parts, data[k].(string))
		}
		return strings.Join(parts, "|")
	}
	for _, k := range []string{"status", "change"} {
		if s, ok := data[k].(string); ok {
			return s
		}
	}
	return ""
}

// --- tenants ---

func snapshot(status onboarding.TenantStatus, version int, cause onboarding.Cause) *onboarding.Snapshot {
	return &onboarding.Snapshot{TenantItem: onboarding.TenantItem{TenantID: tenant, Status: status, UpdatedAt: at},
		Version: version, Cause: cause}
}

func tenantChange(before, after *onboarding.Snapshot) eventing.Change {
	return eventing.Change{Tenant: &eventing.Pair[onboarding.Snapshot]{Before: before, After: after}}
}

func TestTenantStatusChanged(t *testing.T) {
	created := onboarding.Cause{Kind: onboarding.FactPhoneNumberCreated, Origin: onboarding.OriginWebhook}
	restricted := onboarding.Cause{Kind: onboarding.FactAccountRestricted, Reason: "policy", Origin: onboarding.OriginWebhook}
	link := onboarding.Cause{Kind: onboarding.FactLinkCreated, Origin: onboarding.OriginAPI}
	check(t, "connected", tenantChange(snapshot(onboarding.TenantAwaitingConfirmation, 2, link), snapshot(onboarding.TenantConnected, 3, created)),
		want{bridgeevents.TenantStatusChanged, "tenant:acme", 3, "webhook", bridgeevents.TenantStatus{TenantID: tenant,
			Status: "connected", PreviousStatus: "awaiting_confirmation", NeedsAttention: []string{}, Reason: "phone number created"}})
	check(t, "restricted, with why and who must act", tenantChange(snapshot(onboarding.TenantConnected, 3, created), snapshot(onboarding.TenantRestricted, 5, restricted)),
		want{bridgeevents.TenantStatusChanged, "tenant:acme", 5, "webhook", bridgeevents.TenantStatus{TenantID: tenant,
			Status: "restricted", PreviousStatus: "connected", NeedsAttention: []string{"restricted"}, Reason: "account restricted: policy"}})
	check(t, "a link from the API", tenantChange(snapshot(onboarding.TenantNotStarted, 0, onboarding.Cause{}), snapshot(onboarding.TenantLinkActive, 1, link)),
		want{bridgeevents.TenantStatusChanged, "tenant:acme", 1, "api", bridgeevents.TenantStatus{TenantID: tenant,
			Status: "link_active", PreviousStatus: "not_started", NeedsAttention: []string{}, Reason: "link created"}})
	overdue := snapshot(onboarding.TenantAwaitingConfirmation, 2, onboarding.Cause{Kind: onboarding.FactSuccessRedirect, Origin: onboarding.OriginRedirect})
	change := tenantChange(snapshot(onboarding.TenantLinkActive, 1, link), overdue)
	change.At = at.Add(2 * onboarding.ConfirmationOverdueAfter)
	check(t, "stored long after the fact: attention as of the change", change,
		want{bridgeevents.TenantStatusChanged, "tenant:acme", 2, "redirect", bridgeevents.TenantStatus{TenantID: tenant,
			Status: "awaiting_confirmation", PreviousStatus: "link_active", NeedsAttention: []string{"confirmation_overdue"},
			Reason: "success redirect"}})
	// No event: no change of status.
	check(t, "a fact that kept the status", tenantChange(snapshot(onboarding.TenantConnected, 3, created),
		snapshot(onboarding.TenantConnected, 4, onboarding.Cause{Kind: onboarding.FactWebhookRegistered, Origin: onboarding.OriginAPI})))
	check(t, "the tenant created", tenantChange(nil, snapshot(onboarding.TenantNotStarted, 0, onboarding.Cause{})))
	check(t, "the tenant removed", tenantChange(snapshot(onboarding.TenantConnected, 3, created), nil))
}

// --- number health ---

func TestNumberHealthChanged(t *testing.T) {
	read := onboarding.Cause{Kind: onboarding.FactHealthRead, Origin: onboarding.OriginReconciler}
	health := func(quality, name string, m int) onboarding.NumberHealth {
		return onboarding.NumberHealth{PhoneNumberID: number, QualityRating: quality, MessagingLimitTier: "TIER_1K",
			VerifiedName: "Acme", NameStatus: name, Throughput: "STANDARD", ReadAt: minutes(m)}
	}
	with := func(version int, cause onboarding.Cause, hs ...onboarding.NumberHealth) *onboarding.Snapshot {
		s := snapshot(onboarding.TenantConnected, version, cause)
		s.Health = hs
		return s
	}
	registered := onboarding.Cause{Kind: onboarding.FactWebhookRegistered, Origin: onboarding.OriginAPI}
	green, red := health("GREEN", "APPROVED", 10), health("RED", "APPROVED", 20)
	check(t, "first reading", tenantChange(with(4, registered), with(5, read, green)),
		want{bridgeevents.NumberHealthChanged, "number:" + number, 5, "reconciler", bridgeevents.NumberHealth{
			TenantID: tenant, PhoneNumberID: number, QualityRating: "GREEN", MessagingLimitTier: "TIER_1K",
			VerifiedName: "Acme", NameStatus: "APPROVED", Throughput: "STANDARD", ReadAt: minutes(10),
			NeedsAttention: []string{}}})
	check(t, "quality dropped", tenantChange(with(5, read, green), with(6, read, red)),
		want{bridgeevents.NumberHealthChanged, "number:" + number, 6, "reconciler", bridgeevents.NumberHealth{
			TenantID: tenant, PhoneNumberID: number, QualityRating: "RED", PreviousQualityRating: "GREEN",
			MessagingLimitTier: "TIER_1K", PreviousMessagingLimitTier: "TIER_1K", VerifiedName: "Acme",
			NameStatus: "APPROVED", PreviousNameStatus: "APPROVED", Throughput: "STANDARD", PreviousThroughput: "STANDARD",
			ReadAt: minutes(20), NeedsAttention: []string{"quality_low"}}})
	// No event: the health is what it was, whenever read, whatever else the
	// write changed; a number gone from the snapshot is told by its status.
	check(t, "read again, unchanged", tenantChange(with(6, read, red), with(7, read, health("RED", "APPROVED", 30))))
	check(t, "another fact", tenantChange(with(6, read, red), with(7, registered, red)))
	check(t, "the number left", tenantChange(with(6, read, red), with(7, registered)))
	check(t, "the tenant created", tenantChange(nil, with(0, read, red)))
	// Two numbers, one changed: one event.
	other := health("YELLOW", "DECLINED", 20)
	other.PhoneNumberID = "222"
	events, err := eventing.Derive(tenantChange(with(6, read, green, other), with(7, read, red, other)))
	if err != nil || len(events) != 1 || events[0].Subject != "number:"+number {
		t.Errorf("two numbers, one changed: %+v, %v", events, err)
	}
}

// --- messages ---

func inbound(known bool) *eventing.MessageItem {
	m := messaging.StoredMessage{Known: known, Message: messaging.Message{WAMID: wamid, PhoneNumberID: number,
		Direction: messaging.Inbound}}
	if known {
		m.Type, m.Text, m.Timestamp, m.From, m.ConversationID = "text", "Oi!", at, ana, "conv-1"
	}
	return &eventing.MessageItem{TenantID: tenant, Message: m}
}

func messageChange(before, after *eventing.MessageItem) eventing.Change {
	return eventing.Change{Message: &eventing.Pair[eventing.MessageItem]{Before: before, After: after}}
}

func TestMessageReceived(t *testing.T) {
	received := func(m *eventing.MessageItem) bridgeevents.MessageReceivedData {
		return bridgeevents.MessageReceivedData{TenantID: tenant, Message: apiview.Message(m.Message)}
	}
	fromReconciler := inbound(true)
	fromReconciler.Origin = messaging.OriginReconciler
	check(t, "a new message", messageChange(nil, inbound(true)),
		want{bridgeevents.MessageReceived, "message:" + wamid, 1, "webhook", received(inbound(true))})
	check(t, "caught up by the reconciler", messageChange(nil, fromReconciler),
		want{bridgeevents.MessageReceived, "message:" + wamid, 1, "reconciler", received(fromReconciler)})
	check(t, "known at last", messageChange(inbound(false), inbound(true)),
		want{bridgeevents.MessageReceived, "message:" + wamid, 1, "webhook", received(inbound(true))})
	// No event: the message was known already.
	other := inbound(true)
	other.Message.Kapso = &messaging.KapsoContent{Content: "Oi!", Origin: "cloud_api"}
	check(t, "the other format's copy", messageChange(inbound(true), other))
	check(t, "a catch-up of it", messageChange(inbound(true), fromReconciler))
	check(t, "not known yet", messageChange(nil, inbound(false)))
	check(t, "removed", messageChange(inbound(true), nil))
}

// A message's media copy changes the message item alone: no event, in
// either direction.
func TestMediaCopyChangesTellNoEvent(t *testing.T) {
	withMedia := func(info media.Info) *eventing.MessageItem {
		m := inbound(true)
		m.Message.Type, m.Message.Media = "image", &messaging.Media{ID: "1234", MIMEType: "image/jpeg"}
		m.Message.MediaCopy = info
		return m
	}
	failed := media.Info{State: media.Failed, Error: media.Failure(media.ReasonUnavailable, "503"), At: at, Attempts: 1}
	stored := media.Info{State: media.Stored, MIMEType: "image/jpeg", Size: 10, SHA256: "ab", Key: "acme/1/1234", At: at}
	check(t, "failed", messageChange(withMedia(media.Info{}), withMedia(failed)))
	check(t, "stored", messageChange(withMedia(failed), withMedia(stored)))
	outbound := outboundMessage(true, status(messaging.Delivered, 1))
	copied := outboundMessage(true, status(messaging.Delivered, 1))
	copied.Message.MediaCopy = stored
	check(t, "an outbound message's copy", messageChange(outbound, copied))
}

// outboundMessage is an outbound message item: accepted under outID when
// accepted, with the delivery the statuses fold to.
func outboundMessage(accepted bool, statuses ...messaging.StatusUpdate) *eventing.MessageItem {
	m := messaging.StoredMessage{Known: true, Message: messaging.Message{WAMID: wamid, PhoneNumberID: number,
		Direction: messaging.Outbound, Type: "text", Text: "Olá!", To: ana, ConversationID: "conv-1"}}
	for _, u := range statuses {
		m.Delivery, _ = messaging.Merge(m.Delivery, u)
	}
	if accepted {
		m.Outbound = &messaging.OutboundInfo{ID: outID, State: messaging.OutAccepted}
	}
	return &eventing.MessageItem{TenantID: tenant, Message: m}
}

func status(s messaging.Status, minute int) messaging.StatusUpdate {
	u := messaging.StatusUpdate{WAMID: wamid, PhoneNumberID: number, Status: s, At: minutes(minute)}
	if s == messaging.Failed {
		u.Error = &messaging.StatusError{Code: 131026, Title: "Message undeliverable"}
	}
	return u
}

func TestMessageStatusChangedFromDeliveries(t *testing.T) {
	sent, delivered, read, failed := status(messaging.Sent, 1), status(messaging.Delivered, 2), status(messaging.Read, 4),
		status(messaging.Failed, 3)
	ms := func(id, st, previous string, e *bridgeevents.StatusError) bridgeevents.MessageStatus {
		return bridgeevents.MessageStatus{TenantID: tenant, MessageID: id, WAMID: wamid, PhoneNumberID: number,
			ConversationID: "conv-1", Status: st, PreviousStatus: previous, Error: e}
	}
	undeliverable := &bridgeevents.StatusError{Code: 131026, Title: "Message undeliverable"}
	check(t, "sent, after the accept", messageChange(outboundMessage(true), outboundMessage(true, sent)),
		want{bridgeevents.MessageStatusChanged, "message:" + outID, 5, "webhook", ms(outID, "sent", "accepted", nil)})
	check(t, "sent, its webhook before the accept", messageChange(nil, outboundMessage(false, sent)),
		want{bridgeevents.MessageStatusChanged, "message:" + wamid, 5, "webhook", ms(wamid, "sent", "", nil)})
	check(t, "delivered", messageChange(outboundMessage(true, sent), outboundMessage(true, sent, delivered)),
		want{bridgeevents.MessageStatusChanged, "message:" + outID, 6, "webhook", ms(outID, "delivered", "sent", nil)})
	check(t, "failed, with why", messageChange(outboundMessage(true, sent, delivered), outboundMessage(true, sent, delivered, failed)),
		want{bridgeevents.MessageStatusChanged, "message:" + outID, 7, "webhook", ms(outID, "failed", "delivered", undeliverable)})
	check(t, "read after the failure wins", messageChange(outboundMessage(true, sent, failed), outboundMessage(true, sent, failed, read)),
		want{bridgeevents.MessageStatusChanged, "message:" + outID, 8, "webhook", ms(outID, "read", "failed", nil)})
	check(t, "read, delivered never told", messageChange(outboundMessage(true, sent), outboundMessage(true, sent, read)),
		want{bridgeevents.MessageStatusChanged, "message:" + outID, 8, "webhook", ms(outID, "read", "sent", nil)})
	// No event: the status did not move forward.
	check(t, "the same status again", messageChange(outboundMessage(true, sent), outboundMessage(true, sent)))
	check(t, "a late delivered after read", messageChange(outboundMessage(true, sent, read), outboundMessage(true, sent, read, delivered)))
	check(t, "a late failure after read", messageChange(outboundMessage(true, read), outboundMessage(true, read, failed)))
	check(t, "the accept writes the message", messageChange(nil, outboundMessage(true)))
	check(t, "the accept after its sent webhook", messageChange(outboundMessage(false, sent), outboundMessage(true, sent)))
	statusesFirst := outboundMessage(false, sent)
	statusesFirst.Message.Known = false
	check(t, "the message after its statuses", messageChange(statusesFirst, outboundMessage(false, sent)))
}

func outbox(state messaging.OutboundState, attempts int) *messaging.OutboundMessage {
	m := &messaging.OutboundMessage{ID: outID, TenantID: tenant, PhoneNumberID: number, ConversationID: "conv-1",
		To: ana, Type: "text", Text: "Olá!", State: state, Attempts: attempts, CreatedAt: at}
	switch state {
	case messaging.OutAccepted:
		m.WAMID = wamid
	case messaging.OutFailed:
		m.Reason, m.Error = messaging.ReasonRejected, &messaging.StatusError{Code: 131047, Title: "Re-engagement message"}
	}
	return m
}

func outboxChange(before, after *messaging.OutboundMessage) eventing.Change {
	return eventing.Change{Outbound: &eventing.Pair[messaging.OutboundMessage]{Before: before, After: after}}
}

func TestMessageStatusChangedFromSends(t *testing.T) {
	ms := func(st, previous string) bridgeevents.MessageStatus {
		m := bridgeevents.MessageStatus{TenantID: tenant, MessageID: outID, PhoneNumberID: number, ConversationID: "conv-1",
			Status: st, PreviousStatus: previous}
		switch st {
		case "accepted":
			m.WAMID = wamid
		case "failed":
			m.FailureReason, m.Error = "rejected", &bridgeevents.StatusError{Code: 131047, Title: "Re-engagement message"}
		}
		return m
	}
	subject := "message:" + outID
	check(t, "queued", outboxChange(nil, outbox(messaging.OutQueued, 0)),
		want{bridgeevents.MessageStatusChanged, subject, 1, "api", ms("queued", "")})
	check(t, "sending", outboxChange(outbox(messaging.OutQueued, 0), outbox(messaging.OutSending, 1)),
		want{bridgeevents.MessageStatusChanged, subject, 2, "api", ms("sending", "queued")})
	check(t, "unknown", outboxChange(outbox(messaging.OutSending, 1), outbox(messaging.OutUnknown, 1)),
		want{bridgeevents.MessageStatusChanged, subject, 3, "api", ms("unknown", "sending")})
	check(t, "accepted", outboxChange(outbox(messaging.OutSending, 1), outbox(messaging.OutAccepted, 1)),
		want{bridgeevents.MessageStatusChanged, subject, 4, "api", ms("accepted", "sending")})
	check(t, "accepted once unknown", outboxChange(outbox(messaging.OutUnknown, 1), outbox(messaging.OutAccepted, 1)),
		want{bridgeevents.MessageStatusChanged, subject, 4, "api", ms("accepted", "unknown")})
	check(t, "failed", outboxChange(outbox(messaging.OutSending, 1), outbox(messaging.OutFailed, 1)),
		want{bridgeevents.MessageStatusChanged, subject, 4, "api", ms("failed", "sending")})
	// No event: put back on the queue, claimed again, or nothing moved.
	check(t, "put back", outboxChange(outbox(messaging.OutSending, 1), outbox(messaging.OutQueued, 1)))
	check(t, "claimed again", outboxChange(outbox(messaging.OutQueued, 1), outbox(messaging.OutSending, 2)))
	check(t, "nothing moved", outboxChange(outbox(messaging.OutAccepted, 1), outbox(messaging.OutAccepted, 1)))
	check(t, "removed", outboxChange(outbox(messaging.OutAccepted, 1), nil))
}

// --- conversations ---

func conversation(status messaging.ConversationStatus, lastActive int, inactiveSince int) *eventing.ConversationItem {
	c := messaging.Conversation{ID: "conv-1", PhoneNumberID: number, Person: ana, Status: status, LastActiveAt: minutes(lastActive)}
	if inactiveSince >= 0 {
		c.InactiveSince, c.InactivityMinutes = minutes(inactiveSince), 60
	}
	return &eventing.ConversationItem{TenantID: tenant, Conversation: c}
}

func conversationChange(before, after *eventing.ConversationItem) eventing.Change {
	return eventing.Change{Conversation: &eventing.Pair[eventing.ConversationItem]{Before: before, After: after}}
}

func TestConversationStatusChanged(t *testing.T) {
	cs := func(st, previous string) bridgeevents.ConversationStatus {
		return bridgeevents.ConversationStatus{TenantID: tenant, ConversationID: "conv-1", PhoneNumberID: number, Status: st,
			PreviousStatus: previous, Contact: apiview.ContactIdentity(ana, nil)}
	}
	v := func(minute int, place int64) int64 { return minutes(minute).UnixMicro()*4 + place }
	const subject = "conversation:conv-1"
	active, ended := messaging.ConversationActive, messaging.ConversationEnded
	check(t, "created", conversationChange(nil, conversation(active, 0, -1)),
		want{bridgeevents.ConversationStatusChanged, subject, v(0, 0), "webhook", cs("created", "")})
	check(t, "created ended", conversationChange(nil, conversation(ended, 0, -1)),
		want{bridgeevents.ConversationStatusChanged, subject, v(0, 0), "webhook", cs("created", "")},
		want{bridgeevents.ConversationStatusChanged, subject, v(0, 3), "webhook", cs("ended", "created")})
	check(t, "created by its inactivity report", conversationChange(nil, conversation(active, 0, 0)),
		want{bridgeevents.ConversationStatusChanged, subject, v(0, 0), "webhook", cs("created", "")},
		want{bridgeevents.ConversationStatusChanged, subject, v(0, 2), "webhook", cs("inactive", "created")})
	check(t, "inactive", conversationChange(conversation(active, 0, -1), conversation(active, 0, 0)),
		want{bridgeevents.ConversationStatusChanged, subject, v(0, 2), "webhook", cs("inactive", "active")})
	check(t, "active again", conversationChange(conversation(active, 0, 0), conversation(active, 90, 0)),
		want{bridgeevents.ConversationStatusChanged, subject, v(90, 1), "webhook", cs("active", "inactive")})
	check(t, "inactive again", conversationChange(conversation(active, 90, 0), conversation(active, 90, 90)),
		want{bridgeevents.ConversationStatusChanged, subject, v(90, 2), "webhook", cs("inactive", "active")})
	check(t, "ended", conversationChange(conversation(active, 90, 90), conversation(ended, 90, 90)),
		want{bridgeevents.ConversationStatusChanged, subject, v(90, 3), "webhook", cs("ended", "inactive")})
	check(t, "reopened", conversationChange(conversation(ended, 90, -1), conversation(active, 120, -1)),
		want{bridgeevents.ConversationStatusChanged, subject, v(120, 1), "webhook", cs("active", "ended")})
	// No event: the status is what it was.
	check(t, "newer activity", conversationChange(conversation(active, 0, -1), conversation(active, 5, -1)))
	check(t, "an old inactivity report", conversationChange(conversation(active, 90, -1), conversation(active, 90, 0)))
	check(t, "the same again", conversationChange(conversation(active, 0, 0), conversation(active, 0, 0)))
	check(t, "removed", conversationChange(conversation(active, 0, -1), nil))
}

// --- contacts ---

func contact(key string, version int64, person messaging.Person, previous []string, pref *messaging.MarketingPreference) *eventing.ContactItem {
	return &eventing.ContactItem{TenantID: tenant, Key: key, Version: version, Contact: messaging.Contact{
		PhoneNumberID: number, Person: person, PreviousBSUIDs: previous, Marketing: pref, LastSeenAt: minutes(int(version))}}
}

func contactChange(before, after *eventing.ContactItem) eventing.Change {
	return eventing.Change{Contact: &eventing.Pair[eventing.ContactItem]{Before: before, After: after}}
}

func TestContactChanged(t *testing.T) {
	optIn := &messaging.MarketingPreference{Status: "opted_in", Sequence: 1, OccurredAt: at}
	optOut := &messaging.MarketingPreference{Status: "opted_out", Sequence: 2, OccurredAt: minutes(1)}
	anaB := ana
	anaB.BSUID = bsuidB
	anaC := ana
	anaC.BSUID = bsuidC
	keyA, keyB, keyC := ana.Key(), anaB.Key(), anaC.Key()
	cc := func(change string, c *eventing.ContactItem) bridgeevents.ContactChange {
		return bridgeevents.ContactChange{TenantID: tenant, Change: change, Contact: apiview.Contact(c.Contact)}
	}
	toB := contact(keyB, 1, anaB, []string{bsuidA}, nil)
	check(t, "A to B", contactChange(nil, toB),
		want{bridgeevents.ContactChanged, "contact:" + number + ":" + keyB, 1, "webhook", cc("identity", toB)})
	toC := contact(keyC, 1, anaC, []string{bsuidA, bsuidB}, optIn)
	check(t, "B to C, taking B's preference along", contactChange(nil, toC),
		want{bridgeevents.ContactChanged, "contact:" + number + ":" + keyC, 1, "webhook", cc("identity", toC)})
	replaced := contact(keyA, 4, anaB, nil, nil)
	check(t, "its BSUID replaced", contactChange(contact(keyA, 3, ana, nil, nil), replaced),
		want{bridgeevents.ContactChanged, "contact:" + number + ":" + keyA, 4, "webhook", cc("identity", replaced)})
	pref := contact(keyA, 4, ana, nil, optIn)
	pref.Origin = messaging.OriginReconciler
	check(t, "a first preference", contactChange(contact(keyA, 3, ana, nil, nil), pref),
		want{bridgeevents.ContactChanged, "contact:" + number + ":" + keyA, 4, "reconciler", cc("marketing_preference", pref)})
	out := contact(keyA, 5, ana, nil, optOut)
	check(t, "a newer preference", contactChange(contact(keyA, 4, ana, nil, optIn), out),
		want{bridgeevents.ContactChanged, "contact:" + number + ":" + keyA, 5, "webhook", cc("marketing_preference", out)})
	first := contact(keyA, 1, ana, nil, optIn)
	check(t, "known first by a preference", contactChange(nil, first),
		want{bridgeevents.ContactChanged, "contact:" + number + ":" + keyA, 1, "webhook", cc("marketing_preference", first)})
	// No event: a sighting, an identity change told again, a merge pointer.
	check(t, "a new person seen", contactChange(nil, contact(keyA, 1, ana, nil, nil)))
	seenAgain := contact(keyA, 2, ana, nil, optIn)
	seenAgain.Contact.LastInboundAt = minutes(2)
	check(t, "seen again", contactChange(contact(keyA, 1, ana, nil, optIn), seenAgain))
	check(t, "A to B again", contactChange(toB, contact(keyB, 2, anaB, []string{bsuidA}, nil)))
	merged := contact(keyA, 2, ana, nil, nil)
	merged.MergedInto = keyB
	check(t, "merged into B", contactChange(contact(keyA, 1, ana, nil, nil), merged))
	check(t, "removed", contactChange(toB, nil))
}

// An item no event tells of makes none.
func TestOtherItemsMakeNoEvent(t *testing.T) {
	check(t, "no change of interest", eventing.Change{})
}

// The sources events say are the origins the stores keep.
func TestOriginsAreEventSources(t *testing.T) {
	for _, pair := range [][2]string{
		{string(messaging.OriginWebhook), bridgeevents.SourceWebhook},
		{string(messaging.OriginReconciler), bridgeevents.SourceReconciler},
		{string(onboarding.OriginWebhook), bridgeevents.SourceWebhook},
		{string(onboarding.OriginReconciler), bridgeevents.SourceReconciler},
		{string(onboarding.OriginRedirect), bridgeevents.SourceRedirect},
		{string(onboarding.OriginAPI), bridgeevents.SourceAPI},
	} {
		if pair[0] != pair[1] {
			t.Errorf("origin %q is source %q", pair[0], pair[1])
		}
	}
}

// --- templates ---

const waba = "102290129340398"

func template(status string, version int64, source string) *templates.Template {
	return &templates.Template{TenantID: tenant, BusinessAccountID: waba,
		Read: templates.Read{ID: "1234", Name: "order_shipped", Language: "en_US", Category: templates.Utility,
			Status: status, RejectedReason: "NONE", QualityScore: "UNKNOWN",
			Components: json.RawMessage(`[{"type":"BODY","text":"Your order {{1}} has shipped"}]`)},
		Version: version, Source: source, UpdatedAt: minutes(int(version))}
}

func templateChange(before, after *templates.Template) eventing.Change {
	return eventing.Change{Template: &eventing.Pair[templates.Template]{Before: before, After: after}}
}

func TestTemplateStatusChanged(t *testing.T) {
	const subject = "template:" + waba + ":order_shipped:en_US"
	data := func(status, previous, reason, quality string) bridgeevents.TemplateStatus {
		return bridgeevents.TemplateStatus{TenantID: tenant, BusinessAccountID: waba, TemplateID: "1234", Name: "order_shipped",
			Language: "en_US", Category: templates.Utility, Status: status, PreviousStatus: previous, Reason: reason,
			QualityScore: quality}
	}
	pending := template(templates.Pending, 1, templates.SourceAPI)
	approved := template(templates.Approved, 2, templates.SourceReconciler)
	check(t, "approved", templateChange(pending, approved),
		want{bridgeevents.TemplateStatusChanged, subject, 2, "reconciler", data("APPROVED", "PENDING", "", "UNKNOWN")})
	rejected := template(templates.Rejected, 3, templates.SourceAPI)
	rejected.RejectedReason = "INVALID_FORMAT"
	check(t, "rejected, with Meta's reason, from a sync the API asked", templateChange(approved, rejected),
		want{bridgeevents.TemplateStatusChanged, subject, 3, "api", data("REJECTED", "APPROVED", "INVALID_FORMAT", "UNKNOWN")})
	deleted := template(templates.Deleted, 4, templates.SourceReconciler)
	deleted.RejectedReason, deleted.QualityScore = "", ""
	check(t, "no longer listed: deleted", templateChange(approved, deleted),
		want{bridgeevents.TemplateStatusChanged, subject, 4, "reconciler", data("DELETED", "APPROVED", "", "")})
	unsaid := template(templates.Paused, 3, "")
	unsaid.QualityScore = "RED"
	check(t, "paused, by a write that did not say who", templateChange(approved, unsaid),
		want{bridgeevents.TemplateStatusChanged, subject, 3, "reconciler", data("PAUSED", "APPROVED", "", "RED")})
	// No event: a template's first status, and a change of anything else.
	check(t, "created", templateChange(nil, pending))
	check(t, "first read, approved", templateChange(nil, approved))
	quality := template(templates.Approved, 3, templates.SourceReconciler)
	quality.QualityScore = "YELLOW"
	check(t, "quality only", templateChange(approved, quality))
	edited := template(templates.Approved, 3, templates.SourceReconciler)
	edited.Components, edited.Category = json.RawMessage(`[{"type":"BODY","text":"Order {{1}} shipped"}]`), templates.Marketing
	check(t, "components and category only", templateChange(approved, edited))
	check(t, "removed", templateChange(approved, nil))
	// A sync mark is no template: its record's change holds nothing.
	check(t, "a sync mark", eventing.Change{})
}
