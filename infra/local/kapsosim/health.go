package kapsosim

import (
	"fmt"
	"net/http"
)

// A connected number's health, as Kapso's get-number answer shows it:
// quality_rating, name_status, verified_name, throughput_tier and
// whatsapp_business_manager_messaging_limit (a number on that page).
const (
	defaultQuality        = "GREEN"
	defaultNameStatus     = "APPROVED"
	defaultThroughput     = "STANDARD"
	defaultMessagingLimit = 1000 // Meta's TIER_1K
	maxHealthValueBytes   = 64
)

// NumberHealth changes a number's health; only the fields set change.
// MessagingLimit is what whatsapp_business_manager_messaging_limit answers:
// a number or a string, as Kapso's pages disagree.
type NumberHealth struct {
	QualityRating  string `json:"quality_rating,omitempty"`
	NameStatus     string `json:"name_status,omitempty"`
	VerifiedName   string `json:"verified_name,omitempty"`
	Throughput     string `json:"throughput,omitempty"`
	MessagingLimit any    `json:"messaging_limit,omitempty"`
}

// SetNumberHealth changes what the Platform API shows of the number's
// health. Kapso sends no webhook for it: kapso-bridge reads it.
func (s *Simulator) SetNumberHealth(phoneNumberID string, h NumberHealth) error {
	for _, v := range []string{h.QualityRating, h.NameStatus, h.VerifiedName, h.Throughput} {
		if len(v) > maxHealthValueBytes {
			return fmt.Errorf("set health of %s: %w: a value over %d bytes", phoneNumberID, ErrInvalid, maxHealthValueBytes)
		}
	}
	switch l := h.MessagingLimit.(type) {
	case nil, float64, int:
	case string:
		if len(l) > maxHealthValueBytes {
			return fmt.Errorf("set health of %s: %w: messaging_limit over %d bytes", phoneNumberID, ErrInvalid, maxHealthValueBytes)
		}
	default:
		return fmt.Errorf("set health of %s: %w: messaging_limit must be a number or a string", phoneNumberID, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.findNumber(phoneNumberID)
	if n == nil {
		return fmt.Errorf("set health of %s: %w", phoneNumberID, ErrNotFound)
	}
	for dst, v := range map[*string]string{&n.Quality: h.QualityRating, &n.NameStatus: h.NameStatus,
		&n.VerifiedName: h.VerifiedName, &n.Throughput: h.Throughput} {
		if v != "" {
			*dst = v
		}
	}
	if h.MessagingLimit != nil {
		n.MessagingLimit = h.MessagingLimit
	}
	return nil
}

// ctlNumberHealth: POST /_sim/numbers/{phone_number_id}/health with a
// NumberHealth body.
func (s *Simulator) ctlNumberHealth(w http.ResponseWriter, r *http.Request) {
	var h NumberHealth
	if !readJSON(w, r, &h) {
		return
	}
	if err := s.SetNumberHealth(r.PathValue("phone_number_id"), h); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.findNumber(r.PathValue("phone_number_id")).json())
}
