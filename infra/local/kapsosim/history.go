package kapsosim

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The Meta proxy's history of a number: GET /{phone_number_id}/messages and
// /conversations (Kapso's SDK: messages.query, conversations.list). Graph
// cursor paging; each item is the object of the number's webhooks, whose
// kapso block comes only when fields asks for kapso(…) with a field in it
// ("Kapso returns Meta-compatible objects by default").

// kapsoFieldsAsked reports whether fields asks for the kapso block.
func kapsoFieldsAsked(r *http.Request) bool {
	f := r.URL.Query().Get("fields")
	return strings.Contains(f, "kapso(") && !strings.Contains(f, "kapso()")
}

// historyView is v as the history answers it: without its kapso block
// unless asked.
func historyView(v any, kapso bool) any {
	if kapso {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return v
	}
	delete(m, "kapso")
	return m
}

// timeQuery reads the RFC 3339 times of names (zero when absent), or
// answers 422.
func timeQuery(w http.ResponseWriter, r *http.Request, names ...string) ([]time.Time, bool) {
	out := make([]time.Time, len(names))
	for i, name := range names {
		v := r.URL.Query().Get(name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, name+" must be an ISO 8601 time")
			return nil, false
		}
		out[i] = t
	}
	return out, true
}

// readHistory reads what both history lists take: a time span (by the
// names of its bounds), the cursor paging, and whether the kapso block is
// asked for; or answers 422.
func readHistory(w http.ResponseWriter, r *http.Request, since, until string) (span []time.Time, p paging, kapso, ok bool) {
	if span, ok = timeQuery(w, r, since, until); !ok {
		return nil, p, false, false
	}
	if p, ok = readPaging(w, r, maxCursorLimit); !ok {
		return nil, p, false, false
	}
	return span, p, kapsoFieldsAsked(r), true
}

// within reports whether at is in [since, until], a zero bound being open.
func within(at, since, until time.Time) bool {
	return (since.IsZero() || !at.Before(since)) && (until.IsZero() || !at.After(until))
}

// historyMessages answers the number's messages, newest first, narrowed by
// direction, status, conversation_id, since and until.
func (s *Simulator) historyMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	direction, status, conv := q.Get("direction"), q.Get("status"), q.Get("conversation_id")
	if direction != "" && direction != "inbound" && direction != "outbound" {
		writeError(w, http.StatusUnprocessableEntity, "direction must be inbound or outbound")
		return
	}
	span, p, kapso, ok := readHistory(w, r, "since", "until")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []listItem
	if n := s.findNumber(r.PathValue("phone_number_id")); n != nil {
		for i, m := range s.messages {
			if m.PhoneNumberID != n.PhoneNumberID || direction != "" && m.Direction != direction ||
				status != "" && m.Status() != status || conv != "" && m.ConversationID != conv || !within(m.At, span[0], span[1]) {
				continue
			}
			c := first(s.conversations, func(c *Conversation) bool { return c.ID == m.ConversationID })
			items = append(items, listItem{pos: position{at: m.At, seq: i},
				view: func() any { return historyView(wireMessageOf(n, c, m), kapso) }})
		}
	}
	s.writeCursorPage(w, r, p, items)
}

// historyConversations answers the number's conversations, most recently
// active first, narrowed by status, phone_number, last_active_since and
// last_active_until.
func (s *Simulator) historyConversations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, phone := q.Get("status"), strings.TrimPrefix(q.Get("phone_number"), "+")
	span, p, kapso, ok := readHistory(w, r, "last_active_since", "last_active_until")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []listItem
	if n := s.findNumber(r.PathValue("phone_number_id")); n != nil {
		for i, c := range s.conversations {
			if c.PhoneNumberID != n.PhoneNumberID || !within(c.LastActiveAt, span[0], span[1]) {
				continue
			}
			v := wireConversationOf(n, c)
			if status != "" && v.Status != status || phone != "" && (v.PhoneNumber == nil || strings.TrimPrefix(*v.PhoneNumber, "+") != phone) {
				continue
			}
			items = append(items, listItem{pos: position{at: c.LastActiveAt, seq: i},
				view: func() any { return historyView(v, kapso) }})
		}
	}
	s.writeCursorPage(w, r, p, items)
}
