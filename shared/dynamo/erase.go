package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Eraser is the erasure.Eraser on the bridge table, the events table and
// the media bucket. It finds the person's conversations on the number two
// ways: the ids derived from each identity (messaging.MetaConversationID),
// and the tenant's conversations list (gsi1 CONVS#<tenant>) filtered on
// the number and the person's identities. Every delete is a DeleteItem
// that returns the old item, so a page run twice counts nothing twice.
//
// Only what is dated at or before the erasure (the job's RequestedAt) goes:
// a message by its time, a conversation and a contact by their last
// activity. What the person sends after it is new, and the final sweep,
// minutes later, leaves it.
type Eraser struct {
	DB    *dynamodb.Client
	Table string
	// Feed erases the person's told events (a FeedEraser); none when nil.
	Feed feedEraser
	// Objects is the media bucket (an erasure.Objects).
	Objects objectDeleter
}

type objectDeleter interface {
	Delete(ctx context.Context, key string) error
}

var _ erasure.Eraser = (*Eraser)(nil)

type feedEraser interface {
	EraseFeed(ctx context.Context, j erasure.Job, cursor string, limit int) (erasure.Page, error)
}

// FeedEraser deletes a person's events from the events table: the feed
// step of an erasure. An event of a message goes when the message is no
// longer stored (it was erased, or never stored for the tombstone); one of
// a conversation when the conversation is gone or the event was stored
// before the erasure; any other when it was stored before the erasure. So
// the events of what the person sends after it stay.
type FeedEraser struct {
	DB    *dynamodb.Client
	Table string
	// Stored looks up the messages and conversations the events name (the
	// bridge table's Messages); without it, every event is judged by when
	// it was stored.
	Stored storedLookup
}

type storedLookup interface {
	Message(ctx context.Context, tenantID, id string) (messaging.StoredMessage, bool, error)
	Outbound(ctx context.Context, tenantID, id string) (messaging.OutboundMessage, bool, error)
	Conversation(ctx context.Context, tenantID, id string) (messaging.Conversation, bool, error)
}

// eraseCursor is where a conversation-walking step goes on: the index of
// the next derived id, the conversations list's last key read, and the
// conversation being emptied.
type eraseCursor struct {
	Derived int               `json:"d"`
	After   map[string]string `json:"a,omitempty"`
	Current string            `json:"c,omitempty"`
	Done    bool              `json:"x,omitempty"` // the list is read to its end
}

func readCursor(s string) (eraseCursor, error) {
	var c eraseCursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("erasure cursor: %w", err)
	}
	return c, nil
}

func (c eraseCursor) String() string {
	b, _ := json.Marshal(c) // strings, ints and a bool always encode
	return string(b)
}

// Erase implements erasure.Eraser.
func (e *Eraser) Erase(ctx context.Context, j erasure.Job, step erasure.Step, cursor string, limit int) (erasure.Page, error) {
	if limit <= 0 {
		limit = erasure.DefaultPageSize
	}
	switch step {
	case erasure.StepMessages:
		return e.walk(ctx, j, step, cursor, limit)
	case erasure.StepConversations:
		return e.walk(ctx, j, step, cursor, limit)
	case erasure.StepPending:
		return e.pending(ctx, j, cursor, limit)
	case erasure.StepFeed:
		if e.Feed == nil {
			return erasure.Page{Finished: true}, nil
		}
		return e.Feed.EraseFeed(ctx, j, cursor, limit)
	case erasure.StepContacts:
		return e.contacts(ctx, j)
	}
	return erasure.Page{}, fmt.Errorf("unknown erasure step %q", step)
}

// derivedIDs are the conversation ids the person's identities derive.
func derivedIDs(j erasure.Job) []string {
	var out []string
	for _, b := range j.Identities.BSUIDs {
		out = append(out, messaging.MetaConversationID(j.PhoneNumberID, messaging.Person{BSUID: b}))
	}
	if j.Identities.Phone != "" {
		out = append(out, messaging.MetaConversationID(j.PhoneNumberID, messaging.Person{Phone: j.Identities.Phone}))
	}
	return out
}

// walk goes through the person's conversations one after the other, from
// cursor, deleting the step's items of each (its messages, or itself),
// until limit items are deleted or none is left.
func (e *Eraser) walk(ctx context.Context, j erasure.Job, step erasure.Step, cursor string, limit int) (erasure.Page, error) {
	c, err := readCursor(cursor)
	if err != nil {
		return erasure.Page{}, err
	}
	derived := derivedIDs(j)
	var page erasure.Page
	budget := limit
	for reads := 0; budget > 0 && reads < 10; {
		if c.Current == "" {
			switch {
			case c.Derived < len(derived):
				c.Current = derived[c.Derived]
				c.Derived++
			case c.Done:
				page.Finished = true
				return page, nil
			default:
				reads++
				id, after, err := e.nextConversation(ctx, j, c.After)
				if err != nil {
					return erasure.Page{}, err
				}
				c.After, c.Current, c.Done = after, id, after == nil
				if id == "" {
					continue
				}
			}
		}
		var counts erasure.Progress
		done := true
		if step == erasure.StepMessages {
			page.Conversations = append(page.Conversations, c.Current)
			counts, done, err = e.messagesOf(ctx, j, c.Current, budget)
		} else {
			counts, err = e.conversation(ctx, j, c.Current)
		}
		if err != nil {
			return erasure.Page{}, err
		}
		page.Counts = page.Counts.Add(counts)
		budget -= max(counts.Total(), 1)
		if done {
			c.Current = ""
		}
	}
	page.Next = c.String()
	return page, nil
}

// nextConversation is the first of the person's conversations on the
// number after the key after in the tenant's conversations list, and the
// key to go on from (nil once the list is read to its end).
func (e *Eraser) nextConversation(ctx context.Context, j erasure.Job, after map[string]string) (string, map[string]string, error) {
	// DynamoDB refuses a name or value the expressions do not use: each
	// is added with its first use.
	names := map[string]string{"#pk": schema.AttrGSI1PK, "#n": attrPhoneNumberID}
	vals := map[string]types.AttributeValue{":pk": str(conversationsPartition(j.TenantID)), ":n": str(j.PhoneNumberID)}
	var who []string
	for i, b := range j.Identities.BSUIDs {
		v := ":b" + strconv.Itoa(i)
		names["#b"], names["#pb"], vals[v] = "bsuid", "parent_bsuid", str(b)
		who = append(who, "#b = "+v, "#pb = "+v)
	}
	if j.Identities.Phone != "" {
		names["#p"], vals[":p"] = "phone", str(j.Identities.Phone)
		who = append(who, "#p = :p")
	}
	if len(who) == 0 {
		return "", nil, nil
	}
	filter := "#n = :n AND (" + strings.Join(who, " OR ") + ")"
	in := &dynamodb.QueryInput{TableName: aws.String(e.Table), IndexName: aws.String(schema.GSI1),
		KeyConditionExpression: aws.String("#pk = :pk"), FilterExpression: aws.String(filter),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals, Limit: aws.Int32(100)}
	if after != nil {
		in.ExclusiveStartKey = map[string]types.AttributeValue{}
		for k, v := range after {
			in.ExclusiveStartKey[k] = str(v)
		}
	}
	out, err := e.DB.Query(ctx, in)
	if err != nil {
		return "", nil, fmt.Errorf("list conversations of an erasure: %w", err)
	}
	var last map[string]types.AttributeValue
	id := ""
	if len(out.Items) > 0 {
		it := out.Items[0]
		id = stringAttr(it[attrConversationID])
		last = map[string]types.AttributeValue{}
		for _, k := range []string{schema.AttrPK, schema.AttrSK, schema.AttrGSI1PK, schema.AttrGSI1SK} {
			last[k] = it[k]
		}
	} else if out.LastEvaluatedKey != nil {
		last = out.LastEvaluatedKey
	}
	if last == nil {
		return id, nil, nil
	}
	next := map[string]string{}
	for k, v := range last {
		next[k] = stringAttr(v)
	}
	return id, next, nil
}

// deleteItem deletes k and reports whether it was there, with its old
// attributes.
func (e *Eraser) deleteItem(ctx context.Context, table string, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	return deleteItem(ctx, e.DB, table, k)
}

// deleteBefore deletes the item unless its time attribute (unix
// nanoseconds) is after at: an item active since the erasure stays
// (since). It answers the old item, nil when nothing was deleted.
func (e *Eraser) deleteBefore(ctx context.Context, k map[string]types.AttributeValue, attr string, at time.Time) (old map[string]types.AttributeValue, since bool, err error) {
	return deleteIf(ctx, e.DB, e.Table, k, "attribute_not_exists(#t) OR #t <= :at", map[string]string{"#t": attr},
		map[string]types.AttributeValue{":at": numberAttr(messaging.Instant(at))})
}

// deleteIf deletes the item when cond holds (always when cond is empty),
// and answers the old item (nil when there was none) and whether cond
// refused the delete.
func deleteIf(ctx context.Context, db *dynamodb.Client, table string, k map[string]types.AttributeValue, cond string,
	names map[string]string, vals map[string]types.AttributeValue) (old map[string]types.AttributeValue, refused bool, err error) {
	in := &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: k, ReturnValues: types.ReturnValueAllOld}
	if cond != "" {
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = aws.String(cond), names, vals
	}
	out, err := db.DeleteItem(ctx, in)
	if isConditionFailed(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return out.Attributes, false, nil
}

func deleteItem(ctx context.Context, db *dynamodb.Client, table string, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	old, _, err := deleteIf(ctx, db, table, k, "", nil, nil)
	return old, err
}

// messagesOf deletes up to budget messages of the conversation: each
// one's media object first, its retry and outbound items, then itself.
func (e *Eraser) messagesOf(ctx context.Context, j erasure.Job, conversationID string, budget int) (erasure.Progress, bool, error) {
	var p erasure.Progress
	// The list is by time: what is dated after the erasure is not read.
	out, err := e.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(e.Table), IndexName: aws.String(schema.GSI1),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk <= :cut"),
		ExpressionAttributeNames: map[string]string{"#pk": schema.AttrGSI1PK, "#sk": schema.AttrGSI1SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(conversationMessagesPartition(j.TenantID, conversationID)),
			":cut": str(fmt.Sprintf("%020d#~", unixNanos(j.RequestedAt)))},
		Limit: aws.Int32(int32(budget))})
	if err != nil {
		return p, false, fmt.Errorf("list messages of an erasure: %w", err)
	}
	for _, it := range out.Items {
		if stringAttr(it[attrPhoneNumberID]) != "" && stringAttr(it[attrPhoneNumberID]) != j.PhoneNumberID {
			continue // a conversation id is Kapso's, one number's; never another's
		}
		if k := stringAttr(it[attrMediaKey]); k != "" && e.Objects != nil {
			if err := e.Objects.Delete(ctx, k); err != nil {
				return p, false, fmt.Errorf("delete media of an erased message: %w", err)
			}
			p.MediaObjects++
		}
		if sk := stringAttr(it[attrMediaRetry]); sk != "" {
			if _, err := e.deleteItem(ctx, e.Table, key(mediaRetryPK, sk)); err != nil {
				return p, false, fmt.Errorf("delete media retry of an erased message: %w", err)
			}
		}
		if id := stringAttr(it[attrOutboundID]); id != "" {
			if _, err := e.deleteItem(ctx, e.Table, outboundKey(j.TenantID, id)); err != nil {
				return p, false, fmt.Errorf("delete send of an erased message: %w", err)
			}
		}
		old, err := e.deleteItem(ctx, e.Table, key(stringAttr(it[schema.AttrPK]), stringAttr(it[schema.AttrSK])))
		if err != nil {
			return p, false, fmt.Errorf("delete an erased message: %w", err)
		}
		if old != nil {
			p.Messages++
		}
	}
	return p, len(out.Items) < budget && out.LastEvaluatedKey == nil, nil
}

// conversation deletes the conversation's item and its alias.
func (e *Eraser) conversation(ctx context.Context, j erasure.Job, conversationID string) (erasure.Progress, error) {
	var p erasure.Progress
	old, since, err := e.deleteBefore(ctx, conversationKey(j.TenantID, conversationID), attrLastActiveNs, j.RequestedAt)
	if err != nil {
		return p, fmt.Errorf("delete an erased conversation: %w", err)
	}
	if since {
		return p, nil // the person wrote again: theirs now
	}
	if old != nil {
		p.Conversations++
	}
	if _, err := e.deleteItem(ctx, e.Table, conversationAliasKey(j.TenantID, conversationID)); err != nil {
		return p, fmt.Errorf("delete an erased conversation's alias: %w", err)
	}
	return p, nil
}

// pending deletes the number's kept events that name the person, reading
// up to limit after the event id cursor.
func (e *Eraser) pending(ctx context.Context, j erasure.Job, cursor string, limit int) (erasure.Page, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(e.Table), KeyConditionExpression: aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pendingPK(j.PhoneNumberID))},
		Limit:                     aws.Int32(int32(limit))}
	if cursor != "" {
		in.ExclusiveStartKey = key(pendingPK(j.PhoneNumberID), cursor)
	}
	out, err := e.DB.Query(ctx, in)
	if err != nil {
		return erasure.Page{}, fmt.Errorf("list kept events of an erasure: %w", err)
	}
	var page erasure.Page
	for _, it := range out.Items {
		page.Next = stringAttr(it[schema.AttrSK])
		if !j.Identities.NamedIn(bytesAttr(it["raw"])) {
			continue
		}
		old, err := e.deleteItem(ctx, e.Table, key(stringAttr(it[schema.AttrPK]), page.Next))
		if err != nil {
			return erasure.Page{}, fmt.Errorf("delete an erased kept event: %w", err)
		}
		if old != nil {
			page.Counts.PendingEvents++
		}
	}
	page.Finished = out.LastEvaluatedKey == nil
	return page, nil
}

// EraseFeed deletes the tenant's events that name the person, from the
// tenant's feed and the stack's (the same position in both), reading up
// to limit after the position cursor.
func (e *FeedEraser) EraseFeed(ctx context.Context, j erasure.Job, cursor string, limit int) (erasure.Page, error) {
	pk := feedPK(j.TenantID)
	in := &dynamodb.QueryInput{TableName: aws.String(e.Table), KeyConditionExpression: aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		Limit:                     aws.Int32(int32(limit))}
	if cursor != "" {
		in.ExclusiveStartKey = key(pk, cursor)
	}
	out, err := e.DB.Query(ctx, in)
	if err != nil {
		return erasure.Page{}, fmt.Errorf("list events of an erasure: %w", err)
	}
	var page erasure.Page
	for _, it := range out.Items {
		page.Next = stringAttr(it[schema.AttrSK])
		if !namesNumber(it, j.PhoneNumberID) || !j.Identities.NamedIn([]byte(stringAttr(it[attrFeedEvent]))) {
			continue
		}
		if erased, err := e.ofErased(ctx, j, it); err != nil || !erased {
			if err != nil {
				return erasure.Page{}, err
			}
			continue
		}
		for _, p := range []string{pk, feedPK("")} {
			old, err := deleteItem(ctx, e.DB, e.Table, key(p, page.Next))
			if err != nil {
				return erasure.Page{}, fmt.Errorf("delete an erased event: %w", err)
			}
			if old != nil && p == pk {
				page.Counts.FeedEvents++
			}
		}
	}
	page.Finished = out.LastEvaluatedKey == nil
	return page, nil
}

// ofErased reports whether a feed item naming the person tells of what the
// erasure covers, not of what they did after it (see FeedEraser).
func (e *FeedEraser) ofErased(ctx context.Context, j erasure.Job, it map[string]types.AttributeValue) (bool, error) {
	var ev struct {
		Subject string `json:"subject"`
	}
	_ = json.Unmarshal([]byte(stringAttr(it[attrFeedEvent])), &ev) // unreadable: judged by its time
	storedBefore := stringAttr(it[schema.AttrSK]) <= sortKeyTime(j.RequestedAt)+"#~"
	kind, id, _ := strings.Cut(ev.Subject, ":")
	switch {
	case e.Stored == nil || id == "":
		return storedBefore, nil
	case kind == "message" && messaging.IsOutboundID(id):
		_, ok, err := e.Stored.Outbound(ctx, j.TenantID, id)
		return !ok, wrapLookup(err, ev.Subject)
	case kind == "message":
		_, ok, err := e.Stored.Message(ctx, j.TenantID, id)
		return !ok, wrapLookup(err, ev.Subject)
	case kind == "conversation":
		if storedBefore {
			return true, nil
		}
		_, ok, err := e.Stored.Conversation(ctx, j.TenantID, id)
		return !ok, wrapLookup(err, ev.Subject)
	}
	return storedBefore, nil
}

func wrapLookup(err error, subject string) error {
	if err != nil {
		return fmt.Errorf("look up %s of an erased event: %w", subject, err)
	}
	return nil
}

// namesNumber reports whether a feed item's event is of the number: its
// JSON holds the number's id as a whole string.
func namesNumber(it map[string]types.AttributeValue, phoneNumberID string) bool {
	return erasure.Identities{BSUIDs: []string{phoneNumberID}}.NamedIn([]byte(stringAttr(it[attrFeedEvent])))
}

// contacts deletes the contact item of every identity.
func (e *Eraser) contacts(ctx context.Context, j erasure.Job) (erasure.Page, error) {
	var page erasure.Page
	for _, k := range j.Identities.Keys() {
		// A contact seen since the erasure is the person writing again.
		old, _, err := e.deleteBefore(ctx, contactKey(j.TenantID, j.PhoneNumberID, k), attrLastSeenNs, j.RequestedAt)
		if err != nil {
			return erasure.Page{}, fmt.Errorf("delete an erased contact: %w", err)
		}
		if old != nil {
			page.Counts.Contacts++
		}
	}
	page.Finished = true
	return page, nil
}
