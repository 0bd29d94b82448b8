package dynamo

// Key layout of the bridge table. Every item type has its own prefix; the
// helpers here are the one place a key is spelled.

// PhoneNumberKey is the item of a connected phone number: its tenant, its
// details and its webhook secret.
func PhoneNumberKey(phoneNumberID string) (pk, sk string) {
	return "PHONE#" + phoneNumberID, "PHONE"
}

// AttrWebhookSecret is the phone number item's attribute holding the secret
// kapso-bridge generated when it registered the number's webhook.
const AttrWebhookSecret = "webhook_secret"
