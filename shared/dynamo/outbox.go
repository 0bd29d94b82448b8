package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// The outbox is one item per outbound message, on the Messages type so
// that the same value is the Store, the Reader and the Outbox:
//
//	OUT#<tenant>#<id>  / OUT   the OutboundMessage, every field
//	                           (gsi1: CONVMSG#<tenant>#<conversation> / <created ns>#<id>, until its WAMID is known)
//	                           (gsi2: OUTBOX#OPEN / <created>#<tenant>#<id>, while queued, sending or unknown)
//
// Every change is conditional on the stored state. The accept also writes
// the message item of the WAMID, in the same transaction, so the
// conversation lists the message once: as the outbound item before, as
// the message item after.

// Attributes of the outbound items.
const (
	attrOutState       = "state"
	attrOutTenant      = "tenant_id"
	attrOutID          = "out_id"
	attrIdempotencyKey = "idempotency_key"
	attrFingerprint    = "fingerprint"
	attrOutType        = "msg_type"
	attrOutText        = "text"
	attrOutBody        = "body"
	attrOutReason      = "reason"
	attrOutError       = "error"
	attrAttempts       = "attempts"
	attrClaim          = "claim"
	attrCreatedAt      = "created_at"
	attrUpdatedAt      = "updated_at"
	// attrCreatedBy is the API token's name, on the outbound item and on
	// the message item its accept fills.
	attrCreatedBy = "created_by"
)

// outboundItem is the whole item of m.
func outboundItem(m messaging.OutboundMessage) map[string]types.AttributeValue {
	it := outboundKey(m.TenantID, m.ID)
	strs := map[string]string{
		attrOutTenant: m.TenantID, attrOutID: m.ID, attrIdempotencyKey: m.IdempotencyKey, attrFingerprint: m.Fingerprint,
		attrPhoneNumberID: m.PhoneNumberID, attrOutType: m.Type, attrOutText: m.Text, attrConversationID: m.ConversationID,
		attrOutState: string(m.State), attrWAMID: m.WAMID, attrOutReason: m.Reason, attrClaim: m.Claim,
		attrCreatedAt: stamp(m.CreatedAt), attrUpdatedAt: stamp(m.UpdatedAt), attrCreatedBy: m.CreatedBy,
	}
	for i, v := range personValues(m.To) {
		strs["to_"+personAttrs[i]] = v
	}
	for k, v := range strs {
		if v != "" {
			it[k] = str(v)
		}
	}
	if len(m.Body) > 0 {
		it[attrOutBody] = &types.AttributeValueMemberB{Value: m.Body}
	}
	if m.Error != nil {
		it[attrOutError] = statusErrorAttr(*m.Error)
	}
	it[attrAttempts] = numberAttr(int64(m.Attempts))
	if m.WAMID == "" && m.ConversationID != "" {
		it[schema.AttrGSI1PK] = str(conversationMessagesPartition(m.TenantID, m.ConversationID))
		it[schema.AttrGSI1SK] = str(indexPosition(m.CreatedAt, m.ID))
	}
	if !m.State.Final() {
		it[schema.AttrGSI2PK] = str(outboxOpenIndex)
		it[schema.AttrGSI2SK] = str(outboxPosition(m.CreatedAt, m.TenantID, m.ID))
	}
	return it
}

func statusErrorAttr(e messaging.StatusError) types.AttributeValue {
	m := mapAttr(map[string]string{"title": e.Title, "message": e.Message, "details": e.Details}, nil).(*types.AttributeValueMemberM)
	m.Value["code"] = numberAttr(int64(e.Code))
	return m
}

func outboundFrom(it map[string]types.AttributeValue) messaging.OutboundMessage {
	m := messaging.OutboundMessage{
		ID: stringAttr(it[attrOutID]), TenantID: stringAttr(it[attrOutTenant]),
		IdempotencyKey: stringAttr(it[attrIdempotencyKey]), Fingerprint: stringAttr(it[attrFingerprint]),
		PhoneNumberID: stringAttr(it[attrPhoneNumberID]), To: personFrom(it, "to_"),
		Type: stringAttr(it[attrOutType]), Text: stringAttr(it[attrOutText]),
		ConversationID: stringAttr(it[attrConversationID]),
		State:          messaging.OutboundState(stringAttr(it[attrOutState])), WAMID: stringAttr(it[attrWAMID]),
		Reason: stringAttr(it[attrOutReason]), Claim: stringAttr(it[attrClaim]),
		CreatedAt: parseStamp(stringAttr(it[attrCreatedAt])), UpdatedAt: parseStamp(stringAttr(it[attrUpdatedAt])),
		CreatedBy: stringAttr(it[attrCreatedBy]),
	}
	if b, ok := it[attrOutBody].(*types.AttributeValueMemberB); ok {
		m.Body = b.Value
	}
	if e, ok := mapOf(it[attrOutError]); ok {
		code, _ := intAttr(e["code"])
		m.Error = &messaging.StatusError{Code: int(code), Title: stringAttr(e["title"]), Message: stringAttr(e["message"]),
			Details: stringAttr(e["details"])}
	}
	if n, err := intAttr(it[attrAttempts]); err == nil {
		m.Attempts = int(n)
	}
	return m
}

// CreateOutbound implements messaging.Outbox: one conditional PutItem,
// whose failure returns the stored item.
func (s *Messages) CreateOutbound(ctx context.Context, m messaging.OutboundMessage) (messaging.OutboundMessage, bool, error) {
	wrap := func(err error) error { return fmt.Errorf("create outbound %s: %w", m.ID, err) }
	if m.TenantID == "" || !messaging.IsOutboundID(m.ID) {
		return messaging.OutboundMessage{}, false, wrap(invalid("outbound message without tenant or outbound id"))
	}
	m = m.Created()
	item := outboundItem(m)
	expireItem(s.Retention, item, m.CreatedAt, s.now())
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailedItem(err); failed && old != nil {
		return outboundFrom(old), false, nil
	}
	if err != nil {
		return messaging.OutboundMessage{}, false, wrap(err)
	}
	return outboundFrom(item), true, nil
}

// Outbound implements messaging.Outbox: one consistent GetItem.
func (s *Messages) Outbound(ctx context.Context, tenantID, id string) (messaging.OutboundMessage, bool, error) {
	if tenantID == "" || id == "" {
		return messaging.OutboundMessage{}, false, nil
	}
	it, err := s.getItem(ctx, outboundKey(tenantID, id))
	if err != nil {
		return messaging.OutboundMessage{}, false, fmt.Errorf("read outbound %s: %w", id, err)
	}
	if it == nil {
		return messaging.OutboundMessage{}, false, nil
	}
	return outboundFrom(it), true, nil
}

// stateIn is the condition that the item's state is one of from.
func stateIn(u *update, from []messaging.OutboundState) string {
	vals := make([]string, 0, len(from))
	for _, f := range from {
		vals = append(vals, u.val(str(string(f))))
	}
	return "attribute_exists(" + u.name(schema.AttrPK) + ") AND " + u.name(attrOutState) + " IN (" + strings.Join(vals, ", ") + ")"
}

// MoveOutbound implements messaging.Outbox. A move to any state but
// accepted is one conditional UpdateItem, whose failure returns the stored
// item; the accept is a GetItem and one TransactWriteItems (see accept).
func (s *Messages) MoveOutbound(ctx context.Context, tenantID, id string, t messaging.Transition) (messaging.OutboundMessage, error) {
	wrap := func(err error) error { return fmt.Errorf("move outbound %s to %s: %w", id, t.To, err) }
	if err := t.Check(tenantID, id); err != nil {
		return messaging.OutboundMessage{}, wrap(err)
	}
	if t.To == messaging.OutAccepted {
		m, err := s.accept(ctx, tenantID, id, t)
		if err != nil {
			return m, wrap(err)
		}
		return m, nil
	}
	// What the move writes, whatever the message held; attempts count up
	// from the stored number.
	moved := t.Apply(messaging.OutboundMessage{})
	u := newUpdate()
	u.setTo(attrOutState, str(string(moved.State)))
	u.setTo(attrUpdatedAt, str(stamp(moved.UpdatedAt)))
	switch t.To {
	case messaging.OutSending:
		u.addTo(attrAttempts, numberAttr(int64(moved.Attempts)))
		if moved.Claim != "" {
			u.setTo(attrClaim, str(moved.Claim))
		} else {
			u.drop(attrClaim)
		}
	case messaging.OutFailed:
		if moved.Reason != "" {
			u.setTo(attrOutReason, str(moved.Reason))
		} else {
			u.drop(attrOutReason)
		}
		if moved.Error != nil {
			u.setTo(attrOutError, statusErrorAttr(*moved.Error))
		} else {
			u.drop(attrOutError)
		}
		// Final: no longer open. It stays in its conversation, failed.
		u.drop(schema.AttrGSI2PK)
		u.drop(schema.AttrGSI2SK)
	}
	out, err := s.updateItem(ctx, outboundKey(tenantID, id), u, stateIn(u, t.From), types.ReturnValueAllNew)
	if old, failed := conditionFailedItem(err); failed {
		if old == nil {
			return messaging.OutboundMessage{}, wrap(messaging.ErrOutboundNotFound)
		}
		return outboundFrom(old), wrap(messaging.ErrOutboundState)
	}
	if err != nil {
		return messaging.OutboundMessage{}, wrap(err)
	}
	return outboundFrom(out.Attributes), nil
}

// accept moves the message to accepted under t.WAMID: it reads the
// message (its content goes into the message item), then one
// TransactWriteItems updates both items, each conditional: the outbound
// item on its state, the message item on holding no other outbound id. A
// transaction that lost a race with another write to either item is tried
// again.
func (s *Messages) accept(ctx context.Context, tenantID, id string, t messaging.Transition) (messaging.OutboundMessage, error) {
	for try := 0; try < 8; try++ {
		var cur messaging.OutboundMessage
		if try == 0 && t.Content != nil && t.Content.ID == id && t.Content.TenantID == tenantID {
			// The caller's copy: the content never changes, and the
			// transaction's condition checks the state.
			cur = *t.Content
		} else {
			var ok bool
			var err error
			if cur, ok, err = s.Outbound(ctx, tenantID, id); err != nil {
				return messaging.OutboundMessage{}, err
			}
			if !ok {
				return messaging.OutboundMessage{}, messaging.ErrOutboundNotFound
			}
			if !t.Allows(cur.State) {
				return cur, messaging.ErrOutboundState
			}
		}
		a := newUpdate()
		a.setTo(attrOutState, str(string(messaging.OutAccepted)))
		a.setTo(attrWAMID, str(t.WAMID))
		a.setTo(attrUpdatedAt, str(stamp(t.At)))
		for _, k := range []string{schema.AttrGSI1PK, schema.AttrGSI1SK, schema.AttrGSI2PK, schema.AttrGSI2SK} {
			a.drop(k)
		}
		condA := stateIn(a, t.From)
		// The request's content fills the message item; a Kapso copy of
		// the message, stored before or after, overwrites it.
		content := cur.Content()
		content.WAMID = t.WAMID
		b := messageUpdate(tenantID, content)
		// The message counts from the send's creation until Kapso's copy
		// with its own time sets its expiry.
		s.expire(b, false, cur.CreatedAt)
		b.setTo(attrOutboundID, str(id))
		if cur.CreatedBy != "" {
			b.setTo(attrCreatedBy, str(cur.CreatedBy))
		}
		ob := b.name(attrOutboundID)
		condB := "attribute_not_exists(" + ob + ") OR " + ob + " = " + b.val(str(id))
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: aws.String(s.Table), Key: outboundKey(tenantID, id),
				UpdateExpression: a.expression(), ConditionExpression: aws.String(condA),
				ExpressionAttributeNames: a.names, ExpressionAttributeValues: a.vals,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}},
			{Update: &types.Update{
				TableName: aws.String(s.Table), Key: messageKey(tenantID, t.WAMID),
				UpdateExpression: b.expression(), ConditionExpression: aws.String(condB),
				ExpressionAttributeNames: b.names, ExpressionAttributeValues: b.vals,
			}},
		}})
		if err == nil {
			s.aliasAccepted(ctx, tenantID, t.WAMID, cur.ConversationID)
			return t.Apply(cur), nil
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			return messaging.OutboundMessage{}, err
		}
		code := func(i int) string {
			if i < len(tc.CancellationReasons) {
				return aws.ToString(tc.CancellationReasons[i].Code)
			}
			return ""
		}
		switch {
		case code(0) == "ConditionalCheckFailed":
			continue // moved meanwhile: the read says where to
		case code(1) == "ConditionalCheckFailed":
			return cur, messaging.ErrWAMIDTaken
		case code(0) == "TransactionConflict" || code(1) == "TransactionConflict":
			// Another write to either item was under way: try again.
			select {
			case <-ctx.Done():
				return messaging.OutboundMessage{}, ctx.Err()
			case <-time.After(time.Duration(try+1) * 20 * time.Millisecond):
			}
			continue
		}
		return messaging.OutboundMessage{}, err
	}
	return messaging.OutboundMessage{}, errs.E(errs.Unavailable, "outbound message kept changing", nil)
}

// outboxCursor is a position in the open partition: its sort key and the
// item's pk, which must be the outbound item the sort key names.
type outboxCursor struct {
	List string `json:"l"`
	Pos  string `json:"k"`
	PK   string `json:"p"`
}

const outboxList = "outbox:open"

// outboxStart decodes an OpenOutbound cursor into the key to start after.
func outboxStart(cursor string) (map[string]types.AttributeValue, string, error) {
	if cursor == "" {
		return nil, "", nil
	}
	if len(cursor) > 2048 {
		return nil, "", badCursor()
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, "", badCursor()
	}
	var c outboxCursor
	if err := json.Unmarshal(b, &c); err != nil || c.List != outboxList {
		return nil, "", badCursor()
	}
	const width = len("2006-01-02T15:04:05.000000000Z")
	rest, ok := strings.CutPrefix(c.PK, outboundPrefix)
	if !ok || len(c.Pos) < width+2 || c.Pos[width] != '#' || c.Pos[width+1:] != rest {
		return nil, "", badCursor()
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000000Z", c.Pos[:width]); err != nil {
		return nil, "", badCursor()
	}
	tenant, id, ok := strings.Cut(rest, "#")
	if !ok || tenant == "" || !messaging.IsOutboundID(id) {
		return nil, "", badCursor()
	}
	k := key(c.PK, outboundSK)
	k[schema.AttrGSI2PK] = str(outboxOpenIndex)
	k[schema.AttrGSI2SK] = str(c.Pos)
	return k, c.Pos, nil
}

// OpenOutbound implements messaging.Outbox: one Query of the open
// partition of gsi2, below before.
func (s *Messages) OpenOutbound(ctx context.Context, before time.Time, cursor string, limit int) ([]messaging.OutboundMessage, string, error) {
	wrap := func(err error) error { return fmt.Errorf("list open outbound messages: %w", err) }
	start, pos, err := outboxStart(cursor)
	if err != nil {
		return nil, "", wrap(err)
	}
	below := sortKeyTime(before)
	if start != nil && pos >= below {
		return nil, "", nil // the cursor is past the end of this list
	}
	size := messaging.Page{Limit: limit}.Size()
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(schema.GSI2),
		KeyConditionExpression:    aws.String("gsi2pk = :p AND gsi2sk < :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(outboxOpenIndex), ":b": str(below)},
		Limit:                     aws.Int32(int32(size + 1)),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		return nil, "", wrap(err)
	}
	items := out.Items
	more := out.LastEvaluatedKey != nil
	if len(items) > size {
		items, more = items[:size], true
	}
	msgs := make([]messaging.OutboundMessage, 0, len(items))
	for _, it := range items {
		msgs = append(msgs, outboundFrom(it))
	}
	if !more || len(items) == 0 {
		return msgs, "", nil
	}
	last := items[len(items)-1]
	b, _ := json.Marshal(outboxCursor{List: outboxList, Pos: stringAttr(last[schema.AttrGSI2SK]), PK: stringAttr(last[schema.AttrPK])})
	return msgs, base64.RawURLEncoding.EncodeToString(b), nil
}
