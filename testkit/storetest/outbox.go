package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// NewOutbox makes a fresh, empty messages store whose one value is the
// Store, the Reader and the Outbox: an accept merges into the messages the
// store keeps.
type NewOutbox func(t *testing.T) (messaging.Store, messaging.Reader, messaging.Outbox)

// queued is the message a tenant asks to send under key, created at created.
func queued(tenant, key, conv string, created time.Time) messaging.OutboundMessage {
	return messaging.OutboundMessage{ID: messaging.OutboundID(tenant, key), TenantID: tenant, IdempotencyKey: key,
		Fingerprint: "fp-" + key, PhoneNumberID: number, To: messaging.Person{Phone: phoneAna}, Type: "text",
		Text: "hello " + key, Body: []byte(`{"messaging_product":"whatsapp","type":"text","text":{"body":"hello ` + key + `"}}`),
		ConversationID: conv, State: messaging.OutQueued, CreatedAt: created, UpdatedAt: created}
}

func created(t *testing.T, o messaging.Outbox, m messaging.OutboundMessage) messaging.OutboundMessage {
	t.Helper()
	stored, ok, err := o.CreateOutbound(context.Background(), m)
	if err != nil || !ok {
		t.Fatalf("create %s: created %v err %v", m.ID, ok, err)
	}
	equal(t, "created "+m.ID, stored, m)
	return stored
}

func moved(t *testing.T, o messaging.Outbox, tenant, id string, tr messaging.Transition) messaging.OutboundMessage {
	t.Helper()
	m, err := o.MoveOutbound(context.Background(), tenant, id, tr)
	if err != nil {
		t.Fatalf("move %s to %s: %v", id, tr.To, err)
	}
	if m.State != tr.To || !m.UpdatedAt.Equal(tr.At) {
		t.Fatalf("move %s to %s returned %+v", id, tr.To, m)
	}
	return m
}

func from(states ...messaging.OutboundState) []messaging.OutboundState { return states }

func stored(t *testing.T, o messaging.Outbox, tenant, id string) messaging.OutboundMessage {
	t.Helper()
	m, ok, err := o.Outbound(context.Background(), tenant, id)
	if err != nil || !ok {
		t.Fatalf("outbound %s: ok %v err %v", id, ok, err)
	}
	return m
}

// listed is every message of a conversation, in pages of limit.
func listed(t *testing.T, r messaging.Reader, tenant, conv string, limit int) []messaging.StoredMessage {
	t.Helper()
	var all []messaging.StoredMessage
	cursor := ""
	for range 20 {
		page, next, err := r.ConversationMessages(context.Background(), tenant, conv, messaging.Page{Limit: limit, Cursor: cursor})
		must(t, err)
		if len(page) > limit {
			t.Fatalf("page of %d for limit %d", len(page), limit)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
	t.Fatal("messages never end")
	return nil
}

// ids names each message by its WAMID, or its outbound id while it has none.
func ids(ms []messaging.StoredMessage) []string {
	var out []string
	for _, m := range ms {
		id := m.WAMID
		if id == "" && m.Outbound != nil {
			id = m.Outbound.ID
		}
		out = append(out, id)
	}
	return out
}

func openIDs(t *testing.T, o messaging.Outbox, before time.Time, limit int) []string {
	t.Helper()
	return pageIDs(t, "open messages", limit, func(cursor string) ([]string, string, error) {
		page, next, err := o.OpenOutbound(context.Background(), before, cursor, limit)
		ids := make([]string, len(page))
		for i, m := range page {
			ids[i] = m.ID
		}
		return ids, next, err
	})
}

// RunOutbox holds an outbox, and the messages store it merges into, to
// their contract.
func RunOutbox(t *testing.T, newStore NewOutbox) {
	ctx := context.Background()
	claim := messaging.Transition{From: from(messaging.OutQueued), To: messaging.OutSending}
	accept := func(wamid string, at time.Time) messaging.Transition {
		return messaging.Transition{From: from(messaging.OutSending, messaging.OutUnknown), To: messaging.OutAccepted,
			WAMID: wamid, At: at}
	}
	at2 := func(tr messaging.Transition, at time.Time) messaging.Transition { tr.At = at; return tr }
	cases := map[string]func(t *testing.T, s messaging.Store, r messaging.Reader, o messaging.Outbox){
		"the same message created twice is the first": func(t *testing.T, _ messaging.Store, _ messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			again := m
			again.Text, again.Fingerprint, again.Body = "other", "fp-other", []byte(`{}`)
			got, ok, err := o.CreateOutbound(ctx, again)
			if err != nil || ok {
				t.Fatalf("second create: created %v err %v", ok, err)
			}
			equal(t, "second create", got, m)
			equal(t, "read", stored(t, o, tenantA, m.ID), m)
			// A new message is queued, whatever it says.
			odd := queued(tenantA, "k2", "", at(2))
			odd.State, odd.WAMID, odd.Reason = messaging.OutAccepted, "wamid.odd", messaging.ReasonRejected
			got, ok, err = o.CreateOutbound(ctx, odd)
			if err != nil || !ok || got.State != messaging.OutQueued || got.WAMID != "" || got.Reason != "" {
				t.Errorf("create of a non-queued message: %+v %v %v", got, ok, err)
			}
			if _, ok, err := o.Outbound(ctx, tenantA, messaging.OutboundID(tenantA, "never")); ok || err != nil {
				t.Errorf("unknown message: ok %v err %v", ok, err)
			}
		},
		"a move from another state changes nothing": func(t *testing.T, _ messaging.Store, r messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			for _, tr := range []messaging.Transition{
				{From: from(messaging.OutSending), To: messaging.OutFailed, Reason: messaging.ReasonRejected, At: at(2)},
				{From: from(messaging.OutSending, messaging.OutUnknown), To: messaging.OutQueued, At: at(2)},
				accept("wamid.1", at(2)),
			} {
				got, err := o.MoveOutbound(ctx, tenantA, m.ID, tr)
				if !errors.Is(err, messaging.ErrOutboundState) {
					t.Errorf("move to %s from %v: %v", tr.To, tr.From, err)
				}
				equal(t, "returned with the refusal", got, m)
			}
			equal(t, "after refusals", stored(t, o, tenantA, m.ID), m)
			if _, ok, err := r.Message(ctx, tenantA, "wamid.1"); ok || err != nil {
				t.Errorf("a refused accept stored its WAMID: %v %v", ok, err)
			}
			if _, err := o.MoveOutbound(ctx, tenantA, messaging.OutboundID(tenantA, "never"), at2(claim, at(2))); !errors.Is(err, messaging.ErrOutboundNotFound) {
				t.Errorf("move of nothing: %v", err)
			}
			// The sender's way: claim, give back, claim again, lose track.
			got := moved(t, o, tenantA, m.ID, at2(claim, at(2)))
			if got.Attempts != 1 {
				t.Errorf("first claim: %d attempts", got.Attempts)
			}
			moved(t, o, tenantA, m.ID, messaging.Transition{From: from(messaging.OutSending), To: messaging.OutQueued, At: at(3)})
			got = moved(t, o, tenantA, m.ID, at2(claim, at(4)))
			got = moved(t, o, tenantA, m.ID, messaging.Transition{From: from(messaging.OutSending), To: messaging.OutUnknown, At: at(5)})
			want := m
			want.State, want.Attempts, want.UpdatedAt = messaging.OutUnknown, 2, at(5)
			equal(t, "after the moves", got, want)
			equal(t, "read after the moves", stored(t, o, tenantA, m.ID), want)
		},
		"racing claims: exactly one wins": func(t *testing.T, _ messaging.Store, _ messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			winner := ""
			for i := range 8 {
				wg.Go(func() {
					token := fmt.Sprintf("claim-%d", i)
					c := at2(claim, at(2))
					c.Claim = token
					got, err := o.MoveOutbound(ctx, tenantA, m.ID, c)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
						winner = token
						if got.Claim != token {
							t.Errorf("the winning claim reads token %q, want %q", got.Claim, token)
						}
					case !errors.Is(err, messaging.ErrOutboundState) || got.State != messaging.OutSending || got.Claim == token:
						t.Errorf("a losing claim: %+v %v", got, err)
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Errorf("%d claims won", wins)
			}
			// A retried write of the winning claim finds it taken, by the
			// winner's own token.
			if got := stored(t, o, tenantA, m.ID); got.State != messaging.OutSending || got.Attempts != 1 || got.Claim != winner {
				t.Errorf("after the race: %+v, winner %q", got, winner)
			}
		},
		"an accepted message is listed once, whatever arrives first": func(t *testing.T, s messaging.Store, r messaging.Reader, o messaging.Outbox) {
			for _, order := range []string{"webhook first", "webhook after", "status first"} {
				t.Run(order, func(t *testing.T) {
					conv, wamid := "conv-"+order, "wamid."+order
					m := created(t, o, queued(tenantA, order, conv, at(1)))
					moved(t, o, tenantA, m.ID, at2(claim, at(2)))
					kapsoCopy := messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Outbound,
						Type: "text", Text: "hello (kapso)", Timestamp: at(2), To: messaging.Person{BSUID: bsuidOld, Phone: phoneAna},
						ConversationID: conv, Kapso: &messaging.KapsoContent{Content: "hello (kapso)", Origin: "api"}}
					sent, delivered := status(wamid, messaging.Sent, at(2)), status(wamid, messaging.Delivered, at(3))
					webhook := func() { must(t, s.PutMessage(ctx, tenantA, kapsoCopy, []messaging.StatusUpdate{sent})) }
					want := m
					want.State, want.WAMID, want.Attempts, want.UpdatedAt = messaging.OutAccepted, wamid, 1, at(3)
					acceptNow := func() {
						equal(t, "accepted", moved(t, o, tenantA, m.ID, accept(wamid, at(3))), want)
					}
					switch order {
					case "webhook first":
						webhook()
						// Until the WAMID is known the two are apart.
						equal(t, "before the accept", ids(listed(t, r, tenantA, conv, 10)), []string{m.ID, wamid})
						acceptNow()
					case "webhook after":
						acceptNow()
						equal(t, "before the webhook", listed(t, r, tenantA, conv, 10), []messaging.StoredMessage{{
							Message: messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Outbound,
								Type: "text", Text: m.Text, Timestamp: at(1), To: m.To, ConversationID: conv},
							Known: true, Outbound: &messaging.OutboundInfo{ID: m.ID, State: messaging.OutAccepted}}})
						webhook()
					case "status first":
						must(t, s.ApplyStatus(ctx, tenantA, delivered))
						acceptNow()
						webhook()
					}
					must(t, s.ApplyStatus(ctx, tenantA, delivered))
					one := messaging.StoredMessage{Message: kapsoCopy, Known: true, Delivery: fold(sent, delivered),
						Outbound: &messaging.OutboundInfo{ID: m.ID, State: messaging.OutAccepted}}
					equal(t, "listed", listed(t, r, tenantA, conv, 10), []messaging.StoredMessage{one})
					equal(t, "listed in pages of one", listed(t, r, tenantA, conv, 1), []messaging.StoredMessage{one})
					equal(t, "by WAMID", message(t, r, tenantA, wamid), one)
					equal(t, "by outbound id", message(t, r, tenantA, m.ID), one)
					equal(t, "outbound", stored(t, o, tenantA, m.ID), want)
				})
			}
		},
		"an outbound message keeps its content when its webhooks merge in": func(t *testing.T, s messaging.Store, r messaging.Reader, o messaging.Outbox) {
			for i, c := range sentContents() {
				for _, order := range []string{"webhook first", "webhook after", "status first"} {
					t.Run(c.name+", "+order, func(t *testing.T) {
						key := fmt.Sprintf("content-%d-%s", i, order)
						conv, wamid := "conv-"+key, "wamid."+key
						m, err := messaging.NewOutbound(tenantA, key, c.request, number, "", at(1))
						must(t, err)
						m.ConversationID = conv
						m = created(t, o, m)
						moved(t, o, tenantA, m.ID, at2(claim, at(2)))
						// Kapso's whatsapp.message.sent names the type and
						// little else of what was sent: its text renders the
						// type alone.
						kapsoCopy := messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Outbound,
							Type: c.request.Type, Text: "[" + c.request.Type + "]", TextRendered: true, Media: c.kapsoMedia, Timestamp: at(2),
							To: messaging.Person{Phone: phoneAna}, ConversationID: conv,
							Kapso: &messaging.KapsoContent{Origin: "cloud_api", HasMedia: c.kapsoMedia != nil}}
						sent, read := status(wamid, messaging.Sent, at(2)), status(wamid, messaging.Read, at(4))
						webhook := func() { must(t, s.PutMessage(ctx, tenantA, kapsoCopy, []messaging.StatusUpdate{sent})) }
						acceptNow := func() { moved(t, o, tenantA, m.ID, accept(wamid, at(3))) }
						switch order {
						case "webhook first":
							webhook()
							acceptNow()
						case "webhook after":
							acceptNow()
							webhook()
						case "status first":
							must(t, s.ApplyStatus(ctx, tenantA, read))
							acceptNow()
							webhook()
						}
						must(t, s.ApplyStatus(ctx, tenantA, read))
						want := c.want
						want.WAMID, want.PhoneNumberID, want.Direction, want.Timestamp = wamid, number, messaging.Outbound, at(2)
						want.To, want.ConversationID, want.Kapso = kapsoCopy.To, conv, kapsoCopy.Kapso
						one := messaging.StoredMessage{Message: want, Known: true, Delivery: fold(sent, read),
							Outbound: &messaging.OutboundInfo{ID: m.ID, State: messaging.OutAccepted}}
						equal(t, "by outbound id", message(t, r, tenantA, m.ID), one)
						equal(t, "by WAMID", message(t, r, tenantA, wamid), one)
						equal(t, "listed", listed(t, r, tenantA, conv, 10), []messaging.StoredMessage{one})
					})
				}
			}
		},
		"a send under a derived conversation id is listed there once Kapso names the conversation": func(t *testing.T, s messaging.Store, r messaging.Reader, o messaging.Outbox) {
			for i, order := range []string{"webhook first", "webhook after"} {
				t.Run(order, func(t *testing.T) {
					// A person never seen: the send is answered with a derived id.
					d := messaging.MetaConversationID(number, messaging.Person{Phone: fmt.Sprint(phoneAna, i)})
					k, wamid := "kapso-"+order, "wamid."+order
					m := created(t, o, queued(tenantA, order, d, at(1)))
					moved(t, o, tenantA, m.ID, at2(claim, at(2)))
					kapsoCopy := messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Outbound,
						Type: "text", Text: m.Text, Timestamp: at(2), To: m.To, ConversationID: k,
						Kapso: &messaging.KapsoContent{Content: m.Text}}
					webhook := func() { must(t, s.PutMessage(ctx, tenantA, kapsoCopy, nil)) }
					if order == "webhook first" {
						webhook()
						moved(t, o, tenantA, m.ID, accept(wamid, at(3)))
					} else {
						moved(t, o, tenantA, m.ID, accept(wamid, at(3)))
						webhook()
					}
					equal(t, "Kapso's conversation", ids(listed(t, r, tenantA, k, 10)), []string{wamid})
					equal(t, "the id the send was answered with", ids(listed(t, r, tenantA, d, 10)), []string{wamid})
				})
			}
		},
		"a WAMID held by another outbound message is refused": func(t *testing.T, _ messaging.Store, r messaging.Reader, o messaging.Outbox) {
			m1 := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			m2 := created(t, o, queued(tenantA, "k2", "conv-1", at(2)))
			moved(t, o, tenantA, m1.ID, at2(claim, at(3)))
			m2 = moved(t, o, tenantA, m2.ID, at2(claim, at(3)))
			moved(t, o, tenantA, m1.ID, accept("wamid.x", at(4)))
			got, err := o.MoveOutbound(ctx, tenantA, m2.ID, accept("wamid.x", at(5)))
			if !errors.Is(err, messaging.ErrWAMIDTaken) {
				t.Errorf("second accept of wamid.x: %v", err)
			}
			equal(t, "returned with the refusal", got, m2)
			equal(t, "after the refusal", stored(t, o, tenantA, m2.ID), m2)
			if m := message(t, r, tenantA, "wamid.x"); m.Outbound == nil || m.Outbound.ID != m1.ID {
				t.Errorf("wamid.x: %+v", m.Outbound)
			}
			equal(t, "conversation", ids(listed(t, r, tenantA, "conv-1", 10)), []string{"wamid.x", m2.ID})
			// An accepted message is final.
			got, err = o.MoveOutbound(ctx, tenantA, m1.ID, accept("wamid.y", at(6)))
			if !errors.Is(err, messaging.ErrOutboundState) || got.State != messaging.OutAccepted || got.WAMID != "wamid.x" {
				t.Errorf("accept of an accepted message: %+v %v", got, err)
			}
		},
		"an accept with the caller's copy": func(t *testing.T, _ messaging.Store, r messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			claimed := moved(t, o, tenantA, m.ID, at2(claim, at(2)))
			// A stale copy decides nothing: the stored state does.
			moved(t, o, tenantA, m.ID, messaging.Transition{From: from(messaging.OutSending), To: messaging.OutFailed,
				Reason: messaging.ReasonRejected, At: at(3)})
			late := accept("wamid.late", at(4))
			late.Content = &claimed
			if got, err := o.MoveOutbound(ctx, tenantA, m.ID, late); !errors.Is(err, messaging.ErrOutboundState) ||
				got.State != messaging.OutFailed {
				t.Errorf("accept over a failed message with a stale copy: %+v %v", got, err)
			}
			if _, ok, _ := r.Message(ctx, tenantA, "wamid.late"); ok {
				t.Error("a refused accept stored the WAMID's message")
			}
			// A current copy gives the WAMID's message the request's content.
			m2 := created(t, o, queued(tenantA, "k2", "conv-1", at(5)))
			claimed = moved(t, o, tenantA, m2.ID, at2(claim, at(6)))
			ok := accept("wamid.copy", at(7))
			ok.Content = &claimed
			moved(t, o, tenantA, m2.ID, ok)
			if got := message(t, r, tenantA, "wamid.copy"); got.Text != claimed.Text || got.Outbound == nil || got.Outbound.ID != m2.ID {
				t.Errorf("accepted with the caller's copy: %+v", got)
			}
		},
		"a failed message stays listed with its reason": func(t *testing.T, s messaging.Store, r messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			moved(t, o, tenantA, m.ID, at2(claim, at(2)))
			e := &messaging.StatusError{Code: 131026, Title: "Message undeliverable", Message: "Unable to deliver",
				Details: "not a WhatsApp user"}
			failed := moved(t, o, tenantA, m.ID, messaging.Transition{From: from(messaging.OutSending), To: messaging.OutFailed,
				Reason: messaging.ReasonRejected, Error: e, At: at(3)})
			want := m
			want.State, want.Attempts, want.UpdatedAt, want.Reason, want.Error = messaging.OutFailed, 1, at(3), messaging.ReasonRejected, e
			equal(t, "failed", failed, want)
			equal(t, "read", stored(t, o, tenantA, m.ID), want)
			must(t, s.PutMessage(ctx, tenantA, messaging.Message{WAMID: "wamid.in", PhoneNumberID: number, Direction: messaging.Inbound,
				Type: "text", Text: "hi", Timestamp: at(2), From: ana, ConversationID: "conv-1"}, nil))
			later := created(t, o, queued(tenantA, "k2", "conv-1", at(5)))
			all := listed(t, r, tenantA, "conv-1", 10)
			equal(t, "order", ids(all), []string{m.ID, "wamid.in", later.ID})
			equal(t, "order in pages of one", ids(listed(t, r, tenantA, "conv-1", 1)), ids(all))
			equal(t, "order in pages of two", ids(listed(t, r, tenantA, "conv-1", 2)), ids(all))
			equal(t, "the failed one", all[0], messaging.StoredMessage{
				Message: messaging.Message{PhoneNumberID: number, Direction: messaging.Outbound, Type: "text", Text: m.Text,
					Timestamp: at(1), To: m.To, ConversationID: "conv-1"},
				Known:    true,
				Outbound: &messaging.OutboundInfo{ID: m.ID, State: messaging.OutFailed, Reason: messaging.ReasonRejected, Error: e}})
			equal(t, "the queued one", all[2], later.Stored())
			equal(t, "by outbound id", message(t, r, tenantA, m.ID), all[0])
		},
		"open messages list oldest first, across tenants": func(t *testing.T, _ messaging.Store, r messaging.Reader, o messaging.Outbox) {
			q1 := created(t, o, queued(tenantA, "q1", "conv-1", at(1)))
			s2 := created(t, o, queued(tenantA, "s2", "conv-1", at(2)))
			u3 := created(t, o, queued(tenantB, "u3", "conv-1", at(3)))
			f4 := created(t, o, queued(tenantA, "f4", "conv-1", at(4)))
			a5 := created(t, o, queued(tenantB, "a5", "", at(5)))
			q6 := created(t, o, queued(tenantA, "q6", "", at(6)))
			q9 := created(t, o, queued(tenantB, "q9", "conv-1", at(9)))
			s2 = moved(t, o, tenantA, s2.ID, at2(claim, at(7)))
			moved(t, o, tenantB, u3.ID, at2(claim, at(7)))
			u3 = moved(t, o, tenantB, u3.ID, messaging.Transition{From: from(messaging.OutSending), To: messaging.OutUnknown, At: at(8)})
			moved(t, o, tenantA, f4.ID, messaging.Transition{From: from(messaging.OutQueued), To: messaging.OutFailed,
				Reason: messaging.ReasonUnconfirmed, At: at(7)})
			moved(t, o, tenantB, a5.ID, at2(claim, at(7)))
			moved(t, o, tenantB, a5.ID, accept("wamid.a5", at(8)))
			want := []string{q1.ID, s2.ID, u3.ID, q6.ID}
			for _, limit := range []int{1, 2, 3, 50} {
				equal(t, fmt.Sprintf("pages of %d", limit), openIDs(t, o, at(8), limit), want)
			}
			page, _, err := o.OpenOutbound(ctx, at(8), "", 50)
			must(t, err)
			equal(t, "listed whole", page, []messaging.OutboundMessage{q1, s2, u3, q6})
			equal(t, "before the second", openIDs(t, o, at(2), 10), []string{q1.ID})
			equal(t, "before the first", openIDs(t, o, at(1), 10), []string(nil))
			equal(t, "all", openIDs(t, o, at(10), 2), append(want, q9.ID))
			// A cursor is a position: moves behind it do not repeat or skip.
			first, cursor, err := o.OpenOutbound(ctx, at(10), "", 2)
			must(t, err)
			equal(t, "first page", len(first), 2)
			moved(t, o, tenantA, q1.ID, messaging.Transition{From: from(messaging.OutQueued), To: messaging.OutFailed,
				Reason: messaging.ReasonUnconfirmed, At: at(9)})
			rest, next, err := o.OpenOutbound(ctx, at(10), cursor, 10)
			must(t, err)
			if next != "" || len(rest) != 3 || rest[0].ID != u3.ID || rest[2].ID != q9.ID {
				t.Errorf("after the cursor: %v %q", rest, next)
			}
			equal(t, "after a failure", openIDs(t, o, at(10), 10), []string{s2.ID, u3.ID, q6.ID, q9.ID})
			// Cursors of other lists, and garbage, are refused.
			_, msgCursor, err := r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1})
			must(t, err)
			if msgCursor == "" {
				t.Fatal("no messages cursor")
			}
			for what, c := range map[string]string{"a messages cursor": msgCursor, "garbage": "!!", "cut": cursor[:len(cursor)-3],
				"json": "e30"} {
				_, _, err := o.OpenOutbound(ctx, at(10), c, 10)
				badCursor(t, what, err)
			}
			_, _, err = r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1, Cursor: cursor})
			badCursor(t, "an outbox cursor used for messages", err)
		},
		"a message by its outbound id, before and after the accept": func(t *testing.T, _ messaging.Store, r messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			equal(t, "queued", message(t, r, tenantA, m.ID), messaging.StoredMessage{
				Message: messaging.Message{PhoneNumberID: number, Direction: messaging.Outbound, Type: "text", Text: m.Text,
					Timestamp: at(1), To: m.To, ConversationID: "conv-1"},
				Known: true, Outbound: &messaging.OutboundInfo{ID: m.ID, State: messaging.OutQueued}})
			moved(t, o, tenantA, m.ID, at2(claim, at(2)))
			if got := message(t, r, tenantA, m.ID); got.Outbound == nil || got.Outbound.State != messaging.OutSending {
				t.Errorf("sending: %+v", got.Outbound)
			}
			moved(t, o, tenantA, m.ID, accept("wamid.1", at(3)))
			want := messaging.StoredMessage{
				Message: messaging.Message{WAMID: "wamid.1", PhoneNumberID: number, Direction: messaging.Outbound, Type: "text",
					Text: m.Text, Timestamp: at(1), To: m.To, ConversationID: "conv-1"},
				Known: true, Outbound: &messaging.OutboundInfo{ID: m.ID, State: messaging.OutAccepted}}
			equal(t, "accepted, by outbound id", message(t, r, tenantA, m.ID), want)
			equal(t, "accepted, by WAMID", message(t, r, tenantA, "wamid.1"), want)
			// Without a conversation it is listed nowhere, and still read.
			alone := created(t, o, queued(tenantA, "k2", "", at(4)))
			if got := message(t, r, tenantA, alone.ID); got.Outbound == nil || got.Outbound.ID != alone.ID || got.ConversationID != "" {
				t.Errorf("without a conversation: %+v", got)
			}
			equal(t, "conversation", ids(listed(t, r, tenantA, "conv-1", 10)), []string{"wamid.1"})
			equal(t, "no conversation", ids(listed(t, r, tenantA, "", 10)), []string(nil))
			if _, ok, err := r.Message(ctx, tenantA, messaging.OutboundID(tenantA, "never")); ok || err != nil {
				t.Errorf("unknown outbound id: %v %v", ok, err)
			}
		},
		"the token that sent a message stays on it, accepted or not": func(t *testing.T, _ messaging.Store, r messaging.Reader, o messaging.Outbox) {
			q := queued(tenantA, "k1", "conv-1", at(1))
			q.CreatedBy = "ci"
			m := created(t, o, q)
			if got := message(t, r, tenantA, m.ID); got.Outbound == nil || got.Outbound.CreatedBy != "ci" {
				t.Errorf("queued: %+v", got.Outbound)
			}
			moved(t, o, tenantA, m.ID, at2(claim, at(2)))
			if got := moved(t, o, tenantA, m.ID, accept("wamid.1", at(3))); got.CreatedBy != "ci" {
				t.Errorf("the accept answered %+v", got)
			}
			for _, id := range []string{m.ID, "wamid.1"} {
				if got := message(t, r, tenantA, id); got.Outbound == nil || got.Outbound.CreatedBy != "ci" {
					t.Errorf("accepted, by %s: %+v", id, got.Outbound)
				}
			}
		},
		"tenants never see each other's outbox": func(t *testing.T, _ messaging.Store, r messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			if _, ok, err := o.Outbound(ctx, tenantB, m.ID); ok || err != nil {
				t.Errorf("B reads A's outbound: %v %v", ok, err)
			}
			if _, ok, err := r.Message(ctx, tenantB, m.ID); ok || err != nil {
				t.Errorf("B reads A's message by outbound id: %v %v", ok, err)
			}
			if _, err := o.MoveOutbound(ctx, tenantB, m.ID, at2(claim, at(2))); !errors.Is(err, messaging.ErrOutboundNotFound) {
				t.Errorf("B moves A's outbound: %v", err)
			}
			if page, next, err := r.ConversationMessages(ctx, tenantB, "conv-1", messaging.Page{}); len(page) != 0 || next != "" || err != nil {
				t.Errorf("B lists A's conversation: %v %q %v", page, next, err)
			}
			equal(t, "A's after B's attempts", stored(t, o, tenantA, m.ID), m)
			// The same id under B is B's own message.
			theirs := m
			theirs.TenantID, theirs.Text = tenantB, "B's"
			created(t, o, theirs)
			equal(t, "A's after B's create", stored(t, o, tenantA, m.ID), m)
			// A WAMID is per tenant.
			moved(t, o, tenantA, m.ID, at2(claim, at(2)))
			moved(t, o, tenantB, m.ID, at2(claim, at(2)))
			moved(t, o, tenantA, m.ID, accept("wamid.shared", at(3)))
			moved(t, o, tenantB, m.ID, accept("wamid.shared", at(3)))
			if a, b := message(t, r, tenantA, "wamid.shared"), message(t, r, tenantB, "wamid.shared"); a.Text != m.Text || b.Text != "B's" {
				t.Errorf("shared WAMID: A %q B %q", a.Text, b.Text)
			}
		},
		"malformed outbox calls are refused": func(t *testing.T, _ messaging.Store, _ messaging.Reader, o messaging.Outbox) {
			m := created(t, o, queued(tenantA, "k1", "conv-1", at(1)))
			noTenant := m
			noTenant.TenantID = ""
			badID := m
			badID.ID = "wamid.1"
			_, _, errNoTenant := o.CreateOutbound(ctx, noTenant)
			_, _, errBadID := o.CreateOutbound(ctx, badID)
			move := func(tr messaging.Transition) error {
				_, err := o.MoveOutbound(ctx, tenantA, m.ID, tr)
				return err
			}
			for name, err := range map[string]error{
				"create without tenant":  errNoTenant,
				"create with a WAMID id": errBadID,
				"accept without WAMID":   move(messaging.Transition{From: from(messaging.OutQueued), To: messaging.OutAccepted, At: at(2)}),
				"WAMID without accept":   move(messaging.Transition{From: from(messaging.OutQueued), To: messaging.OutSending, WAMID: "w", At: at(2)}),
				"from nothing":           move(messaging.Transition{To: messaging.OutSending, At: at(2)}),
				"from a final state":     move(messaging.Transition{From: from(messaging.OutFailed), To: messaging.OutQueued, At: at(2)}),
				"to an unknown state":    move(messaging.Transition{From: from(messaging.OutQueued), To: "lost", At: at(2)}),
			} {
				if errs.CodeOf(err) != errs.Invalid {
					t.Errorf("%s: %v", name, err)
				}
			}
			equal(t, "after refusals", stored(t, o, tenantA, m.ID), m)
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, r, o := newStore(t)
			c(t, s, r, o)
		})
	}
}

// sentContent is a send request and the message content it reads back
// with once Kapso's webhooks for it are stored: kapsoMedia is the media
// object the webhook carries, if any.
type sentContent struct {
	name       string
	request    messaging.OutboundRequest
	kapsoMedia *messaging.Media
	want       messaging.Message
}

func sentContents() []sentContent {
	req := func(typ string, c messaging.OutContent) messaging.OutboundRequest {
		return messaging.OutboundRequest{To: phoneAna, Type: typ, OutContent: c}
	}
	return []sentContent{
		{name: "an image by id with a caption",
			request: req("image", messaging.OutContent{Image: &messaging.OutMedia{ID: "1234567890", Caption: "Your receipt"}}),
			want: messaging.Message{Type: "image", Text: "Your receipt",
				Media: &messaging.Media{ID: "1234567890", Caption: "Your receipt"}}},
		{name: "an image whose webhook names its id only",
			request:    req("image", messaging.OutContent{Image: &messaging.OutMedia{ID: "1234567891", Caption: "Look"}}),
			kapsoMedia: &messaging.Media{ID: "1234567891", MIMEType: "image/jpeg"},
			want: messaging.Message{Type: "image", Text: "Look",
				Media: &messaging.Media{ID: "1234567891", MIMEType: "image/jpeg", Caption: "Look"}}},
		{name: "a document by link",
			request: req("document", messaging.OutContent{Document: &messaging.OutMedia{Link: "https://example.com/r.pdf",
				Filename: "receipt.pdf"}}),
			want: messaging.Message{Type: "document", Text: "[document] receipt.pdf",
				Media: &messaging.Media{URL: "https://example.com/r.pdf", Filename: "receipt.pdf"}}},
		{name: "a template",
			request: req("template", messaging.OutContent{Template: &messaging.OutTemplate{Name: "order_update",
				Language:   &messaging.OutTemplateLanguage{Code: "pt_BR"},
				Components: []byte(`[{"type":"body","parameters":[{"type":"text","text":"4521"}]}]`)}}),
			want: messaging.Message{Type: "template", Text: "[template order_update]",
				Template: &messaging.Template{Name: "order_update", Language: "pt_BR",
					// As sent: in canonical JSON form.
					Components: `[{"parameters":[{"text":"4521","type":"text"}],"type":"body"}]`}}},
	}
}
