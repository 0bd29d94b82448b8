package sqsqueue_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// keptBodies records the refs stored in it.
type keptBodies struct {
	mu   sync.Mutex
	refs []string
}

func (k *keptBodies) Put(_ context.Context, ref string, _ []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refs = append(k.refs, ref)
	return nil
}

// The body kept aside of a number webhook or a Meta payload (a tenant's
// messages) goes to the retained store, which expires it with them; any
// other delivery's to the usual one.
func TestMessageTrafficBodiesGoToTheRetainedStore(t *testing.T) {
	ctx := context.Background()
	queues := awstest.Queues(t)
	messages, lifecycle := queues[schema.Messages.ID].URL, queues[schema.Lifecycle.ID].URL
	usual, retained := &keptBodies{}, &keptBodies{}
	q := &sqsqueue.DeliveryQueue{Client: awstest.SQS(t), Bodies: usual, RetainedBodies: retained}
	for _, c := range []struct {
		url    string
		source envelope.Source
		key    string
	}{{messages, envelope.SourceKapsoNumber, "number#1"}, {messages, envelope.SourceMeta, "meta#1"},
		{lifecycle, envelope.SourceKapsoProject, "project#1"}} {
		d := envelope.Delivery{Source: c.source, Key: c.key, PhoneNumberID: "1", Event: "whatsapp.message.received",
			IdempotencyKey: "k", ReceivedAt: time.Now().UTC()}
		if err := q.Send(ctx, c.url, d, []byte(`{"text":"x"}`), true); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(retained.refs, []string{"number#1", "meta#1"}) || !slices.Equal(usual.refs, []string{"project#1"}) {
		t.Errorf("retained store kept %v, usual store %v; want number#1 and meta#1, and project#1", retained.refs, usual.refs)
	}
}
