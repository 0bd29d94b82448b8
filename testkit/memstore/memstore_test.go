package memstore_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
)

func TestOnboardingContract(t *testing.T) {
	storetest.RunStore(t, func(_ *testing.T, now func() time.Time) storetest.Onboarding {
		s := &memstore.Onboarding{Now: now}
		return storetest.Onboarding{Store: s, Orphans: s.Orphans}
	})
}

func TestNumbersContract(t *testing.T) {
	storetest.RunNumbers(t, func(_ *testing.T, now func() time.Time) onboarding.NumberStore {
		return &memstore.Numbers{Now: now}
	})
}

func TestClaimsContract(t *testing.T) {
	storetest.RunClaims(t, func(_ *testing.T, now func() time.Time) idempotency.Store {
		return &memstore.Claims{Now: now, Retention: time.Hour}
	})
}

func TestPayloadsContract(t *testing.T) {
	storetest.RunBodies(t, func(*testing.T) storetest.Bodies { return &memstore.Payloads{} })
}

func TestRejectsContract(t *testing.T) {
	storetest.RunRejects(t, func(_ *testing.T, now func() time.Time) storetest.Rejects {
		return &memstore.Rejects{Now: now}
	})
}

func TestMessagesContract(t *testing.T) {
	storetest.RunMessages(t, func(*testing.T) (messaging.Store, storetest.MessagesReader) {
		s := &memstore.Messages{}
		return s, s
	})
}

func TestPendingContract(t *testing.T) {
	storetest.RunPending(t, func(_ *testing.T, now func() time.Time) messaging.PendingStore {
		return &memstore.Pending{Now: now}
	})
}

func TestHintsContract(t *testing.T) {
	storetest.RunHints(t, func(_ *testing.T, now func() time.Time) onboarding.RedirectHints {
		return &memstore.Hints{Now: now}
	})
}

func TestCheckpointsContract(t *testing.T) {
	storetest.RunCheckpoints(t, func(*testing.T) storetest.Checkpoints { return &memstore.Checkpoints{} })
}

func TestLeasesContract(t *testing.T) {
	storetest.RunLeases(t, func(*testing.T) storetest.Leases { return &memstore.Checkpoints{} })
}

func TestPacerContract(t *testing.T) {
	storetest.RunPacer(t, func(_ *testing.T, rate, horizon int) messaging.SendPacer {
		return &memstore.SendPacer{Rate: rate, Horizon: horizon}
	})
}

func TestOutboxContract(t *testing.T) {
	storetest.RunOutbox(t, func(*testing.T) (messaging.Store, messaging.Reader, messaging.Outbox) {
		s := &memstore.Messages{}
		return s, s, s
	})
}

func TestOutboundQueueContract(t *testing.T) {
	storetest.RunOutboundQueue(t, func(*testing.T) (messaging.OutboundQueue, func(*testing.T, time.Duration) []messaging.OutboundJob) {
		q := &memstore.OutboundQueue{}
		return q, func(_ *testing.T, after time.Duration) []messaging.OutboundJob {
			var out []messaging.OutboundJob
			for _, j := range q.Take(after) {
				out = append(out, j.Job)
			}
			return out
		}
	})
}

func TestFeedContract(t *testing.T) {
	storetest.RunFeed(t, func(_ *testing.T, now func() time.Time) eventing.Feed { return &memstore.Feed{Now: now} })
}

func TestUploadsContract(t *testing.T) {
	storetest.RunUploads(t, func(*testing.T) media.Uploads { return &memstore.Uploads{} })
}

func TestMediaStoreContract(t *testing.T) {
	storetest.RunMediaStore(t, func(*testing.T, func() time.Time) storetest.MediaStores {
		s := &memstore.Messages{}
		return storetest.MediaStores{Messages: s, Reader: s, Media: s}
	})
}

func TestObjectsContract(t *testing.T) {
	storetest.RunObjects(t, func(t *testing.T) storetest.Objects {
		o := &memstore.Objects{}
		srv := httptest.NewServer(o)
		t.Cleanup(srv.Close)
		o.BaseURL = srv.URL
		return storetest.Objects{Objects: o, Get: o.Get}
	})
}

func TestTemplatesContract(t *testing.T) {
	storetest.RunTemplates(t, func(*testing.T) templates.Store { return &memstore.Templates{} })
}

func TestTokensContract(t *testing.T) {
	storetest.RunTokens(t, func(*testing.T) access.Store { return &memstore.Tokens{} })
}

func TestAuditContract(t *testing.T) {
	storetest.RunAudit(t, func(_ *testing.T, now func() time.Time) access.AuditLog { return &memstore.AuditLog{Now: now} })
}

func TestRetentionContract(t *testing.T) {
	storetest.RunRetention(t, func(_ *testing.T, now func() time.Time, r messaging.Retention) storetest.RetentionStores {
		s := &memstore.Messages{Retention: r, Now: now}
		return storetest.RetentionStores{Store: s, Reader: s, Outbox: s, Backfill: s}
	})
}

func TestOffboardingsContract(t *testing.T) {
	storetest.RunOffboardings(t, func(*testing.T) offboarding.Store { return &memstore.Offboardings{} })
}

func TestErasuresContract(t *testing.T) {
	storetest.RunErasures(t, func(*testing.T) storetest.ErasureStore { return &memstore.Erasures{} })
}
