package onboarding

import (
	"slices"
	"time"
)

// NewestAttempt is the attempt that decides the tenant's status, or nil.
func (c Connection) NewestAttempt() *Attempt {
	if len(c.Attempts) == 0 {
		return nil
	}
	a := c.Attempts[len(c.Attempts)-1]
	return &a
}

// PhoneNumber finds a number by its phone_number_id.
func (c Connection) PhoneNumber(phoneNumberID string) (PhoneNumber, bool) {
	i := slices.IndexFunc(c.PhoneNumbers, func(n PhoneNumber) bool { return n.PhoneNumberID == phoneNumberID })
	if i < 0 {
		return PhoneNumber{}, false
	}
	return c.PhoneNumbers[i], true
}

// Attempt finds an attempt by its setup link id.
// ConnectedAccounts are the WhatsApp Business Accounts of the tenant's
// connected numbers, each once, in the order the numbers are stored.
func (c Connection) ConnectedAccounts() []string {
	var out []string
	for _, n := range c.PhoneNumbers {
		if n.Status == NumberStatusConnected && n.BusinessAccountID != "" && !slices.Contains(out, n.BusinessAccountID) {
			out = append(out, n.BusinessAccountID)
		}
	}
	return out
}

func (c Connection) Attempt(setupLinkID string) (Attempt, bool) {
	i := slices.IndexFunc(c.Attempts, func(a Attempt) bool { return a.SetupLinkID == setupLinkID })
	if i < 0 {
		return Attempt{}, false
	}
	return c.Attempts[i], true
}

// StatusAt is the tenant's status as seen at now: a link_active tenant whose
// link has passed its expires_at reads as expired before the LinkExpired
// fact is recorded, whatever the browser reported (a failure redirect is
// unsigned: it never becomes the outcome on its own). Derive itself never
// reads a clock.
func (c Connection) StatusAt(now time.Time) TenantStatus {
	newest := c.NewestAttempt()
	if c.Tenant.Status == TenantLinkActive && newest != nil &&
		!newest.ExpiresAt.IsZero() && !now.Before(newest.ExpiresAt) {
		return TenantExpired
	}
	return c.Tenant.Status
}

// SignupOutcome answers "did the customer finish Meta signup or abandon it?".
type SignupOutcome string

const (
	SignupNotStarted SignupOutcome = "not_started"
	// SignupInProgress: the newest link is open and nothing came back yet.
	SignupInProgress SignupOutcome = "in_progress"
	// SignupFinishedUnconfirmed: the browser came back with a number that no
	// webhook or API check has confirmed yet.
	SignupFinishedUnconfirmed SignupOutcome = "finished_unconfirmed"
	SignupCompleted           SignupOutcome = "completed"
	// SignupFailed: the signup failed and Kapso bears it out.
	SignupFailed SignupOutcome = "failed"
	// SignupFailedUnconfirmed: the browser came back through the failure
	// redirect, which nothing bears out; the link is still open.
	SignupFailedUnconfirmed SignupOutcome = "failed_unconfirmed"
	// SignupAbandoned: the link was closed (expired, revoked, replaced)
	// without anything coming back.
	SignupAbandoned SignupOutcome = "abandoned"
)

// SupportView is what a support person needs to answer a tenant's
// "is WhatsApp connected?" question, taken from the newest attempt and the
// number that is (or was last) connected.
type SupportView struct {
	TenantID               string
	TenantName             string
	KapsoCustomerID        string
	Status                 TenantStatus
	OfferedConnectionTypes []ConnectionType
	Signup                 SignupOutcome
	SetupLinkID            string
	// ErrorCode is the newest attempt's while it is failed, or open with a
	// failure the browser reported; ErrorReportedBy says who reported it.
	ErrorCode       string
	ErrorReportedBy FailureReporter
	// Failures is every failure of every attempt, oldest first.
	Failures            []Failure
	SuspiciousRedirects int
	PhoneNumberID       string
	BusinessAccountID   string
	DisplayPhoneNumber  string
	ConnectionType      ConnectionType
	// NumberStatus, StatusSince and StatusReason are the featured number's.
	NumberStatus      PhoneNumberStatus
	StatusSince       time.Time
	StatusReason      string
	NameStatus        string
	ReviewStatus      string
	Restricted        bool
	RestrictedReason  string
	RestrictedAt      time.Time
	WebhookRegistered bool
	ConfirmedBy       []string
	// ReconnectPhoneNumber is set when the tenant must redo signup with
	// reconnect_phone_number, to the number to pass.
	ReconnectPhoneNumber string
}

// Failure is one failure of an attempt: a failure redirect (reported by the
// browser) or Kapso's setup link reporting the signup failed.
type Failure struct {
	SetupLinkID string
	At          time.Time
	ErrorCode   string
	ReportedBy  FailureReporter
	// Late: the link had already closed; the failure changed nothing.
	Late bool
}

// Failures lists every failure of every attempt, oldest first.
func (c Connection) Failures() []Failure {
	var out []Failure
	for _, a := range c.Attempts {
		for _, e := range a.History {
			if e.Event == AttemptEventFailure || e.Event == AttemptEventSetupFailed {
				out = append(out, Failure{SetupLinkID: a.SetupLinkID, At: e.At, ErrorCode: e.ErrorCode,
					ReportedBy: e.ReportedBy, Late: e.Late})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Failure) int { return a.At.Compare(b.At) })
	return out
}

// Support builds the support view of a connection.
func (c Connection) Support() SupportView {
	v := SupportView{TenantID: c.Tenant.ID, TenantName: c.Tenant.Name, KapsoCustomerID: c.Tenant.KapsoCustomerID,
		Status: c.Tenant.Status, Signup: SignupNotStarted, Failures: c.Failures()}
	if a := c.NewestAttempt(); a != nil {
		v.SetupLinkID, v.OfferedConnectionTypes = a.SetupLinkID, a.AllowedConnectionTypes
		v.ErrorCode, v.ErrorReportedBy = a.ErrorCode, a.ErrorReportedBy
		v.Signup = signupOutcome(*a)
		for _, r := range a.Redirects {
			if r.Suspicious {
				v.SuspiciousRedirects++
			}
		}
	}
	if n, ok := c.featuredNumber(); ok {
		v.PhoneNumberID, v.BusinessAccountID, v.DisplayPhoneNumber = n.PhoneNumberID, n.BusinessAccountID, n.DisplayPhoneNumber
		v.ConnectionType, v.NameStatus, v.ReviewStatus = n.ConnectionType, n.NameStatus, n.ReviewStatus
		v.NumberStatus, v.StatusSince, v.StatusReason = n.Status, n.StatusSince, n.StatusReason
		v.Restricted, v.RestrictedReason, v.RestrictedAt = n.Restricted, n.RestrictedReason, n.RestrictedAt
		v.WebhookRegistered, v.ConfirmedBy = n.WebhookRegistered, n.ConfirmedBy
		if c.Tenant.Status == TenantReconnectRequired && n.Status == NumberStatusDisconnected {
			v.ReconnectPhoneNumber = n.DisplayPhoneNumber
		}
	}
	return v
}

// featuredNumber is the number the tenant's status is about (a disabled or
// restricted one), else a connected number, else the number whose status
// changed last; the latest change first among equals.
func (c Connection) featuredNumber() (PhoneNumber, bool) {
	rank := func(n PhoneNumber) int {
		switch {
		case c.Tenant.Status == TenantDisabled && n.Status == NumberStatusAccountDisabled,
			c.Tenant.Status == TenantRestricted && n.Status == NumberStatusConnected && n.Restricted:
			return 2
		case n.Status == NumberStatusConnected:
			return 1
		}
		return 0
	}
	var best PhoneNumber
	found := false
	for _, n := range c.PhoneNumbers {
		switch {
		case !found, rank(n) > rank(best), rank(n) == rank(best) && n.StatusSince.After(best.StatusSince):
			best, found = n, true
		}
	}
	return best, found
}

func signupOutcome(a Attempt) SignupOutcome {
	switch a.Status {
	case AttemptActive:
		if a.ErrorCode != "" {
			return SignupFailedUnconfirmed
		}
		return SignupInProgress
	case AttemptRedirectedSuccess:
		return SignupFinishedUnconfirmed
	case AttemptConfirmed:
		return SignupCompleted
	case AttemptFailed:
		return SignupFailed
	}
	return SignupAbandoned
}
