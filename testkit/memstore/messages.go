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
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Messages is the in-memory messaging.Store and messaging.Reader (twin of
// dynamo.Messages). Under one mutex it reads, applies the domain's merge
// (messaging.MergeMessage, MergeConversation, MergeContact and the other
// contact rules) and writes back, where the adapter spells the same rules
// as conditional updates; merged contacts redirect.
type Messages struct {
	// Retention and Now are dynamo.Messages's (retention.go).
	Retention messaging.Retention
	Now       func() time.Time

	mu      sync.Mutex
	tenants map[string]*tenantMessages
	// retries are the messages whose media copy is due again (media.go).
	retries []mediaRetry
}

var (
	_ messaging.Store  = (*Messages)(nil)
	_ messaging.Reader = (*Messages)(nil)
	_ messaging.Outbox = (*Messages)(nil)
)

type tenantMessages struct {
	messages map[string]*message                   // WAMID →
	convs    map[string]messaging.Conversation     // conversation id →
	contacts map[string]messaging.ContactMap       // phone number id →
	outbox   map[string]*messaging.OutboundMessage // outbound id →
	// aliases maps a derived conversation id to the conversation Kapso
	// named a message of it into; the first one stays.
	aliases map[string]string
	// exp are the items' expiries, by item (retention.go).
	exp map[string]itemExpiry
}

type message struct {
	m     messaging.Message
	known bool
	// sortKey orders the message in its conversation; "" while it is in none.
	sortKey  string
	delivery messaging.Delivery
	// outboundID is the outbound message accepted under this WAMID, and
	// createdBy the token that sent it.
	outboundID, createdBy string
	// media is the copy of the message's media (media.go).
	media media.Info
}

func (s *Messages) tenant(tenantID string) *tenantMessages {
	if s.tenants == nil {
		s.tenants = map[string]*tenantMessages{}
	}
	t, ok := s.tenants[tenantID]
	if !ok {
		t = &tenantMessages{messages: map[string]*message{}, convs: map[string]messaging.Conversation{}, exp: map[string]itemExpiry{},
			contacts: map[string]messaging.ContactMap{}, outbox: map[string]*messaging.OutboundMessage{}, aliases: map[string]string{}}
		s.tenants[tenantID] = t
	}
	return t
}

func invalid(what string) error { return errs.E(errs.Invalid, what, nil) }

func sortKey(t time.Time, id string) string {
	return fmt.Sprintf("%020d#%s", messaging.Instant(t), id)
}

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
	s.expire(t, messageItem(m.WAMID), !m.Timestamp.IsZero(), m.Timestamp)
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
	s.expire(t, messageItem(u.WAMID), false, u.At)
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
	s.expire(t, conversationItem(c.ID), c.Supersedes(t.convs[c.ID]), c.LastActiveAt)
	t.convs[c.ID], _ = messaging.MergeConversation(t.convs[c.ID], c)
	return nil
}

// withContacts runs write on the tenant's contacts of the number, under
// the lock.
func (s *Messages) withContacts(tenantID, phoneNumberID string, write func(messaging.ContactMap)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenantID)
	if t.contacts[phoneNumberID] == nil {
		t.contacts[phoneNumberID] = messaging.ContactMap{}
	}
	b := t.contacts[phoneNumberID]
	seen := map[string]time.Time{}
	for k, e := range b {
		seen[k] = e.LastSeenAt
	}
	write(b)
	s.expireContacts(t, phoneNumberID, seen)
}

// PutContact implements messaging.Store: messaging.SightContact.
func (s *Messages) PutContact(_ context.Context, tenantID, phoneNumberID string, p messaging.Person, sg messaging.Sighting) error {
	if tenantID == "" || phoneNumberID == "" || p.Key() == "" {
		return fmt.Errorf("put contact on %s: %w", phoneNumberID, invalid("contact without tenant, number or person"))
	}
	s.withContacts(tenantID, phoneNumberID, func(b messaging.ContactMap) { messaging.SightContact(b, phoneNumberID, p, sg) })
	return nil
}

// ChangeIdentity implements messaging.Store: messaging.ChangeContactIdentity.
func (s *Messages) ChangeIdentity(_ context.Context, tenantID, phoneNumberID string, previous, current messaging.Person, at time.Time) error {
	if tenantID == "" || phoneNumberID == "" || previous.BSUID == "" || current.BSUID == "" {
		return fmt.Errorf("change identity on %s: %w", phoneNumberID, invalid("identity change without both BSUIDs"))
	}
	s.withContacts(tenantID, phoneNumberID, func(b messaging.ContactMap) {
		messaging.ChangeContactIdentity(b, phoneNumberID, previous, current, at)
	})
	return nil
}

// SetMarketingPreference implements messaging.Store: messaging.PreferContact.
func (s *Messages) SetMarketingPreference(_ context.Context, tenantID, phoneNumberID string, p messaging.Person, pref messaging.MarketingPreference) error {
	if tenantID == "" || phoneNumberID == "" || p.Key() == "" {
		return fmt.Errorf("set marketing preference on %s: %w", phoneNumberID, invalid("preference without tenant, number or person"))
	}
	s.withContacts(tenantID, phoneNumberID, func(b messaging.ContactMap) { messaging.PreferContact(b, phoneNumberID, p, pref) })
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
		if !ok || s.gone(t, outboundItem(id)) {
			return messaging.StoredMessage{}, false, nil
		}
		if o.WAMID == "" {
			return cloneOutbound(*o).Stored(), true, nil
		}
		if m, ok := t.messages[o.WAMID]; ok && !s.gone(t, messageItem(o.WAMID)) {
			return m.stored(), true, nil
		}
		out := cloneOutbound(*o).Stored()
		out.WAMID = o.WAMID
		out.Outbound = &messaging.OutboundInfo{ID: id, State: messaging.OutAccepted, CreatedBy: o.CreatedBy}
		return out, true, nil
	}
	m, ok := t.messages[id]
	if !ok || s.gone(t, messageItem(id)) {
		return messaging.StoredMessage{}, false, nil
	}
	return m.stored(), true, nil
}

func (m *message) stored() messaging.StoredMessage {
	out := messaging.StoredMessage{Message: m.m, Known: m.known, Delivery: m.delivery, MediaCopy: m.media}
	if m.outboundID != "" {
		out.Outbound = &messaging.OutboundInfo{ID: m.outboundID, State: messaging.OutAccepted, CreatedBy: m.createdBy}
	}
	out.Media, out.Template, out.Reaction, out.Kapso = clone(m.m.Media), clone(m.m.Template), clone(m.m.Reaction), clone(m.m.Kapso)
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
	c, found, err := t.view(phoneNumberID, key)
	if found && s.gone(t, t.contactItem(phoneNumberID, key)) {
		return messaging.Contact{}, false, nil
	}
	return c, found, err
}

func (t *tenantMessages) view(phoneNumberID, key string) (messaging.Contact, bool, error) {
	c, ok := messaging.LookupContact(t.contacts[phoneNumberID], key)
	c.PreviousBSUIDs = slices.Clone(c.PreviousBSUIDs)
	c.Marketing = clone(c.Marketing)
	return c, ok, nil
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
	if !p.UpdatedSince.IsZero() {
		convs = slices.DeleteFunc(convs, func(c messaging.Conversation) bool { return c.LastActiveAt.Before(p.UpdatedSince) })
	}
	convs, next := page(convs, keyOf, after, true, p.Size(), tenantID, "conversations")
	out := make([]messaging.ConversationView, 0, len(convs))
	for _, c := range convs {
		// An expired one leaves the page short, as in the table.
		if s.gone(t, conversationItem(c.ID)) {
			continue
		}
		var contact messaging.Contact
		found := false
		if key := c.Person.Key(); key != "" {
			contact, found, _ = t.view(c.PhoneNumberID, key)
			if found && s.gone(t, t.contactItem(c.PhoneNumberID, key)) {
				contact, found = messaging.Contact{}, false
			}
		}
		out = append(out, c.View(contact, found))
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
	if !ok || s.gone(t, conversationItem(id)) {
		return messaging.Conversation{}, false, nil
	}
	return c, true, nil
}

// ConversationMessages implements messaging.Reader.
func (s *Messages) ConversationMessages(_ context.Context, tenantID, conversationID string, p messaging.Page) ([]messaging.StoredMessage, string, error) {
	list := "messages:" + conversationID
	if p.Newest {
		list = "messages.newest:" + conversationID
	}
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
		key     string
		m       messaging.StoredMessage
		expired bool
	}
	var msgs []listed
	for w, m := range t.messages {
		if m.known && m.sortKey != "" && m.m.ConversationID == conversationID {
			msgs = append(msgs, listed{m.sortKey, m.stored(), s.gone(t, messageItem(w))})
		}
	}
	for _, o := range t.outbox {
		if o.WAMID == "" && o.ConversationID != "" && o.ConversationID == conversationID {
			msgs = append(msgs, listed{sortKey(o.CreatedAt, o.ID), cloneOutbound(*o).Stored(), s.gone(t, outboundItem(o.ID))})
		}
	}
	keyOf := func(l listed) string { return l.key }
	slices.SortFunc(msgs, func(a, b listed) int { return strings.Compare(a.key, b.key) })
	if p.Newest {
		slices.Reverse(msgs)
	}
	msgs, next := page(msgs, keyOf, after, p.Newest, p.Size(), tenantID, list)
	out := make([]messaging.StoredMessage, 0, len(msgs))
	for _, l := range msgs {
		// An expired one leaves the page short, as in the table.
		if !l.expired {
			out = append(out, l.m)
		}
	}
	return out, next, nil
}
