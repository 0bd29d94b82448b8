package docs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/redirect"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// What the world is seeded with.
const (
	apiToken      = "api-token"
	projectSecret = "project-secret"
	metaAppSecret = "meta-app-secret"
	numberID      = "106540352242922"
	numberSecret  = "number-secret"
	tenant        = "acme"
	linkID        = "3f6b2a9c-1d4e-4f8a-9b7c-5e2d1a0f8c6b"
	// oldLinkID is a link of tenant omega that a newer one superseded.
	oldLinkID = "c0ffee00-0000-4000-8000-000000000001"
)

// Named tokens of the world: one that only reads, one that only sends.
var (
	readToken = worldSecret(1)
	sendToken = worldSecret(2)
)

func worldSecret(b byte) string {
	secret, _, err := access.NewSecret(bytes.NewReader(bytes.Repeat([]byte{b}, access.SecretBytes)))
	if err != nil {
		panic(err)
	}
	return secret
}

// seedTokens stores the world's named tokens.
func seedTokens(t *testing.T) access.Store {
	tokens := &memstore.Tokens{}
	for secret, scope := range map[string]access.Scope{readToken: access.Read, sendToken: access.Send} {
		h, err := access.Parse(secret)
		must(t, err)
		must(t, tokens.CreateToken(context.Background(), h, access.Token{Name: string(scope) + "-only",
			Scopes: []access.Scope{scope}, CreatedAt: time.Now()}))
	}
	return tokens
}

// backend is the state of what the handlers depend on.
type backend int

const (
	healthy backend = iota
	// storeDown: DynamoDB and SQS fail every call.
	storeDown
	// kapsoDown: Kapso's Platform API cannot be reached.
	kapsoDown
	// appPagesUnset: the redirects' app pages are not valid URLs.
	appPagesUnset
)

// world is every HTTP handler, built as the functions build them but on the
// in-memory stores and the Kapso simulator, once per backend state.
type world struct {
	onboarding *memstore.Onboarding
	messages   *memstore.Messages
	feed       *memstore.Feed
	objects    *memstore.Objects
	erasures   *memstore.Erasures
	handlers   map[backend]http.Handler
}

// uploadSource is Kapso's media uploads: each upload a new id.
type uploadSource struct {
	media.Source
	n atomic.Int64
}

func (u *uploadSource) Upload(context.Context, string, string, string, io.Reader, int64) (string, error) {
	return fmt.Sprintf("88%04d", u.n.Add(1)), nil
}

// downUploads fails every call, as DynamoDB does when it is down.
type downUploads struct{ media.Uploads }

func (downUploads) Upload(context.Context, string, string, string) (media.Upload, bool, error) {
	return media.Upload{}, false, errors.New("dynamodb down")
}

// worldMaxUpload is the world's upload limit, kept small.
const worldMaxUpload = 64 << 10

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim := kapsosim.New(kapsosim.Options{APIKey: "kapso-key"})
	simSrv := httptest.NewServer(sim)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	retryOnce := kapsoapi.WithRetry(1, time.Millisecond, time.Millisecond)
	kapso := kapsoapi.New(simSrv.URL+"/platform/v1", "kapso-key", retryOnce)

	clk := testclock.New(time.Now())
	w := &world{onboarding: &memstore.Onboarding{}, messages: &memstore.Messages{}, feed: &memstore.Feed{Now: clk.Now},
		objects: &memstore.Objects{BaseURL: "https://media.example"}, erasures: &memstore.Erasures{},
		handlers: map[backend]http.Handler{}}
	source := &uploadSource{}
	numbers := &memstore.Numbers{}
	claims := &memstore.Claims{}
	must(t, numbers.PutSecret(ctx, numberID, numberSecret))
	w.seedTenant(t)
	w.seedFailedTenant(t)
	w.seedSupersededLink(t)
	w.seedMessages(t)
	w.seedEvents(t)
	w.seedExport(t)
	clk.Advance(eventing.Settle)

	// One templates store for every backend but the failing one, so that
	// what one request reads is there for the next.
	tplStore := &memstore.Templates{}
	tokens := seedTokens(t)
	audit := &memstore.AuditLog{}
	offboardings := &memstore.Offboardings{}
	for _, b := range []backend{healthy, storeDown, kapsoDown, appPagesUnset} {
		var (
			store interface {
				tenantapi.OnboardingStore
				redirect.LinkLookup
			} = w.onboarding
			reader messaging.Reader        = w.messages
			feed   eventing.Feed           = w.feed
			claim  idempotency.Store       = claims
			queue  envelope.Enqueuer       = okQueue{}
			out    messaging.OutboundQueue = okOutbound{}
			api    tenantapi.KapsoClient   = kapso
			ups    media.Uploads           = &memstore.Uploads{}
			tpls   templates.Store         = tplStore
			trail  access.AuditLog         = audit
			tplAPI templates.Kapso         = worldTemplates{}
			app                            = "https://app.example/whatsapp"
		)
		switch b {
		case storeDown:
			store, reader, claim, queue = downOnboarding{w.onboarding}, downMessages{w.messages}, downClaims{}, downQueue{}
			out, feed, ups, tpls, trail = downOutbound{}, &downFeed{}, downUploads{}, downTemplates{}, downAudit{}
		case kapsoDown:
			api = kapsoapi.New(dead.URL, "kapso-key", retryOnce)
			tplAPI = worldTemplates{down: true}
		case appPagesUnset:
			app = "http://[::1"
		}
		mux := http.NewServeMux()
		(&webhook.Ingest{Claims: claim, Queue: queue, Secrets: &webhook.SecretCache{Source: numbers, TTL: time.Minute},
			ProjectSecret: projectSecret, MetaAppSecret: metaAppSecret, LifecycleQueueURL: "lifecycle",
			MessagesQueueURL: "messages", Log: log}).Register(mux)
		(&redirect.Handler{Store: store, Queue: queue, LifecycleQueueURL: "lifecycle",
			AppSuccessURL: app + "/connected", AppFailureURL: app + "/failed", Log: log}).Register(mux)
		(&tenantapi.API{Store: store, Kapso: api, Messages: reader, Outbox: w.messages, Outbound: out, Feed: feed, Token: apiToken,
			Tokens: tokens, Audit: trail, PublicBaseURL: "https://bridge.example", Log: log, Objects: w.objects, MediaSource: source, Uploads: ups,
			MaxUploadBytes: worldMaxUpload, Templates: tpls, TemplateKapso: tplAPI, MaxExportBytes: worldMaxExport,
			Offboard: w.offboarder(offboardings, offboarding.Runner{Tenants: w.onboarding}, api),
			Erasures: worldErasures(t, w.erasures, b == storeDown)}).Register(mux)
		w.handlers[b] = mux
	}
	return w
}

// seedTenant connects the tenant's number through a setup link, as the
// tenant API and the lifecycle worker record it.
func (w *world) seedTenant(t *testing.T) {
	ctx := context.Background()
	_, err := onboarding.EnsureCustomer(ctx, w.onboarding, tenant, "Acme", func(context.Context) (string, error) {
		return "customer-acme", nil
	})
	must(t, err)
	at := time.Now().UTC().Add(-3 * time.Hour) // links valid for 24 h: not expired when read
	_, err = w.onboarding.RecordLink(ctx, tenant, onboarding.LinkDetails{SetupLinkID: linkID,
		URL: "https://app.kapso.ai/setup/" + linkID, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)})
	must(t, err)
	number := onboarding.NumberDetails{PhoneNumberID: "111", SetupLinkID: linkID, BusinessAccountID: "222",
		DisplayPhoneNumber: "+15550001111", ConnectionType: onboarding.ConnectionCoexistence}
	for _, f := range []onboarding.Fact{
		onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: linkID, PhoneNumberID: "111"}, at.Add(time.Minute)),
		onboarding.PhoneNumberCreated(number, at.Add(2*time.Minute)),
		onboarding.WebhookRegistered("111", "webhook-1", at.Add(3*time.Minute)),
	} {
		_, _, err := w.onboarding.AppendFact(ctx, tenant, f)
		must(t, err)
	}
}

// seedFailedTenant gives two tenants a failed signup: zeta's failure Kapso
// reports too (one that needs a human), eta's only the browser reported
// (its link stays usable).
func (w *world) seedFailedTenant(t *testing.T) {
	ctx := context.Background()
	at := time.Now().UTC().Add(-2 * time.Hour)
	for _, tenant := range []struct{ id, name, link string }{
		{"zeta", "Zeta", "7d1e0c55-0b7a-4c1e-9a43-2f6f0d1c9e01"},
		{"eta", "Eta", "7d1e0c55-0b7a-4c1e-9a43-2f6f0d1c9e02"},
	} {
		_, err := onboarding.EnsureCustomer(ctx, w.onboarding, tenant.id, tenant.name, func(context.Context) (string, error) {
			return "customer-" + tenant.id, nil
		})
		must(t, err)
		_, err = w.onboarding.RecordLink(ctx, tenant.id, onboarding.LinkDetails{SetupLinkID: tenant.link,
			URL: "https://app.kapso.ai/setup/" + tenant.link, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)})
		must(t, err)
		_, _, err = w.onboarding.AppendFact(ctx, tenant.id, onboarding.FailureRedirect(tenant.link, "facebook_auth_failed", at.Add(time.Minute)))
		must(t, err)
	}
	_, _, err := w.onboarding.AppendFact(ctx, "zeta", onboarding.SetupFailed("7d1e0c55-0b7a-4c1e-9a43-2f6f0d1c9e01",
		"facebook_auth_failed", at.Add(5*time.Minute)).WithSource(onboarding.SourceReconciler))
	must(t, err)
}

// seedSupersededLink gives a tenant a setup link and then a newer one,
// which supersedes the first.
func (w *world) seedSupersededLink(t *testing.T) {
	ctx := context.Background()
	_, err := onboarding.EnsureCustomer(ctx, w.onboarding, "omega", "Omega", func(context.Context) (string, error) {
		return "customer-omega", nil
	})
	must(t, err)
	at := time.Now().UTC().Add(-time.Hour)
	for i, id := range []string{oldLinkID, "c0ffee00-0000-4000-8000-000000000002"} {
		created := at.Add(time.Duration(i) * time.Minute)
		_, err = w.onboarding.RecordLink(ctx, "omega", onboarding.LinkDetails{SetupLinkID: id,
			URL: "https://app.kapso.ai/setup/" + id, CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)})
		must(t, err)
	}
}

// seedMessages stores, for the tenant's number 111, what exercises every
// optional part of the read answers: media, a failure, a reaction, a
// message known only by its statuses, an identity change and a marketing
// preference.
func (w *world) seedMessages(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	business := messaging.Person{Phone: "15550009999"}
	alice := messaging.Person{BSUID: "US.100", Username: "alice", Phone: "15550001111", Name: "Alice"}
	in := messaging.Message{WAMID: "wamid.in1", PhoneNumberID: "111", Direction: messaging.Inbound, Type: "image",
		Text: "a cat", Timestamp: t0, From: alice, To: business, ConversationID: "conv-1",
		Media: &messaging.Media{ID: "media-1", MIMEType: "image/jpeg", Caption: "a cat"},
		Kapso: &messaging.KapsoContent{Content: "a cat", Origin: "cloud_api", HasMedia: true, MediaURL: "https://api.kapso.ai/media/1"}}
	out := messaging.Message{WAMID: "wamid.out1", PhoneNumberID: "111", Direction: messaging.Outbound, Type: "text",
		Text: "hi Alice", Timestamp: t0.Add(time.Minute), From: business, To: alice, ConversationID: "conv-1", ReplyTo: "wamid.in1"}
	reaction := messaging.Message{WAMID: "wamid.in2", PhoneNumberID: "111", Direction: messaging.Inbound, Type: "reaction",
		Text: "👍", Timestamp: t0.Add(2 * time.Minute), From: alice, To: business, ConversationID: "conv-1",
		Reaction: &messaging.Reaction{MessageID: "wamid.out1", Emoji: "👍"}}
	must(t, w.messages.PutMessage(ctx, tenant, in, nil))
	must(t, w.messages.PutMessage(ctx, tenant, out, []messaging.StatusUpdate{{WAMID: "wamid.out1", PhoneNumberID: "111",
		Status: messaging.Sent, At: t0.Add(time.Minute), Recipient: alice}}))
	must(t, w.messages.ApplyStatus(ctx, tenant, messaging.StatusUpdate{WAMID: "wamid.out1", PhoneNumberID: "111",
		Status: messaging.Failed, At: t0.Add(2 * time.Minute), Recipient: alice,
		Error: &messaging.StatusError{Code: 131026, Title: "Message undeliverable", Message: "Message undeliverable",
			Details: "Receiver is incapable of receiving this message"}}))
	must(t, w.messages.PutMessage(ctx, tenant, reaction, nil))
	// The image's copy is in the bucket.
	key := media.ObjectKey(tenant, "111", "media-1")
	_, err := w.objects.Put(ctx, key, "image/jpeg", strings.NewReader("\xff\xd8\xff a cat"), 1<<20)
	must(t, err)
	must(t, w.messages.SetMedia(ctx, tenant, "wamid.in1", media.Info{State: media.Stored, MIMEType: "image/jpeg", Size: 10,
		SHA256: strings.Repeat("ab", 32), Key: key, At: t0}, time.Time{}))
	must(t, w.messages.ApplyStatus(ctx, tenant, messaging.StatusUpdate{WAMID: "wamid.ghost", PhoneNumberID: "111",
		Status: messaging.Read, At: t0.Add(time.Hour), Recipient: alice}))
	must(t, w.messages.PutConversation(ctx, tenant, messaging.Conversation{ID: "conv-1", PhoneNumberID: "111", Person: alice,
		Status: messaging.ConversationEnded, LastActiveAt: t0.Add(2 * time.Minute), InactivityMinutes: 30}))
	must(t, w.messages.PutConversation(ctx, tenant, messaging.Conversation{ID: "conv-2", PhoneNumberID: "111",
		Person: messaging.Person{Phone: "15550004444"}, Status: messaging.ConversationActive, LastActiveAt: t0.Add(time.Hour)}))
	must(t, w.messages.PutContact(ctx, tenant, "111", alice, messaging.Sighting{At: t0, ConversationID: "conv-1"}))
	// Alice last wrote two days ago, whatever the clock says of t0: outside
	// her customer service window.
	must(t, w.messages.PutContact(ctx, tenant, "111", alice,
		messaging.Sighting{At: time.Now().Add(-48 * time.Hour), Inbound: true, ConversationID: "conv-1"}))
	// Bruno wrote an hour ago: free-form messages may go to him. Nobody
	// else is in their customer service window.
	must(t, w.messages.PutContact(ctx, tenant, "111", messaging.Person{Phone: brunoPhone, Name: "Bruno"},
		messaging.Sighting{At: time.Now().Add(-time.Hour), Inbound: true, ConversationID: "conv-3"}))
	aliceNow := alice
	aliceNow.BSUID = "US.200"
	must(t, w.messages.ChangeIdentity(ctx, tenant, "111", messaging.Person{BSUID: alice.BSUID}, aliceNow, t0.Add(3*time.Minute)))
	must(t, w.messages.SetMarketingPreference(ctx, tenant, "111", aliceNow,
		messaging.MarketingPreference{Status: "opted_out", Sequence: 7, OccurredAt: t0.Add(4 * time.Minute)}))
}

// seedEvents appends one event of each type to the feed, each with data
// as the stores show it: the tenant's status, a message received with its
// history, statuses with and without an error, a conversation and a
// contact.
func (w *world) seedEvents(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 4, 5, 0, 0, time.UTC)
	in, ok, err := w.messages.Message(ctx, tenant, "wamid.in1")
	must(t, err)
	contact, found, err := w.messages.Contact(ctx, tenant, "111", "US.200")
	must(t, err)
	convs, _, err := w.messages.Conversations(ctx, tenant, messaging.Page{})
	must(t, err)
	if !ok || !found || len(convs) == 0 {
		t.Fatal("the world's messages are not seeded")
	}
	failed := &bridgeevents.StatusError{Code: 131026, Title: "Message undeliverable", Message: "Message undeliverable",
		Details: "Receiver is incapable of receiving this message"}
	data := []struct {
		typ, subject string
		v            any
	}{
		{bridgeevents.TenantStatusChanged, "tenant:" + tenant, bridgeevents.TenantStatus{TenantID: tenant, Status: "connected",
			PreviousStatus: "awaiting_confirmation", NeedsAttention: []string{}, Reason: "phone number created"}},
		{bridgeevents.MessageReceived, "message:wamid.in1", bridgeevents.MessageReceivedData{TenantID: tenant, Message: apiview.Message(in)}},
		{bridgeevents.MessageStatusChanged, "message:wamid.out1", bridgeevents.MessageStatus{TenantID: tenant, MessageID: "wamid.out1",
			WAMID: "wamid.out1", PhoneNumberID: "111", ConversationID: "conv-1", Status: "failed", PreviousStatus: "sent", Error: failed}},
		{bridgeevents.MessageStatusChanged, "message:out_1", bridgeevents.MessageStatus{TenantID: tenant, MessageID: "out_1",
			PhoneNumberID: "111", Status: "accepted", PreviousStatus: "sending"}},
		{bridgeevents.ConversationStatusChanged, "conversation:conv-1", bridgeevents.ConversationStatus{TenantID: tenant,
			ConversationID: "conv-1", PhoneNumberID: "111", Status: "ended", PreviousStatus: "active",
			Contact: apiview.Conversation(convs[0]).Contact}},
		{bridgeevents.ContactChanged, "contact:111:US.200", bridgeevents.ContactChange{TenantID: tenant,
			Change: bridgeevents.ContactIdentityChanged, Contact: apiview.Contact(contact)}},
	}
	var events []bridgeevents.Event
	for i, d := range data {
		b, err := json.Marshal(d.v)
		must(t, err)
		events = append(events, bridgeevents.Event{ID: eventing.ID(d.typ, tenant, d.subject, int64(i+1), ""), Type: d.typ,
			Timestamp: at.Add(time.Duration(i) * time.Second), TenantID: tenant, Source: bridgeevents.SourceWebhook,
			Subject: d.subject, Version: int64(i + 1), Data: b})
	}
	must(t, w.feed.Append(ctx, events))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The failing twins: what a DynamoDB or SQS outage looks like to the
// handlers. Each embeds the healthy store, so a method a new route calls
// works until it is made to fail here too (and the route's documented 503
// is then missing from the answers).
var errDown = errors.New("dynamodb: connection refused")

type downOnboarding struct{ *memstore.Onboarding }

func (downOnboarding) EnsureTenant(context.Context, string, string) error { return errDown }
func (downOnboarding) Load(context.Context, string) (onboarding.Connection, bool, error) {
	return onboarding.Connection{}, false, errDown
}
func (downOnboarding) TenantOfLink(context.Context, string) (string, bool, error) {
	return "", false, errDown
}
func (downOnboarding) ListTenants(context.Context, onboarding.TenantQuery) ([]onboarding.TenantItem, string, error) {
	return nil, "", errDown
}

type downMessages struct{ *memstore.Messages }

func (downMessages) Conversations(context.Context, string, messaging.Page) ([]messaging.ConversationView, string, error) {
	return nil, "", errDown
}
func (downMessages) ConversationMessages(context.Context, string, string, messaging.Page) ([]messaging.StoredMessage, string, error) {
	return nil, "", errDown
}
func (downMessages) Message(context.Context, string, string) (messaging.StoredMessage, bool, error) {
	return messaging.StoredMessage{}, false, errDown
}
func (downMessages) Contact(context.Context, string, string, string) (messaging.Contact, bool, error) {
	return messaging.Contact{}, false, errDown
}

type downFeed struct{ memstore.Feed }

// downAudit fails every call.
type downAudit struct{}

func (downAudit) Record(context.Context, access.Entry) error { return errDown }
func (downAudit) List(context.Context, access.AuditQuery) (access.AuditPage, error) {
	return access.AuditPage{}, errDown
}

func (*downFeed) List(context.Context, eventing.FeedQuery) (eventing.FeedPage, error) {
	return eventing.FeedPage{}, errDown
}

type downClaims struct{}

func (downClaims) Claim(context.Context, string, string, time.Duration) (idempotency.Result, error) {
	return idempotency.Result{}, errDown
}
func (downClaims) Accept(context.Context, idempotency.Claim) error  { return errDown }
func (downClaims) Release(context.Context, idempotency.Claim) error { return errDown }

// brunoPhone is a person in the customer service window of number 111.
const brunoPhone = "15550002222"

type okOutbound struct{}

func (okOutbound) Enqueue(context.Context, messaging.OutboundJob, time.Duration) error { return nil }

type downOutbound struct{}

func (downOutbound) Enqueue(context.Context, messaging.OutboundJob, time.Duration) error {
	return errors.New("sqs: connection refused")
}

type okQueue struct{}

func (okQueue) Send(context.Context, string, envelope.Delivery, []byte, bool) error { return nil }

type downQueue struct{}

func (downQueue) Send(context.Context, string, envelope.Delivery, []byte, bool) error {
	return errors.New("sqs: connection refused")
}
