package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
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
)

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
