package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// PutConversation implements messaging.Store by the rule of
// messaging.MergeConversation, without reading first: one UpdateItem that
// sets c's fields, conditional on c superseding what is stored
// (Conversation.Supersedes, spelled as the condition), else a second one
// that only fills missing fields. An inactivity report the second one
// brings is the latest one only if the stored one is older (the failed
// first write returned it): then the second write sets it, on that
// condition, and a third fills without it if a later one landed
// meanwhile.
func (s *Messages) PutConversation(ctx context.Context, tenantID string, c messaging.Conversation) error {
	wrap := func(err error) error { return fmt.Errorf("put conversation %s: %w", c.ID, refused(err)) }
	if tenantID == "" || c.ID == "" {
		return wrap(invalid("conversation without tenant or id"))
	}
	k := conversationKey(tenantID, c.ID)
	build := func(newer bool) *update {
		u := newUpdate()
		if !newer {
			s.expire(u, false, c.LastActiveAt)
		}
		u.setTo(attrConversationID, str(c.ID))
		u.put(newer, attrPhoneNumberID, c.PhoneNumberID)
		putPerson(u, newer, "", c.Person)
		u.put(newer, attrStatus, string(c.Status))
		if c.InactivityMinutes != 0 {
			u.putAttr(newer, attrInactivity, numberAttr(int64(c.InactivityMinutes)))
		}
		return u
	}
	since := messaging.Instant(c.InactiveSince)
	// setInactive sets the inactivity report and returns the condition
	// that it is the latest.
	setInactive := func(u *update) string {
		n, v := u.name(attrInactiveNs), u.val(numberAttr(since))
		u.set = append(u.set, n+" = "+v)
		u.setTo(attrInactiveSince, str(stamp(c.InactiveSince)))
		return "attribute_not_exists(" + n + ") OR " + n + " < " + v
	}
	u := build(true)
	setOrigin(ctx, u)
	if !c.InactiveSince.IsZero() {
		// A superseding event's report is never older than the stored one.
		setInactive(u)
	}
	t := u.val(numberAttr(messaging.Instant(c.LastActiveAt)))
	u.set = append(u.set, u.name(attrLastActiveNs)+" = "+t)
	if !c.LastActiveAt.IsZero() {
		u.setTo(attrLastActiveAt, str(stamp(c.LastActiveAt)))
	}
	// A newer activity moves the expiry on; an older one only fills it.
	s.expire(u, true, c.LastActiveAt)
	u.setTo(schema.AttrGSI1PK, str(conversationsPartition(tenantID)))
	u.setTo(schema.AttrGSI1SK, str(indexPosition(c.LastActiveAt, c.ID)))
	ns := u.name(attrLastActiveNs)
	cond := "attribute_not_exists(" + ns + ") OR " + ns + " < " + t + " OR (" + ns + " = " + t
	if c.Status == messaging.ConversationActive {
		st := u.name(attrStatus)
		cond += " AND (attribute_not_exists(" + st + ") OR " + st + " <> " + u.val(str(string(messaging.ConversationEnded))) + ")"
	}
	cond += ")"
	_, err := s.updateItem(ctx, k, u, cond, types.ReturnValueNone)
	if old, failed := conditionFailedItem(err); failed {
		fill, cond := build(false), ""
		if stored, err := intAttr(old[attrInactiveNs]); !c.InactiveSince.IsZero() && (err != nil || stored < since) {
			cond = setInactive(fill)
		}
		_, err = s.updateItem(ctx, k, fill, cond, types.ReturnValueNone)
		if _, failed := conditionFailedItem(err); failed {
			_, err = s.updateItem(ctx, k, build(false), "", types.ReturnValueNone)
		}
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// Conversation is one stored conversation by id: one GetItem. ok is false
// when none is stored under id for the tenant.
func (s *Messages) Conversation(ctx context.Context, tenantID, id string) (messaging.Conversation, bool, error) {
	if tenantID == "" || id == "" {
		return messaging.Conversation{}, false, nil
	}
	it, err := s.getItem(ctx, conversationKey(tenantID, id))
	if err != nil {
		return messaging.Conversation{}, false, fmt.Errorf("read conversation %s: %w", id, err)
	}
	if s.gone(it) {
		return messaging.Conversation{}, false, nil
	}
	return conversationFrom(it), true, nil
}

func conversationFrom(it map[string]types.AttributeValue) messaging.Conversation {
	c := messaging.Conversation{
		ID:            stringAttr(it[attrConversationID]),
		PhoneNumberID: stringAttr(it[attrPhoneNumberID]),
		Person:        personFrom(it, ""),
		Status:        messaging.ConversationStatus(stringAttr(it[attrStatus])),
		LastActiveAt:  parseStamp(stringAttr(it[attrLastActiveAt])),
	}
	if n, err := intAttr(it[attrInactivity]); err == nil {
		c.InactivityMinutes = int(n)
	}
	c.InactiveSince = parseStamp(stringAttr(it[attrInactiveSince]))
	return c
}
