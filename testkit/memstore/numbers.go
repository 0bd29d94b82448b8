package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Numbers is the in-memory onboarding.NumberStore (twin of dynamo.Numbers).
type Numbers struct {
	Now func() time.Time

	mu      sync.Mutex
	numbers map[string]*number
}

type number struct {
	onboarding.Number
	// missingSince is when the number was last listed as missing its
	// webhook; zero while it is not listed.
	missingSince time.Time
	// offboarding: its tenant is being offboarded.
	offboarding bool
}

func (s *Numbers) lock() func() {
	s.mu.Lock()
	if s.numbers == nil {
		s.numbers = map[string]*number{}
	}
	return s.mu.Unlock
}

// get returns the number's record, creating an empty one.
func (s *Numbers) get(phoneNumberID string) *number {
	n, ok := s.numbers[phoneNumberID]
	if !ok {
		n = &number{Number: onboarding.Number{PhoneNumberID: phoneNumberID}}
		s.numbers[phoneNumberID] = n
	}
	return n
}

// AddNumber implements onboarding.NumberStore.
func (s *Numbers) AddNumber(_ context.Context, tenantID, phoneNumberID string) error {
	defer s.lock()()
	n := s.get(phoneNumberID)
	n.TenantID, n.offboarding = tenantID, false
	if !n.WebhookRecorded {
		n.missingSince = now(s.Now)
	}
	return nil
}

// TenantOfPhoneNumber implements onboarding.NumberStore.
func (s *Numbers) TenantOfPhoneNumber(_ context.Context, phoneNumberID string) (string, bool, error) {
	defer s.lock()()
	n, ok := s.numbers[phoneNumberID]
	switch {
	case ok && n.offboarding:
		return "", false, fmt.Errorf("%s: %w", phoneNumberID, onboarding.ErrNumberOffboarded)
	case ok && n.TenantID != "":
		return n.TenantID, true, nil
	}
	return "", false, nil
}

// OffboardNumber implements onboarding.NumberStore.
func (s *Numbers) OffboardNumber(_ context.Context, phoneNumberID, tenantID string) error {
	defer s.lock()()
	if n, ok := s.numbers[phoneNumberID]; ok && n.TenantID == tenantID {
		n.offboarding, n.missingSince = true, time.Time{}
	}
	return nil
}

// ClaimWebhookRegistration implements onboarding.NumberStore.
func (s *Numbers) ClaimWebhookRegistration(_ context.Context, phoneNumberID string, d time.Duration) (onboarding.Number, string, bool, error) {
	defer s.lock()()
	wrap := func(err error) error { return fmt.Errorf("claim webhook registration of %s: %w", phoneNumberID, err) }
	n, ok := s.numbers[phoneNumberID]
	if !ok {
		return onboarding.Number{}, "", false, wrap(onboarding.ErrUnknownNumber)
	}
	at := now(s.Now)
	switch n.Next(at) {
	case onboarding.LeaseDone:
		return n.Number, "", false, nil
	case onboarding.LeaseWait:
		return n.Number, "", false, wrap(onboarding.ErrRegistrationBusy)
	}
	n.Registration = onboarding.Lease{Token: randomToken(), Until: at.Add(d)}
	return n.Number, n.Registration.Token, true, nil
}

// ReleaseWebhookRegistration implements onboarding.NumberStore.
func (s *Numbers) ReleaseWebhookRegistration(_ context.Context, phoneNumberID, token string) error {
	defer s.lock()()
	if n, ok := s.numbers[phoneNumberID]; ok && n.Registration.HeldBy(token) {
		n.Registration = onboarding.Lease{}
	}
	return nil
}

// WebhookRecorded implements onboarding.NumberStore.
func (s *Numbers) WebhookRecorded(_ context.Context, phoneNumberID string) error {
	defer s.lock()()
	if n, ok := s.numbers[phoneNumberID]; ok {
		n.WebhookRecorded, n.Registration, n.missingSince = true, onboarding.Lease{}, time.Time{}
	}
	return nil
}

// NumbersMissingWebhook implements onboarding.NumberStore.
func (s *Numbers) NumbersMissingWebhook(_ context.Context, limit int) ([]onboarding.Number, error) {
	defer s.lock()()
	var listed []*number
	for _, n := range s.numbers {
		if !n.missingSince.IsZero() {
			listed = append(listed, n)
		}
	}
	slices.SortFunc(listed, func(a, b *number) int {
		return cmp.Or(a.missingSince.Compare(b.missingSince), strings.Compare(a.PhoneNumberID, b.PhoneNumberID))
	})
	out := make([]onboarding.Number, 0, min(limit, len(listed)))
	for _, n := range listed[:min(limit, len(listed))] {
		out = append(out, n.Number)
	}
	return out, nil
}

// Secret implements onboarding.NumberStore.
func (s *Numbers) Secret(_ context.Context, phoneNumberID string) (string, error) {
	defer s.lock()()
	n, ok := s.numbers[phoneNumberID]
	if ok && n.offboarding {
		return "", fmt.Errorf("%s: %w", phoneNumberID, onboarding.ErrNumberOffboarded)
	}
	if ok && n.WebhookSecret != "" {
		return n.WebhookSecret, nil
	}
	return "", fmt.Errorf("%s: %w", phoneNumberID, onboarding.ErrNoSecret)
}

// PutSecret implements onboarding.NumberStore.
func (s *Numbers) PutSecret(_ context.Context, phoneNumberID, secret string) error {
	defer s.lock()()
	s.get(phoneNumberID).WebhookSecret = secret
	return nil
}
