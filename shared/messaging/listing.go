package messaging

import (
	"encoding/json"
	"time"
)

// What the catch-up reads from Kapso's lists when deliveries were missed:
// a number's messages and conversations, and the deliveries Kapso gave up
// on. The Kapso adapter maps its answers to these and its failures to errs
// codes (errs.RateLimited with a RetryAfter, errs.BudgetSpent when the
// run's calls are used up, errs.Unavailable, errs.BadGateway for an answer
// that cannot be used).

// ListedPage is one page of a list Kapso keeps newest first; After is the
// cursor of the next page, "" when this is the last.
type ListedPage[T any] struct {
	Items []T
	After string
}

// ListedMessage is a message as Kapso lists it: the same object as the
// message of a whatsapp.message.* webhook.
type ListedMessage struct {
	ID                string // WAMID
	Timestamp         time.Time
	Direction, Status string          // inbound or outbound; Kapso's status of it
	Raw               json.RawMessage // the item exactly as Kapso sent it
}

// ListedConversation is a conversation as Kapso lists it: the same object
// as the conversation of a webhook.
type ListedConversation struct {
	ID, Status, PhoneNumberID string // status: active or ended
	LastActiveAt, UpdatedAt   time.Time
	Raw                       json.RawMessage // the item exactly as Kapso sent it
}

// WebhookDelivery is Kapso's record of one webhook delivery. The shape is
// not documented; every field but ID may be missing.
type WebhookDelivery struct {
	ID, WebhookID, PhoneNumberID, Event, Status, IdempotencyKey string // PhoneNumberID: "" for project webhooks
	Attempts, ResponseStatus                                    int    // ResponseStatus: 0 when there was no answer
	CreatedAt, LastAttemptAt                                    time.Time
}
