package kapsoapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// A number's health comes from the Platform API's get-number answer in
// Kapso's documented shape: the messaging limit as a number (get page) or a
// string (list page), every value held to its vocabulary.
func TestGetPhoneNumberReadsHealth(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name, body string
		want       onboarding.NumberHealth
	}{
		{"documented get", `{"data":{"id":"123","phone_number_id":"123","verified_name":"Acme","quality_rating":"YELLOW",
			"name_status":"APPROVED","throughput_tier":"STANDARD","whatsapp_business_manager_messaging_limit":10000}}`,
			onboarding.NumberHealth{QualityRating: "YELLOW", MessagingLimitTier: "TIER_10K", VerifiedName: "Acme",
				NameStatus: "APPROVED", Throughput: "STANDARD"}},
		{"limit as a string", `{"data":{"phone_number_id":"123","quality_rating":"red","name_status":"DECLINED",
			"whatsapp_business_manager_messaging_limit":"1000"}}`,
			onboarding.NumberHealth{QualityRating: "RED", MessagingLimitTier: "TIER_1K", NameStatus: "DECLINED",
				Throughput: "UNKNOWN"}},
		{"values outside the vocabulary", `{"data":{"phone_number_id":"123","quality_rating":"PURPLE",
			"name_status":"` + strings.Repeat("X", 5000) + `","throughput_tier":"TIER_10K",
			"whatsapp_business_manager_messaging_limit":123,"verified_name":"` + strings.Repeat("é", 300) + `"}}`,
			onboarding.NumberHealth{QualityRating: "UNKNOWN", MessagingLimitTier: "UNKNOWN",
				VerifiedName: strings.Repeat("é", 128), NameStatus: "UNKNOWN", Throughput: "UNKNOWN"}},
		{"nothing said", `{"data":{"phone_number_id":"123"}}`,
			onboarding.NumberHealth{QualityRating: "UNKNOWN", MessagingLimitTier: "UNKNOWN", NameStatus: "UNKNOWN",
				Throughput: "UNKNOWN"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/platform/v1/whatsapp/phone_numbers/123" {
					t.Errorf("path = %s", r.URL.Path)
				}
				reply(w, 200, tc.body)
			})
			n, err := c.GetPhoneNumber(context.Background(), "123")
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.PhoneNumberID, want.ReadAt = "123", at
			if got := n.Health(at); got != want {
				t.Errorf("health = %+v\nwant     %+v", got, want)
			}
		})
	}
}

// A limit that is neither a number nor a string is an answer that cannot be
// used, not a health.
func TestGetPhoneNumberRefusesAnUnreadableLimit(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"data":{"phone_number_id":"123","whatsapp_business_manager_messaging_limit":{"x":1}}}`)
	})
	if _, err := c.GetPhoneNumber(context.Background(), "123"); err == nil {
		t.Fatal("an object as the messaging limit was taken")
	}
}
