// Package reconcileapp builds the reconcile function: the scheduled
// reconciler, from its settings and the clients it calls.
// functions/reconcile and the local stack both build it here.
package reconcileapp

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/lifecycleapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/offboardapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the lifecycle worker's (the reconciler confirms numbers
// through its parts, and so also tells the messages queue of each number
// it finds connected), and S3, where an offboarding deletes the tenant's
// media and an erasure the person's.
type Clients struct {
	lifecycleapp.Clients
	S3 *s3.Client
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{Clients: lifecycleapp.NewClients(cfg), S3: s3media.NewClient(cfg)}
}

// Reconciler builds the reconciler.
func Reconciler(ctx context.Context, b app.Base, c Clients) (*reconcile.Reconciler, error) {
	r := config.NewReader(config.Reconcile, b.Env, c.Secrets)
	p := lifecycleapp.ReadParts(ctx, r, b.Log, c.DynamoDB, c.SQS)
	events, bucket := r.String(config.EventsTable), r.String(config.MediaBucket)
	messagesURL := r.String(config.MessagesQueueURL)
	outboundURL := r.String(config.OutboundQueueURL)
	mediaURL := r.String(config.MediaQueueURL)
	unconfirmedAfter := r.Duration(config.OutboundUnconfirmedAfter)
	templateEvery := r.Duration(config.TemplateSyncInterval)
	metaURL := r.String(config.KapsoMetaBaseURL)
	retention := app.Retention(r)
	dlqs := map[string]string{
		schema.Lifecycle.DLQID(): r.String(config.LifecycleDLQURL),
		schema.Messages.DLQID():  r.String(config.MessagesDLQURL),
		schema.Outbound.DLQID():  r.String(config.OutboundDLQURL),
		// Events whose day of webhook attempts ran out.
		schema.EventWebhooks.DLQID(): r.String(config.EventWebhooksDLQURL),
		// Media copies whose attempts ran out (the reconciler retries them
		// from the message while Meta's id lives).
		schema.Media.DLQID(): r.String(config.MediaDLQURL),
	}
	limits := reconcile.Limits{KapsoCalls: r.Int(config.ReconcileKapsoCalls),
		KapsoPerMinute: r.Int(config.ReconcileKapsoPerMinute)}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	w := p.Worker(b.Log)
	// A replayed redirect that can never be applied is kept aside, as the
	// lifecycle worker keeps it.
	w.Rejects = &dynamo.Rejects{DB: c.DynamoDB, Table: p.Store.Table}
	msgs := &dynamo.Messages{DB: c.DynamoDB, Table: p.Store.Table, Retention: retention}
	// A number's history is read from the Meta proxy, which Kapso documents
	// with Graph cursors and its fields; the rest from the Platform API.
	metaProxy := kapsoapi.NewMetaProxy(metaURL, "", p.KapsoAPIKey, kapsoapi.WithLogger(b.Log))
	kapso := kapsoHistory{Client: p.Kapso, history: metaProxy}
	return &reconcile.Reconciler{Store: p.Store, Numbers: p.Numbers, Kapso: kapso, Meters: KapsoMeters{}, Confirmer: w,
		Hints:       &dynamo.Hints{DB: c.DynamoDB, Table: p.Store.Table},
		Checkpoints: &dynamo.Checkpoints{DB: c.DynamoDB, Table: p.Store.Table},
		// The message catch-up goes to the messages worker, which stores it
		// as it stores webhook events.
		Queue: &sqsqueue.DeliveryQueue{Client: c.SQS}, MessagesQueueURL: messagesURL,
		Messages: msgs,
		// Items stored before the retention was set, or under other days.
		Backfill: msgs, Retention: retention,
		// Sends whose outcome is unknown are adopted from Kapso's list or
		// failed; a send left queued goes back on the outbound queue.
		Outbox: msgs, Outbound: &sqsqueue.OutboundQueue{Client: c.SQS, URL: outboundURL},
		// A failed media copy's event goes back to the media worker hourly.
		Media: msgs, MediaQueue: &sqsqueue.EventQueue{Client: c.SQS, URL: mediaURL},
		UnconfirmedAfter: unconfirmedAfter, ClaimTimeout: schema.Outbound.ConsumerTimeout,
		// Each connected WABA's templates, read again once older than the
		// interval: Kapso sends no webhook when Meta reviews one.
		Templates: &dynamo.Templates{DB: c.DynamoDB, Table: p.Store.Table}, TemplateKapso: metaProxy,
		TemplateSyncInterval: templateEvery,
		// The offboardings the tenant API started, finished.
		Offboard: offboardapp.Runner(offboardapp.Stores{DB: c.DynamoDB, Bridge: p.Store.Table, Events: events,
			S3: c.S3, Bucket: bucket, Kapso: p.Kapso}),
		// People's erasures a request left open, and each one's final sweep.
		Erasures: &dynamo.Erasures{DB: c.DynamoDB, Table: p.Store.Table},
		Eraser: &dynamo.Eraser{DB: c.DynamoDB, Table: p.Store.Table, Feed: &dynamo.FeedEraser{DB: c.DynamoDB, Table: events, Stored: msgs},
			Objects: s3media.New(c.S3, bucket)},
		DeadLetters: deadLetters{stats: &sqsqueue.DLQStats{Client: c.SQS, Queues: dlqs}},
		Log:         b.Log, Limits: limits}, nil
}

// KapsoMeters meter each run's calls with the Kapso client's meter, which
// every call made with the run's context goes through.
type KapsoMeters struct{}

func (KapsoMeters) Start(ctx context.Context, budget int, interval time.Duration) (context.Context, reconcile.CallMeter) {
	m := kapsoapi.NewMeter(kapsoapi.MeterOptions{Budget: budget, Interval: interval})
	return kapsoapi.WithMeter(ctx, m), kapsoMeter{m}
}

// kapsoMeter reads the Kapso client's meter in the reconciler's terms.
type kapsoMeter struct{ m *kapsoapi.Meter }

func (k kapsoMeter) Spent() bool { return k.m.Spent() }

func (k kapsoMeter) Stats() reconcile.CallStats {
	s := k.m.Stats()
	return reconcile.CallStats{Calls: s.Calls, RateLimited: s.RateLimited, Waits: s.Waits, Waited: s.Waited}
}

// deadLetters reports the DLQs' backlog in the reconciler's terms.
type deadLetters struct{ stats *sqsqueue.DLQStats }

func (d deadLetters) Stats(ctx context.Context) ([]reconcile.DLQStat, error) {
	stats, err := d.stats.Stats(ctx)
	out := make([]reconcile.DLQStat, len(stats))
	for i, s := range stats {
		out[i] = reconcile.DLQStat{Queue: s.Queue, Depth: s.Depth, InFlight: s.InFlight,
			OldestAgeSeconds: int64(s.OldestAge.Seconds())}
	}
	return out, err
}

// kapsoHistory is the Platform API client with a number's messages and
// conversations listed through the Meta proxy.
type kapsoHistory struct {
	*kapsoapi.Client
	history *kapsoapi.MetaProxy
}

func (k kapsoHistory) ListMessages(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedMessage], error) {
	return k.history.ListMessages(ctx, phoneNumberID, after, limit)
}

func (k kapsoHistory) ListConversations(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedConversation], error) {
	return k.history.ListConversations(ctx, phoneNumberID, after, limit)
}
