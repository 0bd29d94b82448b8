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
// Every error code and status reason documented in onboarding.ErrorCodes
// comes with its meaning and next step.
type ConnectionView struct {
	TenantID        string                  `json:"tenant_id"`
	TenantName      string                  `json:"tenant_name"`
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
	// CreatedBy is the name of the API token that asked for the link.
	CreatedBy string        `json:"created_by,omitempty"`
	ExpiresAt *time.Time    `json:"expires_at"`
	Redirect  *RedirectView `json:"redirect"`
	// ErrorCode is the latest failure's while the attempt is failed, or
	// active with a failure only the browser reported; ErrorReportedBy says
	// who reported it. Its earlier failures, and those of an attempt that
	// then succeeded, are in History.
	ErrorCode       string                     `json:"error_code"`
	ErrorReportedBy onboarding.FailureReporter `json:"error_reported_by"`
	ConfirmedBy     []string                   `json:"confirmed_by"`
	ConfirmedAt     *time.Time                 `json:"confirmed_at"`
	// ClosedAt and SupersededBy say when and by which newer link the
	// attempt was closed, if it was.
	ClosedAt     *time.Time `json:"closed_at"`
	SupersededBy string     `json:"superseded_by"`
	// History is everything that happened to the link, oldest first.
	History []AttemptEventView `json:"history"`
}

// AttemptEventView is one step of an attempt's history; a failure carries
// its code's meaning and next step.
type AttemptEventView struct {
	At            time.Time                   `json:"at"`
	Event         onboarding.AttemptEventKind `json:"event"`
	ErrorCode     string                      `json:"error_code,omitempty"`
	ReportedBy    onboarding.FailureReporter  `json:"reported_by,omitempty"`
	Meaning       string                      `json:"meaning,omitempty"`
	NextStep      string                      `json:"next_step,omitempty"`
	PhoneNumberID string                      `json:"phone_number_id,omitempty"`
	Reason        string                      `json:"reason,omitempty"`
	SupersededBy  string                      `json:"superseded_by,omitempty"`
	// Late: the redirect came after the link had closed and changed nothing.
	Late bool `json:"late,omitempty"`
}

// RedirectView is the browser redirect that decided an attempt's status.
// A redirect is unsigned: it is always the browser's report.
type RedirectView struct {
	Kind          onboarding.RedirectKind    `json:"kind"`
	At            time.Time                  `json:"at"`
	PhoneNumberID string                     `json:"phone_number_id"`
	ErrorCode     string                     `json:"error_code"`
	ReportedBy    onboarding.FailureReporter `json:"reported_by"`
	Suspicious    bool                       `json:"suspicious"`
	Reason        string                     `json:"reason"`
	Late          bool                       `json:"late"`
}

// PhoneNumberView is one connected (or once connected) number. A status or
// restriction reason that is a documented code comes with its meaning and
// next step.
type PhoneNumberView struct {
	PhoneNumberID      string                       `json:"phone_number_id"`
	BusinessAccountID  string                       `json:"business_account_id"`
	DisplayPhoneNumber string                       `json:"display_phone_number"`
	ConnectionType     onboarding.ConnectionType    `json:"connection_type"`
	Status             onboarding.PhoneNumberStatus `json:"status"`
	StatusSince        *time.Time                   `json:"status_since"`
	StatusReason       string                       `json:"status_reason"`
	StatusMeaning      string                       `json:"status_reason_meaning,omitempty"`
	StatusNextStep     string                       `json:"status_next_step,omitempty"`
	NameStatus         string                       `json:"name_status"`
	NameStatusSince    *time.Time                   `json:"name_status_since"`
	ReviewStatus       string                       `json:"review_status"`
	ReviewStatusSince  *time.Time                   `json:"review_status_since"`
	Restricted         bool                         `json:"restricted"`
	RestrictedReason   string                       `json:"restricted_reason"`
	RestrictedMeaning  string                       `json:"restricted_reason_meaning,omitempty"`
	RestrictedNextStep string                       `json:"restricted_next_step,omitempty"`
	RestrictedAt       *time.Time                   `json:"restricted_at"`
	WebhookRegistered  bool                         `json:"webhook_registered"`
	ConnectedAt        *time.Time                   `json:"connected_at"`
	// The number's health as the reconciler last read it at HealthReadAt
	// (name_status above is part of it); empty, and null, until first read.
	QualityRating      string     `json:"quality_rating"`
	MessagingLimitTier string     `json:"messaging_limit_tier"`
	VerifiedName       string     `json:"verified_name"`
	Throughput         string     `json:"throughput"`
	HealthReadAt       *time.Time `json:"health_read_at"`
}

// FailureView is one failure of an attempt, explained, with who reported
// it: the browser (the unsigned failure redirect) or Kapso.
type FailureView struct {
	SetupLinkID string                     `json:"setup_link_id"`
	At          time.Time                  `json:"at"`
	ErrorCode   string                     `json:"error_code"`
	ReportedBy  onboarding.FailureReporter `json:"reported_by"`
	Meaning     string                     `json:"meaning"`
	NextStep    string                     `json:"next_step"`
	// Late: the link had already closed; the failure changed nothing.
	Late bool `json:"late"`
}

// SupportView is onboarding.SupportView in snake_case, with every code
// explained.
type SupportView struct {
	TenantName             string                      `json:"tenant_name"`
	Status                 onboarding.TenantStatus     `json:"status"`
	Signup                 onboarding.SignupOutcome    `json:"signup"`
	OfferedConnectionTypes []onboarding.ConnectionType `json:"offered_connection_types"`
	SetupLinkID            string                      `json:"setup_link_id"`
	// ErrorCode is the newest attempt's while it is failed, or open with a
	// failure only the browser reported, with its meaning, next step and
	// who reported it.
	ErrorCode       string                     `json:"error_code"`
	ErrorReportedBy onboarding.FailureReporter `json:"error_reported_by"`
	ErrorMeaning    string                     `json:"error_meaning,omitempty"`
	ErrorNextStep   string                     `json:"error_next_step,omitempty"`
	// Failures is every failure of every attempt, oldest first.
	Failures             []FailureView                `json:"failures"`
	SuspiciousRedirects  int                          `json:"suspicious_redirects"`
	PhoneNumberID        string                       `json:"phone_number_id"`
	BusinessAccountID    string                       `json:"business_account_id"`
	DisplayPhoneNumber   string                       `json:"display_phone_number"`
	ConnectionType       onboarding.ConnectionType    `json:"connection_type"`
	NumberStatus         onboarding.PhoneNumberStatus `json:"number_status"`
	StatusSince          *time.Time                   `json:"status_since"`
	StatusReason         string                       `json:"status_reason"`
	StatusMeaning        string                       `json:"status_reason_meaning,omitempty"`
	StatusNextStep       string                       `json:"status_next_step,omitempty"`
	NameStatus           string                       `json:"name_status"`
	ReviewStatus         string                       `json:"review_status"`
	Restricted           bool                         `json:"restricted"`
	RestrictedReason     string                       `json:"restricted_reason"`
	RestrictedAt         *time.Time                   `json:"restricted_at"`
	WebhookRegistered    bool                         `json:"webhook_registered"`
	ConfirmedBy          []string                     `json:"confirmed_by"`
	ReconnectPhoneNumber string                       `json:"reconnect_phone_number"`
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
	v := ConnectionView{TenantID: c.Tenant.ID, TenantName: c.Tenant.Name, KapsoCustomerID: c.Tenant.KapsoCustomerID,
		Status: status, Attempts: []AttemptView{}, PhoneNumbers: []PhoneNumberView{}, Timeline: []onboarding.TimelineEntry{}}
	for _, at := range c.Attempts {
		av := attemptView(at)
		v.Attempts = append(v.Attempts, av)
		if at.SetupLinkID == c.Tenant.ActiveSetupLinkID && (at.ExpiresAt.IsZero() || now.Before(at.ExpiresAt)) {
			v.ActiveSetupLink = &av
		}
	}
	for _, n := range c.PhoneNumbers {
		pv := PhoneNumberView{PhoneNumberID: n.PhoneNumberID, BusinessAccountID: n.BusinessAccountID,
			DisplayPhoneNumber: n.DisplayPhoneNumber, ConnectionType: n.ConnectionType, Status: n.Status,
			StatusSince: timeOrNil(n.StatusSince), StatusReason: n.StatusReason, NameStatus: n.NameStatus,
			NameStatusSince: timeOrNil(n.NameStatusSince), ReviewStatus: n.ReviewStatus,
			ReviewStatusSince: timeOrNil(n.ReviewStatusSince), Restricted: n.Restricted,
			RestrictedReason: n.RestrictedReason, RestrictedAt: timeOrNil(n.RestrictedAt),
			WebhookRegistered: n.WebhookRegistered, ConnectedAt: timeOrNil(n.ConnectedAt)}
		pv.StatusMeaning, pv.StatusNextStep = explainReason(n.StatusReason)
		pv.RestrictedMeaning, pv.RestrictedNextStep = explainReason(n.RestrictedReason)
		if h, ok := n.Health(); ok {
			pv.QualityRating, pv.MessagingLimitTier, pv.VerifiedName = h.QualityRating, h.MessagingLimitTier, h.VerifiedName
			pv.NameStatus, pv.Throughput, pv.HealthReadAt = h.NameStatus, h.Throughput, timeOrNil(h.ReadAt)
		}
		v.PhoneNumbers = append(v.PhoneNumbers, pv)
	}
	s := c.Support()
	v.Support = SupportView{TenantName: s.TenantName, Status: status, Signup: s.Signup,
		OfferedConnectionTypes: s.OfferedConnectionTypes, SetupLinkID: s.SetupLinkID, ErrorCode: s.ErrorCode,
		ErrorReportedBy: s.ErrorReportedBy,
		Failures:        []FailureView{}, SuspiciousRedirects: s.SuspiciousRedirects, PhoneNumberID: s.PhoneNumberID,
		BusinessAccountID: s.BusinessAccountID, DisplayPhoneNumber: s.DisplayPhoneNumber,
		ConnectionType: s.ConnectionType, NumberStatus: s.NumberStatus, StatusSince: timeOrNil(s.StatusSince),
		StatusReason: s.StatusReason, NameStatus: s.NameStatus, ReviewStatus: s.ReviewStatus,
		Restricted: s.Restricted, RestrictedReason: s.RestrictedReason, RestrictedAt: timeOrNil(s.RestrictedAt),
		WebhookRegistered: s.WebhookRegistered, ConfirmedBy: s.ConfirmedBy, ReconnectPhoneNumber: s.ReconnectPhoneNumber}
	if s.ErrorCode != "" {
		e := onboarding.DescribeError(s.ErrorCode)
		v.Support.ErrorMeaning, v.Support.ErrorNextStep = e.Meaning, e.NextStep
	}
	v.Support.StatusMeaning, v.Support.StatusNextStep = explainReason(s.StatusReason)
	for _, f := range s.Failures {
		e := onboarding.DescribeError(f.ErrorCode)
		v.Support.Failures = append(v.Support.Failures, FailureView{SetupLinkID: f.SetupLinkID, At: f.At.UTC(),
			ErrorCode: f.ErrorCode, ReportedBy: f.ReportedBy, Meaning: e.Meaning, NextStep: e.NextStep, Late: f.Late})
	}
	v.Timeline = append(v.Timeline, c.Timeline...)
	return v
}

// explainReason gives a status reason's meaning and next step when it is a
// documented code; free text (a reconciler's finding) speaks for itself.
func explainReason(reason string) (meaning, nextStep string) {
	if e, ok := onboarding.KnownError(reason); ok {
		return e.Meaning, e.NextStep
	}
	return "", ""
}

func attemptView(a onboarding.Attempt) AttemptView {
	v := AttemptView{SetupLinkID: a.SetupLinkID, Status: a.Status, URL: a.URL, CreatedAt: timeOrNil(a.CreatedAt),
		ExpiresAt: timeOrNil(a.ExpiresAt), ErrorCode: a.ErrorCode, ErrorReportedBy: a.ErrorReportedBy, ConfirmedBy: a.ConfirmedBy,
		ConfirmedAt: timeOrNil(a.ConfirmedAt), ClosedAt: timeOrNil(a.ClosedAt), SupersededBy: a.SupersededBy,
		History: make([]AttemptEventView, 0, len(a.History)), CreatedBy: a.CreatedBy}
	if r := a.Redirect; r != nil {
		v.Redirect = &RedirectView{Kind: r.Kind, At: r.At, PhoneNumberID: r.PhoneNumberID, ErrorCode: r.ErrorCode,
			ReportedBy: onboarding.ReportedByBrowser, Suspicious: r.Suspicious, Reason: r.SuspiciousReason, Late: r.Late}
	}
	if v.ConfirmedBy == nil {
		v.ConfirmedBy = []string{}
	}
	for _, e := range a.History {
		ev := AttemptEventView{At: e.At.UTC(), Event: e.Event, ErrorCode: e.ErrorCode, ReportedBy: e.ReportedBy,
			PhoneNumberID: e.PhoneNumberID, Reason: e.Reason, SupersededBy: e.SupersededBy, Late: e.Late}
		if e.Event == onboarding.AttemptEventFailure || e.Event == onboarding.AttemptEventSetupFailed {
			d := onboarding.DescribeError(e.ErrorCode)
			ev.Meaning, ev.NextStep = d.Meaning, d.NextStep
		}
		v.History = append(v.History, ev)
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
