package memstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Messages is the in-memory messaging.Store and messaging.Reader (twin of
// dynamo.Messages). It follows the adapter's rules field by field: a
// message copy with Kapso content overwrites the fields it gives, one
// without only fills missing ones; the newest conversation or contact event
// sets what it gives and an older one only fills; merged contacts redirect.
type Messages struct {
	mu      sync.Mutex
	tenants map[string]*tenantMessages
}

var (
	_ messaging.Store  = (*Messages)(nil)
	_ messaging.Reader = (*Messages)(nil)
	_ messaging.Outbox = (*Messages)(nil)
)

type tenantMessages struct {
	messages map[string]*message                   // WAMID →
	convs    map[string]messaging.Conversation     // conversation id →
	contacts map[string]*contact                   // phone number id \x00 person key →
	outbox   map[string]*messaging.OutboundMessage // outbound id →
	// aliases maps a derived conversation id to the conversation Kapso
	// named a message of it into; the first one stays.
	aliases map[string]string
}

type message struct {
	m     messaging.Message
	known bool
	// sortKey orders the message in its conversation; "" while it is in none.
	sortKey  string
	delivery messaging.Delivery
	// outboundID is the outbound message accepted under this WAMID.
	outboundID string
}

type contact struct {
	c      messaging.Contact
	seen   bool  // LastSeenAt was ever set
	seenNs int64 // LastSeenAt in unix nanoseconds
	// inbound: LastInboundAt is set; inboundNs is it in unix nanoseconds.
	inbound   bool
	inboundNs int64
	convNs    int64 // when the sighting that gave c.ConversationID was
	// merged is the key of the contact this one was merged into.
	merged string
	linked string // the phone last merged into this contact
}

// maxHops bounds how many merges a lookup follows.
const maxHops = 8

func (s *Messages) tenant(tenantID string) *tenantMessages {
	if s.tenants == nil {
		s.tenants = map[string]*tenantMessages{}
	}
	t, ok := s.tenants[tenantID]
	if !ok {
		t = &tenantMessages{messages: map[string]*message{}, convs: map[string]messaging.Conversation{}, contacts: map[string]*contact{},
			outbox: map[string]*messaging.OutboundMessage{}, aliases: map[string]string{}}
		s.tenants[tenantID] = t
	}
	return t
}

func invalid(what string) error { return errs.E(errs.Invalid, what, nil) }

// unixNanos is t as a sort position: 0 for the zero time and before 1970.
func unixNanos(t time.Time) int64 {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return t.UnixNano()
}

func sortKey(t time.Time, id string) string { return fmt.Sprintf("%020d#%s", unixNanos(t), id) }

// PutMessage implements messaging.Store.
func (s *Messages) PutMessage(_ context.Context, tenantID string, m messaging.Message, statuses []messaging.StatusUpdate) error {
	if tenantID == "" || m.WAMID == "" {
		return fmt.Errorf("put message %s: %w", m.WAMID, invalid("message without tenant or WAMID"))
	}
	for i, u := range statuses {
		var err error
		if statuses[i], err = messaging.CheckStatus(u, m.WAMID); err != nil {
			return fmt.Errorf("put message %s: %w", m.WAMID, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	cur, ok := t.messages[m.WAMID]
	if !ok {
		cur = &message{}
		t.messages[m.WAMID] = cur
	}
	t.mergeMessage(cur, m)
	cur.known = true
	for _, u := range statuses {
		cur.delivery, _ = messaging.Merge(cur.delivery, u)
	}
	return nil
}

// mergeMessage stores the copy m into cur (messaging.MergeMessage),
// recording the alias the copy makes and, when the copy's conversation is
// the one kept, the message's place in it.
func (t *tenantMessages) mergeMessage(cur *message, m messaging.Message) {
	if from, to, ok := messaging.ConversationAlias(cur.m.ConversationID, m.ConversationID, m.Authoritative()); ok {
		if _, taken := t.aliases[from]; !taken {
			t.aliases[from] = to
		}
	}
	if m.ConversationID != "" && (m.Authoritative() || cur.m.ConversationID == "") {
		cur.sortKey = sortKey(m.Timestamp, m.WAMID)
	}
	cur.m = messaging.MergeMessage(cur.m, m)
}

// setField gives *dst v when v is not empty and either win or *dst is empty.
func setField[T comparable](win bool, dst *T, v T) {
	var zero T
	if v != zero && (win || *dst == zero) {
		*dst = v
	}
}

func setPerson(win bool, dst *messaging.Person, p messaging.Person) {
	setField(win, &dst.BSUID, p.BSUID)
	setField(win, &dst.ParentBSUID, p.ParentBSUID)
	setField(win, &dst.Username, p.Username)
	setField(win, &dst.Phone, p.Phone)
	setField(win, &dst.Name, p.Name)
}

// ApplyStatus implements messaging.Store.
func (s *Messages) ApplyStatus(_ context.Context, tenantID string, u messaging.StatusUpdate) error {
	u, err := messaging.CheckStatus(u, "")
	if err != nil || tenantID == "" {
		return fmt.Errorf("apply status of %s: %w", u.WAMID, cmp.Or(err, invalid("status without tenant")))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	cur, ok := t.messages[u.WAMID]
	if !ok {
		cur = &message{}
		t.messages[u.WAMID] = cur
	}
	cur.m = messaging.MergeMessage(cur.m, u.Message())
	cur.delivery, _ = messaging.Merge(cur.delivery, u)
	return nil
}

// PutConversation implements messaging.Store: messaging.MergeConversation.
func (s *Messages) PutConversation(_ context.Context, tenantID string, c messaging.Conversation) error {
	if tenantID == "" || c.ID == "" {
		return fmt.Errorf("put conversation %s: %w", c.ID, invalid("conversation without tenant or id"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	t.convs[c.ID], _ = messaging.MergeConversation(t.convs[c.ID], c)
	return nil
}

func contactKey(phoneNumberID, personKey string) string { return phoneNumberID + "\x00" + personKey }

// resolve follows merges from key to the contact that holds the person
// now, stopping at a missing one, a repeat or maxHops.
func (t *tenantMessages) resolve(phoneNumberID, key string) (string, *contact) {
	seen := map[string]bool{}
	for range maxHops {
		c := t.contacts[contactKey(phoneNumberID, key)]
		if c == nil || c.merged == "" || seen[c.merged] {
			return key, c
		}
		seen[key] = true
		key = c.merged
	}
	return key, t.contacts[contactKey(phoneNumberID, key)]
}

func (t *tenantMessages) contact(phoneNumberID, key string) *contact {
	k := contactKey(phoneNumberID, key)
	c, ok := t.contacts[k]
	if !ok {
		c = &contact{c: messaging.Contact{PhoneNumberID: phoneNumberID}}
		t.contacts[k] = c
	}
	return c
}

// PutContact implements messaging.Store. The newest sighting sets the
// person's fields; an older one only fills missing ones, and moves
// LastInboundAt and ConversationID when its own are newer.
func (s *Messages) PutContact(_ context.Context, tenantID, phoneNumberID string, p messaging.Person, sg messaging.Sighting) error {
	key := p.Key()
	if tenantID == "" || phoneNumberID == "" || key == "" {
		return fmt.Errorf("put contact on %s: %w", phoneNumberID, invalid("contact without tenant, number or person"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	key, _ = t.resolve(phoneNumberID, key)
	c := t.contact(phoneNumberID, key)
	at := sg.At
	ns := unixNanos(at)
	newer := !c.seen || (!at.IsZero() && c.seenNs <= ns)
	setPerson(newer, &c.c.Person, p)
	if newer && !at.IsZero() {
		c.seen, c.seenNs, c.c.LastSeenAt = true, ns, at.UTC()
	}
	if sg.Inbound && !at.IsZero() && (!c.inbound || c.inboundNs < ns) {
		c.inbound, c.inboundNs, c.c.LastInboundAt = true, ns, at.UTC()
	}
	if sg.ConversationID != "" && (newer || c.c.ConversationID == "" || c.convNs < ns) {
		c.c.ConversationID, c.convNs = sg.ConversationID, ns
	}
	phoneKey := messaging.Person{Phone: p.Phone}.Key()
	if p.BSUID != "" && p.Phone != "" && c.linked != p.Phone && key != phoneKey {
		old := t.contact(phoneNumberID, phoneKey)
		prev := *old
		old.merged = key
		c.fillFrom(&prev)
		c.linked = p.Phone
	}
	return nil
}

// fillFrom gives c what it lacks of o, another contact of the same person,
// and o's sighting times and conversation where they are newer.
func (c *contact) fillFrom(o *contact) {
	setField(false, &c.c.Person.Name, o.c.Person.Name)
	setField(false, &c.c.Person.Username, o.c.Person.Username)
	setField(false, &c.c.Person.Phone, o.c.Person.Phone)
	if c.c.Marketing == nil && o.c.Marketing != nil {
		m := *o.c.Marketing
		c.c.Marketing = &m
	}
	if o.seen && (!c.seen || o.seenNs > c.seenNs) {
		c.seen, c.seenNs, c.c.LastSeenAt = true, o.seenNs, o.c.LastSeenAt
	}
	if o.inbound && (!c.inbound || o.inboundNs > c.inboundNs) {
		c.inbound, c.inboundNs, c.c.LastInboundAt = true, o.inboundNs, o.c.LastInboundAt
	}
	if o.c.ConversationID != "" && (c.c.ConversationID == "" || o.convNs > c.convNs) {
		c.c.ConversationID, c.convNs = o.c.ConversationID, o.convNs
	}
}

// ChangeIdentity implements messaging.Store.
func (s *Messages) ChangeIdentity(ctx context.Context, tenantID, phoneNumberID string, previous, current messaging.Person, at time.Time) error {
	if tenantID == "" || phoneNumberID == "" || previous.BSUID == "" || current.BSUID == "" {
		return fmt.Errorf("change identity on %s: %w", phoneNumberID, invalid("identity change without both BSUIDs"))
	}
	if previous.BSUID == current.BSUID {
		return s.PutContact(ctx, tenantID, phoneNumberID, current, messaging.Sighting{At: at})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	oldKey, curKey := previous.Key(), current.Key()
	targetKey, revert := t.identityTarget(phoneNumberID, oldKey, curKey)
	var old *contact
	if o, ok := t.contacts[contactKey(phoneNumberID, oldKey)]; ok {
		cp := *o
		old = &cp
	}
	var target *contact
	if c, ok := t.contacts[contactKey(phoneNumberID, targetKey)]; ok {
		cp := *c
		target = &cp
	}
	next := identityMerge(phoneNumberID, previous.BSUID, current, targetKey == curKey, old, target, at)
	if revert {
		next.merged = ""
	}
	*t.contact(phoneNumberID, targetKey) = *next
	t.contact(phoneNumberID, oldKey).merged = targetKey
	return nil
}

// identityTarget is the contact an identity change writes to: the current
// BSUID's, or where it was already merged to by a later change that arrived
// first. A chain that leads back to the previous BSUID is a person going
// back to an earlier BSUID: the current one is then the contact again.
func (t *tenantMessages) identityTarget(phoneNumberID, oldKey, curKey string) (string, bool) {
	key, seen := curKey, map[string]bool{curKey: true}
	for range maxHops {
		c := t.contacts[contactKey(phoneNumberID, key)]
		if c == nil || c.merged == "" {
			return key, false
		}
		if c.merged == oldKey || seen[c.merged] {
			return curKey, true
		}
		seen[c.merged] = true
		key = c.merged
	}
	return key, false
}

// identityMerge is the target contact after an identity change: the
// current person's fields (all of them when target is the current BSUID's
// own contact, else only what it lacks), the old contact's where missing,
// the previous BSUIDs of both plus previous, the newest sighting and the
// highest marketing sequence.
func identityMerge(phoneNumberID, previousBSUID string, current messaging.Person, own bool, old, target *contact, at time.Time) *contact {
	next := &contact{c: messaging.Contact{PhoneNumberID: phoneNumberID}}
	if target != nil {
		*next = *target
		next.c.PreviousBSUIDs = nil
	}
	if own {
		setPerson(true, &next.c.Person, current)
	} else {
		cur := current
		cur.BSUID, cur.ParentBSUID = "", ""
		setPerson(false, &next.c.Person, cur)
	}
	var prev []string
	if old != nil {
		next.fillFrom(old)
		if old.c.Marketing != nil && next.c.Marketing.Sequence < old.c.Marketing.Sequence {
			m := *old.c.Marketing
			next.c.Marketing = &m
		}
		if old.seen && old.seenNs > next.seenNs {
			next.seenNs, next.c.LastSeenAt = old.seenNs, old.c.LastSeenAt
		}
		prev = append(prev, old.c.PreviousBSUIDs...)
	}
	if ns := unixNanos(at); !at.IsZero() && (!next.seen || ns > next.seenNs) {
		next.seen, next.seenNs, next.c.LastSeenAt = true, ns, at.UTC()
	}
	prev = append(prev, previousBSUID)
	if target != nil {
		prev = append(prev, target.c.PreviousBSUIDs...)
	}
	for _, b := range prev {
		if b != next.c.Person.BSUID && !slices.Contains(next.c.PreviousBSUIDs, b) {
			next.c.PreviousBSUIDs = append(next.c.PreviousBSUIDs, b)
		}
	}
	return next
}

// SetMarketingPreference implements messaging.Store.
func (s *Messages) SetMarketingPreference(_ context.Context, tenantID, phoneNumberID string, p messaging.Person, pref messaging.MarketingPreference) error {
	key := p.Key()
	if tenantID == "" || phoneNumberID == "" || key == "" {
		return fmt.Errorf("set marketing preference on %s: %w", phoneNumberID, invalid("preference without tenant, number or person"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	key, c := t.resolve(phoneNumberID, key)
	if c != nil && c.c.Marketing != nil && c.c.Marketing.Sequence >= pref.Sequence {
		return nil
	}
	c = t.contact(phoneNumberID, key)
	setPerson(false, &c.c.Person, p)
	if !pref.OccurredAt.IsZero() {
		pref.OccurredAt = pref.OccurredAt.UTC()
	}
	c.c.Marketing = &pref
	return nil
}

// Message implements messaging.Reader, by WAMID or outbound id.
func (s *Messages) Message(_ context.Context, tenantID, id string) (messaging.StoredMessage, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok || id == "" {
		return messaging.StoredMessage{}, false, nil
	}
	if messaging.IsOutboundID(id) {
		o, ok := t.outbox[id]
		if !ok {
			return messaging.StoredMessage{}, false, nil
		}
		if o.WAMID == "" {
			return cloneOutbound(*o).Stored(), true, nil
		}
		if m, ok := t.messages[o.WAMID]; ok {
			return m.stored(), true, nil
		}
		out := cloneOutbound(*o).Stored()
		out.WAMID = o.WAMID
		out.Outbound = &messaging.OutboundInfo{ID: id, State: messaging.OutAccepted}
		return out, true, nil
	}
	m, ok := t.messages[id]
	if !ok {
		return messaging.StoredMessage{}, false, nil
	}
	return m.stored(), true, nil
}

func (m *message) stored() messaging.StoredMessage {
	out := messaging.StoredMessage{Message: m.m, Known: m.known, Delivery: m.delivery}
	if m.outboundID != "" {
		out.Outbound = &messaging.OutboundInfo{ID: m.outboundID, State: messaging.OutAccepted}
	}
	out.Media, out.Reaction, out.Kapso = clone(m.m.Media), clone(m.m.Reaction), clone(m.m.Kapso)
	out.Delivery.History = slices.Clone(m.delivery.History)
	return out
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// Contact implements messaging.Reader.
func (s *Messages) Contact(_ context.Context, tenantID, phoneNumberID, bsuidOrPhone string) (messaging.Contact, bool, error) {
	key := messaging.LookupKey(bsuidOrPhone)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok || key == "" || phoneNumberID == "" {
		return messaging.Contact{}, false, nil
	}
	return t.view(phoneNumberID, key)
}

func (t *tenantMessages) view(phoneNumberID, key string) (messaging.Contact, bool, error) {
	_, c := t.resolve(phoneNumberID, key)
	if c == nil {
		return messaging.Contact{}, false, nil
	}
	out := c.c
	out.PreviousBSUIDs = slices.Clone(c.c.PreviousBSUIDs)
	out.Marketing = clone(c.c.Marketing)
	return out, true, nil
}

// cursor is a position in one tenant's list: tenant-bound, so another
// tenant's cursor is refused rather than followed.
type cursor struct {
	List   string `json:"l"`
	Tenant string `json:"t"`
	Key    string `json:"k"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, tenantID, list string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil && len(s) <= 2048 {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || len(s) > 2048 || c.List != list || c.Tenant != tenantID || c.Key == "" {
		return "", errs.E(errs.Invalid, "invalid cursor", messaging.ErrBadCursor)
	}
	return c.Key, nil
}

// page cuts sorted items (by key, in list order) at the cursor position.
func page[T any](items []T, keyOf func(T) string, after string, desc bool, size int, tenantID, list string) ([]T, string) {
	start := 0
	if after != "" {
		start = len(items)
		for i, it := range items {
			if k := keyOf(it); (desc && k < after) || (!desc && k > after) {
				start = i
				break
			}
		}
	}
	items = items[start:]
	if len(items) <= size {
		return items, ""
	}
	items = items[:size]
	return items, encodeCursor(cursor{List: list, Tenant: tenantID, Key: keyOf(items[size-1])})
}

// Conversations implements messaging.Reader.
func (s *Messages) Conversations(_ context.Context, tenantID string, p messaging.Page) ([]messaging.ConversationView, string, error) {
	after, err := decodeCursor(p.Cursor, tenantID, "conversations")
	if err != nil {
		return nil, "", fmt.Errorf("list conversations of %s: %w", tenantID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok {
		return nil, "", nil
	}
	convs := make([]messaging.Conversation, 0, len(t.convs))
	for _, c := range t.convs {
		convs = append(convs, c)
	}
	keyOf := func(c messaging.Conversation) string { return sortKey(c.LastActiveAt, c.ID) }
	slices.SortFunc(convs, func(a, b messaging.Conversation) int { return strings.Compare(keyOf(b), keyOf(a)) })
	convs, next := page(convs, keyOf, after, true, p.Size(), tenantID, "conversations")
	out := make([]messaging.ConversationView, 0, len(convs))
	for _, c := range convs {
		v := messaging.ConversationView{Conversation: c}
		found := false
		if key := c.Person.Key(); key != "" {
			v.Contact, found, _ = t.view(c.PhoneNumberID, key)
		}
		if !found {
			v.Contact = messaging.Contact{PhoneNumberID: c.PhoneNumberID, Person: c.Person}
		}
		out = append(out, v)
	}
	return out, next, nil
}

// Conversation is one stored conversation by id (dynamo.Messages.Conversation).
func (s *Messages) Conversation(_ context.Context, tenantID, id string) (messaging.Conversation, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok {
		return messaging.Conversation{}, false, nil
	}
	c, ok := t.convs[id]
	return c, ok, nil
}

// ConversationMessages implements messaging.Reader.
func (s *Messages) ConversationMessages(_ context.Context, tenantID, conversationID string, p messaging.Page) ([]messaging.StoredMessage, string, error) {
	list := "messages:" + conversationID
	after, err := decodeCursor(p.Cursor, tenantID, list)
	if err != nil {
		return nil, "", fmt.Errorf("list messages of conversation %s: %w", conversationID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[tenantID]
	if !ok {
		return nil, "", nil
	}
	// A derived id that is a conversation of its own lists its messages.
	if _, own := t.convs[conversationID]; !own && t.aliases[conversationID] != "" {
		conversationID = t.aliases[conversationID]
	}
	// The list holds the messages stored under a WAMID and the outbound
	// messages that have none yet.
	type listed struct {
		key string
		m   messaging.StoredMessage
	}
	var msgs []listed
	for _, m := range t.messages {
		if m.known && m.sortKey != "" && m.m.ConversationID == conversationID {
			msgs = append(msgs, listed{m.sortKey, m.stored()})
		}
	}
	for _, o := range t.outbox {
		if o.WAMID == "" && o.ConversationID != "" && o.ConversationID == conversationID {
			msgs = append(msgs, listed{sortKey(o.CreatedAt, o.ID), cloneOutbound(*o).Stored()})
		}
	}
	keyOf := func(l listed) string { return l.key }
	slices.SortFunc(msgs, func(a, b listed) int { return strings.Compare(a.key, b.key) })
	msgs, next := page(msgs, keyOf, after, false, p.Size(), tenantID, list)
	out := make([]messaging.StoredMessage, 0, len(msgs))
	for _, l := range msgs {
		out = append(out, l.m)
	}
	return out, next, nil
}
