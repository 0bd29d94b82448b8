package messaging

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// IdentityChange says a person on a number now has another BSUID.
type IdentityChange struct {
	PhoneNumberID string
	Previous      Person // only BSUID and ParentBSUID are set
	Current       Person
	At            time.Time // zero when the event gave no time
}

// FromKapsoIdentityChange normalises whatsapp.contact.identity_changed.
func FromKapsoIdentityChange(ev kapso.ContactIdentityChanged) (IdentityChange, error) {
	c := IdentityChange{
		PhoneNumberID: ev.PhoneNumberID,
		Previous:      Person{BSUID: ev.Previous.BusinessScopedUserID, ParentBSUID: ev.Previous.ParentBusinessScopedUserID},
		Current:       kapsoContact(ev.Contact),
	}
	return c, c.check("kapso identity change")
}

// IdentityChangeOf reads the identity change a Meta system message
// announces (user_changed_user_id, or user_changed_number, which also gives
// the person a new BSUID); ok is false for any other message or when the
// message does not name both BSUIDs.
func IdentityChangeOf(m Message, ev meta.MessageEvent) (IdentityChange, bool) {
	s := ev.Message.System
	if m.Type != "system" || s == nil || (s.Type != "user_changed_user_id" && s.Type != "user_changed_number") {
		return IdentityChange{}, false
	}
	c := IdentityChange{
		PhoneNumberID: m.PhoneNumberID,
		Previous:      Person{BSUID: s.PreviousUserID, ParentBSUID: s.PreviousParentUserID},
		Current: Person{
			BSUID:       first(s.UserID, ev.Message.FromUserID),
			ParentBSUID: first(s.ParentUserID, ev.Message.FromParentUserID),
			Phone:       phone(first(s.NewWaID, s.WaID)),
		},
		At: m.Timestamp,
	}
	if c.check("") != nil {
		return IdentityChange{}, false
	}
	return c, true
}

// FromMetaUserIDUpdate reads the changes of a user_id_update field, whose
// value lists {wa_id, user_id, previous_user_id, parent_user_id,
// previous_parent_user_id, timestamp} objects under "user_id_update" (or is
// one such object). number is the change's phone number.
func FromMetaUserIDUpdate(value []byte, number string) ([]IdentityChange, error) {
	type update struct {
		WaID                 string `json:"wa_id"`
		UserID               string `json:"user_id"`
		ParentUserID         string `json:"parent_user_id"`
		PreviousUserID       string `json:"previous_user_id"`
		PreviousParentUserID string `json:"previous_parent_user_id"`
		Timestamp            string `json:"timestamp"`
	}
	var v struct {
		update
		Updates []update `json:"user_id_update"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return nil, errs.E(errs.Invalid, "decode user_id_update", err)
	}
	if len(v.Updates) == 0 {
		v.Updates = []update{v.update}
	}
	out := make([]IdentityChange, 0, len(v.Updates))
	for i, u := range v.Updates {
		c := IdentityChange{
			PhoneNumberID: number,
			Previous:      Person{BSUID: u.PreviousUserID, ParentBSUID: u.PreviousParentUserID},
			Current:       Person{BSUID: u.UserID, ParentBSUID: u.ParentUserID, Phone: phone(u.WaID)},
		}
		if u.Timestamp != "" {
			at, err := unixTime(u.Timestamp)
			if err != nil {
				return nil, errs.E(errs.Invalid, fmt.Sprintf("user_id_update %d: bad timestamp", i), err)
			}
			c.At = at
		}
		if err := c.check(fmt.Sprintf("user_id_update %d", i)); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (c IdentityChange) check(what string) error {
	switch {
	case c.Previous.BSUID == "" || c.Current.BSUID == "":
		return errs.E(errs.Invalid, what+": both the previous and the new BSUID are needed", nil)
	case !kapso.IsBSUID(c.Previous.BSUID) || !kapso.IsBSUID(c.Current.BSUID):
		return errs.E(errs.Invalid, what+": not a BSUID", nil)
	}
	if err := boundIdentity(c); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// MarketingChange is a person's new marketing preference on a number.
type MarketingChange struct {
	PhoneNumberID string
	Person        Person
	Preference    MarketingPreference
}

// FromKapsoMarketingPreference normalises
// whatsapp.contact.marketing_preference_changed.
func FromKapsoMarketingPreference(ev kapso.MarketingPreferenceChanged) (MarketingChange, error) {
	p := ev.MarketingPreference
	c := MarketingChange{
		PhoneNumberID: ev.PhoneNumberID,
		Person:        kapsoContact(ev.Contact),
		Preference:    MarketingPreference{Status: p.Status, Sequence: p.Sequence},
	}
	if c.Person.Key() == "" {
		return MarketingChange{}, errs.E(errs.Invalid, "marketing preference of nobody", nil)
	}
	if p.Status == "" {
		return MarketingChange{}, errs.E(errs.Invalid, "marketing preference without status", nil)
	}
	if p.OccurredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, p.OccurredAt)
		if err != nil {
			return MarketingChange{}, errs.E(errs.Invalid, "marketing preference: bad occurred_at", err)
		}
		c.Preference.OccurredAt = t.UTC()
	}
	if err := boundMarketing(c); err != nil {
		return MarketingChange{}, fmt.Errorf("marketing preference: %w", err)
	}
	return c, nil
}

func kapsoContact(c kapso.Contact) Person {
	return Person{
		BSUID:       c.BusinessScopedUserID,
		ParentBSUID: c.ParentBusinessScopedUserID,
		Username:    c.Username,
		Phone:       phone(c.WaID),
		Name:        c.ProfileName,
	}
}
