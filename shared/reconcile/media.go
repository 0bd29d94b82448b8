package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

// MediaQueue takes a message's message.received event to the media worker
// again (sqsqueue.EventQueue on the media queue).
type MediaQueue interface {
	Send(ctx context.Context, ev bridgeevents.Event) error
}

// mediaRetries hands the media worker again, at most once every
// media.RetryEvery, each message whose media copy failed for a reason that
// may pass, while Meta keeps its media id; the event it gets is the one
// the publisher told, under the same id. The copy's due time moves on
// before the event is sent, so a run that fails between the two delays the
// copy by an hour, never sends it twice in one. A message older than the
// media id's lifetime is recorded failed for good: no copy can pass.
func (r *run) mediaRetries(ctx context.Context) error {
	if r.Media == nil || r.MediaQueue == nil || r.Messages == nil {
		return nil
	}
	due, err := r.Media.DueMediaRetries(ctx, r.now, r.lim.Items)
	if err != nil {
		return fmt.Errorf("list due media copies: %w", err)
	}
	c := &r.rep.Media
	for _, x := range due {
		if r.stopping(ctx) {
			return nil
		}
		c.Checked++
		if err := r.retryMedia(ctx, x, c); err != nil {
			r.itemFailed(ctx, "copy media again", err, "tenant_id", x.TenantID, "wamid", x.WAMID)
		}
	}
	return nil
}

func (r *run) retryMedia(ctx context.Context, x media.Retry, c *Counts) error {
	info, found, err := r.Media.MediaState(ctx, x.TenantID, x.WAMID)
	if err != nil {
		return fmt.Errorf("read media state: %w", err)
	}
	m, ok, err := r.Messages.Message(ctx, x.TenantID, x.WAMID)
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	if !found || !ok {
		return fmt.Errorf("a due media copy of a message not stored")
	}
	if info.State != media.Failed {
		// Stored since, which ended the copy's turn; or never failed.
		return nil
	}
	c.Found++
	if age := r.now.Sub(m.Timestamp); !m.Timestamp.IsZero() && age >= media.WebhookIDLifetime {
		info.Error = media.Failure(media.ReasonExpired, fmt.Sprintf("the message is %s old; Meta keeps media ids %s",
			age.Truncate(time.Hour), media.WebhookIDLifetime))
		info.At = r.now
		if err := r.Media.SetMedia(ctx, x.TenantID, x.WAMID, info, time.Time{}); err != nil {
			return fmt.Errorf("record media expired: %w", err)
		}
		r.logger().Warn("media copy given up: its media id expired", "tenant_id", x.TenantID, "wamid", x.WAMID)
		return nil
	}
	// The event the publisher told when the message was stored: same
	// data, same id.
	at := m.Timestamp
	if at.IsZero() {
		at = r.now
	}
	evs, err := eventing.Derive(eventing.Change{At: at,
		Message: &eventing.Pair[eventing.MessageItem]{After: &eventing.MessageItem{TenantID: x.TenantID, Message: m}}})
	if err != nil {
		return fmt.Errorf("make the message's event: %w", err)
	}
	if len(evs) != 1 || evs[0].Type != bridgeevents.MessageReceived {
		return fmt.Errorf("the message makes no message.received event (direction %s, known %t)", m.Direction, m.Known)
	}
	if err := r.Media.SetMedia(ctx, x.TenantID, x.WAMID, info, r.now.Add(media.RetryEvery)); err != nil {
		return fmt.Errorf("move the copy's next turn on: %w", err)
	}
	if err := r.MediaQueue.Send(ctx, evs[0]); err != nil {
		return fmt.Errorf("queue the message's event: %w", err)
	}
	c.Fixed++
	return nil
}
