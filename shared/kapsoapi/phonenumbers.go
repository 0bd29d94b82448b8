package kapsoapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

type wirePhoneNumber struct {
	PhoneNumberID      flexString `json:"phone_number_id"`
	BusinessAccountID  flexString `json:"business_account_id"`
	DisplayPhoneNumber string     `json:"display_phone_number"`
	CustomerID         flexString `json:"customer_id"`
	Status             string     `json:"status"`
	QualityRating      string     `json:"quality_rating"`
	NameStatus         string     `json:"name_status"`
	VerifiedName       string     `json:"verified_name"`
	IsCoexistence      bool       `json:"is_coexistence"`
	ThroughputTier     string     `json:"throughput_tier"`
	// MessagingLimit is a number on Kapso's get page and a string on its
	// list page.
	MessagingLimit flexString `json:"whatsapp_business_manager_messaging_limit"`
}

func (w wirePhoneNumber) number() (onboarding.KapsoNumber, error) {
	if w.PhoneNumberID == "" {
		return onboarding.KapsoNumber{}, errors.New("phone number without phone_number_id")
	}
	return onboarding.KapsoNumber{
		PhoneNumberID: string(w.PhoneNumberID), BusinessAccountID: string(w.BusinessAccountID),
		DisplayPhoneNumber: w.DisplayPhoneNumber, CustomerID: string(w.CustomerID),
		Status: w.Status, QualityRating: w.QualityRating, NameStatus: w.NameStatus,
		VerifiedName: w.VerifiedName, IsCoexistence: w.IsCoexistence,
		MessagingLimitTier: messagingLimitTier(string(w.MessagingLimit)), Throughput: w.ThroughputTier,
	}, nil
}

// messagingLimitTiers names Meta's messaging limit tiers by the number of
// business-initiated conversations a day each allows.
var messagingLimitTiers = map[string]string{"50": "TIER_50", "250": "TIER_250", "1000": "TIER_1K",
	"2000": "TIER_2K", "10000": "TIER_10K", "100000": "TIER_100K", "UNLIMITED": "TIER_UNLIMITED"}

// messagingLimitTier is Kapso's whatsapp_business_manager_messaging_limit
// as Meta's tier: a count of a tier, or a tier's name; anything else is
// left for onboarding.NumberHealth.Clean to call unknown.
func messagingLimitTier(limit string) string {
	limit = strings.ToUpper(strings.TrimSpace(limit))
	if tier, ok := messagingLimitTiers[limit]; ok {
		return tier
	}
	return limit
}

// ListPhoneNumbers lists the customer's numbers ("" lists the whole
// project's), following every page. Numbers that name another customer are
// dropped, so a server that ignored the filter cannot mix tenants.
func (c *Client) ListPhoneNumbers(ctx context.Context, customerID string) ([]onboarding.KapsoNumber, error) {
	wrap := func(err error) error { return failed("list phone numbers of customer "+customerID, err) }
	q := url.Values{}
	if customerID != "" {
		q.Set("customer_id", customerID)
	}
	ws, err := listPages[wirePhoneNumber](ctx, c, call{op: "list phone numbers", method: http.MethodGet,
		path: "/whatsapp/phone_numbers", query: q, policy: retrySafe})
	if err != nil {
		return nil, wrap(err)
	}
	all, err := convertAll(ws, wirePhoneNumber.number)
	if err != nil {
		return nil, wrap(err)
	}
	nums := all[:0]
	for _, n := range all {
		if customerID != "" && n.CustomerID != "" && n.CustomerID != customerID {
			c.log.DebugContext(ctx, "kapso listed a number of another customer", "phone_number_id", n.PhoneNumberID)
			continue
		}
		nums = append(nums, n)
	}
	return nums, nil
}

// GetPhoneNumber returns one number by its Meta phone_number_id.
func (c *Client) GetPhoneNumber(ctx context.Context, phoneNumberID string) (onboarding.KapsoNumber, error) {
	wrap := func(err error) error { return failed("get phone number "+phoneNumberID, err) }
	id, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return onboarding.KapsoNumber{}, wrap(err)
	}
	var w wirePhoneNumber
	if _, err := c.do(ctx, call{op: "get phone number", method: http.MethodGet, path: "/whatsapp/phone_numbers/" + id,
		policy: retrySafe}, &w); err != nil {
		return onboarding.KapsoNumber{}, wrap(err)
	}
	n, err := w.number()
	if err != nil {
		return onboarding.KapsoNumber{}, wrap(err)
	}
	if n.PhoneNumberID != phoneNumberID {
		return onboarding.KapsoNumber{}, wrap(fmt.Errorf("answer is about phone number %s", n.PhoneNumberID))
	}
	return n, nil
}
