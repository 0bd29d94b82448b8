package onboarding

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// NumberHealth is how Meta rates a connected number, as the Platform API
// reported it at ReadAt: its quality, its messaging limit, its display name
// and that name's review, and its throughput. Values outside the documented
// vocabularies are HealthUnknown, never passed on as Kapso wrote them.
type NumberHealth struct {
	PhoneNumberID      string    `json:"phone_number_id"`
	QualityRating      string    `json:"quality_rating"`
	MessagingLimitTier string    `json:"messaging_limit_tier"`
	VerifiedName       string    `json:"verified_name,omitempty"`
	NameStatus         string    `json:"name_status"`
	Throughput         string    `json:"throughput"`
	ReadAt             time.Time `json:"read_at"`
}

// HealthUnknown stands for a value Kapso left out or wrote outside the
// vocabulary.
const HealthUnknown = "UNKNOWN"

// Meta's quality ratings.
const (
	QualityGreen  = "GREEN"
	QualityYellow = "YELLOW"
	QualityRed    = "RED"
)

// Display-name review statuses that mean the name was refused.
const (
	NameDeclined = "DECLINED"
	NameRejected = "REJECTED"
)

var (
	qualityRatings = []string{QualityGreen, QualityYellow, QualityRed, HealthUnknown}
	// Meta's messaging limit tiers (business-initiated conversations a day).
	messagingLimitTiers = []string{"TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"}
	nameStatuses        = []string{"APPROVED", "AVAILABLE_WITHOUT_REVIEW", NameDeclined, NameRejected, "EXPIRED",
		"PENDING_REVIEW", "PENDING", "NONE"}
	throughputLevels = []string{"STANDARD", "HIGH", "NOT_APPLICABLE"}
)

// MaxVerifiedNameBytes bounds the display name kept: Meta's display names
// are far shorter.
const MaxVerifiedNameBytes = 256

// Clean returns h with every value in its vocabulary (HealthUnknown
// otherwise), the display name trimmed to valid UTF-8 of at most
// MaxVerifiedNameBytes, and ReadAt in UTC.
func (h NumberHealth) Clean() NumberHealth {
	h.QualityRating = inVocabulary(h.QualityRating, qualityRatings)
	h.MessagingLimitTier = inVocabulary(h.MessagingLimitTier, messagingLimitTiers)
	h.NameStatus = inVocabulary(h.NameStatus, nameStatuses)
	h.Throughput = inVocabulary(h.Throughput, throughputLevels)
	name := strings.TrimSpace(strings.ToValidUTF8(h.VerifiedName, ""))
	for len(name) > MaxVerifiedNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	h.VerifiedName = name
	h.ReadAt = h.ReadAt.UTC()
	return h
}

func inVocabulary(v string, vocabulary []string) string {
	v = strings.ToUpper(strings.TrimSpace(v))
	if slices.Contains(vocabulary, v) {
		return v
	}
	return HealthUnknown
}

// Same reports whether h and o say the same of the number, whenever read.
func (h NumberHealth) Same(o NumberHealth) bool {
	h.ReadAt, o.ReadAt = time.Time{}, time.Time{}
	return h == o
}

// QualityLow: Meta rates the number's quality medium (YELLOW) or low (RED).
func (h NumberHealth) QualityLow() bool {
	return h.QualityRating == QualityYellow || h.QualityRating == QualityRed
}

// NameRefused: Meta refused the number's display name.
func (h NumberHealth) NameRefused() bool {
	return h.NameStatus == NameDeclined || h.NameStatus == NameRejected
}

// HealthRead: the reconciler read the number's health from the Platform API.
// The caller records it only when it differs from what is stored, so a
// refresh that finds nothing new writes nothing.
func HealthRead(h NumberHealth) Fact {
	h = h.Clean()
	return Fact{Kind: FactHealthRead, At: h.ReadAt, PhoneNumberID: h.PhoneNumberID, QualityRating: h.QualityRating,
		NameStatus: h.NameStatus, MessagingLimitTier: h.MessagingLimitTier, Throughput: h.Throughput,
		VerifiedName: h.VerifiedName, Source: SourceReconciler}
}

// Health is the number's health as last read, and whether it was ever read.
func (n PhoneNumber) Health() (NumberHealth, bool) {
	if n.HealthReadAt.IsZero() {
		return NumberHealth{}, false
	}
	return NumberHealth{PhoneNumberID: n.PhoneNumberID, QualityRating: n.QualityRating,
		MessagingLimitTier: n.MessagingLimitTier, VerifiedName: n.VerifiedName, NameStatus: n.NameStatus,
		Throughput: n.Throughput, ReadAt: n.HealthReadAt}.Clean(), true
}

// ConnectedHealth lists the health of each connected number that has been
// read, by phone_number_id: what a tenant's snapshot keeps of it.
func ConnectedHealth(c Connection) []NumberHealth {
	var out []NumberHealth
	for _, n := range c.PhoneNumbers {
		if h, ok := n.Health(); ok && n.Status == NumberStatusConnected {
			out = append(out, h)
		}
	}
	return out
}

// HealthAttention reports whether any of the health needs a human.
func HealthAttention(health []NumberHealth) bool {
	return slices.ContainsFunc(health, func(h NumberHealth) bool { return h.QualityLow() || h.NameRefused() })
}
