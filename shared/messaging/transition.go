package messaging

import "slices"

// Allows reports whether t moves a message out of the state s: an Outbox
// applies t only then, in the same write.
func (t Transition) Allows(s OutboundState) bool { return slices.Contains(t.From, s) }

// Apply is m after the transition t, whatever m's state (see Allows): in
// state t.To since t.At; a move to OutSending counts an attempt and
// records the claim, one to OutFailed why it failed, one to OutAccepted
// the WAMID Kapso answered.
func (t Transition) Apply(m OutboundMessage) OutboundMessage {
	switch t.To {
	case OutAccepted:
		m.WAMID = t.WAMID
	case OutSending:
		m.Attempts++
		m.Claim = t.Claim
	case OutFailed:
		m.Reason = t.Reason
		m.Error = nil
		if t.Error != nil {
			e := *t.Error
			m.Error = &e
		}
	}
	m.State, m.UpdatedAt = t.To, t.At.UTC()
	return m
}

// Created is m as an Outbox stores it when it creates it: queued, with no
// WAMID and no failure, whatever the caller set.
func (m OutboundMessage) Created() OutboundMessage {
	m.State, m.WAMID, m.Reason, m.Error = OutQueued, "", "", nil
	return m
}
