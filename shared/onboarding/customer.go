package onboarding

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// TenantCustomer is what a tenant records about its Kapso customer: the
// customer, once known, and the lease of the request creating it.
type TenantCustomer struct {
	CustomerID string
	Lease      Lease
}

// Next says what a request for the tenant's customer does at now: use the
// recorded customer, take the lease and create one, or wait for the holder.
func (c TenantCustomer) Next(now time.Time) LeaseStep {
	return nextStep(c.CustomerID != "", c.Lease, now)
}

// CanRecord reports whether customerID may be recorded: a tenant keeps the
// first customer recorded for it, and recording that one again is a no-op.
func (c TenantCustomer) CanRecord(customerID string) bool {
	return c.CustomerID == "" || c.CustomerID == customerID
}

// Errors of recording a customer.
var (
	// ErrCustomerOfAnotherTenant: the Kapso customer is already mapped to
	// another tenant.
	ErrCustomerOfAnotherTenant = errs.E(errs.Conflict, "the Kapso customer belongs to another tenant", nil)
	// ErrCustomerChanged: the tenant already records another customer (a
	// request whose lease ran out raced the next holder).
	ErrCustomerChanged = errors.New("the tenant already records another Kapso customer")
)

// CustomerStore keeps tenants' Kapso customers and the lease that lets one
// request at a time create one.
type CustomerStore interface {
	// EnsureTenant creates the tenant if it does not exist yet.
	EnsureTenant(ctx context.Context, tenantID, name string) error
	// Customer reads what the tenant records; ErrTenantNotFound without tenant.
	Customer(ctx context.Context, tenantID string) (TenantCustomer, error)
	// TakeCustomerLease takes the tenant's lease for d if its TenantCustomer's
	// Next is LeaseTake, and says whether it did, with the holder's token.
	TakeCustomerLease(ctx context.Context, tenantID string, d time.Duration) (token string, ok bool, err error)
	// ReleaseCustomerLease gives the lease back if token still holds it.
	ReleaseCustomerLease(ctx context.Context, tenantID, token string) error
	// RecordCustomer maps customerID to the tenant (ErrCustomerOfAnotherTenant
	// unless CanMap), then records it on the tenant (ErrCustomerChanged unless
	// CanRecord) and drops the lease. The mapping comes first: once the
	// tenant names a customer, events for it must already map back.
	RecordCustomer(ctx context.Context, tenantID, customerID string) error
}

// Customer lease timing: the lease outlives one find-or-create at Kapso, and
// a request that finds it held polls until the holder is done or its wait ends.
const (
	CustomerLeaseTime = 10 * time.Second
	customerWait      = 3 * time.Second
	customerPollEvery = 100 * time.Millisecond
)

// EnsureCustomer returns the tenant's Kapso customer id, creating the tenant
// if needed and calling findOrCreate at most once at a time per tenant, so two
// racing requests never both create a customer. A request that finds the
// lease held waits up to 3 s for the holder's result, then answers
// errs.InFlight with a Retry-After.
func EnsureCustomer(ctx context.Context, s CustomerStore, tenantID, name string,
	findOrCreate func(context.Context) (string, error)) (string, error) {
	if err := s.EnsureTenant(ctx, tenantID, name); err != nil {
		return "", err
	}
	waitUntil := time.Now().Add(customerWait)
	for {
		c, err := s.Customer(ctx, tenantID)
		if err != nil {
			return "", err
		}
		if c.CustomerID != "" {
			return c.CustomerID, nil
		}
		token, won, err := s.TakeCustomerLease(ctx, tenantID, CustomerLeaseTime)
		if err != nil {
			return "", err
		}
		if won {
			return createCustomerHolding(ctx, s, tenantID, token, findOrCreate)
		}
		if time.Now().After(waitUntil) {
			return "", &errs.Error{Code: errs.InFlight, Message: "the tenant's Kapso customer is being created; retry",
				RetryAfter: time.Second}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for customer of tenant %s: %w", tenantID, ctx.Err())
		case <-time.After(customerPollEvery):
		}
	}
}

func createCustomerHolding(ctx context.Context, s CustomerStore, tenantID, token string,
	findOrCreate func(context.Context) (string, error)) (string, error) {
	customerID, err := findOrCreate(ctx)
	if err != nil {
		// Released so a retry need not wait out the lease; a failed release
		// only delays it.
		_ = s.ReleaseCustomerLease(context.WithoutCancel(ctx), tenantID, token)
		return "", err
	}
	if err := s.RecordCustomer(ctx, tenantID, customerID); err != nil {
		return "", err
	}
	return customerID, nil
}
