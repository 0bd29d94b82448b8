package messagesworker

import (
	"context"
	"fmt"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// apply stores what ev says for the tenant. Every fact comes from the
// signed body; the event name only routes. An event dated after its
// receipt is refused before anything is written (messaging.ErrAhead).
func (w *Worker) apply(ctx context.Context, tenant, number string, ev event) error {
	if ev.meta != nil {
		return w.applyMeta(ctx, tenant, number, ev)
	}
	received := w.receivedAt(ev)
	switch {
	case kapso.IsMessageEvent(ev.Name):
		p, err := kapso.DecodeMessageEvent(ev.Payload)
		if err != nil {
			return err
		}
		if p.PhoneNumberID == "" {
			p.PhoneNumberID = number
		}
		km, err := messaging.FromKapsoMessage(ev.Name, p)
		if err != nil {
			return err
		}
		if km.Message.PhoneNumberID != number {
			return fmt.Errorf("message %s names number %s: %w", km.Message.WAMID, km.Message.PhoneNumberID,
				messaging.ErrForeignNumber)
		}
		if err := km.NotAhead(received); err != nil {
			return err
		}
		return w.putMessage(ctx, tenant, km.Message, km.Statuses, km.Conversation)
	case kapso.IsConversationEvent(ev.Name):
		p, err := kapso.DecodeConversationEvent(ev.Payload)
		if err != nil {
			return err
		}
		if p.PhoneNumberID == "" {
			p.PhoneNumberID = number
		}
		c, err := messaging.FromKapsoConversation(ev.Name, p)
		if err != nil {
			return err
		}
		if c.PhoneNumberID != number {
			return fmt.Errorf("conversation %s names number %s: %w", c.ID, c.PhoneNumberID, messaging.ErrForeignNumber)
		}
		if err := c.NotAhead(received); err != nil {
			return err
		}
		if err := w.Store.PutConversation(ctx, tenant, c); err != nil {
			return err
		}
		if c.Person.Key() == "" {
			return nil
		}
		return w.Store.PutContact(ctx, tenant, number, c.Person, messaging.Sighting{At: c.LastActiveAt, ConversationID: c.ID})
	case ev.Name == kapso.EventContactIdentityChanged:
		p, err := kapso.DecodeContactIdentityChanged(ev.Payload)
		if err != nil {
			return err
		}
		c, err := messaging.FromKapsoIdentityChange(p)
		if err != nil {
			return err
		}
		if err := c.NotAhead(received); err != nil {
			return err
		}
		return w.changeIdentity(ctx, tenant, number, c)
	case ev.Name == kapso.EventContactMarketingPreference:
		p, err := kapso.DecodeMarketingPreferenceChanged(ev.Payload)
		if err != nil {
			return err
		}
		c, err := messaging.FromKapsoMarketingPreference(p)
		if err != nil {
			return err
		}
		if err := sameNumber(c.PhoneNumberID, number); err != nil {
			return err
		}
		if err := c.NotAhead(received); err != nil {
			return err
		}
		return w.Store.SetMarketingPreference(ctx, tenant, number, c.Person, c.Preference)
	}
	return errUnused{reason: "no use for event " + ev.Name}
}

// putMessage stores a message, its statuses, its conversation and its
// person. An outbound message whose statuses have moved past sent is a
// status event: its message, conversation and person were stored with its
// sent event, so only the message is written (one call), which still
// stores it whole if the sent event was missed.
func (w *Worker) putMessage(ctx context.Context, tenant string, msg messaging.Message, statuses []messaging.StatusUpdate, conv *messaging.Conversation) error {
	c := conversationOf(&msg, conv)
	if err := w.Store.PutMessage(ctx, tenant, msg, statuses); err != nil {
		return err
	}
	if pastSent(msg, statuses) {
		return nil
	}
	if c.ID != "" {
		if err := w.Store.PutConversation(ctx, tenant, c); err != nil {
			return err
		}
	}
	if p := msg.Counterpart(); p.Key() != "" {
		return w.Store.PutContact(ctx, tenant, msg.PhoneNumberID, p, messaging.Sighting{
			At: msg.Timestamp, Inbound: msg.Direction == messaging.Inbound, ConversationID: msg.ConversationID})
	}
	return nil
}

// conversationOf is the conversation msg belongs to, as the message shows
// it, and gives msg its id: Kapso's when the event carries one, else the
// stable id of (number, person) that Meta-format traffic gets.
func conversationOf(msg *messaging.Message, conv *messaging.Conversation) messaging.Conversation {
	var c messaging.Conversation
	if conv != nil {
		c = *conv
	} else {
		// A message shows its conversation active with its person.
		c = messaging.MetaConversation(*msg)
		if msg.ConversationID != "" {
			c.ID = msg.ConversationID
		}
		msg.ConversationID = c.ID
	}
	if c.PhoneNumberID == "" {
		c.PhoneNumberID = msg.PhoneNumberID
	}
	if c.LastActiveAt.Before(msg.Timestamp) {
		c.LastActiveAt = msg.Timestamp
	}
	return c
}

func pastSent(msg messaging.Message, statuses []messaging.StatusUpdate) bool {
	if msg.Direction != messaging.Outbound {
		return false
	}
	for _, s := range statuses {
		if s.Status != messaging.Sent {
			return true
		}
	}
	return false
}

func (w *Worker) applyMeta(ctx context.Context, tenant, number string, ev event) error {
	e := *ev.meta
	received := w.receivedAt(ev)
	switch e.Kind {
	case meta.KindMessage:
		p, err := meta.DecodeMessage(e)
		if err != nil {
			return err
		}
		p.Metadata.PhoneNumberID = number
		msg, err := messaging.FromMetaMessage(p)
		if err != nil {
			return err
		}
		if err := msg.NotAhead(received); err != nil {
			return err
		}
		if err := w.putMessage(ctx, tenant, msg, nil, nil); err != nil {
			return err
		}
		if c, ok := messaging.IdentityChangeOf(msg, p); ok {
			return w.changeIdentity(ctx, tenant, number, c)
		}
		return nil
	case meta.KindStatus:
		p, err := meta.DecodeStatus(e)
		if err != nil {
			return err
		}
		if _, ok := messaging.ParseStatus(p.Status.Status); !ok {
			return errUnused{reason: fmt.Sprintf("status %q of %s is not a delivery status", p.Status.Status, p.Status.ID)}
		}
		p.Metadata.PhoneNumberID = number
		u, err := messaging.FromMetaStatus(p)
		if err != nil {
			return err
		}
		if err := u.NotAhead(received); err != nil {
			return err
		}
		return w.Store.ApplyStatus(ctx, tenant, u)
	case meta.KindErrors:
		errs, err := meta.DecodeErrors(e)
		if err != nil {
			return err
		}
		return errUnused{reason: fmt.Sprintf("meta reported %d errors for the number", len(errs))}
	case meta.KindChange:
		if e.Field != "user_id_update" {
			return errUnused{reason: "no use for meta field " + e.Field}
		}
		changes, err := messaging.FromMetaUserIDUpdate(e.Raw, number)
		if err != nil {
			return err
		}
		for _, c := range changes {
			if err := c.NotAhead(received); err != nil {
				return err
			}
		}
		for _, c := range changes {
			if err := w.changeIdentity(ctx, tenant, number, c); err != nil {
				return err
			}
		}
		return nil
	}
	return errUnused{reason: "unknown meta event " + ev.Name}
}

func (w *Worker) changeIdentity(ctx context.Context, tenant, number string, c messaging.IdentityChange) error {
	if err := sameNumber(c.PhoneNumberID, number); err != nil {
		return err
	}
	return w.Store.ChangeIdentity(ctx, tenant, number, c.Previous, c.Current, c.At)
}

// sameNumber applies the trust rule to a number an event's body names
// after it was split (the splitter may not have seen it).
func sameNumber(named, number string) error {
	_, err := messaging.ResolveNumber(number, named)
	return err
}
