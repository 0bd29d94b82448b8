package kapsoapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

type wireSetupLink struct {
	ID                     flexString `json:"id"`
	Status                 string     `json:"status"`
	URL                    string     `json:"url"`
	CreatedAt              wireTime   `json:"created_at"`
	ExpiresAt              wireTime   `json:"expires_at"`
	SuccessRedirectURL     string     `json:"success_redirect_url"`
	FailureRedirectURL     string     `json:"failure_redirect_url"`
	AllowedConnectionTypes []string   `json:"allowed_connection_types"`
	ProvisionPhoneNumber   *bool      `json:"provision_phone_number"`
	WhatsAppSetupStatus    string     `json:"whatsapp_setup_status"`
	WhatsAppSetupError     looseText  `json:"whatsapp_setup_error"`
}

func (w wireSetupLink) link() (onboarding.SetupLink, error) {
	if w.ID == "" {
		return onboarding.SetupLink{}, errors.New("setup link without id")
	}
	return onboarding.SetupLink{
		ID: string(w.ID), Status: w.Status, URL: w.URL,
		CreatedAt: time.Time(w.CreatedAt), ExpiresAt: time.Time(w.ExpiresAt),
		SuccessRedirectURL: w.SuccessRedirectURL, FailureRedirectURL: w.FailureRedirectURL,
		AllowedConnectionTypes: w.AllowedConnectionTypes,
		ProvisionPhoneNumber:   w.ProvisionPhoneNumber != nil && *w.ProvisionPhoneNumber,
		WhatsAppSetupStatus:    w.WhatsAppSetupStatus, WhatsAppSetupError: string(w.WhatsAppSetupError),
	}, nil
}

// setupLinkBody is the setup_link object of a new link: o's fields that are set.
func setupLinkBody(o onboarding.SetupLinkOptions) map[string]any {
	m := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("success_redirect_url", o.SuccessRedirectURL)
	set("failure_redirect_url", o.FailureRedirectURL)
	set("phone_number_area_code", o.PhoneNumberAreaCode)
	set("reconnect_phone_number", o.ReconnectPhoneNumber)
	if len(o.AllowedConnectionTypes) > 0 {
		m["allowed_connection_types"] = o.AllowedConnectionTypes
	}
	if o.ProvisionPhoneNumber != nil {
		m["provision_phone_number"] = *o.ProvisionPhoneNumber
	}
	if len(o.PhoneNumberCountryISOs) > 0 {
		m["phone_number_country_isos"] = o.PhoneNumberCountryISOs
	}
	if o.Language != nil {
		if *o.Language == "" {
			m["language"] = nil
		} else {
			m["language"] = *o.Language
		}
	}
	if len(o.ThemeConfig) > 0 {
		m["theme_config"] = o.ThemeConfig
	}
	return m
}

// CreateSetupLink creates a link for the customer; Kapso revokes the
// customer's previous active link. Not retried after the request may have
// reached Kapso (5xx, timeouts): a repeat would revoke the link the first
// attempt made, so the outcome is left to the caller (listing the customer's
// links tells).
func (c *Client) CreateSetupLink(ctx context.Context, customerID string, o onboarding.SetupLinkOptions) (onboarding.SetupLink, error) {
	wrap := func(err error) error { return failed("create setup link for customer "+customerID, err) }
	id, err := pathID("customer id", customerID)
	if err != nil {
		return onboarding.SetupLink{}, wrap(err)
	}
	var w wireSetupLink
	_, err = c.do(ctx, call{op: "create setup link", method: http.MethodPost, path: "/customers/" + id + "/setup_links",
		body: map[string]any{"setup_link": setupLinkBody(o)}, policy: retryUnsent}, &w)
	if err != nil {
		return onboarding.SetupLink{}, wrap(err)
	}
	l, err := w.link()
	if err != nil {
		return onboarding.SetupLink{}, wrap(err)
	}
	if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return onboarding.SetupLink{}, wrap(fmt.Errorf("setup link %s has no usable url %q", l.ID, l.URL))
	}
	return l, nil
}

// ListSetupLinks lists the customer's links with that status ("" for all),
// following every page.
func (c *Client) ListSetupLinks(ctx context.Context, customerID, status string) ([]onboarding.SetupLink, error) {
	wrap := func(err error) error { return failed("list setup links of customer "+customerID, err) }
	id, err := pathID("customer id", customerID)
	if err != nil {
		return nil, wrap(err)
	}
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	ws, err := listPages[wireSetupLink](ctx, c, call{op: "list setup links", method: http.MethodGet,
		path: "/customers/" + id + "/setup_links", query: q, policy: retrySafe})
	if err != nil {
		return nil, wrap(err)
	}
	links, err := convertAll(ws, wireSetupLink.link)
	if err != nil {
		return nil, wrap(err)
	}
	return links, nil
}

// RevokeSetupLink revokes a link. Revoking is idempotent, so it is retried
// like a read.
func (c *Client) RevokeSetupLink(ctx context.Context, customerID, setupLinkID string) (onboarding.SetupLink, error) {
	wrap := func(err error) error {
		return failed(fmt.Sprintf("revoke setup link %s of customer %s", setupLinkID, customerID), err)
	}
	cid, err := pathID("customer id", customerID)
	if err != nil {
		return onboarding.SetupLink{}, wrap(err)
	}
	lid, err := pathID("setup link id", setupLinkID)
	if err != nil {
		return onboarding.SetupLink{}, wrap(err)
	}
	var w wireSetupLink
	_, err = c.do(ctx, call{op: "revoke setup link", method: http.MethodPatch, path: "/customers/" + cid + "/setup_links/" + lid,
		body: map[string]any{"setup_link": map[string]string{"status": "revoked"}}, policy: retrySafe}, &w)
	if err != nil {
		return onboarding.SetupLink{}, wrap(err)
	}
	l, err := w.link()
	if err != nil {
		return onboarding.SetupLink{}, wrap(err)
	}
	if l.ID != setupLinkID {
		return onboarding.SetupLink{}, wrap(fmt.Errorf("answer is about setup link %s", l.ID))
	}
	return l, nil
}
