package dynamo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// StreamChanges reads the records of the bridge table's stream (new and
// old images, as Lambda hands them to the publisher) into the changes of
// the items they tell, with the same decoders the stores read items with.
type StreamChanges struct{}

// ErrStreamRecord marks a stream record that can never be read: an image
// that is no item this table holds, or one of its attributes unreadable.
var ErrStreamRecord = errors.New("unreadable stream record")

// EventSortKeys are the sort keys of the items Change reads a change from
// (tenants, messages, outbound messages, conversations, contacts,
// offboardings, erasures), and
// EventKeyPrefixes the beginnings of the keys of those whose sort key
// varies (templates): a record of any other item tells no event, so a
// consumer of the stream may be handed only these (the CDK stack filters
// the others out before they invoke the publisher).
var (
	EventSortKeys    = []string{tenantSK, messageSK, outboundSK, conversationSK, contactSK, offboardingSK, erasureSK}
	EventKeyPrefixes = []KeyPrefix{{PK: templatesPrefix, SK: templatePrefix}}
)

// KeyPrefix is how the partition and sort keys of a kind of item begin.
type KeyPrefix struct{ PK, SK string }

// Change is the change rec tells: a tenant's snapshot, a message, an
// outbound message, a conversation, a contact, a template, an offboarding
// or an erasure job before and after; an empty Change for every other item (facts, links, claims,
// checkpoints, aliases, sync marks…), which no event tells of.
func (StreamChanges) Change(rec events.DynamoDBEventRecord) (eventing.Change, error) {
	wrap := func(err error) error {
		return fmt.Errorf("%w %s (%s): %w", ErrStreamRecord, rec.Change.SequenceNumber, rec.EventID, err)
	}
	before, err := itemOf(rec.Change.OldImage)
	if err != nil {
		return eventing.Change{}, wrap(fmt.Errorf("old image: %w", err))
	}
	after, err := itemOf(rec.Change.NewImage)
	if err != nil {
		return eventing.Change{}, wrap(fmt.Errorf("new image: %w", err))
	}
	keys, err := itemOf(rec.Change.Keys)
	if err != nil {
		return eventing.Change{}, wrap(fmt.Errorf("keys: %w", err))
	}
	for _, image := range []map[string]types.AttributeValue{after, before} {
		if keys == nil {
			keys = image
		}
	}
	c := eventing.Change{At: rec.Change.ApproximateCreationDateTime.UTC()}
	pk, sk := stringAttr(keys[schema.AttrPK]), stringAttr(keys[schema.AttrSK])
	switch {
	case strings.HasPrefix(pk, offboardingPrefix) && sk == offboardingSK:
		c.Offboarding, err = pairOfErr(before, after, readJob)
	case strings.HasPrefix(pk, erasurePrefix) && sk == erasureSK:
		c.Erasure, err = pairOfErr(before, after, erasureFrom)
	case strings.HasPrefix(pk, tenantPrefix) && sk == tenantSK:
		c.Tenant = pairOf(before, after, func(it map[string]types.AttributeValue) (onboarding.Snapshot, error) {
			return snapshotFrom(it), nil
		})
	case sk == messageSK && strings.HasPrefix(pk, messagePrefix):
		tenant, _, ok := tenantAndRest(pk, messagePrefix)
		if !ok {
			return eventing.Change{}, wrap(fmt.Errorf("message key %q", pk))
		}
		c.Message, err = pairOfErr(before, after, func(it map[string]types.AttributeValue) (eventing.MessageItem, error) {
			m, err := messageFrom(it)
			return eventing.MessageItem{TenantID: tenant, Message: m, Origin: originOf(it)}, err
		})
	case sk == outboundSK && strings.HasPrefix(pk, outboundPrefix):
		c.Outbound = pairOf(before, after, func(it map[string]types.AttributeValue) (messaging.OutboundMessage, error) {
			return outboundFrom(it), nil
		})
	case sk == conversationSK && strings.HasPrefix(pk, conversationPrefix):
		tenant, _, ok := tenantAndRest(pk, conversationPrefix)
		if !ok {
			return eventing.Change{}, wrap(fmt.Errorf("conversation key %q", pk))
		}
		c.Conversation = pairOf(before, after, func(it map[string]types.AttributeValue) (eventing.ConversationItem, error) {
			return eventing.ConversationItem{TenantID: tenant, Conversation: conversationFrom(it), Origin: originOf(it)}, nil
		})
	case strings.HasPrefix(pk, templatesPrefix) && strings.HasPrefix(sk, templatePrefix):
		tenant := strings.TrimPrefix(pk, templatesPrefix)
		if tenant == "" {
			return eventing.Change{}, wrap(fmt.Errorf("template key %q", pk))
		}
		c.Template, err = pairOfErr(before, after, func(it map[string]types.AttributeValue) (templates.Template, error) {
			return storedTemplateFrom(tenant, it)
		})
	case sk == contactSK && strings.HasPrefix(pk, contactPrefix):
		tenant, rest, ok := tenantAndRest(pk, contactPrefix)
		number, person, found := strings.Cut(rest, "#")
		if !ok || !found || number == "" || person == "" {
			return eventing.Change{}, wrap(fmt.Errorf("contact key %q", pk))
		}
		c.Contact = pairOf(before, after, func(it map[string]types.AttributeValue) (eventing.ContactItem, error) {
			st := contactFrom(number, it)
			return eventing.ContactItem{TenantID: tenant, Key: person, Contact: st.rec.Contact, MergedInto: st.merged,
				Version: st.ver, Origin: originOf(it)}, nil
		})
	}
	if err != nil {
		return eventing.Change{}, wrap(err)
	}
	return c, nil
}

// tenantAndRest splits a messaging item's partition key,
// "<prefix><tenant>#<rest>": tenant ids never hold '#'.
func tenantAndRest(pk, prefix string) (tenant, rest string, ok bool) {
	tenant, rest, ok = strings.Cut(strings.TrimPrefix(pk, prefix), "#")
	return tenant, rest, ok && tenant != "" && rest != ""
}

func originOf(it map[string]types.AttributeValue) messaging.Origin {
	return messaging.Origin(stringAttr(it[attrSource]))
}

// pairOf decodes an item before and after with a decoder that cannot
// fail.
func pairOf[T any](before, after map[string]types.AttributeValue, decode func(map[string]types.AttributeValue) (T, error)) *eventing.Pair[T] {
	p, _ := pairOfErr(before, after, decode)
	return p
}

func pairOfErr[T any](before, after map[string]types.AttributeValue, decode func(map[string]types.AttributeValue) (T, error)) (*eventing.Pair[T], error) {
	p := &eventing.Pair[T]{}
	for _, side := range []struct {
		item map[string]types.AttributeValue
		dst  **T
	}{{before, &p.Before}, {after, &p.After}} {
		if len(side.item) == 0 {
			continue
		}
		v, err := decode(side.item)
		if err != nil {
			return nil, err
		}
		*side.dst = &v
	}
	return p, nil
}

// itemOf is an image as the SDK's item; nil for none.
func itemOf(image map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if len(image) == 0 {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(image))
	for name, v := range image {
		av, err := sdkValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		out[name] = av
	}
	return out, nil
}

// sdkValue is a stream image's attribute value as the SDK's.
func sdkValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, 0, len(v.List()))}
		for i, e := range v.List() {
			av, err := sdkValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l.Value = append(l.Value, av)
		}
		return l, nil
	case events.DataTypeMap:
		m, err := itemOf(v.Map())
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]types.AttributeValue{}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown attribute type %d", v.DataType())
}
