package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// The outbox lives in Messages, under its one mutex, so an accept and its
// merge into the message of the WAMID happen at once, as the adapter's
// transaction makes them (twin of dynamo's outbox).

func cloneOutbound(m messaging.OutboundMessage) messaging.OutboundMessage {
	m.Body = slices.Clone(m.Body)
	m.Error = clone(m.Error)
	return m
}

// CreateOutbound implements messaging.Outbox.
func (s *Messages) CreateOutbound(_ context.Context, m messaging.OutboundMessage) (messaging.OutboundMessage, bool, error) {
	if m.TenantID == "" || !messaging.IsOutboundID(m.ID) {
		return messaging.OutboundMessage{}, false, fmt.Errorf("create outbound %s: %w", m.ID,
			invalid("outbound message without tenant or outbound id"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(m.TenantID)
	if cur, ok := t.outbox[m.ID]; ok {
		return cloneOutbound(*cur), false, nil
	}
	m = cloneOutbound(m.Created())
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	if len(m.Body) == 0 {
		m.Body = nil
	}
	t.outbox[m.ID] = &m
	s.expire(t, outboundItem(m.ID), true, m.CreatedAt)
	return cloneOutbound(m), true, nil
}

// Outbound implements messaging.Outbox.
func (s *Messages) Outbound(_ context.Context, tenantID, id string) (messaging.OutboundMessage, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok {
		return messaging.OutboundMessage{}, false, nil
	}
	m, ok := t.outbox[id]
	if !ok {
		return messaging.OutboundMessage{}, false, nil
	}
	return cloneOutbound(*m), true, nil
}

// MoveOutbound implements messaging.Outbox.
func (s *Messages) MoveOutbound(_ context.Context, tenantID, id string, tr messaging.Transition) (messaging.OutboundMessage, error) {
	wrap := func(err error) error { return fmt.Errorf("move outbound %s to %s: %w", id, tr.To, err) }
	if err := tr.Check(tenantID, id); err != nil {
		return messaging.OutboundMessage{}, wrap(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok {
		return messaging.OutboundMessage{}, wrap(messaging.ErrOutboundNotFound)
	}
	m, ok := t.outbox[id]
	if !ok {
		return messaging.OutboundMessage{}, wrap(messaging.ErrOutboundNotFound)
	}
	if !tr.Allows(m.State) {
		return cloneOutbound(*m), wrap(messaging.ErrOutboundState)
	}
	if tr.To == messaging.OutAccepted {
		cur, ok := t.messages[tr.WAMID]
		if ok && cur.outboundID != "" && cur.outboundID != id {
			return cloneOutbound(*m), wrap(messaging.ErrWAMIDTaken)
		}
		if !ok {
			cur = &message{}
			t.messages[tr.WAMID] = cur
		}
		// The request's content fills the message; a Kapso copy, stored
		// before or after, overwrites it.
		content := m.Content()
		content.WAMID = tr.WAMID
		t.mergeMessage(cur, content)
		s.expire(t, messageItem(tr.WAMID), false, m.CreatedAt)
		cur.known, cur.outboundID = true, id
		if m.CreatedBy != "" {
			cur.createdBy = m.CreatedBy
		}
	}
	*m = tr.Apply(*m)
	return cloneOutbound(*m), nil
}

// outboxPosition orders the open messages of every tenant, as dynamo's
// gsi2 sort key does.
func outboxPosition(m *messaging.OutboundMessage) string {
	return outboxTime(m.CreatedAt) + "#" + m.TenantID + "#" + m.ID
}

func outboxTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// outboxList is the list OpenOutbound's cursors belong to; they name no
// tenant, since the list holds every tenant's messages.
const outboxList = "outbox:open"

// OpenOutbound implements messaging.Outbox.
func (s *Messages) OpenOutbound(_ context.Context, before time.Time, cursor string, limit int) ([]messaging.OutboundMessage, string, error) {
	after, err := decodeCursor(cursor, "", outboxList)
	if err != nil {
		return nil, "", fmt.Errorf("list open outbound messages: %w", err)
	}
	below := outboxTime(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var open []*messaging.OutboundMessage
	for _, t := range s.tenants {
		for _, m := range t.outbox {
			if !m.State.Final() && outboxPosition(m) < below {
				open = append(open, m)
			}
		}
	}
	slices.SortFunc(open, func(a, b *messaging.OutboundMessage) int {
		return strings.Compare(outboxPosition(a), outboxPosition(b))
	})
	open, next := page(open, outboxPosition, after, false, messaging.Page{Limit: limit}.Size(), "", outboxList)
	out := make([]messaging.OutboundMessage, 0, len(open))
	for _, m := range open {
		out = append(out, cloneOutbound(*m))
	}
	return out, next, nil
}
