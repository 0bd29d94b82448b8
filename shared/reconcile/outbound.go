package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Outbound settings of the reconciler.
const (
	// requeueAfter is how long a message may stay queued before its queue
	// message is taken as lost and sent again (the claim makes a second
	// copy harmless).
	requeueAfter = 5 * time.Minute
	// adoptBefore and adoptAfter bound the listed messages that can be a
	// send's: Kapso's timestamp is Meta's, a little after the request.
	adoptBefore = time.Minute
	adoptAfter  = 15 * time.Minute
	// DefaultUnconfirmedAfter is how long an unknown send is looked for in
	// Kapso's list before it fails as unconfirmed.
	DefaultUnconfirmedAfter = time.Hour
)

// outbound resolves the sends that are neither accepted nor failed: a
// message left queued is queued again; a claim that outlived its sender is
// unknown; an unknown send is adopted from Kapso's message list (same
// number, recipient and content, sent near its time), or after
// UnconfirmedAfter fails as unconfirmed so the caller can decide. It never
// sends anything itself.
func (r *run) outbound(ctx context.Context) error {
	if r.Outbox == nil {
		return nil
	}
	cursor := ""
	for handled := 0; handled < r.lim.Items; {
		if r.stopping(ctx) {
			return nil
		}
		items, next, err := r.Outbox.OpenOutbound(ctx, r.now, cursor, min(r.lim.Items-handled, 100))
		if err != nil {
			return fmt.Errorf("list open outbound messages: %w", err)
		}
		for _, m := range items {
			if r.stopping(ctx) {
				return nil
			}
			handled++
			r.rep.Outbound.Checked++
			fixed, err := r.resolveOutbound(ctx, m)
			if err != nil {
				r.itemFailed(ctx, "resolve outbound message", err, "tenant_id", m.TenantID, "outbound_id", m.ID)
				continue
			}
			if fixed {
				r.rep.Outbound.Found++
				r.rep.Outbound.Fixed++
			}
		}
		if next == "" || len(items) == 0 {
			return nil
		}
		cursor = next
	}
	return nil
}

// resolveOutbound handles one open message; fixed says whether it moved.
func (r *run) resolveOutbound(ctx context.Context, m messaging.OutboundMessage) (bool, error) {
	age := r.now.Sub(m.UpdatedAt)
	log := r.logger().With("tenant_id", m.TenantID, "outbound_id", m.ID, "source", "reconciler")
	switch m.State {
	case messaging.OutQueued:
		if age < requeueAfter || r.Outbound == nil {
			return false, nil
		}
		if err := r.Outbound.Enqueue(ctx, messaging.OutboundJob{TenantID: m.TenantID, ID: m.ID}, 0); err != nil {
			return false, err
		}
		log.Warn("queued message requeued", "queued_for", age.String())
		return true, nil
	case messaging.OutSending:
		if age < r.claimTimeout() {
			return false, nil
		}
		_, err := r.Outbox.MoveOutbound(ctx, m.TenantID, m.ID, messaging.Transition{
			From: []messaging.OutboundState{messaging.OutSending}, To: messaging.OutUnknown, At: r.now})
		if errors.Is(err, messaging.ErrOutboundState) || erasedMeanwhile(err, log) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		log.Warn("claim outlived its sender; send outcome unknown")
		return true, nil
	case messaging.OutUnknown:
		return r.adopt(ctx, m, age, log)
	}
	return false, nil
}

// erasedMeanwhile reports whether a move found its send gone: deleted with
// its person by an erasure since the list was read (the index lags). Every
// move is conditional on the outbound item, so nothing of it, nor the
// message an adoption writes, is stored again.
func erasedMeanwhile(err error, log *slog.Logger) bool {
	if !errors.Is(err, messaging.ErrOutboundNotFound) {
		return false
	}
	log.Info("open send gone since it was listed (erased); nothing recorded")
	return true
}

// adopt looks for the unknown send in Kapso's list of the number's
// messages and records its WAMID, or fails it once it waited long enough.
func (r *run) adopt(ctx context.Context, m messaging.OutboundMessage, age time.Duration, log *slog.Logger) (bool, error) {
	wamids, err := r.matchingSends(ctx, m)
	if err != nil {
		return false, err
	}
	for _, wamid := range wamids {
		_, err := r.Outbox.MoveOutbound(ctx, m.TenantID, m.ID, messaging.Transition{
			From: []messaging.OutboundState{messaging.OutUnknown, messaging.OutSending}, To: messaging.OutAccepted,
			WAMID: wamid, At: r.now, Content: &m})
		switch {
		case errors.Is(err, messaging.ErrWAMIDTaken):
			continue // the same content sent twice on purpose: the other send's
		case errors.Is(err, messaging.ErrOutboundState), erasedMeanwhile(err, log):
			return false, nil
		case err != nil:
			return false, err
		}
		log.Info("unknown send found at Kapso; adopted", "wamid", wamid)
		return true, nil
	}
	if age < r.unconfirmedAfter() {
		return false, nil
	}
	_, err = r.Outbox.MoveOutbound(ctx, m.TenantID, m.ID, messaging.Transition{
		From: []messaging.OutboundState{messaging.OutUnknown}, To: messaging.OutFailed,
		Reason: messaging.ReasonUnconfirmed, At: r.now})
	if errors.Is(err, messaging.ErrOutboundState) || erasedMeanwhile(err, log) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	log.Warn("unknown send never found at Kapso; failed as unconfirmed", "waited", age.String())
	return true, nil
}

// matchingSends are the WAMIDs of the number's outbound messages Kapso
// lists that can be m: to the same person, of the same type and text, with
// a time from adoptBefore before m was created to adoptAfter after it was
// last touched. The list is newest first; reading stops at the oldest
// time that can match.
func (r *run) matchingSends(ctx context.Context, m messaging.OutboundMessage) ([]string, error) {
	earliest, latest := m.CreatedAt.Add(-adoptBefore), m.UpdatedAt.Add(adoptAfter)
	var out []string
	after := ""
	for range r.lim.MessagePages {
		page, err := r.sentPage(ctx, m.PhoneNumberID, after)
		if err != nil {
			return nil, err
		}
		for _, l := range page.Items {
			if l.Timestamp.Before(earliest) {
				return out, nil
			}
			if l.Direction != "outbound" || l.Timestamp.After(latest) {
				continue
			}
			if sameSend(m, l) {
				out = append(out, l.ID)
			}
		}
		if page.After == "" {
			break
		}
		after = page.After
	}
	return out, nil
}

// sentPage is one page of the number's messages at Kapso, read once a run.
func (r *run) sentPage(ctx context.Context, number, after string) (messaging.ListedPage[messaging.ListedMessage], error) {
	k := number + "\x00" + after
	if p, ok := r.sentPages[k]; ok {
		return p, nil
	}
	p, err := r.Kapso.ListMessages(ctx, number, after, 100)
	if err != nil {
		return p, fmt.Errorf("list messages of %s: %w", number, err)
	}
	if r.sentPages == nil {
		r.sentPages = map[string]messaging.ListedPage[messaging.ListedMessage]{}
	}
	r.sentPages[k] = p
	return p, nil
}

// sameSend reports whether Kapso's listed message l is the message m asked
// for: the same recipient (phone, or BSUID when m has no phone), type and
// text as kapso-bridge renders both.
func sameSend(m messaging.OutboundMessage, l messaging.ListedMessage) bool {
	body, err := listedMessageEvent(l.Raw, m.PhoneNumberID)
	if err != nil {
		return false
	}
	ev, err := kapso.DecodeMessageEvent(body)
	if err != nil {
		return false
	}
	km, err := messaging.FromKapsoMessage(kapso.EventMessageSent, ev)
	if err != nil {
		return false
	}
	got := km.Message
	if got.Type != m.Type || got.Text != m.Text {
		return false
	}
	if m.To.Phone != "" {
		return got.To.Phone == m.To.Phone
	}
	return m.To.BSUID != "" && got.To.BSUID == m.To.BSUID
}

func (r *run) unconfirmedAfter() time.Duration {
	if r.UnconfirmedAfter > 0 {
		return r.UnconfirmedAfter
	}
	return DefaultUnconfirmedAfter
}

func (r *run) claimTimeout() time.Duration {
	if r.ClaimTimeout > 0 {
		return r.ClaimTimeout
	}
	return messaging.DefaultClaimTimeout
}
