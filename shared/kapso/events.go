// Package kapso holds Kapso's webhook wire formats: event names, signature
// verification, the splitting of one delivery into its events, and the typed
// payloads workers decode. It imports no AWS SDK.
package kapso

import "strings"

// Phone-number scope: delivered to a number's own webhook.
const (
	EventMessageReceived            = "whatsapp.message.received"
	EventMessageSent                = "whatsapp.message.sent"
	EventMessageDelivered           = "whatsapp.message.delivered"
	EventMessageRead                = "whatsapp.message.read"
	EventMessageFailed              = "whatsapp.message.failed"
	EventConversationCreated        = "whatsapp.conversation.created"
	EventConversationEnded          = "whatsapp.conversation.ended"
	EventConversationInactive       = "whatsapp.conversation.inactive"
	EventContactIdentityChanged     = "whatsapp.contact.identity_changed"
	EventContactMarketingPreference = "whatsapp.contact.marketing_preference_changed"
	EventMetaBusinessAgentHandover  = "whatsapp.meta_business_agent.handover"
)

// Project scope: delivered to the project webhook. whatsapp.config.created is
// the v1 name of whatsapp.phone_number.created; both mean "a number connected".
const (
	EventPhoneNumberCreated       = "whatsapp.phone_number.created"
	EventConfigCreated            = "whatsapp.config.created"
	EventPhoneNumberDeleted       = "whatsapp.phone_number.deleted"
	EventPhoneNumberOffboarded    = "whatsapp.phone_number.offboarded"
	EventPhoneNumberDisconnected  = "whatsapp.phone_number.disconnected"
	EventPhoneNumberReconnected   = "whatsapp.phone_number.reconnected"
	EventAccountDisabled          = "whatsapp.account.disabled"
	EventAccountRestricted        = "whatsapp.account.restricted"
	EventAccountReinstated        = "whatsapp.account.reinstated"
	EventAccountViolation         = "whatsapp.account.violation"
	EventWorkflowExecutionHandoff = "workflow.execution.handoff"
	EventWorkflowExecutionFailed  = "workflow.execution.failed"
	EventProjectEvent             = "project.event"
	// EventPrefixKapsoAgentRun starts the kapso_agent.run.* family.
	EventPrefixKapsoAgentRun = "kapso_agent.run."
)

// EventUnknown names a delivery that carries no event name anywhere.
const EventUnknown = "unknown"

const (
	eventPrefixMessage           = "whatsapp.message."
	eventPrefixConversation      = "whatsapp.conversation."
	eventPrefixContact           = "whatsapp.contact."
	eventPrefixMetaBusinessAgent = "whatsapp.meta_business_agent."
	eventPrefixAccount           = "whatsapp.account."
	eventPrefixWorkflow          = "workflow."
)

// IsProjectEvent reports whether name is a project-scope event. Unknown names
// count as project events unless they belong to a phone-number family: a new
// project event must be kept, and the lifecycle worker is where unknown
// project traffic is recorded.
func isProjectEvent(name string) bool {
	return !strings.HasPrefix(name, eventPrefixMessage) &&
		!strings.HasPrefix(name, eventPrefixConversation) &&
		!strings.HasPrefix(name, eventPrefixContact) &&
		!strings.HasPrefix(name, eventPrefixMetaBusinessAgent)
}

// DocumentedEvents returns every event name Kapso documents, phone-number
// scope first. kapso_agent.run.* is a family, not a name, so it is absent.
func documentedEvents() []string {
	return []string{
		EventMessageReceived, EventMessageSent, EventMessageDelivered,
		EventMessageRead, EventMessageFailed,
		EventConversationCreated, EventConversationEnded, EventConversationInactive,
		EventContactIdentityChanged, EventContactMarketingPreference,
		EventMetaBusinessAgentHandover,
		EventPhoneNumberCreated, EventConfigCreated, EventPhoneNumberDeleted,
		EventPhoneNumberOffboarded, EventPhoneNumberDisconnected, EventPhoneNumberReconnected,
		EventAccountDisabled, EventAccountRestricted, EventAccountReinstated, EventAccountViolation,
		EventWorkflowExecutionHandoff, EventWorkflowExecutionFailed, EventProjectEvent,
	}
}

// IsKapsoAgentRun reports whether name is one of the kapso_agent.run.* events.
func isKapsoAgentRun(name string) bool {
	return strings.HasPrefix(name, EventPrefixKapsoAgentRun) && len(name) > len(EventPrefixKapsoAgentRun)
}

// IsMessageEvent reports whether name is a whatsapp.message.* event, whose
// payload decodes with DecodeMessageEvent.
func IsMessageEvent(name string) bool { return strings.HasPrefix(name, eventPrefixMessage) }

// IsConversationEvent reports whether name is a whatsapp.conversation.* event.
func IsConversationEvent(name string) bool { return strings.HasPrefix(name, eventPrefixConversation) }

// IsAccountEvent reports whether name is a whatsapp.account.* enforcement event.
func isAccountEvent(name string) bool { return strings.HasPrefix(name, eventPrefixAccount) }

// IsWorkflowEvent reports whether name is a workflow.* event.
func isWorkflowEvent(name string) bool { return strings.HasPrefix(name, eventPrefixWorkflow) }

// IsConnectionCreated reports whether name announces a newly connected number,
// under either its v2 or its legacy v1 name.
func IsConnectionCreated(name string) bool {
	return name == EventPhoneNumberCreated || name == EventConfigCreated
}

// IsPhoneNumberLifecycle reports whether name is a lifecycle change of an
// existing number (deleted, offboarded, disconnected, reconnected) or an
// account enforcement event; their payloads decode with DecodePhoneNumberLifecycle.
func IsPhoneNumberLifecycle(name string) bool {
	switch name {
	case EventPhoneNumberDeleted, EventPhoneNumberOffboarded,
		EventPhoneNumberDisconnected, EventPhoneNumberReconnected:
		return true
	}
	return isAccountEvent(name)
}
