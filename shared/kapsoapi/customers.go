package kapsoapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

type wireCustomer struct {
	ID                 flexString `json:"id"`
	Name               string     `json:"name"`
	ExternalCustomerID flexString `json:"external_customer_id"`
	CreatedAt          wireTime   `json:"created_at"`
}

func (w wireCustomer) customer() (onboarding.Customer, error) {
	if w.ID == "" {
		return onboarding.Customer{}, errors.New("customer without id")
	}
	return onboarding.Customer{ID: string(w.ID), Name: w.Name, ExternalCustomerID: string(w.ExternalCustomerID),
		CreatedAt: time.Time(w.CreatedAt)}, nil
}

// CreateCustomer creates a customer. It is retried like a read: Kapso keeps
// external_customer_id unique, so a repeat after a lost success is refused
// (422 or 409) instead of making a second customer. Callers look the customer
// up with FindCustomerByExternalID first, and again after such a refusal.
func (c *Client) CreateCustomer(ctx context.Context, name, externalCustomerID string) (onboarding.Customer, error) {
	if externalCustomerID == "" {
		return onboarding.Customer{}, failed("create customer", argumentError("empty external customer id"))
	}
	wrap := func(err error) error { return failed("create customer "+externalCustomerID, err) }
	body := map[string]any{"customer": map[string]string{"name": name, "external_customer_id": externalCustomerID}}
	var w wireCustomer
	_, err := c.do(ctx, call{op: "create customer", method: http.MethodPost, path: "/customers", body: body, policy: retrySafe}, &w)
	if err != nil {
		return onboarding.Customer{}, wrap(err)
	}
	cu, err := w.customer()
	if err != nil {
		return onboarding.Customer{}, wrap(err)
	}
	return cu, nil
}

// FindCustomerByExternalID returns the customer with that external id, and
// whether there is one. The match is checked here too, so a server that
// ignored the filter cannot hand back another tenant's customer.
func (c *Client) FindCustomerByExternalID(ctx context.Context, externalCustomerID string) (onboarding.Customer, bool, error) {
	if externalCustomerID == "" {
		return onboarding.Customer{}, false, failed("find customer", argumentError("empty external customer id"))
	}
	wrap := func(err error) error { return failed("find customer "+externalCustomerID, err) }
	ws, err := listPages[wireCustomer](ctx, c, call{op: "find customer", method: http.MethodGet, path: "/customers",
		query: url.Values{"external_customer_id": {externalCustomerID}}, policy: retrySafe})
	if err != nil {
		return onboarding.Customer{}, false, wrap(err)
	}
	var found onboarding.Customer
	ok := false
	for _, w := range ws {
		if string(w.ExternalCustomerID) != externalCustomerID {
			continue
		}
		cu, err := w.customer()
		if err != nil {
			return onboarding.Customer{}, false, wrap(err)
		}
		// Keep the oldest, should Kapso ever hold two.
		if !ok || cu.CreatedAt.Before(found.CreatedAt) {
			found, ok = cu, true
		}
	}
	return found, ok, nil
}
