package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Messages is the messaging.Store, messaging.Reader and messaging.Outbox on
// the bridge table. A message, status, conversation or contact write is one
// UpdateItem when it arrives in order, two or three when it does not (see
// each method):
//
//	MSG#<tenant>#<wamid>                    / MSG      content, status, hist (string set of status entries),
//	                                                   outbound_id once an outbound message was accepted under it
//	                                                   (gsi1: CONVMSG#<tenant>#<conversation> / <ts ns>#<wamid>)
//	CONV#<tenant>#<conversation>            / CONV     (gsi1: CONVS#<tenant> / <last active ns>#<conversation>)
//	CONV#<tenant>#<derived conversation>    / ALIAS    alias_of: the conversation Kapso named a message of the
//	                                                   derived id into (see alias)
//	CONTACT#<tenant>#<number>#<person key>  / CONTACT  one person on one number; merged_into names the
//	                                                   person key it was merged into
//	OUT#<tenant>#<outbound id>              / OUT      one outbound message (see outbox.go)
//
// A message's Delivery is the Merge of its hist set, which only grows
// (ADD is atomic and commutative); the status attribute only moves forward
// (a conditional write), so it can be read or indexed alone. A message copy
// with Kapso content sets the fields it gives; one without only fills
// missing ones, so the two formats of a message converge in either order.
type Messages struct {
	DB    *dynamodb.Client
	Table string
	// Retention gives each message, send, conversation and contact an
	// expiry (expires_at) in the write that stores it; zero keeps them.
	Retention messaging.Retention
	// Now is the clock of those expiries and of the reads, which leave out
	// what has expired (time.Now when nil).
	Now func() time.Time
}

var (
	_ messaging.Store  = (*Messages)(nil)
	_ messaging.Reader = (*Messages)(nil)
	_ messaging.Outbox = (*Messages)(nil)
)

// Attributes of the messaging items.
const (
	attrWAMID          = "wamid"
	attrKnown          = "known"
	attrHistory        = "hist"
	attrStatusRank     = "status_rank"
	attrPhoneNumberID  = "phone_number_id"
	attrDirection      = "direction"
	attrConversationID = "conversation_id"
	attrTimestamp      = "timestamp"
	attrLastActiveAt   = "last_active_at"
	attrLastActiveNs   = "last_active_ns"
	attrInactivity     = "inactivity_minutes"
	attrLastSeenAt     = "last_seen_at"
	attrLastSeenNs     = "last_seen_ns"
	attrLastInboundAt  = "last_inbound_at"
	attrLastInboundNs  = "last_inbound_ns"
	// attrConversationNs is the time of the sighting that gave a contact its
	// conversation_id, so an older sighting never replaces it.
	attrConversationNs = "conversation_ns"
	attrPrevious       = "previous_bsuids"
	attrMarketing      = "marketing"
	attrMergedInto     = "merged_into"
	attrPhoneLinked    = "phone_linked"
	attrVersion        = "ver"
	// attrOutboundID names, on a message item, the outbound message the
	// tenant sent it as.
	attrOutboundID = "outbound_id"
	// attrAliasOf is, on an alias item, the conversation it stands for.
	attrAliasOf = "alias_of"
	// attrInactiveSince and attrInactiveNs are a conversation's
	// messaging.Conversation.InactiveSince, shown and compared.
	attrInactiveSince = "inactive_since"
	attrInactiveNs    = "inactive_since_ns"
	// attrSource is the messaging.Origin of the last change a write under
	// one made to a message, conversation or contact.
	attrSource = "source"
)

// update builds an update (and its condition) with every name and value
// as a placeholder, since many attribute names are reserved words.
type update struct {
	set, add     []string
	remove       []string
	names        map[string]string // placeholder → attribute
	placeholders map[string]string // attribute → placeholder
	vals         map[string]types.AttributeValue
}

func newUpdate() *update {
	return &update{names: map[string]string{}, placeholders: map[string]string{}, vals: map[string]types.AttributeValue{}}
}

// name is the placeholder of a path such as "marketing.seq".
func (u *update) name(path string) string {
	var parts []string
	for p := range strings.SplitSeq(path, ".") {
		n, ok := u.placeholders[p]
		if !ok {
			n = "#n" + strconv.Itoa(len(u.placeholders))
			u.placeholders[p] = n
			u.names[n] = p
		}
		parts = append(parts, n)
	}
	return strings.Join(parts, ".")
}

func (u *update) val(v types.AttributeValue) string {
	p := ":" + strconv.Itoa(len(u.vals))
	u.vals[p] = v
	return p
}

func (u *update) setTo(attr string, v types.AttributeValue) {
	u.set = append(u.set, u.name(attr)+" = "+u.val(v))
}

func (u *update) fill(attr string, v types.AttributeValue) {
	n := u.name(attr)
	u.set = append(u.set, n+" = if_not_exists("+n+", "+u.val(v)+")")
}

// put sets attr to v (when win) or fills it; an empty v is left out.
func (u *update) put(win bool, attr, v string) {
	if v == "" {
		return
	}
	if win {
		u.setTo(attr, str(v))
	} else {
		u.fill(attr, str(v))
	}
}

func (u *update) putAttr(win bool, attr string, v types.AttributeValue) {
	if win {
		u.setTo(attr, v)
	} else {
		u.fill(attr, v)
	}
}

func (u *update) addTo(attr string, v types.AttributeValue) {
	u.add = append(u.add, u.name(attr)+" "+u.val(v))
}

// drop removes attr from the item.
func (u *update) drop(attr string) {
	u.remove = append(u.remove, u.name(attr))
}

func (u *update) expression() *string {
	var b []string
	if len(u.set) > 0 {
		b = append(b, "SET "+strings.Join(u.set, ", "))
	}
	if len(u.add) > 0 {
		b = append(b, "ADD "+strings.Join(u.add, ", "))
	}
	if len(u.remove) > 0 {
		b = append(b, "REMOVE "+strings.Join(u.remove, ", "))
	}
	return aws.String(strings.Join(b, " "))
}

// getItem is the item under k, read consistently; nil when there is none.
func (s *Messages) getItem(ctx context.Context, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

func (s *Messages) updateItem(ctx context.Context, k map[string]types.AttributeValue, u *update, cond string, rv types.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k,
		UpdateExpression:          u.expression(),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.vals,
		ReturnValues:              rv,
	}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	return s.DB.UpdateItem(ctx, in)
}

// conditionFailedItem is the item a failed condition returned, and whether
// the error was a failed condition.
func conditionFailedItem(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, false
	}
	return ccf.Item, true
}

func invalid(what string) error { return errs.E(errs.Invalid, what, nil) }

// refused classifies what DynamoDB refuses for good: a ValidationException
// (an item above 400 KB, a key above its size limit), alone or as the
// reason a transaction was cancelled. Sending the same request again can
// never succeed, so it is errs.Invalid, which a worker keeps aside instead
// of retrying; any other error is returned as it is.
func refused(err error) error {
	if err == nil || errs.CodeOf(err) != errs.Internal {
		return err
	}
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
		return errs.E(errs.Invalid, "DynamoDB refused the write", err)
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) == "ValidationError" {
				return errs.E(errs.Invalid, "DynamoDB refused the write", err)
			}
		}
	}
	return err
}

func boolVal(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

// setOrigin records the origin of the change u writes, when ctx has one.
func setOrigin(ctx context.Context, u *update) {
	if o := messaging.OriginOf(ctx); o != "" {
		u.setTo(attrSource, str(string(o)))
	}
}

// --- messages and statuses ---

// entry is a StatusEntry as stored in a hist set: one canonical string per
// entry, so the same status added twice is one set member.
type entry struct {
	S string    `json:"s"`
	T string    `json:"t,omitempty"`
	E *entryErr `json:"e,omitempty"`
}

type entryErr struct {
	Code    int    `json:"c,omitempty"`
	Title   string `json:"t,omitempty"`
	Message string `json:"m,omitempty"`
	Details string `json:"d,omitempty"`
}

func encodeEntry(u messaging.StatusUpdate) string {
	e := entry{S: string(u.Status)}
	if !u.At.IsZero() {
		e.T = u.At.UTC().Format(time.RFC3339Nano)
	}
	if u.Status == messaging.Failed && u.Error != nil {
		e.E = &entryErr{Code: u.Error.Code, Title: u.Error.Title, Message: u.Error.Message, Details: u.Error.Details}
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// deliveryOf folds Merge over the stored entries, in sorted order so the
// result never depends on the order DynamoDB returns a set in.
func deliveryOf(wamid string, hist []string) (messaging.Delivery, error) {
	var d messaging.Delivery
	for _, h := range slices.Sorted(slices.Values(hist)) {
		var e entry
		if err := json.Unmarshal([]byte(h), &e); err != nil {
			return d, fmt.Errorf("status entry %q: %w", h, err)
		}
		u := messaging.StatusUpdate{WAMID: wamid, Status: messaging.Status(e.S)}
		if e.T != "" {
			at, err := time.Parse(time.RFC3339Nano, e.T)
			if err != nil {
				return d, fmt.Errorf("status entry %q: %w", h, err)
			}
			u.At = at.UTC()
		}
		if e.E != nil {
			u.Error = &messaging.StatusError{Code: e.E.Code, Title: e.E.Title, Message: e.E.Message, Details: e.E.Details}
		}
		d, _ = messaging.Merge(d, u)
	}
	return d, nil
}

// PutMessage implements messaging.Store: one UpdateItem, or two when a
// higher status is already stored.
func (s *Messages) PutMessage(ctx context.Context, tenantID string, m messaging.Message, statuses []messaging.StatusUpdate) error {
	wrap := func(err error) error { return fmt.Errorf("put message %s: %w", m.WAMID, refused(err)) }
	if tenantID == "" || m.WAMID == "" {
		return wrap(invalid("message without tenant or WAMID"))
	}
	var hist []string
	var top messaging.Status
	for i, st := range statuses {
		var err error
		if statuses[i], err = messaging.CheckStatus(st, m.WAMID); err != nil {
			return wrap(err)
		}
		hist = append(hist, encodeEntry(statuses[i]))
		if statuses[i].Status.Rank() > top.Rank() {
			top = statuses[i].Status
		}
	}
	k := messageKey(tenantID, m.WAMID)
	build := func(withStatus bool) (*update, string) {
		u := messageUpdate(tenantID, m)
		setOrigin(ctx, u)
		// A copy with the message's time sets the expiry from it; any other
		// write only fills it (from now).
		s.expire(u, !m.Timestamp.IsZero(), m.Timestamp)
		if len(hist) > 0 {
			u.addTo(attrHistory, &types.AttributeValueMemberSS{Value: slices.Compact(slices.Sorted(slices.Values(hist)))})
		}
		if !withStatus {
			return u, ""
		}
		u.setTo(attrStatus, str(string(top)))
		r := u.val(numberAttr(int64(top.Rank())))
		u.set = append(u.set, u.name(attrStatusRank)+" = "+r)
		return u, "attribute_not_exists(" + attrStatusRank + ") OR " + attrStatusRank + " <= " + r
	}
	// The old values say which conversation id the message had, at no
	// extra call: see alias.
	u, cond := build(top != "")
	out, err := s.updateItem(ctx, k, u, cond, types.ReturnValueUpdatedOld)
	if _, failed := conditionFailedItem(err); failed {
		u, _ = build(false)
		out, err = s.updateItem(ctx, k, u, "", types.ReturnValueUpdatedOld)
	}
	if err != nil {
		return wrap(err)
	}
	if from, to, ok := messaging.ConversationAlias(stringAttr(out.Attributes[attrConversationID]), m.ConversationID, m.Authoritative()); ok {
		if err := s.alias(ctx, tenantID, from, to); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// alias records messaging.ConversationAlias's alias: the derived
// conversation id from stands for Kapso's conversation to. One conditional
// PutItem, only when a message's conversation id is replaced; the first
// alias of an id stays, so the id a send was answered with always lists
// the same conversation.
func (s *Messages) alias(ctx context.Context, tenantID, from, to string) error {
	item := conversationAliasKey(tenantID, from)
	item[attrAliasOf] = str(to)
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(" + schema.AttrPK + ")")})
	if _, failed := conditionFailedItem(err); failed {
		return nil
	}
	if err != nil {
		return fmt.Errorf("alias conversation %s to %s: %w", from, to, err)
	}
	return nil
}

// aliasAccepted gives the derived conversation id a send was listed under
// its alias when the message accepted under wamid is in another
// conversation: its webhook named Kapso's before the accept, which only
// fills. One GetItem, only for a send under a derived id. It is best
// effort: the accept is recorded either way, and without the alias the
// derived id lists what it listed before.
func (s *Messages) aliasAccepted(ctx context.Context, tenantID, wamid, conversationID string) {
	if !messaging.IsDerivedConversationID(conversationID) {
		return
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: messageKey(tenantID, wamid),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String(attrConversationID)})
	if err != nil || out.Item == nil {
		return
	}
	// The send's content is a copy that only fills.
	if from, to, ok := messaging.ConversationAlias(stringAttr(out.Item[attrConversationID]), conversationID, false); ok {
		_ = s.alias(ctx, tenantID, from, to)
	}
}

// aliasOf is the conversation the derived id stands for: its alias,
// unless the id is a conversation of its own (Meta-format traffic, whose
// messages it lists), "" when neither. One Query of the id's partition,
// which holds both items.
func (s *Messages) aliasOf(ctx context.Context, tenantID, id string) (string, error) {
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.Table),
		KeyConditionExpression:    aws.String(schema.AttrPK + " = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(conversationPK(tenantID, id))}})
	if err != nil {
		return "", fmt.Errorf("read alias of %s: %w", id, err)
	}
	alias := ""
	for _, it := range out.Items {
		switch stringAttr(it[schema.AttrSK]) {
		case conversationSK:
			return "", nil
		case conversationAliasSK:
			alias = stringAttr(it[attrAliasOf])
		}
	}
	return alias, nil
}

// messageUpdate stores the copy m by the rule of messaging.MergeMessage,
// without reading first: it sets m's fields when m is authoritative, else
// only fills them.
func messageUpdate(tenantID string, m messaging.Message) *update {
	win := m.Authoritative()
	u := newUpdate()
	u.setTo(attrWAMID, str(m.WAMID))
	u.setTo(attrKnown, boolVal(true))
	u.put(win, attrPhoneNumberID, m.PhoneNumberID)
	u.put(win, attrDirection, string(m.Direction))
	u.put(win, "msg_type", m.Type)
	// A rendering of the type is kept apart, and only fills: any copy's
	// own text wins over it (messaging.MergeMessage).
	if m.TextRendered {
		u.put(false, attrTextRendered, m.Text)
	} else {
		u.put(win, attrText, m.Text)
	}
	u.put(win, "reply_to", m.ReplyTo)
	if !m.Timestamp.IsZero() {
		u.put(win, attrTimestamp, stamp(m.Timestamp))
	}
	putPerson(u, win, "from_", m.From)
	putPerson(u, win, "to_", m.To)
	// Media and template are merged field by field, so they are kept as
	// attributes of their own.
	if md := m.Media; md != nil {
		for i, v := range mediaValues(*md) {
			u.put(win, mediaAttrs[i], v)
		}
	}
	if tp := m.Template; tp != nil {
		for i, v := range templateValues(*tp) {
			u.put(win, templateAttrs[i], v)
		}
	}
	if r := m.Reaction; r != nil {
		u.putAttr(win, "reaction", mapAttr(map[string]string{"message_id": r.MessageID, "emoji": r.Emoji},
			map[string]bool{"removed": r.Removed}))
	}
	if kc := m.Kapso; kc != nil {
		u.setTo("kapso", mapAttr(map[string]string{"content": kc.Content, "origin": kc.Origin, "media_url": kc.MediaURL,
			"transcript": kc.Transcript}, map[string]bool{"has_media": kc.HasMedia}))
	}
	if m.ConversationID != "" {
		u.put(win, attrConversationID, m.ConversationID)
		u.put(win, schema.AttrGSI1PK, conversationMessagesPartition(tenantID, m.ConversationID))
		u.put(win, schema.AttrGSI1SK, indexPosition(m.Timestamp, m.WAMID))
	}
	return u
}

// mapAttr is a map of the non-empty strings and every bool.
func mapAttr(strs map[string]string, bools map[string]bool) types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for k, v := range strs {
		if v != "" {
			m[k] = str(v)
		}
	}
	for k, v := range bools {
		m[k] = boolVal(v)
	}
	return &types.AttributeValueMemberM{Value: m}
}

func mapOf(v types.AttributeValue) (map[string]types.AttributeValue, bool) {
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		return nil, false
	}
	return m.Value, true
}

// A message's text: its own, or a rendering of its type.
const (
	attrText         = "text"
	attrTextRendered = "text_rendered"
)

// A message's media reference and template are stored flat, one
// attribute a field, so that a copy sets or fills each (the worker's copy
// of the media has attributes of its own).
var (
	mediaAttrs    = [...]string{"media_id", "media_url", "media_mime_type", "media_caption", "media_filename"}
	templateAttrs = [...]string{"template_name", "template_language", "template_components"}
)

func mediaValues(md messaging.Media) [5]string {
	return [5]string{md.ID, md.URL, md.MIMEType, md.Caption, md.Filename}
}

func templateValues(t messaging.Template) [3]string {
	return [3]string{t.Name, t.Language, t.Components}
}

// mediaFrom reads the item's media reference; nil when it has none. Items
// written before the media was stored flat hold it in one map, "media".
func mediaFrom(it map[string]types.AttributeValue) *messaging.Media {
	var v [5]string
	legacy, _ := mapOf(it["media"])
	for i, a := range mediaAttrs {
		v[i] = cmp.Or(stringAttr(it[a]), stringAttr(legacy[strings.TrimPrefix(a, "media_")]))
	}
	md := messaging.Media{ID: v[0], URL: v[1], MIMEType: v[2], Caption: v[3], Filename: v[4]}
	if md == (messaging.Media{}) {
		return nil
	}
	return &md
}

func templateFrom(it map[string]types.AttributeValue) *messaging.Template {
	a := func(i int) string { return stringAttr(it[templateAttrs[i]]) }
	t := messaging.Template{Name: a(0), Language: a(1), Components: a(2)}
	if t == (messaging.Template{}) {
		return nil
	}
	return &t
}

// Person fields are stored flat, under a prefix ("from_", "to_", "").
var personAttrs = [...]string{"bsuid", "parent_bsuid", "username", "phone", "name"}

func personValues(p messaging.Person) [5]string {
	return [5]string{p.BSUID, p.ParentBSUID, p.Username, p.Phone, p.Name}
}

func putPerson(u *update, win bool, prefix string, p messaging.Person) {
	for i, v := range personValues(p) {
		u.put(win, prefix+personAttrs[i], v)
	}
}

func personFrom(item map[string]types.AttributeValue, prefix string) messaging.Person {
	a := func(i int) string { return stringAttr(item[prefix+personAttrs[i]]) }
	return messaging.Person{BSUID: a(0), ParentBSUID: a(1), Username: a(2), Phone: a(3), Name: a(4)}
}

// ApplyStatus implements messaging.Store: one UpdateItem that adds the
// entry and moves the status forward; when the status is not forward, the
// returned item says whether the entry is known (a duplicate: done) or one
// more UpdateItem adds it to the history only.
func (s *Messages) ApplyStatus(ctx context.Context, tenantID string, st messaging.StatusUpdate) error {
	wrap := func(err error) error {
		return fmt.Errorf("apply status %s of %s: %w", st.Status, st.WAMID, refused(err))
	}
	st, err := messaging.CheckStatus(st, "")
	if err != nil {
		return wrap(err)
	}
	if tenantID == "" {
		return wrap(invalid("status without tenant"))
	}
	k := messageKey(tenantID, st.WAMID)
	e := encodeEntry(st)
	hist := &types.AttributeValueMemberSS{Value: []string{e}}
	u := newUpdate()
	u.addTo(attrHistory, hist)
	u.setTo(attrWAMID, str(st.WAMID))
	u.setTo(attrStatus, str(string(st.Status)))
	r := u.val(numberAttr(int64(st.Status.Rank())))
	u.set = append(u.set, u.name(attrStatusRank)+" = "+r)
	shown := st.Message() // fills, as messaging.MergeMessage would
	u.put(false, attrPhoneNumberID, shown.PhoneNumberID)
	u.put(false, attrDirection, string(shown.Direction))
	setOrigin(ctx, u)
	// A status before its message counts from its own time until the
	// message sets its expiry.
	s.expire(u, false, st.At)
	_, err = s.updateItem(ctx, k, u, "attribute_not_exists("+attrStatusRank+") OR "+attrStatusRank+" < "+r, types.ReturnValueNone)
	old, failed := conditionFailedItem(err)
	if !failed {
		if err != nil {
			return wrap(err)
		}
		return nil
	}
	if ss, ok := old[attrHistory].(*types.AttributeValueMemberSS); ok && slices.Contains(ss.Value, e) {
		return nil
	}
	u = newUpdate()
	u.addTo(attrHistory, hist)
	if _, err := s.updateItem(ctx, k, u, "", types.ReturnValueNone); err != nil {
		return wrap(err)
	}
	return nil
}

// Message implements messaging.Reader: one GetItem by WAMID; by outbound
// id, one for the outbound message and, once it has a WAMID, one for the
// message stored under it.
func (s *Messages) Message(ctx context.Context, tenantID, id string) (messaging.StoredMessage, bool, error) {
	if tenantID == "" || id == "" {
		return messaging.StoredMessage{}, false, nil
	}
	if !messaging.IsOutboundID(id) {
		return s.message(ctx, tenantID, id)
	}
	it, err := s.getItem(ctx, outboundKey(tenantID, id))
	if err != nil {
		return messaging.StoredMessage{}, false, fmt.Errorf("read outbound %s: %w", id, err)
	}
	if s.gone(it) {
		return messaging.StoredMessage{}, false, nil
	}
	o := outboundFrom(it)
	if o.WAMID == "" {
		return o.Stored(), true, nil
	}
	m, ok, err := s.message(ctx, tenantID, o.WAMID)
	if err != nil {
		return messaging.StoredMessage{}, false, err
	}
	if !ok {
		// The accept writes both items at once; this is only a message
		// deleted since.
		m = o.Stored()
		m.WAMID = o.WAMID
	}
	m.Outbound = &messaging.OutboundInfo{ID: id, State: messaging.OutAccepted, CreatedBy: o.CreatedBy}
	return m, true, nil
}

func (s *Messages) message(ctx context.Context, tenantID, wamid string) (messaging.StoredMessage, bool, error) {
	it, err := s.getItem(ctx, messageKey(tenantID, wamid))
	if err != nil {
		return messaging.StoredMessage{}, false, fmt.Errorf("read message %s: %w", wamid, err)
	}
	if s.gone(it) {
		return messaging.StoredMessage{}, false, nil
	}
	m, err := messageFrom(it)
	if err != nil {
		return messaging.StoredMessage{}, false, fmt.Errorf("read message %s: %w", wamid, err)
	}
	return m, true, nil
}

func messageFrom(it map[string]types.AttributeValue) (messaging.StoredMessage, error) {
	m := messaging.StoredMessage{Known: boolAttr(it[attrKnown])}
	m.WAMID = stringAttr(it[attrWAMID])
	m.PhoneNumberID = stringAttr(it[attrPhoneNumberID])
	m.Direction = messaging.Direction(stringAttr(it[attrDirection]))
	m.Type = stringAttr(it["msg_type"])
	m.Text = stringAttr(it[attrText])
	if m.Text == "" {
		m.Text = stringAttr(it[attrTextRendered])
		m.TextRendered = m.Text != ""
	}
	m.ReplyTo = stringAttr(it["reply_to"])
	m.Timestamp = parseStamp(stringAttr(it[attrTimestamp]))
	m.From, m.To = personFrom(it, "from_"), personFrom(it, "to_")
	m.ConversationID = stringAttr(it[attrConversationID])
	m.Media, m.Template = mediaFrom(it), templateFrom(it)
	if r, ok := mapOf(it["reaction"]); ok {
		m.Reaction = &messaging.Reaction{MessageID: stringAttr(r["message_id"]), Emoji: stringAttr(r["emoji"]), Removed: boolAttr(r["removed"])}
	}
	if kc, ok := mapOf(it["kapso"]); ok {
		m.Kapso = &messaging.KapsoContent{Content: stringAttr(kc["content"]), Origin: stringAttr(kc["origin"]),
			HasMedia: boolAttr(kc["has_media"]), MediaURL: stringAttr(kc["media_url"]), Transcript: stringAttr(kc["transcript"])}
	}
	if id := stringAttr(it[attrOutboundID]); id != "" {
		m.Outbound = &messaging.OutboundInfo{ID: id, State: messaging.OutAccepted, CreatedBy: stringAttr(it[attrCreatedBy])}
	}
	m.MediaCopy = mediaOf(it)
	if ss, ok := it[attrHistory].(*types.AttributeValueMemberSS); ok {
		d, err := deliveryOf(m.WAMID, ss.Value)
		if err != nil {
			return m, err
		}
		m.Delivery = d
	}
	return m, nil
}
