package kapsosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// numberChanges maps a change Kapso can make to a number to the project
// webhook event that reports it and the number's state afterwards: its
// status, or gone (the Platform API answers 404 for it).
var numberChanges = map[string]struct {
	event, status string
	gone          bool
}{
	"disconnected": {event: "whatsapp.phone_number.disconnected", status: "DISCONNECTED"},
	"deleted":      {event: "whatsapp.phone_number.deleted", gone: true},
	"offboarded":   {event: "whatsapp.phone_number.offboarded", gone: true},
	"reconnected":  {event: "whatsapp.phone_number.reconnected", status: "CONNECTED"},
	"restricted":   {event: "whatsapp.account.restricted", status: "RESTRICTED"},
	"disabled":     {event: "whatsapp.account.disabled", status: "BANNED"},
	"reinstated":   {event: "whatsapp.account.reinstated", status: "CONNECTED"},
}

// NumberChanges lists the changes ChangeNumber accepts.
func NumberChanges() []string {
	out := make([]string, 0, len(numberChanges))
	for c := range numberChanges {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// ChangeNumber makes Kapso's state of the number what change says (a
// disconnection, a deletion, an account restriction…), so the Platform API
// shows it, then sends the project webhook that reports it, with reason.
// It returns the event sent and its idempotency key.
func (s *Simulator) ChangeNumber(phoneNumberID, change, reason string) (string, string, error) {
	c, ok := numberChanges[change]
	if !ok {
		return "", "", fmt.Errorf("change number: %w: change must be one of %v", ErrInvalid, NumberChanges())
	}
	s.mu.Lock()
	n := s.findNumber(phoneNumberID)
	if n == nil {
		s.mu.Unlock()
		return "", "", fmt.Errorf("change number %s: %w", phoneNumberID, ErrNotFound)
	}
	payload := map[string]any{"phone_number_id": n.PhoneNumberID, "business_account_id": n.WABA,
		"customer": map[string]string{"id": n.CustomerID}}
	if reason != "" {
		payload["reason"] = reason
	}
	if c.gone {
		s.numbers = slices.DeleteFunc(s.numbers, func(m *number) bool { return m == n })
	} else {
		n.Status = c.status
	}
	s.mu.Unlock()
	body, err := json.Marshal(payload)
	if err != nil {
		return "", "", fmt.Errorf("change number %s: %w", phoneNumberID, err)
	}
	key, err := s.SendProjectEvent(c.event, body)
	return c.event, key, err
}

func (s *Simulator) ctlChangeNumber(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Change string `json:"change"`
		Reason string `json:"reason"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	event, key, err := s.ChangeNumber(r.PathValue("phone_number_id"), body.Change, body.Reason)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"event": event, "key": key})
}
