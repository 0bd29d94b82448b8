package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// listCursor is a position in a gsi1 list: the sort key and the item's pk,
// never its partition, which comes from the request. The pk must be one of
// the tenant's, so a cursor cannot lead into another tenant's items.
type listCursor struct {
	List string `json:"l"`
	Pos  string `json:"k"`
	PK   string `json:"p"`
}

func badCursor() error { return errs.E(errs.Invalid, "invalid cursor", messaging.ErrBadCursor) }

// itemKind is one kind of item a gsi1 list holds: the prefix of its pks,
// which the item's id follows, and its sort key.
type itemKind struct{ prefix, sk string }

// startKey decodes cursor for list, whose items' pks are prefix+<id> and
// sort keys <20 digits>#<id>.
func startKey(cursor, list, partition, prefix, sk string) (map[string]types.AttributeValue, error) {
	return startKeyOf(cursor, list, partition, []itemKind{{prefix, sk}})
}

// startKeyOf decodes cursor for list, whose items are of the kinds given.
func startKeyOf(cursor, list, partition string, kinds []itemKind) (map[string]types.AttributeValue, error) {
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
	for _, kind := range kinds {
		id, ok := strings.CutPrefix(c.PK, kind.prefix)
		if !ok || id == "" || len(c.Pos) < 22 || c.Pos[20] != '#' || c.Pos[21:] != id ||
			strings.Trim(c.Pos[:20], "0123456789") != "" {
			continue
		}
		k := key(c.PK, kind.sk)
		k[schema.AttrGSI1PK] = str(partition)
		k[schema.AttrGSI1SK] = str(c.Pos)
		return k, nil
	}
	return nil, badCursor()
}

// queryList reads one page of a gsi1 partition, only the sort keys at or
// after since when it is set. It asks for one item more than the page, so
// the last page comes back with no cursor.
func (s *Messages) queryList(ctx context.Context, list, partition string, kinds []itemKind, p messaging.Page, forward bool, since string) ([]map[string]types.AttributeValue, string, error) {
	start, err := startKeyOf(p.Cursor, list, partition, kinds)
	if err != nil {
		return nil, "", err
	}
	cond := "gsi1pk = :p"
	vals := map[string]types.AttributeValue{":p": str(partition)}
	if since != "" {
		cond += " AND gsi1sk >= :s"
		vals[":s"] = str(since)
		// A cursor below the bound (of a list read without it) is past the
		// end going down, and before the start going up; DynamoDB refuses a
		// start outside the key condition.
		if start != nil && stringAttr(start[schema.AttrGSI1SK]) < since {
			if !forward {
				return nil, "", nil
			}
			start = nil
		}
	}
	size := p.Size()
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(schema.GSI1),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeValues: vals,
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
// UpdatedSince bounds the Query's key condition: the index sorts by last
// activity, so the conversations before it are never read.
func (s *Messages) Conversations(ctx context.Context, tenantID string, p messaging.Page) ([]messaging.ConversationView, string, error) {
	wrap := func(err error) error { return fmt.Errorf("list conversations of %s: %w", tenantID, err) }
	if tenantID == "" {
		return nil, "", wrap(invalid("no tenant"))
	}
	since := ""
	if !p.UpdatedSince.IsZero() {
		// The time alone sorts before every conversation of that time.
		since = strings.TrimSuffix(indexPosition(p.UpdatedSince, ""), "#")
	}
	items, next, err := s.queryList(ctx, "conversations", conversationsPartition(tenantID),
		[]itemKind{{conversationPK(tenantID, ""), conversationSK}}, p, false, since)
	if err != nil {
		return nil, "", wrap(err)
	}
	convs := make([]messaging.Conversation, 0, len(items))
	var refs []contactRef
	for _, it := range items {
		// An expired one leaves the page short; the cursor goes on past it.
		if s.gone(it) {
			continue
		}
		c := conversationFrom(it)
		convs = append(convs, c)
		if k := c.Person.Key(); k != "" && c.PhoneNumberID != "" {
			refs = append(refs, contactRef{c.PhoneNumberID, k})
		}
	}
	contacts := map[contactRef]map[string]types.AttributeValue{}
	for range messaging.MaxMergeHops {
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
		it := followContacts(contacts, contactRef{c.PhoneNumberID, c.Person.Key()})
		if s.gone(it) {
			it = nil
		}
		out = append(out, c.View(contactFrom(c.PhoneNumberID, it).rec.Contact, it != nil))
	}
	return out, next, nil
}

// followContacts follows merges among the contacts read
// (messaging.FollowMerges); nil when the contact it ends at was not read.
func followContacts(contacts map[contactRef]map[string]types.AttributeValue, r contactRef) map[string]types.AttributeValue {
	key, _ := messaging.FollowMerges(r.key, func(k string) (string, error) {
		return stringAttr(contacts[contactRef{r.phoneNumberID, k}][attrMergedInto]), nil
	})
	return contacts[contactRef{r.phoneNumberID, key}]
}

// ConversationMessages implements messaging.Reader: one Query, after one
// more of its alias for a derived conversation id.
func (s *Messages) ConversationMessages(ctx context.Context, tenantID, conversationID string, p messaging.Page) ([]messaging.StoredMessage, string, error) {
	wrap := func(err error) error { return fmt.Errorf("list messages of conversation %s: %w", conversationID, err) }
	if tenantID == "" {
		return nil, "", wrap(invalid("no tenant"))
	}
	listed := conversationID
	if messaging.IsDerivedConversationID(conversationID) {
		to, err := s.aliasOf(ctx, tenantID, conversationID)
		if err != nil {
			return nil, "", wrap(err)
		}
		if to != "" {
			listed = to
		}
	}
	// The list holds the messages stored under a WAMID and the outbound
	// messages that have none yet.
	// Each order is a list of its own: a cursor of one is refused by the
	// other. '.' keeps the names apart whatever the conversation id holds.
	list := "messages:" + conversationID
	if p.Newest {
		list = "messages.newest:" + conversationID
	}
	items, next, err := s.queryList(ctx, list, conversationMessagesPartition(tenantID, listed),
		[]itemKind{{messagePK(tenantID, ""), messageSK}, {outboundPK(tenantID, ""), outboundSK}}, p, !p.Newest, "")
	if err != nil {
		return nil, "", wrap(err)
	}
	out := make([]messaging.StoredMessage, 0, len(items))
	for _, it := range items {
		if s.gone(it) {
			continue
		}
		if strings.HasPrefix(stringAttr(it[schema.AttrPK]), outboundPrefix) {
			out = append(out, outboundFrom(it).Stored())
			continue
		}
		m, err := messageFrom(it)
		if err != nil {
			return nil, "", wrap(err)
		}
		out = append(out, m)
	}
	return out, next, nil
}
