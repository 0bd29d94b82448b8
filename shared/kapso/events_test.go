package kapso

import "testing"

func TestIsProjectEvent(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{EventPhoneNumberCreated, true},
		{EventConfigCreated, true},
		{EventPhoneNumberDeleted, true},
		{EventPhoneNumberOffboarded, true},
		{EventPhoneNumberDisconnected, true},
		{EventPhoneNumberReconnected, true},
		{EventAccountDisabled, true},
		{EventAccountRestricted, true},
		{EventAccountReinstated, true},
		{EventAccountViolation, true},
		{EventWorkflowExecutionHandoff, true},
		{EventWorkflowExecutionFailed, true},
		{EventProjectEvent, true},
		{"kapso_agent.run.completed", true},
		{"whatsapp.phone_number.quality_changed", true}, // unknown, not a number family
		{"something.new", true},
		{"", true},
		{EventUnknown, true},
		{EventMessageReceived, false},
		{EventMessageSent, false},
		{EventMessageDelivered, false},
		{EventMessageRead, false},
		{EventMessageFailed, false},
		{"whatsapp.message.edited", false}, // unknown, but a number family
		{EventConversationCreated, false},
		{EventConversationEnded, false},
		{EventConversationInactive, false},
		{EventContactIdentityChanged, false},
		{EventContactMarketingPreference, false},
		{"whatsapp.contact.blocked", false},
		{EventMetaBusinessAgentHandover, false},
		{"whatsapp.messages.received", true}, // not the whatsapp.message. family
	}
	for _, tt := range tests {
		if got := isProjectEvent(tt.name); got != tt.want {
			t.Errorf("IsProjectEvent(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDocumentedEvents(t *testing.T) {
	names := documentedEvents()
	if len(names) != 24 {
		t.Errorf("%d documented events, want 24", len(names))
	}
	seen := map[string]bool{}
	numberScope := 0
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
		if !isProjectEvent(n) {
			numberScope++
		}
	}
	if numberScope != 11 {
		t.Errorf("%d phone-number scope events, want 11", numberScope)
	}
	names[0] = "changed"
	if documentedEvents()[0] != EventMessageReceived {
		t.Error("DocumentedEvents shares its slice between calls")
	}
}

func TestEventFamilies(t *testing.T) {
	tests := []struct {
		name                                            string
		agent, message, conversation, account, workflow bool
		created, lifecycle                              bool
	}{
		{name: "kapso_agent.run.started", agent: true},
		{name: "kapso_agent.run.", agent: false},
		{name: "kapso_agent.runs.x"},
		{name: EventMessageFailed, message: true},
		{name: EventConversationInactive, conversation: true},
		{name: EventAccountViolation, account: true, lifecycle: true},
		{name: EventWorkflowExecutionFailed, workflow: true},
		{name: EventPhoneNumberCreated, created: true},
		{name: EventConfigCreated, created: true},
		{name: EventPhoneNumberDeleted, lifecycle: true},
		{name: EventPhoneNumberOffboarded, lifecycle: true},
		{name: EventPhoneNumberDisconnected, lifecycle: true},
		{name: EventPhoneNumberReconnected, lifecycle: true},
		{name: EventProjectEvent},
	}
	for _, tt := range tests {
		got := [...]bool{isKapsoAgentRun(tt.name), IsMessageEvent(tt.name), IsConversationEvent(tt.name),
			isAccountEvent(tt.name), isWorkflowEvent(tt.name), IsConnectionCreated(tt.name), IsPhoneNumberLifecycle(tt.name)}
		want := [...]bool{tt.agent, tt.message, tt.conversation, tt.account, tt.workflow, tt.created, tt.lifecycle}
		if got != want {
			t.Errorf("%q: agent, message, conversation, account, workflow, created, lifecycle = %v, want %v", tt.name, got, want)
		}
	}
}
