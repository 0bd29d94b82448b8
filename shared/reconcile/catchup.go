package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// catchUpOverlap is read again below a number's high-water mark: Kapso
// delivers a message late by up to 30 s, and clocks differ.
const catchUpOverlap = 10 * time.Minute

// firstLookback is how far before its connection a number with no mark is
// read: events that arrived before the connection were kept for it, and a
// lost delivery of those is caught up too.
const firstLookback = 24 * time.Hour

// catchUp hands the messages and conversations Kapso lists for the number,
// newer than what the last catch-up saw, to the messages worker, which
// stores them through the same code as webhook events: a message already
// stored is not stored twice, and statuses only move forward. since, when
// not zero, reads back at least that far (a failed delivery's time).
func (r *run) catchUp(ctx context.Context, tenantID, number string, connectedAt, since time.Time) error {
	if r.Queue == nil {
		return nil
	}
	if connectedAt.IsZero() {
		connectedAt = r.now // a number recorded before connections kept their time
	}
	start := connectedAt.Add(-firstLookback)
	err := pageSince(ctx, r, "catchup:messages:"+number, r.lim.MessagePages, start, since, &r.rep.Messages,
		func(ctx context.Context, after string) (messaging.ListedPage[messaging.ListedMessage], error) {
			return r.Kapso.ListMessages(ctx, number, after, 100)
		},
		func(m messaging.ListedMessage) time.Time { return m.Timestamp },
		func(ctx context.Context, m messaging.ListedMessage) (bool, error) {
			if stored, err := r.alreadyStored(ctx, tenantID, m); err != nil || stored {
				return false, err
			}
			body, err := listedMessageEvent(m.Raw, number)
			if err != nil {
				return false, fmt.Errorf("encode listed message %s: %w", m.ID, err)
			}
			return true, r.hand(ctx, number, "m#"+m.ID+"#"+m.Status, messageEvent(m), body)
		})
	if err != nil {
		return fmt.Errorf("catch up messages: %w", err)
	}
	err = pageSince(ctx, r, "catchup:conversations:"+number, r.lim.MessagePages, start, since, &r.rep.Conversations,
		func(ctx context.Context, after string) (messaging.ListedPage[messaging.ListedConversation], error) {
			return r.Kapso.ListConversations(ctx, number, after, 100)
		},
		func(c messaging.ListedConversation) time.Time { return c.UpdatedAt },
		func(ctx context.Context, c messaging.ListedConversation) (bool, error) {
			body, err := json.Marshal(struct {
				Conversation  json.RawMessage `json:"conversation"`
				PhoneNumberID string          `json:"phone_number_id"`
			}{c.Raw, number})
			if err != nil {
				return false, fmt.Errorf("encode listed conversation %s: %w", c.ID, err)
			}
			name := kapso.EventConversationCreated
			if c.Status == "ended" {
				name = kapso.EventConversationEnded
			}
			if stored, err := r.conversationStored(ctx, tenantID, c.ID, name, body); err != nil || stored {
				return false, err
			}
			return true, r.hand(ctx, number, "c#"+c.ID+"#"+c.UpdatedAt.Format(time.RFC3339Nano), name, body)
		})
	if err != nil {
		return fmt.Errorf("catch up conversations: %w", err)
	}
	return nil
}

// alreadyStored reports whether the messages store holds m as Kapso lists
// it: known, and, for an outbound message, at its listed status or past
// it. Such a message is not handed on again: one read instead of the
// worker's writes, for the many messages whose webhooks did arrive.
func (r *run) alreadyStored(ctx context.Context, tenantID string, m messaging.ListedMessage) (bool, error) {
	if r.Messages == nil {
		return false, nil
	}
	stored, ok, err := r.Messages.Message(ctx, tenantID, m.ID)
	if err != nil {
		return false, fmt.Errorf("read stored message %s: %w", m.ID, err)
	}
	if !ok || !stored.Known {
		return false, nil
	}
	return m.Direction == "inbound" || stored.Delivery.Status.Rank() >= messaging.Status(m.Status).Rank(), nil
}

// conversationStored reports whether handing on the listed conversation
// (event name with body, as the messages worker would read it) would
// change nothing stored: the worker stores it by the rule of
// messaging.MergeConversation, which says whether the stored conversation
// would change. Its contact sighting is at the same last activity, so it
// changes nothing either.
func (r *run) conversationStored(ctx context.Context, tenantID, id, name string, body []byte) (bool, error) {
	if r.Messages == nil {
		return false, nil
	}
	p, err := kapso.DecodeConversationEvent(body)
	if err != nil {
		return false, nil // the worker refuses it and says why
	}
	c, err := messaging.FromKapsoConversation(name, p)
	if err != nil {
		return false, nil
	}
	stored, ok, err := r.Messages.Conversation(ctx, tenantID, id)
	if err != nil {
		return false, fmt.Errorf("read stored conversation %s: %w", id, err)
	}
	if !ok {
		return false, nil
	}
	_, changed := messaging.MergeConversation(stored, c)
	return !changed, nil
}

// messageEvent is the webhook event that would have carried m as Kapso
// lists it now: received for an inbound message, else its current status.
func messageEvent(m messaging.ListedMessage) string {
	if m.Direction == "inbound" {
		return kapso.EventMessageReceived
	}
	switch m.Status {
	case "delivered":
		return kapso.EventMessageDelivered
	case "read":
		return kapso.EventMessageRead
	case "failed":
		return kapso.EventMessageFailed
	}
	return kapso.EventMessageSent
}

// hand puts one caught-up item on the messages queue as a delivery of the
// number's, in the shape of its Kapso webhook.
func (r *run) hand(ctx context.Context, number, item, event string, body []byte) error {
	d := envelope.Delivery{Source: envelope.SourceReconciler, Key: "catchup#" + number + "#" + item,
		PhoneNumberID: number, Event: event, ReceivedAt: r.now}
	if err := r.Queue.Send(ctx, r.MessagesQueueURL, d, body, false); err != nil {
		return fmt.Errorf("queue caught-up %s: %w", item, err)
	}
	return nil
}

// markState is where a catch-up of one list stands, kept as a checkpoint:
// Mark is the newest item time a finished pass saw; a pass cut short keeps
// its Floor, its cursor (Resume) and the newest time it saw, and the next
// run finishes it first.
type markState struct {
	Mark   time.Time `json:"mark,omitzero"`
	Floor  time.Time `json:"floor,omitzero"`
	Resume string    `json:"resume,omitempty"`
	Newest time.Time `json:"newest,omitzero"`
	// Unhanded is the time of the oldest item of the pass that could not
	// be handed on: the mark does not move past it, so the next pass reads
	// it again (and only from there, not the whole list).
	Unhanded time.Time `json:"unhanded,omitzero"`
}

// pageSince reads a newest-first cursor-paged list from its newest item
// down to the floor (the mark less the overlap; start when there is no
// mark; since when earlier), at most pages pages per run,
// and hands each item at or above the floor to handle, which says whether
// the item needed handing on (found) or was in order already. An item
// handle fails is left to the next pass: the mark does not move past it.
func pageSince[T any](ctx context.Context, r *run, name string, pages int, start, since time.Time, c *Counts,
	list func(ctx context.Context, after string) (messaging.ListedPage[T], error),
	at func(T) time.Time, handle func(context.Context, T) (bool, error)) error {
	raw, err := r.Checkpoints.Checkpoint(ctx, name)
	if err != nil {
		return err
	}
	var st markState
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			r.logger().Warn("unreadable catch-up mark; starting over", "name", name, "err", err.Error())
			st = markState{}
		}
	}
	if st.Resume == "" {
		st.Floor = start
		if !st.Mark.IsZero() {
			st.Floor = st.Mark.Add(-catchUpOverlap)
		}
		st.Newest = st.Mark
	}
	if !since.IsZero() && since.Before(st.Floor) {
		st.Floor = since
	}
	for range pages {
		page, err := list(ctx, st.Resume)
		if err != nil {
			return err
		}
		reached := false
		for _, it := range page.Items {
			t := at(it)
			c.Checked++
			if t.Before(st.Floor) {
				reached = true
				break
			}
			handed, err := handle(ctx, it)
			if handed {
				c.Found++
			}
			if err != nil {
				if st.Unhanded.IsZero() || t.Before(st.Unhanded) {
					st.Unhanded = t
				}
				r.itemFailed(ctx, "hand a caught-up item to the messages worker", err, "list", name)
				continue
			}
			if handed {
				c.Fixed++
			}
			if t.After(st.Newest) {
				st.Newest = t
			}
		}
		if reached || page.After == "" {
			done := markState{Mark: st.Newest}
			if !st.Unhanded.IsZero() && st.Unhanded.Before(done.Mark) {
				done.Mark = st.Unhanded
			}
			return r.saveMark(ctx, name, done)
		}
		st.Resume = page.After
		if r.stopping(ctx) {
			break
		}
	}
	return r.saveMark(ctx, name, st)
}

func (r *run) saveMark(ctx context.Context, name string, st markState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode catch-up mark %s: %w", name, err)
	}
	return r.Checkpoints.SaveCheckpoint(ctx, name, string(b))
}

// listedMessageEvent is the body of the number's message webhook that
// would have carried raw, an item of Kapso's message list.
func listedMessageEvent(raw json.RawMessage, number string) ([]byte, error) {
	return json.Marshal(struct {
		Message       json.RawMessage `json:"message"`
		PhoneNumberID string          `json:"phone_number_id"`
	}{raw, number})
}
