package onboarding

import (
	"slices"
	"testing"
)

func healthAt(number, quality, name string, m int) NumberHealth {
	return NumberHealth{PhoneNumberID: number, QualityRating: quality, MessagingLimitTier: "TIER_1K",
		VerifiedName: "Acme", NameStatus: name, Throughput: "STANDARD", ReadAt: minute(m)}
}

func TestHealthReadIsTheNumbersHealth(t *testing.T) {
	base := []Fact{factFirstLnk, factSuccess, factCreated, factConfig}
	c := applyAll(t, append(base, HealthRead(healthAt("pn_1", "GREEN", "APPROVED", 20)),
		HealthRead(healthAt("pn_1", "RED", "DECLINED", 25)))...)
	n, _ := c.PhoneNumber("pn_1")
	h, ok := n.Health()
	want := healthAt("pn_1", "RED", "DECLINED", 25)
	if !ok || h != want {
		t.Fatalf("health = %+v, %v; want %+v", h, ok, want)
	}
	if !n.NameStatusSince.Equal(minute(25)) {
		t.Errorf("name status since %v", n.NameStatusSince)
	}
	if got := ConnectedHealth(c); len(got) != 1 || got[0] != want {
		t.Errorf("connected health = %+v", got)
	}
	last := c.Timeline[len(c.Timeline)-1]
	if last.Kind != FactHealthRead || last.Source != SourceReconciler || last.Detail["quality_rating"] != "RED" ||
		last.Detail["messaging_limit_tier"] != "TIER_1K" || last.Detail["throughput"] != "STANDARD" {
		t.Errorf("timeline entry = %+v", last)
	}
	// A reading is about a known number only; it never makes one.
	c = applyAll(t, append(base, HealthRead(healthAt("pn_9", "RED", "APPROVED", 20)))...)
	if _, ok := c.PhoneNumber("pn_9"); ok || len(ConnectedHealth(c)) != 0 {
		t.Errorf("a reading made number pn_9: %+v", c.PhoneNumbers)
	}
	// A number never read has no health, though a webhook gave a rating.
	c = applyAll(t, factFirstLnk, factSuccess, factAPI)
	if h := ConnectedHealth(c); len(h) != 0 {
		t.Errorf("health of a number never read = %+v", h)
	}
}

func TestHealthCleanKeepsTheVocabulary(t *testing.T) {
	h := NumberHealth{QualityRating: " yellow ", MessagingLimitTier: "TIER_9", NameStatus: "<script>",
		Throughput: "high", VerifiedName: "\xffAcme "}.Clean()
	want := NumberHealth{QualityRating: "YELLOW", MessagingLimitTier: HealthUnknown, NameStatus: HealthUnknown,
		Throughput: "HIGH", VerifiedName: "Acme"}
	if h != want {
		t.Errorf("clean = %+v, want %+v", h, want)
	}
	if !h.Same(want) || h.Same(NumberHealth{QualityRating: "RED"}) {
		t.Error("Same")
	}
}

func TestHealthAttentionReasons(t *testing.T) {
	cases := []struct {
		quality, name string
		want          []AttentionReason
	}{
		{"GREEN", "APPROVED", nil},
		{"UNKNOWN", "PENDING_REVIEW", nil},
		{"YELLOW", "APPROVED", []AttentionReason{AttentionQualityLow}},
		{"RED", "REJECTED", []AttentionReason{AttentionQualityLow, AttentionDisplayNameRejected}},
		{"GREEN", "DECLINED", []AttentionReason{AttentionDisplayNameRejected}},
	}
	for _, tc := range cases {
		c := applyAll(t, factFirstLnk, factSuccess, factCreated, HealthRead(healthAt("pn_1", tc.quality, tc.name, 20)))
		health := ConnectedHealth(c)
		item := TenantItem{Status: c.Tenant.Status, Health: health}
		if got := item.AttentionAt(minute(30)); !slices.Equal(got, tc.want) {
			t.Errorf("%s/%s: attention = %v, want %v", tc.quality, tc.name, got, tc.want)
		}
		if HealthAttention(health) != (len(tc.want) > 0) || AttentionStored(c.Tenant.Status, HealthAttention(health)) != (len(tc.want) > 0) {
			t.Errorf("%s/%s: stored attention disagrees", tc.quality, tc.name)
		}
	}
	// A number no longer connected needs no human for its health.
	c := applyAll(t, factFirstLnk, factSuccess, factCreated, HealthRead(healthAt("pn_1", "RED", "APPROVED", 20)),
		NumberDeleted("pn_1", minute(30)))
	if h := ConnectedHealth(c); len(h) != 0 {
		t.Errorf("health of a deleted number = %+v", h)
	}
}
