package dynamo

import (
	"context"
	"encoding/base64"
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

// Messages is the messaging.Store and messaging.Reader on the bridge table.
// A message, status, conversation or contact write is one UpdateItem when
// it arrives in order, two when it does not (see each method):
//
//	MSG#<tenant>#<wamid>                    / MSG      content, status, hist (string set of status entries)
//	                                                   (gsi1: CONVMSG#<tenant>#<conversation> / <ts ns>#<wamid>)
//	CONV#<tenant>#<conversation>            / CONV     (gsi1: CONVS#<tenant> / <last active ns>#<conversation>)
//	CONTACT#<tenant>#<number>#<person key>  / CONTACT  one person on one number; merged_into names the
//	                                                   person key it was merged into
//
// A message's Delivery is the Merge of its hist set, which only grows
// (ADD is atomic and commutative); the status attribute only moves forward
// (a conditional write), so it can be read or indexed alone. A message copy
// with Kapso content sets the fields it gives; one without only fills
// missing ones, so the two formats of a message converge in either order.
type Messages struct {
	DB    *dynamodb.Client
	Table string
}

var (
	_ messaging.Store  = (*Messages)(nil)
	_ messaging.Reader = (*Messages)(nil)
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
	attrPrevious       = "previous_bsuids"
	attrMarketing      = "marketing"
	attrMergedInto     = "merged_into"
	attrPhoneLinked    = "phone_linked"
	attrVersion        = "ver"
)

// maxHops bounds how many contact merges a write or lookup follows.
const maxHops = 8

// statusRank duplicates messaging's merge order (sent < delivered < failed
// < read), which the conditional status write needs as a number.
func statusRank(s messaging.Status) int64 {
	switch s {
	case messaging.Sent:
		return 1
	case messaging.Delivered:
		return 2
	case messaging.Failed:
		return 3
	case messaging.Read:
		return 4
	}
	return 0
}

// update builds an update (and its condition) with every name and value
// as a placeholder, since many attribute names are reserved words.
type update struct {
	set, add     []string
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

func (u *update) expression() *string {
	var b []string
	if len(u.set) > 0 {
		b = append(b, "SET "+strings.Join(u.set, ", "))
	}
	if len(u.add) > 0 {
		b = append(b, "ADD "+strings.Join(u.add, ", "))
	}
	return aws.String(strings.Join(b, " "))
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

func boolVal(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

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

// checkStatus validates u as a status of wamid ("" for any), giving it
// wamid when it names none.
func checkStatus(u *messaging.StatusUpdate, wamid string) error {
	if u.WAMID == "" {
		u.WAMID = wamid
	}
	if statusRank(u.Status) == 0 {
		return invalid(fmt.Sprintf("unknown delivery status %q", u.Status))
	}
	if u.WAMID == "" || (wamid != "" && u.WAMID != wamid) {
		return invalid("status of another message")
	}
	return nil
}

// PutMessage implements messaging.Store: one UpdateItem, or two when a
// higher status is already stored.
func (s *Messages) PutMessage(ctx context.Context, tenantID string, m messaging.Message, statuses []messaging.StatusUpdate) error {
	wrap := func(err error) error { return fmt.Errorf("put message %s: %w", m.WAMID, err) }
	if tenantID == "" || m.WAMID == "" {
		return wrap(invalid("message without tenant or WAMID"))
	}
	var hist []string
	var top messaging.Status
	for i := range statuses {
		if err := checkStatus(&statuses[i], m.WAMID); err != nil {
			return wrap(err)
		}
		hist = append(hist, encodeEntry(statuses[i]))
		if statusRank(statuses[i].Status) > statusRank(top) {
			top = statuses[i].Status
		}
	}
	k := messageKey(tenantID, m.WAMID)
	build := func(withStatus bool) (*update, string) {
		u := messageUpdate(tenantID, m)
		if len(hist) > 0 {
			u.addTo(attrHistory, &types.AttributeValueMemberSS{Value: slices.Compact(slices.Sorted(slices.Values(hist)))})
		}
		if !withStatus {
			return u, ""
		}
		u.setTo(attrStatus, str(string(top)))
		r := u.val(numberAttr(statusRank(top)))
		u.set = append(u.set, u.name(attrStatusRank)+" = "+r)
		return u, "attribute_not_exists(" + attrStatusRank + ") OR " + attrStatusRank + " <= " + r
	}
	u, cond := build(top != "")
	_, err := s.updateItem(ctx, k, u, cond, types.ReturnValueNone)
	if _, failed := conditionFailedItem(err); failed {
		u, _ = build(false)
		_, err = s.updateItem(ctx, k, u, "", types.ReturnValueNone)
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// messageUpdate sets (Kapso copy) or fills (other copy) m's fields.
func messageUpdate(tenantID string, m messaging.Message) *update {
	win := m.Kapso != nil
	u := newUpdate()
	u.setTo(attrWAMID, str(m.WAMID))
	u.setTo(attrKnown, boolVal(true))
	u.put(win, attrPhoneNumberID, m.PhoneNumberID)
	u.put(win, attrDirection, string(m.Direction))
	u.put(win, "msg_type", m.Type)
	u.put(win, "text", m.Text)
	u.put(win, "reply_to", m.ReplyTo)
	if !m.Timestamp.IsZero() {
		u.put(win, attrTimestamp, stamp(m.Timestamp))
	}
	putPerson(u, win, "from_", m.From)
	putPerson(u, win, "to_", m.To)
	if md := m.Media; md != nil {
		u.putAttr(win, "media", mapAttr(map[string]string{"id": md.ID, "url": md.URL, "mime_type": md.MIMEType,
			"caption": md.Caption, "filename": md.Filename}, nil))
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
	wrap := func(err error) error { return fmt.Errorf("apply status %s of %s: %w", st.Status, st.WAMID, err) }
	if err := checkStatus(&st, ""); err != nil {
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
	r := u.val(numberAttr(statusRank(st.Status)))
	u.set = append(u.set, u.name(attrStatusRank)+" = "+r)
	u.put(false, attrPhoneNumberID, st.PhoneNumberID)
	u.put(false, attrDirection, string(messaging.Outbound))
	_, err := s.updateItem(ctx, k, u, "attribute_not_exists("+attrStatusRank+") OR "+attrStatusRank+" < "+r, types.ReturnValueNone)
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

// Message implements messaging.Reader.
func (s *Messages) Message(ctx context.Context, tenantID, wamid string) (messaging.StoredMessage, bool, error) {
	if tenantID == "" || wamid == "" {
		return messaging.StoredMessage{}, false, nil
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: messageKey(tenantID, wamid), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return messaging.StoredMessage{}, false, fmt.Errorf("read message %s: %w", wamid, err)
	}
	if out.Item == nil {
		return messaging.StoredMessage{}, false, nil
	}
	m, err := messageFrom(out.Item)
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
	m.Text = stringAttr(it["text"])
	m.ReplyTo = stringAttr(it["reply_to"])
	m.Timestamp = parseStamp(stringAttr(it[attrTimestamp]))
	m.From, m.To = personFrom(it, "from_"), personFrom(it, "to_")
	m.ConversationID = stringAttr(it[attrConversationID])
	if md, ok := mapOf(it["media"]); ok {
		m.Media = &messaging.Media{ID: stringAttr(md["id"]), URL: stringAttr(md["url"]), MIMEType: stringAttr(md["mime_type"]),
			Caption: stringAttr(md["caption"]), Filename: stringAttr(md["filename"])}
	}
	if r, ok := mapOf(it["reaction"]); ok {
		m.Reaction = &messaging.Reaction{MessageID: stringAttr(r["message_id"]), Emoji: stringAttr(r["emoji"]), Removed: boolAttr(r["removed"])}
	}
	if kc, ok := mapOf(it["kapso"]); ok {
		m.Kapso = &messaging.KapsoContent{Content: stringAttr(kc["content"]), Origin: stringAttr(kc["origin"]),
			HasMedia: boolAttr(kc["has_media"]), MediaURL: stringAttr(kc["media_url"]), Transcript: stringAttr(kc["transcript"])}
	}
	if ss, ok := it[attrHistory].(*types.AttributeValueMemberSS); ok {
		d, err := deliveryOf(m.WAMID, ss.Value)
		if err != nil {
			return m, err
		}
		m.Delivery = d
	}
	return m, nil
}

// --- conversations ---

// PutConversation implements messaging.Store: one UpdateItem when c is the
// newest event, else a second one that only fills missing fields. At the
// same LastActiveAt an ended conversation stays ended.
func (s *Messages) PutConversation(ctx context.Context, tenantID string, c messaging.Conversation) error {
	wrap := func(err error) error { return fmt.Errorf("put conversation %s: %w", c.ID, err) }
	if tenantID == "" || c.ID == "" {
		return wrap(invalid("conversation without tenant or id"))
	}
	k := conversationKey(tenantID, c.ID)
	build := func(newer bool) *update {
		u := newUpdate()
		u.setTo(attrConversationID, str(c.ID))
		u.put(newer, attrPhoneNumberID, c.PhoneNumberID)
		putPerson(u, newer, "", c.Person)
		u.put(newer, attrStatus, string(c.Status))
		if c.InactivityMinutes != 0 {
			u.putAttr(newer, attrInactivity, numberAttr(int64(c.InactivityMinutes)))
		}
		return u
	}
	u := build(true)
	t := u.val(numberAttr(unixNanos(c.LastActiveAt)))
	u.set = append(u.set, u.name(attrLastActiveNs)+" = "+t)
	if !c.LastActiveAt.IsZero() {
		u.setTo(attrLastActiveAt, str(stamp(c.LastActiveAt)))
	}
	u.setTo(schema.AttrGSI1PK, str(conversationsPartition(tenantID)))
	u.setTo(schema.AttrGSI1SK, str(indexPosition(c.LastActiveAt, c.ID)))
	ns := u.name(attrLastActiveNs)
	cond := "attribute_not_exists(" + ns + ") OR " + ns + " < " + t + " OR (" + ns + " = " + t
	if c.Status == messaging.ConversationActive {
		st := u.name(attrStatus)
		cond += " AND (attribute_not_exists(" + st + ") OR " + st + " <> " + u.val(str(string(messaging.ConversationEnded))) + ")"
	}
	cond += ")"
	_, err := s.updateItem(ctx, k, u, cond, types.ReturnValueNone)
	if _, failed := conditionFailedItem(err); failed {
		_, err = s.updateItem(ctx, k, build(false), "", types.ReturnValueNone)
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

func conversationFrom(it map[string]types.AttributeValue) messaging.Conversation {
	c := messaging.Conversation{
		ID:            stringAttr(it[attrConversationID]),
		PhoneNumberID: stringAttr(it[attrPhoneNumberID]),
		Person:        personFrom(it, ""),
		Status:        messaging.ConversationStatus(stringAttr(it[attrStatus])),
		LastActiveAt:  parseStamp(stringAttr(it[attrLastActiveAt])),
	}
	if n, err := intAttr(it[attrInactivity]); err == nil {
		c.InactivityMinutes = int(n)
	}
	return c
}

// --- contacts ---

// contactState is a contact item decoded whole, for the identity change
// that rewrites it.
type contactState struct {
	c      messaging.Contact
	seen   bool
	seenNs int64
	merged string
	linked string
	ver    int64
	exists bool
}

func contactFrom(phoneNumberID string, it map[string]types.AttributeValue) contactState {
	st := contactState{exists: it != nil, c: messaging.Contact{PhoneNumberID: phoneNumberID, Person: personFrom(it, "")},
		merged: stringAttr(it[attrMergedInto]), linked: stringAttr(it[attrPhoneLinked])}
	st.ver, _ = intAttr(it[attrVersion])
	if ns, err := intAttr(it[attrLastSeenNs]); err == nil {
		st.seen, st.seenNs = true, ns
		st.c.LastSeenAt = parseStamp(stringAttr(it[attrLastSeenAt]))
	}
	if l, ok := it[attrPrevious].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			st.c.PreviousBSUIDs = append(st.c.PreviousBSUIDs, stringAttr(v))
		}
	}
	if m, ok := mapOf(it[attrMarketing]); ok {
		seq, _ := intAttr(m["seq"])
		st.c.Marketing = &messaging.MarketingPreference{Status: stringAttr(m["status"]), Sequence: seq,
			OccurredAt: parseStamp(stringAttr(m["at"]))}
	}
	return st
}

func marketingAttr(p messaging.MarketingPreference) types.AttributeValue {
	m := map[string]types.AttributeValue{"seq": numberAttr(p.Sequence)}
	if p.Status != "" {
		m["status"] = str(p.Status)
	}
	if !p.OccurredAt.IsZero() {
		m["at"] = str(stamp(p.OccurredAt))
	}
	return &types.AttributeValueMemberM{Value: m}
}

// item is the whole contact item of st under k.
func (st contactState) item(k map[string]types.AttributeValue) map[string]types.AttributeValue {
	it := k
	it[attrPhoneNumberID] = str(st.c.PhoneNumberID)
	for i, v := range personValues(st.c.Person) {
		if v != "" {
			it[personAttrs[i]] = str(v)
		}
	}
	if st.seen {
		it[attrLastSeenNs] = numberAttr(st.seenNs)
		if !st.c.LastSeenAt.IsZero() {
			it[attrLastSeenAt] = str(stamp(st.c.LastSeenAt))
		}
	}
	if len(st.c.PreviousBSUIDs) > 0 {
		l := &types.AttributeValueMemberL{}
		for _, b := range st.c.PreviousBSUIDs {
			l.Value = append(l.Value, str(b))
		}
		it[attrPrevious] = l
	}
	if st.c.Marketing != nil {
		it[attrMarketing] = marketingAttr(*st.c.Marketing)
	}
	if st.merged != "" {
		it[attrMergedInto] = str(st.merged)
	}
	if st.linked != "" {
		it[attrPhoneLinked] = str(st.linked)
	}
	it[attrVersion] = numberAttr(st.ver)
	return it
}

// PutContact implements messaging.Store. The newest sighting sets the
// person's fields, an older one only fills missing ones, and a merged
// contact redirects the write to the contact it was merged into. In the
// steady state this is one UpdateItem; a person newly seen with both BSUID
// and phone costs two more, which point the phone contact at the BSUID one
// and give that one what the phone contact knew. The link is recorded last
// (phone_linked), so a crash in between is repaired by the next sighting.
func (s *Messages) PutContact(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, at time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("put contact %s on %s: %w", p.Key(), phoneNumberID, err) }
	k := p.Key()
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return wrap(invalid("contact without tenant, number or person"))
	}
	k, old, err := s.sight(ctx, tenantID, phoneNumberID, k, p, at)
	if err != nil {
		return wrap(err)
	}
	phoneKey := messaging.Person{Phone: p.Phone}.Key()
	if p.BSUID == "" || p.Phone == "" || stringAttr(old[attrPhoneLinked]) == p.Phone || k == phoneKey {
		return nil
	}
	u := newUpdate()
	u.setTo(attrMergedInto, str(k))
	u.setTo(attrPhoneNumberID, str(phoneNumberID))
	u.addTo(attrVersion, numberAttr(1))
	out, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, phoneKey), u, "", types.ReturnValueAllOld)
	if err != nil {
		return wrap(fmt.Errorf("merge %s: %w", phoneKey, err))
	}
	prev := contactFrom(phoneNumberID, out.Attributes)
	u = newUpdate()
	u.setTo(attrPhoneLinked, str(p.Phone))
	u.put(false, "name", prev.c.Person.Name)
	u.put(false, "username", prev.c.Person.Username)
	u.put(false, "phone", prev.c.Person.Phone)
	if prev.c.Marketing != nil {
		u.fill(attrMarketing, marketingAttr(*prev.c.Marketing))
	}
	if prev.seen {
		u.fill(attrLastSeenNs, numberAttr(prev.seenNs))
		if !prev.c.LastSeenAt.IsZero() {
			u.fill(attrLastSeenAt, str(stamp(prev.c.LastSeenAt)))
		}
	}
	u.addTo(attrVersion, numberAttr(1))
	if _, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, k), u, "", types.ReturnValueNone); err != nil {
		return wrap(fmt.Errorf("link %s: %w", phoneKey, err))
	}
	return nil
}

// sight writes p's sighting at at to the contact k, or to the contact k
// was merged into; it returns the key written and the item before.
func (s *Messages) sight(ctx context.Context, tenantID, phoneNumberID, k string, p messaging.Person, at time.Time) (string, map[string]types.AttributeValue, error) {
	seen := map[string]bool{}
	for range maxHops {
		seen[k] = true
		key := contactKey(tenantID, phoneNumberID, k)
		u := newUpdate()
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		putPerson(u, true, "", p)
		u.addTo(attrVersion, numberAttr(1))
		ns := u.name(attrLastSeenNs)
		cond := "attribute_not_exists(" + attrMergedInto + ") AND (attribute_not_exists(" + ns + ")"
		if !at.IsZero() {
			t := u.val(numberAttr(unixNanos(at)))
			u.set = append(u.set, ns+" = "+t)
			u.setTo(attrLastSeenAt, str(stamp(at)))
			cond += " OR " + ns + " <= " + t
		}
		cond += ")"
		out, err := s.updateItem(ctx, key, u, cond, types.ReturnValueAllOld)
		if err == nil {
			return k, out.Attributes, nil
		}
		old, failed := conditionFailedItem(err)
		if !failed {
			return k, nil, err
		}
		if m := stringAttr(old[attrMergedInto]); m != "" {
			if seen[m] {
				return k, nil, fmt.Errorf("contact merges loop at %s", m)
			}
			k = m
			continue
		}
		// An older sighting: it only fills what is missing.
		u = newUpdate()
		putPerson(u, false, "", p)
		u.addTo(attrVersion, numberAttr(1))
		out, err = s.updateItem(ctx, key, u, "attribute_not_exists("+attrMergedInto+")", types.ReturnValueAllOld)
		if err == nil {
			return k, out.Attributes, nil
		}
		if old, failed = conditionFailedItem(err); !failed {
			return k, nil, err
		}
		k = stringAttr(old[attrMergedInto]) // merged meanwhile: follow it
	}
	return k, nil, fmt.Errorf("contact merged more than %d times", maxHops)
}

// ChangeIdentity implements messaging.Store: it reads both contacts (one
// BatchGetItem), writes the new contact whole, conditional on the version
// it read, and points the old contact at it.
func (s *Messages) ChangeIdentity(ctx context.Context, tenantID, phoneNumberID string, previous, current messaging.Person, at time.Time) error {
	wrap := func(err error) error {
		return fmt.Errorf("change identity %s to %s on %s: %w", previous.BSUID, current.BSUID, phoneNumberID, err)
	}
	if tenantID == "" || phoneNumberID == "" || previous.BSUID == "" || current.BSUID == "" {
		return wrap(invalid("identity change without both BSUIDs"))
	}
	if previous.BSUID == current.BSUID {
		return s.PutContact(ctx, tenantID, phoneNumberID, current, at)
	}
	oldKey, curKey := previous.Key(), current.Key()
	for range 5 {
		items, err := s.getContacts(ctx, tenantID, phoneNumberID, []string{oldKey, curKey}, true)
		if err != nil {
			return wrap(err)
		}
		targetKey, revert, err := s.identityTarget(ctx, tenantID, phoneNumberID, oldKey, curKey, items)
		if err != nil {
			return wrap(err)
		}
		old, target := contactFrom(phoneNumberID, items[oldKey]), contactFrom(phoneNumberID, items[targetKey])
		next := identityMerge(phoneNumberID, previous.BSUID, current, targetKey == curKey, old, target, at)
		if revert {
			next.merged = ""
		}
		next.ver = target.ver + 1
		cond, vals := "attribute_not_exists(pk)", map[string]types.AttributeValue{}
		if target.exists {
			cond, vals = "attribute_exists(pk) AND (attribute_not_exists(ver) OR ver = :v)", map[string]types.AttributeValue{":v": numberAttr(target.ver)}
			if _, ok := items[targetKey][attrVersion]; ok {
				cond = "ver = :v"
			}
		}
		in := &dynamodb.PutItemInput{TableName: aws.String(s.Table),
			Item:                next.item(contactKey(tenantID, phoneNumberID, targetKey)),
			ConditionExpression: aws.String(cond)}
		if len(vals) > 0 {
			in.ExpressionAttributeValues = vals
		}
		_, err = s.DB.PutItem(ctx, in)
		if isConditionFailed(err) {
			continue // written meanwhile: read again
		}
		if err != nil {
			return wrap(err)
		}
		u := newUpdate()
		u.setTo(attrMergedInto, str(targetKey))
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		u.addTo(attrVersion, numberAttr(1))
		if _, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, oldKey), u, "", types.ReturnValueNone); err != nil {
			return wrap(err)
		}
		return nil
	}
	return wrap(errs.E(errs.Unavailable, "contact kept changing", nil))
}

// identityTarget is the contact an identity change writes to: the current
// BSUID's, or where a later change that arrived first already merged it. A
// chain leading back to the previous BSUID is a person going back to an
// earlier BSUID: the current one is then the contact again (revert).
func (s *Messages) identityTarget(ctx context.Context, tenantID, phoneNumberID, oldKey, curKey string, items map[string]map[string]types.AttributeValue) (string, bool, error) {
	k, seen := curKey, map[string]bool{curKey: true}
	for range maxHops {
		m := stringAttr(items[k][attrMergedInto])
		if m == "" {
			return k, false, nil
		}
		if m == oldKey || seen[m] {
			return curKey, true, nil
		}
		seen[m] = true
		if _, ok := items[m]; !ok {
			got, err := s.getContacts(ctx, tenantID, phoneNumberID, []string{m}, true)
			if err != nil {
				return "", false, err
			}
			items[m] = got[m]
		}
		k = m
	}
	return k, false, nil
}

// identityMerge is the target contact after an identity change: the
// current person's fields (all of them when the target is the current
// BSUID's own contact, else only what it lacks), the old contact's where
// missing, the previous BSUIDs of both plus the previous one, the newest
// sighting and the highest marketing sequence. memstore.identityMerge is
// its twin.
func identityMerge(phoneNumberID, previousBSUID string, current messaging.Person, own bool, old, target contactState, at time.Time) contactState {
	next := target
	next.c.PhoneNumberID = phoneNumberID
	next.c.PreviousBSUIDs = nil
	if own {
		next.c.Person = overwritePerson(next.c.Person, current)
	} else {
		cur := current
		cur.BSUID, cur.ParentBSUID = "", ""
		next.c.Person = fillPerson(next.c.Person, cur)
	}
	var prev []string
	if old.exists {
		p := old.c.Person
		next.c.Person = fillPerson(next.c.Person, messaging.Person{Name: p.Name, Username: p.Username, Phone: p.Phone})
		if om := old.c.Marketing; om != nil && (next.c.Marketing == nil || next.c.Marketing.Sequence < om.Sequence) {
			m := *om
			next.c.Marketing = &m
		}
		if old.seen && (!next.seen || old.seenNs > next.seenNs) {
			next.seen, next.seenNs, next.c.LastSeenAt = true, old.seenNs, old.c.LastSeenAt
		}
		prev = append(prev, old.c.PreviousBSUIDs...)
	}
	if ns := unixNanos(at); !at.IsZero() && (!next.seen || ns > next.seenNs) {
		next.seen, next.seenNs, next.c.LastSeenAt = true, ns, at.UTC()
	}
	prev = append(prev, previousBSUID)
	prev = append(prev, target.c.PreviousBSUIDs...)
	for _, b := range prev {
		if b != next.c.Person.BSUID && !slices.Contains(next.c.PreviousBSUIDs, b) {
			next.c.PreviousBSUIDs = append(next.c.PreviousBSUIDs, b)
		}
	}
	return next
}

func overwritePerson(p, q messaging.Person) messaging.Person {
	v := personValues(q)
	w := personValues(p)
	for i := range v {
		if v[i] != "" {
			w[i] = v[i]
		}
	}
	return messaging.Person{BSUID: w[0], ParentBSUID: w[1], Username: w[2], Phone: w[3], Name: w[4]}
}

func fillPerson(p, q messaging.Person) messaging.Person {
	return overwritePerson(q, p)
}

// SetMarketingPreference implements messaging.Store: one UpdateItem,
// conditional on no higher sequence being stored (then nothing changes),
// following the contact's merge.
func (s *Messages) SetMarketingPreference(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, pref messaging.MarketingPreference) error {
	wrap := func(err error) error {
		return fmt.Errorf("set marketing preference of %s on %s: %w", p.Key(), phoneNumberID, err)
	}
	k := p.Key()
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return wrap(invalid("preference without tenant, number or person"))
	}
	seen := map[string]bool{}
	for range maxHops {
		seen[k] = true
		u := newUpdate()
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		putPerson(u, false, "", p)
		u.setTo(attrMarketing, marketingAttr(pref))
		u.addTo(attrVersion, numberAttr(1))
		mk, seq := u.name(attrMarketing), u.name(attrMarketing+".seq")
		cond := "attribute_not_exists(" + attrMergedInto + ") AND (attribute_not_exists(" + mk + ") OR " + seq + " < " + u.val(numberAttr(pref.Sequence)) + ")"
		_, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, k), u, cond, types.ReturnValueNone)
		old, failed := conditionFailedItem(err)
		if !failed {
			if err != nil {
				return wrap(err)
			}
			return nil
		}
		m := stringAttr(old[attrMergedInto])
		if m == "" {
			return nil // a higher sequence is stored
		}
		if seen[m] {
			return wrap(fmt.Errorf("contact merges loop at %s", m))
		}
		k = m
	}
	return wrap(fmt.Errorf("contact merged more than %d times", maxHops))
}

// getContacts reads the contacts of the person keys in BatchGetItems of up
// to 100 keys, retrying unprocessed keys; missing ones are absent.
func (s *Messages) getContacts(ctx context.Context, tenantID, phoneNumberID string, personKeys []string, consistent bool) (map[string]map[string]types.AttributeValue, error) {
	refs := make([]contactRef, 0, len(personKeys))
	for _, k := range personKeys {
		refs = append(refs, contactRef{phoneNumberID, k})
	}
	got, err := s.batchContacts(ctx, tenantID, refs, consistent)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]types.AttributeValue, len(got))
	for r, it := range got {
		out[r.key] = it
	}
	return out, nil
}

type contactRef struct{ phoneNumberID, key string }

func (s *Messages) batchContacts(ctx context.Context, tenantID string, refs []contactRef, consistent bool) (map[contactRef]map[string]types.AttributeValue, error) {
	byPK := map[string]contactRef{}
	var keys []map[string]types.AttributeValue
	for _, r := range refs {
		pk := contactPK(tenantID, r.phoneNumberID, r.key)
		if _, dup := byPK[pk]; dup {
			continue
		}
		byPK[pk] = r
		keys = append(keys, contactKey(tenantID, r.phoneNumberID, r.key))
	}
	out := map[contactRef]map[string]types.AttributeValue{}
	for chunk := range slices.Chunk(keys, 100) {
		req := map[string]types.KeysAndAttributes{s.Table: {Keys: chunk, ConsistentRead: aws.Bool(consistent)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 0 {
				if attempt > 8 {
					return nil, errs.E(errs.Unavailable, "contacts left unprocessed", nil)
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
				}
			}
			res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read contacts: %w", err)
			}
			for _, it := range res.Responses[s.Table] {
				out[byPK[stringAttr(it[schema.AttrPK])]] = it
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// Contact implements messaging.Reader.
func (s *Messages) Contact(ctx context.Context, tenantID, phoneNumberID, bsuidOrPhone string) (messaging.Contact, bool, error) {
	k := messaging.LookupKey(bsuidOrPhone)
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return messaging.Contact{}, false, nil
	}
	var item map[string]types.AttributeValue
	seen := map[string]bool{}
	for range maxHops {
		out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(s.Table), Key: contactKey(tenantID, phoneNumberID, k), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return messaging.Contact{}, false, fmt.Errorf("read contact %s: %w", k, err)
		}
		if item = out.Item; item == nil {
			return messaging.Contact{}, false, nil
		}
		m := stringAttr(item[attrMergedInto])
		seen[k] = true
		if m == "" || seen[m] {
			break
		}
		k = m
	}
	return contactFrom(phoneNumberID, item).c, true, nil
}


// --- lists ---

// listCursor is a position in a gsi1 list: the sort key and the item's pk,
// never its partition, which comes from the request. The pk must be one of
// the tenant's, so a cursor cannot lead into another tenant's items.
type listCursor struct {
	List string `json:"l"`
	Pos  string `json:"k"`
	PK   string `json:"p"`
}

func badCursor() error { return errs.E(errs.Invalid, "invalid cursor", messaging.ErrBadCursor) }

// startKey decodes cursor for list, whose items' pks are prefix+<id> and
// sort keys <20 digits>#<id>.
func startKey(cursor, list, partition, prefix, sk string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	if len(cursor) > 2048 {
		return nil, badCursor()
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, badCursor()
	}
	var c listCursor
	if err := json.Unmarshal(b, &c); err != nil || c.List != list {
		return nil, badCursor()
	}
	id, ok := strings.CutPrefix(c.PK, prefix)
	if !ok || id == "" || len(c.Pos) < 22 || c.Pos[20] != '#' || c.Pos[21:] != id ||
		strings.Trim(c.Pos[:20], "0123456789") != "" {
		return nil, badCursor()
	}
	k := key(c.PK, sk)
	k[schema.AttrGSI1PK] = str(partition)
	k[schema.AttrGSI1SK] = str(c.Pos)
	return k, nil
}

// queryList reads one page of a gsi1 partition. It asks for one item more
// than the page, so the last page comes back with no cursor.
func (s *Messages) queryList(ctx context.Context, list, partition, prefix, sk string, p messaging.Page, forward bool) ([]map[string]types.AttributeValue, string, error) {
	start, err := startKey(p.Cursor, list, partition, prefix, sk)
	if err != nil {
		return nil, "", err
	}
	size := p.Size()
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(schema.GSI1),
		KeyConditionExpression:    aws.String("gsi1pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(partition)},
		ScanIndexForward:          aws.Bool(forward),
		Limit:                     aws.Int32(int32(size + 1)),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		return nil, "", err
	}
	items := out.Items
	more := out.LastEvaluatedKey != nil
	if len(items) > size {
		items, more = items[:size], true
	}
	if !more || len(items) == 0 {
		return items, "", nil
	}
	last := items[len(items)-1]
	b, _ := json.Marshal(listCursor{List: list, Pos: stringAttr(last[schema.AttrGSI1SK]), PK: stringAttr(last[schema.AttrPK])})
	return items, base64.RawURLEncoding.EncodeToString(b), nil
}

// Conversations implements messaging.Reader: one Query, then one
// BatchGetItem of the contacts, and one more per level of merges found.
func (s *Messages) Conversations(ctx context.Context, tenantID string, p messaging.Page) ([]messaging.ConversationView, string, error) {
	wrap := func(err error) error { return fmt.Errorf("list conversations of %s: %w", tenantID, err) }
	if tenantID == "" {
		return nil, "", wrap(invalid("no tenant"))
	}
	items, next, err := s.queryList(ctx, "conversations", conversationsPartition(tenantID),
		conversationPK(tenantID, ""), conversationSK, p, false)
	if err != nil {
		return nil, "", wrap(err)
	}
	convs := make([]messaging.Conversation, 0, len(items))
	var refs []contactRef
	for _, it := range items {
		c := conversationFrom(it)
		convs = append(convs, c)
		if k := c.Person.Key(); k != "" && c.PhoneNumberID != "" {
			refs = append(refs, contactRef{c.PhoneNumberID, k})
		}
	}
	contacts := map[contactRef]map[string]types.AttributeValue{}
	for range maxHops {
		if len(refs) == 0 {
			break
		}
		got, err := s.batchContacts(ctx, tenantID, refs, false)
		if err != nil {
			return nil, "", wrap(err)
		}
		refs = nil
		for r, it := range got {
			contacts[r] = it
			if m := stringAttr(it[attrMergedInto]); m != "" {
				if _, ok := contacts[contactRef{r.phoneNumberID, m}]; !ok {
					refs = append(refs, contactRef{r.phoneNumberID, m})
				}
			}
		}
	}
	out := make([]messaging.ConversationView, 0, len(convs))
	for _, c := range convs {
		v := messaging.ConversationView{Conversation: c, Contact: messaging.Contact{PhoneNumberID: c.PhoneNumberID, Person: c.Person}}
		if it := followContacts(contacts, contactRef{c.PhoneNumberID, c.Person.Key()}); it != nil {
			v.Contact = contactFrom(c.PhoneNumberID, it).c
		}
		out = append(out, v)
	}
	return out, next, nil
}

// followContacts follows merges among the contacts read, stopping at a
// missing contact (nil), a repeat or maxHops.
func followContacts(contacts map[contactRef]map[string]types.AttributeValue, r contactRef) map[string]types.AttributeValue {
	seen := map[string]bool{}
	for range maxHops {
		it := contacts[r]
		m := stringAttr(it[attrMergedInto])
		if it == nil || m == "" || seen[m] {
			return it
		}
		seen[r.key] = true
		r.key = m
	}
	return contacts[r]
}

// ConversationMessages implements messaging.Reader: one Query.
func (s *Messages) ConversationMessages(ctx context.Context, tenantID, conversationID string, p messaging.Page) ([]messaging.StoredMessage, string, error) {
	wrap := func(err error) error { return fmt.Errorf("list messages of conversation %s: %w", conversationID, err) }
	if tenantID == "" {
		return nil, "", wrap(invalid("no tenant"))
	}
	items, next, err := s.queryList(ctx, "messages:"+conversationID, conversationMessagesPartition(tenantID, conversationID),
		messagePK(tenantID, ""), messageSK, p, true)
	if err != nil {
		return nil, "", wrap(err)
	}
	out := make([]messaging.StoredMessage, 0, len(items))
	for _, it := range items {
		m, err := messageFrom(it)
		if err != nil {
			return nil, "", wrap(err)
		}
		out = append(out, m)
	}
	return out, next, nil
}
