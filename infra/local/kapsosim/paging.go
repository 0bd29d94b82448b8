package kapsosim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Platform lists of messages, conversations and webhook deliveries,
// newest first. Asked with page or per_page they answer Kapso's documented
// page paging (a meta block, as its other Platform lists); asked otherwise
// (limit, after, before) they answer Graph cursor paging, where a cursor is
// the position (time, then creation order) of an item, not an offset, so
// items added between page calls neither shift nor hide the ones still to
// come.

const maxCursorLimit = 100

// position orders list items: newer first, ties by later creation first.
type position struct {
	at  time.Time
	seq int // creation order
}

// before says whether p comes after q in a newest-first list.
func (p position) before(q position) bool {
	if c := p.at.Compare(q.at); c != 0 {
		return c < 0
	}
	return p.seq < q.seq
}

func (p position) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d", p.at.UnixNano(), p.seq)))
}

func parseCursor(c string) (position, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return position{}, false
	}
	ns, seq, ok := strings.Cut(string(b), ".")
	if !ok {
		return position{}, false
	}
	n, err1 := strconv.ParseInt(ns, 10, 64)
	q, err2 := strconv.Atoi(seq)
	if err1 != nil || err2 != nil {
		return position{}, false
	}
	return position{at: time.Unix(0, n), seq: q}, true
}

// paging is a cursor list request.
type paging struct {
	limit         int
	after, before *position
}

// readPaging reads limit (defaultLimit when absent, at most 100; more is
// clamped), after and before, or answers 422.
func readPaging(w http.ResponseWriter, r *http.Request, defaultLimit int) (paging, bool) {
	q := r.URL.Query()
	p := paging{limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "limit must be a positive integer")
			return p, false
		}
		p.limit = min(n, maxCursorLimit)
	}
	for name, dst := range map[string]**position{"after": &p.after, "before": &p.before} {
		if v := q.Get(name); v != "" {
			pos, ok := parseCursor(v)
			if !ok {
				writeError(w, http.StatusUnprocessableEntity, "Invalid "+name+" cursor")
				return p, false
			}
			*dst = &pos
		}
	}
	return p, true
}

// listItem is an item of a cursor list; view builds its JSON only when it
// is on the page.
type listItem struct {
	pos  position
	view func() any
}

// maxPerPage is the largest per_page Kapso serves (its legacy reference:
// 1 <= per_page <= 100); defaultPerPage is the simulator's choice, Kapso's
// default not being documented.
const (
	maxPerPage     = 100
	defaultPerPage = 20
)

// numberedPage is a page-paged list request: page from 1, per_page.
type numberedPage struct{ page, perPage int }

// readNumberedPage reads page and per_page (each a positive integer,
// per_page clamped to 100), or answers 422; byPage is false when the
// request names neither.
func readNumberedPage(w http.ResponseWriter, r *http.Request) (p numberedPage, byPage, ok bool) {
	q := r.URL.Query()
	p = numberedPage{page: 1, perPage: defaultPerPage}
	for name, dst := range map[string]*int{"page": &p.page, "per_page": &p.perPage} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		byPage = true
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, name+" must be a positive integer")
			return p, byPage, false
		}
		*dst = n
	}
	p.perPage = min(p.perPage, maxPerPage)
	return p, byPage, true
}

// newestFirst sorts list items newest first.
func newestFirst(items []listItem) {
	slices.SortFunc(items, func(a, b listItem) int {
		switch {
		case a.pos.before(b.pos):
			return 1
		case b.pos.before(a.pos):
			return -1
		}
		return 0
	})
}

// writeList answers items (in any order) in the paging the request asked
// for: page numbers when it named page or per_page, cursors otherwise.
func (s *Simulator) writeList(w http.ResponseWriter, r *http.Request, items []listItem) {
	np, byPage, ok := readNumberedPage(w, r)
	if !ok {
		return
	}
	if !byPage {
		p, ok := readPaging(w, r, maxCursorLimit)
		if !ok {
			return
		}
		s.writeCursorPage(w, r, p, items)
		return
	}
	newestFirst(items)
	start := min((np.page-1)*np.perPage, len(items))
	end := min(start+np.perPage, len(items))
	data := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		data = append(data, it.view())
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": map[string]any{
		"page": np.page, "per_page": np.perPage, "total_count": len(items),
		"total_pages": (len(items) + np.perPage - 1) / np.perPage}})
}

// writeCursorPage answers one page of items (in any order) with Kapso's
// cursor paging. next is a URL for the older items when some remain,
// previous one for the newer items when the page was asked for by cursor
// and some exist.
func (s *Simulator) writeCursorPage(w http.ResponseWriter, r *http.Request, p paging, items []listItem) {
	newestFirst(items)
	lo, hi := 0, len(items) // the candidates, newest first
	if p.after != nil {
		lo = slices.IndexFunc(items, func(it listItem) bool { return it.pos.before(*p.after) })
		if lo < 0 {
			lo = len(items)
		}
	}
	if p.before != nil {
		hi = slices.IndexFunc(items, func(it listItem) bool { return !p.before.before(it.pos) })
		if hi < 0 {
			hi = len(items)
		}
	}
	hi = max(hi, lo)
	start, end := lo, min(lo+p.limit, hi)
	if p.before != nil && p.after == nil {
		// Going back: the items just newer than the cursor.
		start, end = max(lo, hi-p.limit), hi
	}
	data := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		data = append(data, it.view())
	}
	cursors := map[string]string{"before": "", "after": ""}
	next, previous := "", ""
	if len(data) > 0 {
		cursors["before"], cursors["after"] = items[start].pos.cursor(), items[end-1].pos.cursor()
		if end < len(items) {
			next = s.pageURL(r, "after", cursors["after"])
		}
		if start > 0 && (p.after != nil || p.before != nil) {
			previous = s.pageURL(r, "before", cursors["before"])
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "paging": map[string]any{
		"cursors": cursors, "next": next, "previous": previous}})
}

// pageURL is the request's URL with one cursor set in place of both.
func (s *Simulator) pageURL(r *http.Request, name, cursor string) string {
	base := s.opts.PublicURL
	if base == "" {
		base = "http://" + r.Host
	}
	q := r.URL.Query()
	q.Del("after")
	q.Del("before")
	q.Set(name, cursor)
	return base + r.URL.Path + "?" + q.Encode()
}

// listMessages answers the number's messages, newest first, each the
// message object of its webhooks as it is now (current status, whole
// status history), only those of one direction with ?direction=inbound or
// outbound (the reconciler looks for a send whose answer it lost among
// the outbound ones). An unknown number has none.
func (s *Simulator) listMessages(w http.ResponseWriter, r *http.Request) {
	direction := r.URL.Query().Get("direction")
	if direction != "" && direction != "inbound" && direction != "outbound" {
		writeError(w, http.StatusUnprocessableEntity, "direction must be inbound or outbound")
		return
	}
	s.listOfNumber(w, r, func(n *number) []listItem {
		var items []listItem
		for i, m := range s.messages {
			if m.PhoneNumberID != n.PhoneNumberID || direction != "" && m.Direction != direction {
				continue
			}
			c := first(s.conversations, func(c *Conversation) bool { return c.ID == m.ConversationID })
			items = append(items, listItem{pos: position{at: m.At, seq: i},
				view: func() any { return wireMessageOf(n, c, m) }})
		}
		return items
	})
}

// listConversations answers the number's conversations, most recently
// active first, each the conversation object of its webhooks.
func (s *Simulator) listConversations(w http.ResponseWriter, r *http.Request) {
	s.listOfNumber(w, r, func(n *number) []listItem {
		var items []listItem
		for i, c := range s.conversations {
			if c.PhoneNumberID == n.PhoneNumberID {
				items = append(items, listItem{pos: position{at: c.LastActiveAt, seq: i},
					view: func() any { return wireConversationOf(n, c) }})
			}
		}
		return items
	})
}

// listOfNumber answers a page of what items lists of each number, under
// the lock: of the number named by phone_number_id (an unknown one has
// none), or of every number of the project without it.
func (s *Simulator) listOfNumber(w http.ResponseWriter, r *http.Request, items func(n *number) []listItem) {
	pnid := r.URL.Query().Get("phone_number_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []listItem
	for _, n := range s.numbers {
		if pnid == "" || n.PhoneNumberID == pnid {
			list = append(list, items(n)...)
		}
	}
	s.writeList(w, r, list)
}
