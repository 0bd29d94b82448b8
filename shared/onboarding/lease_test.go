package onboarding

import (
	"testing"
	"time"
)

func TestLeaseSteps(t *testing.T) {
	now := epoch
	live := Lease{Token: "a", Until: now.Add(time.Second)}
	endsNow := Lease{Token: "a", Until: now}
	lapsed := Lease{Token: "a", Until: now.Add(-time.Millisecond)}
	tests := []struct {
		name     string
		customer TenantCustomer
		want     LeaseStep
	}{
		{"nothing recorded, never leased", TenantCustomer{}, LeaseTake},
		{"nothing recorded, lease given back", TenantCustomer{Lease: Lease{}}, LeaseTake},
		{"nothing recorded, lease live", TenantCustomer{Lease: live}, LeaseWait},
		// A lease is held through its last instant, as the stores' conditions
		// compare until < now.
		{"nothing recorded, lease ends now", TenantCustomer{Lease: endsNow}, LeaseWait},
		{"nothing recorded, holder's lease lapsed", TenantCustomer{Lease: lapsed}, LeaseTake},
		{"customer recorded", TenantCustomer{CustomerID: "c1"}, LeaseDone},
		{"customer recorded while a lease is live", TenantCustomer{CustomerID: "c1", Lease: live}, LeaseDone},
	}
	for _, tt := range tests {
		t.Run("customer: "+tt.name, func(t *testing.T) {
			if got := tt.customer.Next(now); got != tt.want {
				t.Errorf("Next = %s, want %s", got, tt.want)
			}
			// A number's registration follows the same rules.
			n := Number{PhoneNumberID: "1", WebhookRecorded: tt.customer.CustomerID != "", Registration: tt.customer.Lease}
			if got := n.Next(now); got != tt.want {
				t.Errorf("number: Next = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLeaseHeldBy(t *testing.T) {
	l := Lease{Token: "a", Until: epoch}
	tests := []struct {
		lease Lease
		token string
		want  bool
	}{
		{l, "a", true},
		{l, "b", false},
		{l, "", false},
		{Lease{}, "", false},
	}
	for _, tt := range tests {
		if got := tt.lease.HeldBy(tt.token); got != tt.want {
			t.Errorf("%+v.HeldBy(%q) = %v, want %v", tt.lease, tt.token, got, tt.want)
		}
	}
}

func TestWhatARecordedCustomerOrLookupAccepts(t *testing.T) {
	tests := []struct {
		name                string
		recorded, incoming  string
		canRecord, canMapTo bool
	}{
		{"nothing recorded", "", "c1", true, true},
		{"same again", "c1", "c1", true, true},
		{"another", "c1", "c2", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (TenantCustomer{CustomerID: tt.recorded}).CanRecord(tt.incoming); got != tt.canRecord {
				t.Errorf("CanRecord = %v, want %v", got, tt.canRecord)
			}
			// The same rule for a lookup: owner is what it names, incoming the tenant writing it.
			if got := CanMap(tt.recorded, tt.incoming); got != tt.canMapTo {
				t.Errorf("CanMap = %v, want %v", got, tt.canMapTo)
			}
		})
	}
}
