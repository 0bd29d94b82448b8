package eventing

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// Derive is the events one change makes, oldest first. It compares what
// each event reports before and after the change, so a write that changed
// nothing an event reports (a duplicate, a replay, a catch-up of what is
// stored, a mere sighting) makes none; and each event's id comes from what
// it reports, so the same change told again makes the same events.
func Derive(c Change) ([]bridgeevents.Event, error) {
	var drafts []draft
	switch {
	case c.Tenant != nil:
		drafts = append(tenantEvents(c), healthEvents(c)...)
	case c.Message != nil:
		drafts = messageEvents(c.Message)
	case c.Outbound != nil:
		drafts = outboundEvents(c.Outbound)
	case c.Conversation != nil:
		drafts = conversationEvents(c.Conversation)
	case c.Contact != nil:
		drafts = contactEvents(c.Contact)
	case c.Template != nil:
		drafts = templateEvents(c.Template)
	case c.Offboarding != nil:
		drafts = offboardingEvents(c.Offboarding)
	case c.Erasure != nil:
		drafts = erasureEvents(c.Erasure)
	}
	out := make([]bridgeevents.Event, 0, len(drafts))
	for _, d := range drafts {
		e, err := d.event(c)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// draft is an event before its envelope.
type draft struct {
	typ, tenantID, source, subject string
	version                        int64
	// detail is what the change came to (see ID).
	detail string
	data   any
}

func (d draft) event(c Change) (bridgeevents.Event, error) {
	data, err := json.Marshal(d.data)
	if err != nil {
		return bridgeevents.Event{}, fmt.Errorf("%s of %s: %w", d.typ, d.subject, err)
	}
	return bridgeevents.Event{ID: ID(d.typ, d.tenantID, d.subject, d.version, d.detail), Type: d.typ,
		Timestamp: c.At.UTC(), TenantID: d.tenantID, Source: d.source, Subject: d.subject, Version: d.version,
		Data: data}, nil
}

// source is what made a change, as an event says it: a write that did not
// say made it from a webhook, where every message, conversation and
// contact change comes from unless the reconciler's catch-up brought it.
func source(origin string) string {
	if origin == "" {
		return bridgeevents.SourceWebhook
	}
	return origin
}

// --- tenants ---

// tenantEvents: tenant.status_changed when the snapshot's status changed.
// Its version is the snapshot's, which grows with every fact; a snapshot
// created or removed is no change of status.
func tenantEvents(c Change) []draft {
	before, after := c.Tenant.Before, c.Tenant.After
	if before == nil || after == nil || before.Status == after.Status {
		return nil
	}
	attention := []string{}
	for _, r := range after.AttentionAt(c.At) {
		attention = append(attention, string(r))
	}
	return []draft{{typ: bridgeevents.TenantStatusChanged, tenantID: after.TenantID,
		source: source(string(after.Cause.Origin)), subject: "tenant:" + after.TenantID,
		version: int64(after.Version), detail: string(after.Status),
		data: bridgeevents.TenantStatus{TenantID: after.TenantID, Status: string(after.Status),
			PreviousStatus: string(before.Status), NeedsAttention: attention, Reason: Reason(after.Cause)}}}
}

// offboardingEvents: tenant.deleted when an offboarding becomes done: its
// tombstone, holding nothing about anyone. A tenant offboarded again (made
// again since) is another deletion, told under another id.
func offboardingEvents(p *Pair[offboarding.Job]) []draft {
	j := p.After
	if j == nil || !j.Done() || p.Before != nil && p.Before.Done() {
		return nil
	}
	deleted := j.DeletedAt.UTC()
	return []draft{{typ: bridgeevents.TenantDeleted, tenantID: j.TenantID, source: bridgeevents.SourceAPI,
		subject: "offboarding:" + j.TenantID, version: int64(j.Version), detail: deleted.Format(time.RFC3339Nano),
		data: bridgeevents.TenantDeletion{TenantID: j.TenantID, RequestedAt: j.RequestedAt.UTC(), DeletedAt: deleted}}}
}

// erasureEvents: contact.erased when a person's erasure becomes done. A
// job is done once (its store refuses to save a done job again), so this
// is one event per erasure; its data is the job's ids, times and counts,
// never an identity of the person (the job's identities are still in the
// record of its last step).
func erasureEvents(p *Pair[erasure.Job]) []draft {
	j := p.After
	if j == nil || j.State != erasure.Done || p.Before != nil && p.Before.State == erasure.Done {
		return nil
	}
	erased := j.DoneAt.UTC()
	return []draft{{typ: bridgeevents.ContactErased, tenantID: j.TenantID, source: bridgeevents.SourceAPI,
		subject: "erasure:" + j.ID, version: 1, detail: erased.Format(time.RFC3339Nano),
		data: bridgeevents.ContactErasure{TenantID: j.TenantID, PhoneNumberID: j.PhoneNumberID, ErasureID: j.ID,
			RequestedAt: j.RequestedAt.UTC(), ErasedAt: erased, Erased: apiview.ErasureProgress(j.Progress)}}}
}

// healthEvents: number.health_changed for each connected number whose
// health the snapshot's write changed (its first reading included). The
// time of a reading is not a change: a refresh that found the same health
// is not even written.
func healthEvents(c Change) []draft {
	before, after := c.Tenant.Before, c.Tenant.After
	if before == nil || after == nil {
		return nil
	}
	var out []draft
	for _, h := range after.Health {
		i := slices.IndexFunc(before.Health, func(b onboarding.NumberHealth) bool { return b.PhoneNumberID == h.PhoneNumberID })
		var was onboarding.NumberHealth
		if i >= 0 {
			if was = before.Health[i]; was.Same(h) {
				continue
			}
		}
		attention := []string{}
		for _, r := range after.AttentionAt(c.At) {
			attention = append(attention, string(r))
		}
		out = append(out, draft{typ: bridgeevents.NumberHealthChanged, tenantID: after.TenantID,
			source: source(string(after.Cause.Origin)), subject: "number:" + h.PhoneNumberID,
			version: int64(after.Version),
			detail:  strings.Join([]string{h.QualityRating, h.MessagingLimitTier, h.NameStatus, h.Throughput, h.VerifiedName}, "|"),
			data: bridgeevents.NumberHealth{TenantID: after.TenantID, PhoneNumberID: h.PhoneNumberID,
				QualityRating: h.QualityRating, PreviousQualityRating: was.QualityRating,
				MessagingLimitTier: h.MessagingLimitTier, PreviousMessagingLimitTier: was.MessagingLimitTier,
				VerifiedName: h.VerifiedName, NameStatus: h.NameStatus, PreviousNameStatus: was.NameStatus,
				Throughput: h.Throughput, PreviousThroughput: was.Throughput, ReadAt: h.ReadAt.UTC(),
				NeedsAttention: attention}})
	}
	return out
}

// Reason tells a snapshot's cause in words: its fact's kind, then why
// ("number disconnected: meta_token_expired").
func Reason(c onboarding.Cause) string {
	r := strings.ReplaceAll(string(c.Kind), "_", " ")
	if c.Reason != "" {
		r += ": " + c.Reason
	}
	return r
}

// --- messages ---

// The place of each status of an outbound message in its one sequence, the
// version of its message.status_changed: the send's states first (failed
// there is final, as accepted is), then the delivery statuses in
// messaging.Merge's order (a read after a failure wins).
var statusRank = map[string]int64{
	string(messaging.OutQueued): 1, string(messaging.OutSending): 2, string(messaging.OutUnknown): 3,
	string(messaging.OutAccepted): 4, string(messaging.OutFailed): 4,
	string(messaging.Sent): 5, string(messaging.Delivered): 6, deliveryFailed: 7, string(messaging.Read): 8,
}

// deliveryFailed keys a delivery's failure in statusRank, apart from the
// send's.
const deliveryFailed = "delivery:failed"

func deliveryRank(d messaging.Delivery) int64 {
	if d.Status == messaging.Failed {
		return statusRank[deliveryFailed]
	}
	return statusRank[string(d.Status)]
}

// messageEvents: message.received when an inbound message becomes known,
// message.status_changed when an outbound one's delivery status moves
// forward.
func messageEvents(p *Pair[MessageItem]) []draft {
	after := p.After
	if after == nil {
		return nil
	}
	var before *messaging.StoredMessage
	if p.Before != nil {
		before = &p.Before.Message
	}
	m := after.Message
	switch m.Direction {
	case messaging.Inbound:
		if !m.Known || (before != nil && before.Known) {
			return nil
		}
		return []draft{{typ: bridgeevents.MessageReceived, tenantID: after.TenantID, source: source(string(after.Origin)),
			subject: "message:" + m.WAMID, version: 1, detail: m.WAMID,
			data: bridgeevents.MessageReceivedData{TenantID: after.TenantID, Message: apiview.Message(m)}}}
	case messaging.Outbound:
		rank := deliveryRank(m.Delivery)
		if rank == 0 || (before != nil && rank <= deliveryRank(before.Delivery)) {
			return nil
		}
		// The id the API knows it by: its outbound id once accepted under
		// this WAMID, else the WAMID (a webhook that came first).
		id := m.WAMID
		if m.Outbound != nil {
			id = m.Outbound.ID
		}
		previous := ""
		if before != nil {
			previous = apiview.MessageSummary(*before).Status
		}
		data := bridgeevents.MessageStatus{TenantID: after.TenantID, MessageID: id, WAMID: m.WAMID,
			PhoneNumberID: m.PhoneNumberID, ConversationID: m.ConversationID, Status: string(m.Delivery.Status),
			PreviousStatus: previous}
		if m.Delivery.Status == messaging.Failed {
			data.Error = apiview.StatusError(m.Delivery.Error)
		}
		return []draft{statusDraft(after.TenantID, source(string(after.Origin)), id, rank, data)}
	}
	return nil
}

// outboundEvents: message.status_changed when a send's state moves
// forward; sending only at its first claim (a send put back on the queue
// and claimed again is sending again, which was told).
func outboundEvents(p *Pair[messaging.OutboundMessage]) []draft {
	after := p.After
	if after == nil {
		return nil
	}
	rank := statusRank[string(after.State)]
	var previous string
	if p.Before != nil {
		previous = string(p.Before.State)
	}
	if rank == 0 || rank <= statusRank[previous] || (after.State == messaging.OutSending && after.Attempts > 1) {
		return nil
	}
	data := bridgeevents.MessageStatus{TenantID: after.TenantID, MessageID: after.ID, WAMID: after.WAMID,
		PhoneNumberID: after.PhoneNumberID, ConversationID: after.ConversationID, Status: string(after.State),
		PreviousStatus: previous}
	if after.State == messaging.OutFailed {
		data.FailureReason, data.Error = after.Reason, apiview.StatusError(after.Error)
	}
	return []draft{statusDraft(after.TenantID, bridgeevents.SourceAPI, after.ID, rank, data)}
}

func statusDraft(tenantID, src, id string, rank int64, data bridgeevents.MessageStatus) draft {
	return draft{typ: bridgeevents.MessageStatusChanged, tenantID: tenantID, source: src, subject: "message:" + id,
		version: rank, detail: data.Status, data: data}
}

// --- conversations ---

// The statuses conversation.status_changed tells.
const (
	conversationCreated = "created"
	conversationActive  = "active"
	conversationIdle    = "inactive"
	conversationEnded   = "ended"
)

// conversationPlace is a status's place among those of one instant: a
// conversation is created, then active, then quiet, then ended.
func conversationPlace(state string) int64 {
	switch state {
	case conversationActive:
		return 1
	case conversationIdle:
		return 2
	case conversationEnded:
		return 3
	}
	return 0
}

func conversationState(c messaging.Conversation) string {
	switch {
	case c.Status == messaging.ConversationEnded:
		return conversationEnded
	case c.Inactive():
		return conversationIdle
	}
	return conversationActive
}

// conversationVersion orders a conversation's statuses: by its latest
// activity, or inactivity report, in microseconds, then by their place at
// one instant.
func conversationVersion(c messaging.Conversation, state string) int64 {
	at := max(messaging.Instant(c.LastActiveAt), messaging.Instant(c.InactiveSince))
	return at/1000*4 + conversationPlace(state)
}

// conversationEvents: conversation.status_changed when a conversation is
// created, and whenever it goes active, inactive or ended.
func conversationEvents(p *Pair[ConversationItem]) []draft {
	after := p.After
	if after == nil {
		return nil
	}
	c := after.Conversation
	now := conversationState(c)
	var out []draft
	previous := ""
	if p.Before == nil {
		out = append(out, conversationDraft(after, conversationCreated, ""))
		previous = conversationCreated
		if now == conversationActive {
			return out
		}
	} else {
		previous = conversationState(p.Before.Conversation)
		if previous == now {
			return nil
		}
	}
	return append(out, conversationDraft(after, now, previous))
}

func conversationDraft(item *ConversationItem, status, previous string) draft {
	c := item.Conversation
	return draft{typ: bridgeevents.ConversationStatusChanged, tenantID: item.TenantID, source: source(string(item.Origin)),
		subject: "conversation:" + c.ID, version: conversationVersion(c, status), detail: status,
		data: bridgeevents.ConversationStatus{TenantID: item.TenantID, ConversationID: c.ID, PhoneNumberID: c.PhoneNumberID,
			Status: status, PreviousStatus: previous, Contact: apiview.ContactIdentity(c.Person, nil)}}
}

// --- contacts ---

// contactEvents: contact.changed when a person's identity changed (a
// BSUID replaced, one more previous BSUID) or their marketing preference
// did. A sighting, a merge pointer and the preference a contact takes in
// with an identity change tell nothing of their own.
func contactEvents(p *Pair[ContactItem]) []draft {
	after := p.After
	if after == nil || after.MergedInto != "" {
		return nil
	}
	var before messaging.Contact
	if p.Before != nil && p.Before.MergedInto == "" {
		before = p.Before.Contact
	}
	c := after.Contact
	change := ""
	switch {
	case slices.ContainsFunc(c.PreviousBSUIDs, func(b string) bool { return !slices.Contains(before.PreviousBSUIDs, b) }),
		before.Person.BSUID != "" && c.Person.BSUID != before.Person.BSUID:
		change = bridgeevents.ContactIdentityChanged
	case !samePreference(before.Marketing, c.Marketing):
		change = bridgeevents.ContactMarketingPreference
	default:
		return nil
	}
	subject := "contact:" + c.PhoneNumberID + ":" + after.Key
	return []draft{{typ: bridgeevents.ContactChanged, tenantID: after.TenantID, source: source(string(after.Origin)),
		subject: subject, version: after.Version, detail: change,
		data: bridgeevents.ContactChange{TenantID: after.TenantID, Change: change, Contact: apiview.Contact(c)}}}
}

func samePreference(a, b *messaging.MarketingPreference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Status == b.Status && a.Sequence == b.Sequence && a.OccurredAt.Equal(b.OccurredAt)
}

// --- templates ---

// templateEvents: template.status_changed when a stored template's status
// changed (DELETED, when a whole reading of its WABA no longer lists it,
// included). A template's first status, and a change of its components,
// category or quality alone, tell nothing. Its version is the template's,
// which grows with every stored change.
func templateEvents(p *Pair[templates.Template]) []draft {
	before, after := p.Before, p.After
	if before == nil || after == nil || before.Status == after.Status {
		return nil
	}
	// What reads templates is the reconciler, unless the API did.
	src := after.Source
	if src != templates.SourceAPI {
		src = bridgeevents.SourceReconciler
	}
	return []draft{{typ: bridgeevents.TemplateStatusChanged, tenantID: after.TenantID, source: src,
		subject: "template:" + after.BusinessAccountID + ":" + after.Name + ":" + after.Language,
		version: after.Version, detail: after.Status,
		data: bridgeevents.TemplateStatus{TenantID: after.TenantID, BusinessAccountID: after.BusinessAccountID,
			TemplateID: after.ID, Name: after.Name, Language: after.Language, Category: after.Category,
			Status: after.Status, PreviousStatus: before.Status, Reason: after.Reason(), QualityScore: after.QualityScore}}}
}
