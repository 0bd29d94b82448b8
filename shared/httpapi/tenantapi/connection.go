package tenantapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// ConnectionView is the JSON answer of GET /v1/tenants/{tenant_id}/connection:
// the tenant's state and its whole history, for the SaaS app's support view.
type ConnectionView struct {
	TenantID        string                  `json:"tenant_id"`
	KapsoCustomerID string                  `json:"kapso_customer_id"`
	Status          onboarding.TenantStatus `json:"status"`
	ActiveSetupLink *AttemptView            `json:"active_setup_link"`
	Attempts        []AttemptView           `json:"attempts"`
	PhoneNumbers    []PhoneNumberView       `json:"phone_numbers"`
	Support         SupportView             `json:"support"`
	// Timeline is every applied fact, oldest first.
	Timeline []onboarding.TimelineEntry `json:"timeline"`
}

// AttemptView is one setup link and what came of it.
type AttemptView struct {
	SetupLinkID string                   `json:"setup_link_id"`
	Status      onboarding.AttemptStatus `json:"status"`
	URL         string                   `json:"url,omitempty"`
	CreatedAt   *time.Time               `json:"created_at"`
	ExpiresAt   *time.Time               `json:"expires_at"`
	Redirect    *RedirectView            `json:"redirect"`
	ErrorCode   string                   `json:"error_code"`
	ConfirmedBy []string                 `json:"confirmed_by"`
	ConfirmedAt *time.Time               `json:"confirmed_at"`
}

// RedirectView is the browser redirect that decided an attempt's status.
type RedirectView struct {
	Kind          onboarding.RedirectKind `json:"kind"`
	At            time.Time               `json:"at"`
	PhoneNumberID string                  `json:"phone_number_id"`
	ErrorCode     string                  `json:"error_code"`
	Suspicious    bool                    `json:"suspicious"`
	Reason        string                  `json:"reason"`
}

// PhoneNumberView is one connected (or once connected) number.
type PhoneNumberView struct {
	PhoneNumberID      string                       `json:"phone_number_id"`
	BusinessAccountID  string                       `json:"business_account_id"`
	DisplayPhoneNumber string                       `json:"display_phone_number"`
	ConnectionType     onboarding.ConnectionType    `json:"connection_type"`
	Status             onboarding.PhoneNumberStatus `json:"status"`
	NameStatus         string                       `json:"name_status"`
	ReviewStatus       string                       `json:"review_status"`
	WebhookRegistered  bool                         `json:"webhook_registered"`
	ConnectedAt        *time.Time                   `json:"connected_at"`
}

// SupportView is onboarding.SupportView in snake_case.
type SupportView struct {
	Status                 onboarding.TenantStatus     `json:"status"`
	Signup                 onboarding.SignupOutcome    `json:"signup"`
	OfferedConnectionTypes []onboarding.ConnectionType `json:"offered_connection_types"`
	SetupLinkID            string                      `json:"setup_link_id"`
	ErrorCode              string                      `json:"error_code"`
	SuspiciousRedirects    int                         `json:"suspicious_redirects"`
	PhoneNumberID          string                      `json:"phone_number_id"`
	BusinessAccountID      string                      `json:"business_account_id"`
	DisplayPhoneNumber     string                      `json:"display_phone_number"`
	ConnectionType         onboarding.ConnectionType   `json:"connection_type"`
	NameStatus             string                      `json:"name_status"`
	ReviewStatus           string                      `json:"review_status"`
	Restricted             bool                        `json:"restricted"`
	WebhookRegistered      bool                        `json:"webhook_registered"`
	ConfirmedBy            []string                    `json:"confirmed_by"`
	ReconnectPhoneNumber   string                      `json:"reconnect_phone_number"`
}

func (a *API) connection(ctx context.Context, w http.ResponseWriter, _ *http.Request, tenantID string, _ *slog.Logger) error {
	conn, found, err := a.Store.Load(ctx, tenantID)
	if err != nil {
		return storeError(err, "load connection")
	}
	if !found {
		return errs.E(errs.NotFound, "unknown tenant", nil)
	}
	httpapi.WriteJSON(w, http.StatusOK, newConnectionView(conn, a.now()))
	return nil
}

// newConnectionView renders a connection as seen at now. The active setup
// link is the tenant's usable link whatever the status says: a connected
// tenant may have opened a newer link to add or reconnect a number.
func newConnectionView(c onboarding.Connection, now time.Time) ConnectionView {
	status := c.StatusAt(now)
	v := ConnectionView{TenantID: c.Tenant.ID, KapsoCustomerID: c.Tenant.KapsoCustomerID, Status: status,
		Attempts: []AttemptView{}, PhoneNumbers: []PhoneNumberView{}, Timeline: []onboarding.TimelineEntry{}}
	for _, at := range c.Attempts {
		av := attemptView(at)
		v.Attempts = append(v.Attempts, av)
		if at.SetupLinkID == c.Tenant.ActiveSetupLinkID && (at.ExpiresAt.IsZero() || now.Before(at.ExpiresAt)) {
			v.ActiveSetupLink = &av
		}
	}
	for _, n := range c.PhoneNumbers {
		v.PhoneNumbers = append(v.PhoneNumbers, PhoneNumberView{PhoneNumberID: n.PhoneNumberID,
			BusinessAccountID: n.BusinessAccountID, DisplayPhoneNumber: n.DisplayPhoneNumber,
			ConnectionType: n.ConnectionType, Status: n.Status, NameStatus: n.NameStatus, ReviewStatus: n.ReviewStatus,
			WebhookRegistered: n.WebhookRegistered, ConnectedAt: timeOrNil(n.ConnectedAt)})
	}
	s := c.Support()
	v.Support = SupportView{Status: status, Signup: s.Signup, OfferedConnectionTypes: s.OfferedConnectionTypes,
		SetupLinkID: s.SetupLinkID, ErrorCode: s.ErrorCode, SuspiciousRedirects: s.SuspiciousRedirects,
		PhoneNumberID: s.PhoneNumberID, BusinessAccountID: s.BusinessAccountID, DisplayPhoneNumber: s.DisplayPhoneNumber,
		ConnectionType: s.ConnectionType, NameStatus: s.NameStatus, ReviewStatus: s.ReviewStatus,
		Restricted: s.Restricted, WebhookRegistered: s.WebhookRegistered, ConfirmedBy: s.ConfirmedBy,
		ReconnectPhoneNumber: s.ReconnectPhoneNumber}
	v.Timeline = append(v.Timeline, c.Timeline...)
	return v
}

func attemptView(a onboarding.Attempt) AttemptView {
	v := AttemptView{SetupLinkID: a.SetupLinkID, Status: a.Status, URL: a.URL, CreatedAt: timeOrNil(a.CreatedAt),
		ExpiresAt: timeOrNil(a.ExpiresAt), ErrorCode: a.ErrorCode, ConfirmedBy: a.ConfirmedBy,
		ConfirmedAt: timeOrNil(a.ConfirmedAt)}
	if r := a.Redirect; r != nil {
		v.Redirect = &RedirectView{Kind: r.Kind, At: r.At, PhoneNumberID: r.PhoneNumberID, ErrorCode: r.ErrorCode,
			Suspicious: r.Suspicious, Reason: r.SuspiciousReason}
	}
	if v.ConfirmedBy == nil {
		v.ConfirmedBy = []string{}
	}
	return v
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
