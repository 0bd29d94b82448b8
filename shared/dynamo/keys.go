package dynamo

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// Key layout of the bridge table. Every item type has its own prefix; this
// file is the one place a key is spelled.

// Key prefixes and index partitions of the onboarding items.
const (
	tenantPrefix      = "TENANT#"
	tenantSK          = "TENANT"
	factPrefix        = "FACT#"
	linkPrefix        = "LINK#"
	customerPrefix    = "CUSTOMER#"
	orphanPrefix      = "ORPHAN#"
	rejectedPrefix    = "REJECTED#"
	tenantStatusIndex = "TENANT_STATUS#"
	// linkActiveIndex is the gsi1 partition of setup links still usable.
	linkActiveIndex = "LINK_ACTIVE"
	// numberWebhookMissingIndex is the gsi1 partition of numbers whose
	// WebhookRegistered fact is not stored yet.
	numberWebhookMissingIndex = "NUMBER_WEBHOOK_MISSING"
	// tenantsAttentionIndex and tenantsOtherIndex are the gsi2 partitions
	// that hold every tenant item, each in one: those whose stored state
	// needs a human (onboarding.AttentionStored), and the others.
	tenantsAttentionIndex = "TENANTS#ATTENTION"
	tenantsOtherIndex     = "TENANTS#OTHER"
)

// tenantPosition is a tenant item's sort key in gsi1 and gsi2: its updated
// time, fixed width, then its id (which never holds '#').
func tenantPosition(updatedAt time.Time, tenantID string) string {
	return sortKeyTime(updatedAt) + "#" + tenantID
}

// tenantsPartition is the gsi2 partition of a tenant item.
func tenantsPartition(status onboarding.TenantStatus, webhookMissing bool) string {
	if onboarding.AttentionStored(status, webhookMissing) {
		return tenantsAttentionIndex
	}
	return tenantsOtherIndex
}

// phoneNumberKey is the item of a connected phone number (see Numbers).
func phoneNumberKey(phoneNumberID string) (pk, sk string) {
	return "PHONE#" + phoneNumberID, "PHONE"
}

func phoneKey(id string) map[string]types.AttributeValue { return key(phoneNumberKey(id)) }

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{schema.AttrPK: str(pk), schema.AttrSK: str(sk)}
}

func tenantKey(id string) map[string]types.AttributeValue { return key(tenantPrefix+id, tenantSK) }

func linkKey(setupLinkID string) (pk, sk string) { return linkPrefix + setupLinkID, "LINK" }

func customerKey(customerID string) (pk, sk string) { return customerPrefix + customerID, "CUSTOMER" }

// Key prefixes and index partitions of the messaging items. Tenant ids
// never contain '#', so "<prefix><tenant>#" is a prefix no other tenant's
// keys share; WAMIDs, conversation ids and person keys come last and are
// taken whole.
const (
	messagePrefix      = "MSG#"
	messageSK          = "MSG"
	conversationPrefix = "CONV#"
	conversationSK     = "CONV"
	// conversationAliasSK is a derived conversation id's alias.
	conversationAliasSK = "ALIAS"
	contactPrefix       = "CONTACT#"
	contactSK           = "CONTACT"
	pendingPrefix       = "PENDING#"
	// conversationsIndex is the gsi1 partition of a tenant's conversations,
	// by last activity.
	conversationsIndex = "CONVS#"
	// conversationMessagesIndex is the gsi1 partition of a conversation's
	// messages, by Meta's timestamp.
	conversationMessagesIndex = "CONVMSG#"
)

// messagePK is the partition of a message, its content and statuses.
func messagePK(tenantID, wamid string) string { return messagePrefix + tenantID + "#" + wamid }

func messageKey(tenantID, wamid string) map[string]types.AttributeValue {
	return key(messagePK(tenantID, wamid), messageSK)
}

func conversationPK(tenantID, conversationID string) string {
	return conversationPrefix + tenantID + "#" + conversationID
}

func conversationKey(tenantID, conversationID string) map[string]types.AttributeValue {
	return key(conversationPK(tenantID, conversationID), conversationSK)
}

// conversationAliasKey is what a derived conversation id is an alias of;
// it shares the partition of the derived id's own conversation item.
func conversationAliasKey(tenantID, derivedID string) map[string]types.AttributeValue {
	return key(conversationPK(tenantID, derivedID), conversationAliasSK)
}

// contactPK is one person (messaging.Person.Key) on one number.
func contactPK(tenantID, phoneNumberID, personKey string) string {
	return contactPrefix + tenantID + "#" + phoneNumberID + "#" + personKey
}

func contactKey(tenantID, phoneNumberID, personKey string) map[string]types.AttributeValue {
	return key(contactPK(tenantID, phoneNumberID, personKey), contactSK)
}

func conversationsPartition(tenantID string) string { return conversationsIndex + tenantID }

func conversationMessagesPartition(tenantID, conversationID string) string {
	return conversationMessagesIndex + tenantID + "#" + conversationID
}

// indexPosition is a gsi1 sort key in time order: the time as 20-digit
// unix nanoseconds (0 for the zero time), then the item's id to break ties.
func indexPosition(t time.Time, id string) string {
	return fmt.Sprintf("%020d#%s", unixNanos(t), id)
}

// unixNanos is t in unix nanoseconds; the zero time and anything before
// 1970 are 0, the oldest.
func unixNanos(t time.Time) int64 {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return t.UnixNano()
}

// pendingKey is an event kept for a number without a tenant; the sort key
// is the event id, so a number's events list in id order.
func pendingKey(phoneNumberID, eventID string) map[string]types.AttributeValue {
	return key(pendingPK(phoneNumberID), eventID)
}

func pendingPK(phoneNumberID string) string { return pendingPrefix + phoneNumberID }

// redirectHintPK is the one partition of the redirect hints the lifecycle
// queue could not take; the sort key orders them by time received, so the
// reconciler reads the oldest first with a Query.
const redirectHintPK = "REDIRECT_HINT"

func redirectHintKey(receivedAt time.Time, id string) map[string]types.AttributeValue {
	return key(redirectHintPK, sortKeyTime(receivedAt)+"#"+id)
}

// checkpointKey is the item of a sweep's saved position (see Checkpoints).
func checkpointKey(name string) (pk, sk string) { return "CHECKPOINT#" + name, "CHECKPOINT" }

// leaseKey is the item of a run's lease (see Checkpoints.TakeLease).
func leaseKey(name string) (pk, sk string) { return "LEASE#" + name, "LEASE" }

// Key prefix and index partition of the outbox (see Messages).
const (
	outboundPrefix = "OUT#"
	outboundSK     = "OUT"
	// outboxOpenIndex is the gsi2 partition of the outbound messages of
	// every tenant that are neither accepted nor failed, by creation time.
	outboxOpenIndex = "OUTBOX#OPEN"
)

// outboundPK is one outbound message of a tenant, by its outbound id.
func outboundPK(tenantID, id string) string { return outboundPrefix + tenantID + "#" + id }

func outboundKey(tenantID, id string) map[string]types.AttributeValue {
	return key(outboundPK(tenantID, id), outboundSK)
}

// outboxPosition is an open outbound message's gsi2 sort key: its creation
// time, fixed width, then its tenant and id (neither holds '#' before the
// id), so the partition lists every tenant's messages oldest first.
func outboxPosition(createdAt time.Time, tenantID, id string) string {
	return sortKeyTime(createdAt) + "#" + tenantID + "#" + id
}

// Key layout of the events table (see Feed): a tenant's feed is the
// partition FEED#<tenant>, the whole stack's FEED#*, which no tenant id
// can name ('*' is in none); both sort by position.
const (
	feedPrefix = "FEED#"
	// stackFeed is the whole stack's feed in cursors and keys.
	stackFeed = "*"
)

// feedName names a feed in its cursors: the tenant's id, or stackFeed for
// the whole stack's ("").
func feedName(tenantID string) string {
	if tenantID == "" {
		return stackFeed
	}
	return tenantID
}

func feedPK(tenantID string) string { return feedPrefix + feedName(tenantID) }

// feedPosition is an event's sort key in a feed: its append time, fixed
// width, then its id.
func feedPosition(at time.Time, eventID string) string { return sortKeyTime(at) + "#" + eventID }

// validFeedPosition reports whether pos is one feedPosition makes.
func validFeedPosition(pos string) bool {
	n := len(sortKeyTime(time.Time{}))
	if len(pos) < n+2 || pos[n] != '#' {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, pos[:n])
	return err == nil
}

// Key layout of a tenant's templates (see Templates): the partition
// TEMPLATES#<tenant> holds one item a template, TPL#<waba>#<name>#<language>,
// and one a WABA's sync mark, SYNC#<waba>.
const (
	templatesPrefix = "TEMPLATES#"
	templatePrefix  = "TPL#"
	syncMarkPrefix  = "SYNC#"
)

func templatesPK(tenantID string) string { return templatesPrefix + tenantID }

// templateSK is a template's sort key. Meta's names and language codes
// hold no '#', yet they are read from Kapso: each part is escaped, so no
// two templates share a key.
func templateSK(k templates.Key) string {
	return templatePrefix + keyPart(k.BusinessAccountID) + "#" + keyPart(k.Name) + "#" + keyPart(k.Language)
}

func templateKey(tenantID string, k templates.Key) map[string]types.AttributeValue {
	return key(templatesPK(tenantID), templateSK(k))
}

func syncMarkKey(tenantID, wabaID string) map[string]types.AttributeValue {
	return key(templatesPK(tenantID), syncMarkPrefix+keyPart(wabaID))
}

// keyPart escapes '#', which separates a key's parts, and '%', the escape.
var keyPart = strings.NewReplacer("%", "%25", "#", "%23").Replace

// Key layout of the /v1 API's tokens (see Tokens): one item a secret,
// found by the secret's hash, and its twin in the one partition that lists
// them by name, oldest first. The partition holds a row a token ever made:
// tokens are few.
const (
	tokenPrefix     = "TOKEN#"
	tokenSK         = "TOKEN"
	tokensPK        = "TOKENS"
	tokenNamePrefix = "NAME#"
)

func tokenKey(hash string) map[string]types.AttributeValue { return key(tokenPrefix+hash, tokenSK) }

// tokenNameSK is a token's sort key in tokensPK. Names hold no '#', so
// "NAME#<name>#" is a prefix no other name's keys share.
func tokenNameSK(name string, createdAt time.Time, hash string) string {
	return tokenNamePrefix + name + "#" + sortKeyTime(createdAt) + "#" + hash
}

// Key layout of the audit trail (see AuditLog): a month a partition,
// AUDIT#<yyyy-mm>, sorted by time then id, read newest first. A month
// bounds what a list walks through (the retention spans 14 of them) and
// what one partition takes.
const auditPrefix = "AUDIT#"

func auditPK(at time.Time) string { return auditPrefix + at.UTC().Format("2006-01") }

func auditSK(at time.Time, id string) string { return sortKeyTime(at) + "#" + id }
