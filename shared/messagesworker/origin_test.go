package messagesworker_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// originStore records the origin every write was made under.
type originStore struct {
	*memstore.Messages
	mu      sync.Mutex
	origins []messaging.Origin
}

func (s *originStore) saw(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.origins = append(s.origins, messaging.OriginOf(ctx))
}

func (s *originStore) PutMessage(ctx context.Context, tenantID string, m messaging.Message, statuses []messaging.StatusUpdate) error {
	s.saw(ctx)
	return s.Messages.PutMessage(ctx, tenantID, m, statuses)
}

func (s *originStore) ApplyStatus(ctx context.Context, tenantID string, u messaging.StatusUpdate) error {
	s.saw(ctx)
	return s.Messages.ApplyStatus(ctx, tenantID, u)
}

func (s *originStore) PutConversation(ctx context.Context, tenantID string, c messaging.Conversation) error {
	s.saw(ctx)
	return s.Messages.PutConversation(ctx, tenantID, c)
}

func (s *originStore) PutContact(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, sg messaging.Sighting) error {
	s.saw(ctx)
	return s.Messages.PutContact(ctx, tenantID, phoneNumberID, p, sg)
}

func (s *originStore) ChangeIdentity(ctx context.Context, tenantID, phoneNumberID string, previous, current messaging.Person, at time.Time) error {
	s.saw(ctx)
	return s.Messages.ChangeIdentity(ctx, tenantID, phoneNumberID, previous, current, at)
}

func (s *originStore) SetMarketingPreference(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, pref messaging.MarketingPreference) error {
	s.saw(ctx)
	return s.Messages.SetMarketingPreference(ctx, tenantID, phoneNumberID, p, pref)
}

// Every write says what made it: the reconciler's catch-up, or a webhook
// (Kapso's or Meta's, also when kept until its number connected), so the
// events the changes make can say so.
func TestEveryWriteCarriesItsDeliverysOrigin(t *testing.T) {
	received := sample(t, "kapso/whatsapp.message.received.json")
	identity := sample(t, "kapso/whatsapp.contact.identity_changed.json")
	preference := sample(t, "kapso/whatsapp.contact.marketing_preference_changed.json")
	inactive := sample(t, "kapso/whatsapp.conversation.inactive.json")
	for _, tc := range []struct {
		source envelope.Source
		want   messaging.Origin
	}{
		{envelope.SourceKapsoNumber, messaging.OriginWebhook},
		{envelope.SourceMeta, messaging.OriginWebhook},
		{envelope.SourceReconciler, messaging.OriginReconciler},
	} {
		store := &originStore{Messages: &memstore.Messages{}}
		r := newRig(t, stores{store: store, pending: &memstore.Pending{}, numbers: &memstore.Numbers{}, rejects: &memstore.Rejects{}})
		r.connect(tenantA, numberA)
		if tc.source == envelope.SourceMeta {
			r.handle(r.meta(numberA, sample(t, "meta/messages.bsuid-only.json").Body))
		} else {
			for _, s := range []struct {
				event string
				body  []byte
			}{{"whatsapp.message.received", received.Body}, {"whatsapp.contact.identity_changed", identity.Body},
				{"whatsapp.contact.marketing_preference_changed", preference.Body}, {"whatsapp.conversation.inactive", inactive.Body}} {
				r.handle(r.message(tc.source, numberA, s.event, s.body))
			}
		}
		if len(store.origins) < 3 || slices.ContainsFunc(store.origins, func(o messaging.Origin) bool { return o != tc.want }) {
			t.Errorf("%s: origins %q, want every one %q", tc.source, store.origins, tc.want)
		}
		if kept := r.kept(); len(kept) > 0 {
			t.Errorf("%s: kept aside %+v", tc.source, kept)
		}
	}
}
