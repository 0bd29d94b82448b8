package mediaworker_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/mediaworker"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

const (
	tenant = "acme"
	number = "106540352242922"
)

// kapso is Kapso's media side: it answers each media id's metadata with a
// fresh URL and serves the bytes, counting the calls, failing as told.
type kapso struct {
	mu    sync.Mutex
	files map[string][]byte
	// sha256 and size, when set for a media id, are what the metadata says
	// instead of the truth.
	sha256 map[string]string
	size   map[string]int64
	// metaErrs and openErrs are the answers of the next calls, in order.
	metaErrs, openErrs []error
	// expireNext makes the URL of the next metadata expired when opened.
	expireNext bool
	expired    map[string]bool
	issued     int
	metadata   int
	opened     []string
}

func newKapso() *kapso {
	return &kapso{files: map[string][]byte{}, sha256: map[string]string{}, size: map[string]int64{}, expired: map[string]bool{}}
}

func (k *kapso) Metadata(_ context.Context, phoneNumberID, mediaID string) (media.Metadata, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.metadata++
	if len(k.metaErrs) > 0 {
		err := k.metaErrs[0]
		k.metaErrs = k.metaErrs[1:]
		return media.Metadata{}, err
	}
	b, ok := k.files[mediaID]
	if !ok || phoneNumberID != number {
		return media.Metadata{}, errs.E(errs.NotFound, "Kapso has no such record", nil)
	}
	k.issued++
	sum := sha256.Sum256(b)
	m := media.Metadata{ID: mediaID, MIMEType: "image/png", SHA256: hex.EncodeToString(sum[:]), FileSize: int64(len(b)),
		URL: fmt.Sprintf("https://kapso.test/media/%s?token=secret-%d", mediaID, k.issued)}
	if s, ok := k.sha256[mediaID]; ok {
		m.SHA256 = s
	}
	if n, ok := k.size[mediaID]; ok {
		m.FileSize = n
	}
	if k.expireNext {
		k.expired[m.URL], k.expireNext = true, false
	}
	return m, nil
}

func (k *kapso) Open(_ context.Context, m media.Metadata) (io.ReadCloser, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.opened = append(k.opened, m.URL)
	if len(k.openErrs) > 0 {
		err := k.openErrs[0]
		k.openErrs = k.openErrs[1:]
		return nil, err
	}
	if k.expired[m.URL] {
		return nil, errs.E(errs.Unauthorized, "Kapso refused the request", errors.New("kapso media download url expired"))
	}
	return io.NopCloser(bytes.NewReader(k.files[m.ID])), nil
}

func (k *kapso) Upload(context.Context, string, string, string, io.Reader, int64) (string, error) {
	return "", errors.New("no uploads here")
}

// calls counts Kapso's calls: metadata reads and downloads.
func (k *kapso) calls() (metadata, opens int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.metadata, len(k.opened)
}

type fixture struct {
	// number is the phone number id of the messages inbound stores.
	number  string
	w       *mediaworker.Worker
	kapso   *kapso
	store   *memstore.Messages
	objects *memstore.Objects
	holds   *memstore.Visibility
	rejects *memstore.Rejects
	clock   *testclock.Clock
	logs    *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{number: number, kapso: newKapso(), store: &memstore.Messages{}, objects: &memstore.Objects{}, holds: &memstore.Visibility{},
		rejects: &memstore.Rejects{}, clock: testclock.New(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)), logs: &bytes.Buffer{}}
	f.w = &mediaworker.Worker{Source: f.kapso, Objects: f.objects, Store: f.store, Queue: f.holds, Rejects: f.rejects,
		Log:         slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxAttempts: schema.Media.MaxReceiveCount, Now: f.clock.Now}
	return f
}

// png is a media's bytes: deterministic, n bytes.
func png(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// inbound stores a person's message of the type with the media id, and
// answers the message.received event the publisher tells of it.
func (f *fixture) inbound(t *testing.T, wamid, typ, mediaID string) string {
	t.Helper()
	m := messaging.Message{WAMID: wamid, PhoneNumberID: f.number, Direction: messaging.Inbound, Type: typ,
		Timestamp: f.clock.Now().Add(-time.Minute), From: messaging.Person{Phone: "5215512345678", Name: "Ana"},
		To: messaging.Person{Phone: "15550001111"}}
	if media.HasMedia(typ) {
		m.Media = &messaging.Media{ID: mediaID, MIMEType: "image/png", Filename: "ana.png"}
	}
	ctx := context.Background()
	if err := f.store.PutMessage(ctx, tenant, m, nil); err != nil {
		t.Fatal(err)
	}
	stored, _, err := f.store.Message(ctx, tenant, wamid)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := eventing.Derive(eventing.Change{At: f.clock.Now(),
		Message: &eventing.Pair[eventing.MessageItem]{After: &eventing.MessageItem{TenantID: tenant, Message: stored}}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v: %v", evs, err)
	}
	b, err := json.Marshal(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func msg(id, body string, attempt int) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(attempt), "SentTimestamp": "1796637600000"}}
}

// handle runs a batch and answers the ids of the messages it failed.
func (f *fixture) handle(t *testing.T, msgs ...events.SQSMessage) []string {
	t.Helper()
	res, err := f.w.Handle(context.Background(), events.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, x := range res.BatchItemFailures {
		failed = append(failed, x.ItemIdentifier)
	}
	return failed
}

func (f *fixture) state(t *testing.T, wamid string) media.Info {
	t.Helper()
	info, ok, err := f.store.MediaState(context.Background(), tenant, wamid)
	if err != nil || !ok {
		t.Fatalf("media state of %s: %v %v", wamid, ok, err)
	}
	return info
}

func (f *fixture) due(t *testing.T, at time.Time) []media.Retry {
	t.Helper()
	due, err := f.store.DueMediaRetries(context.Background(), at, 10)
	if err != nil {
		t.Fatal(err)
	}
	return due
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The media is copied once: into its key, with Kapso's type, its size and
// sha256 recorded on the message; a duplicate delivery of the event, and
// the same event in one batch twice, fetch nothing from Kapso.
func TestMediaIsStoredOnceAndADuplicateFetchesNothing(t *testing.T) {
	f := newFixture(t)
	body := png(3000)
	f.kapso.files["m1"] = body
	ev := f.inbound(t, "wamid.1", "image", "m1")
	if failed := f.handle(t, msg("q1", ev, 1)); len(failed) != 0 {
		t.Fatalf("failed %v\n%s", failed, f.logs)
	}
	key := media.ObjectKey(tenant, number, "m1")
	got, ctype, ok, _ := f.objects.Get(context.Background(), key)
	if !ok || !bytes.Equal(got, body) || ctype != "image/png" {
		t.Fatalf("object %s: %v %d bytes %q", key, ok, len(got), ctype)
	}
	info := f.state(t, "wamid.1")
	want := media.Info{State: media.Stored, MIMEType: "image/png", Size: 3000, SHA256: hexSum(body), Key: key, At: f.clock.Now()}
	if info != want {
		t.Errorf("info %+v\nwant %+v", info, want)
	}
	if meta, opens := f.kapso.calls(); meta != 1 || opens != 1 {
		t.Errorf("Kapso calls: %d metadata, %d downloads", meta, opens)
	}
	f.logs.Reset()
	if failed := f.handle(t, msg("q2", ev, 1), msg("q3", ev, 2)); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if meta, opens := f.kapso.calls(); meta != 1 || opens != 1 {
		t.Errorf("a duplicate called Kapso: %d metadata, %d downloads", meta, opens)
	}
	if !strings.Contains(f.logs.String(), "duplicates=2") || !strings.Contains(f.logs.String(), "stored=0") {
		t.Errorf("the batch's log does not count the duplicates:\n%s", f.logs)
	}
	if len(f.holds.Take()) != 0 || len(f.due(t, f.clock.Now().Add(48*time.Hour))) != 0 {
		t.Error("a stored media was held back or made due again")
	}
}

// Kapso's sha256 may be hex (either case) or base64 of the digest; with
// none, the bytes are stored as they came.
func TestSHA256InHexOrBase64(t *testing.T) {
	body := png(500)
	sum := sha256.Sum256(body)
	for name, given := range map[string]string{
		"hex":            hex.EncodeToString(sum[:]),
		"upper hex":      strings.ToUpper(hex.EncodeToString(sum[:])),
		"base64":         base64.StdEncoding.EncodeToString(sum[:]),
		"base64 no pads": base64.RawStdEncoding.EncodeToString(sum[:]),
		"none":           "",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.kapso.files["m1"] = body
			f.kapso.sha256["m1"] = given
			if failed := f.handle(t, msg("q1", f.inbound(t, "wamid.1", "image", "m1"), 1)); len(failed) != 0 {
				t.Fatalf("failed %v\n%s", failed, f.logs)
			}
			if info := f.state(t, "wamid.1"); info.State != media.Stored || info.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("info %+v", info)
			}
		})
	}
}

// A media over Meta's limit for its type fails for good: on Kapso's word
// without a download, or on the bytes read, which leave no object.
func TestTooLargeFailsForGood(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int   // bytes served
		said      int64 // file_size Kapso gives; -1: the truth
		typ       string
		downloads int
	}{
		{"said too large", 100, 5*media.MB + 1, "image", 0},
		{"sticker said too large", 100, 500*1024 + 1, "sticker", 0},
		{"read too large", 500*1024 + 1, 1000, "sticker", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.kapso.files["m1"] = png(tc.size)
			if tc.said >= 0 {
				f.kapso.size["m1"] = tc.said
			}
			if failed := f.handle(t, msg("q1", f.inbound(t, "wamid.1", tc.typ, "m1"), 1)); len(failed) != 0 {
				t.Fatalf("failed %v: a media too large is no retry", failed)
			}
			info := f.state(t, "wamid.1")
			if info.State != media.Failed || !strings.HasPrefix(info.Error, media.ReasonTooLarge+": ") || info.Attempts != 1 ||
				!info.At.Equal(f.clock.Now()) {
				t.Errorf("info %+v", info)
			}
			if _, opens := f.kapso.calls(); opens != tc.downloads {
				t.Errorf("%d downloads, want %d", opens, tc.downloads)
			}
			if keys := f.objects.Keys(); len(keys) != 0 {
				t.Errorf("objects left: %v", keys)
			}
			if len(f.holds.Take()) != 0 || len(f.due(t, f.clock.Now().Add(30*24*time.Hour))) != 0 {
				t.Error("a media too large is tried again")
			}
		})
	}
}

// Bytes whose sha256 is not Kapso's are deleted from the bucket; the
// message comes back once, and a second mismatch is recorded failed
// (checksum), which the reconciler tries again later.
func TestChecksumMismatchDeletesTheObject(t *testing.T) {
	f := newFixture(t)
	f.kapso.files["m1"] = png(800)
	f.kapso.sha256["m1"] = hexSum([]byte("other bytes"))
	ev := f.inbound(t, "wamid.1", "image", "m1")
	if failed := f.handle(t, msg("q1", ev, 1)); !slices.Equal(failed, []string{"q1"}) {
		t.Fatalf("failed %v", failed)
	}
	if keys := f.objects.Keys(); len(keys) != 0 {
		t.Errorf("objects left: %v", keys)
	}
	if held := f.holds.Take(); !slices.Equal(held, []time.Duration{10 * time.Second}) {
		t.Errorf("held %v", held)
	}
	if info := f.state(t, "wamid.1"); info.State != media.Pending {
		t.Errorf("after one mismatch: %+v", info)
	}
	if failed := f.handle(t, msg("q1", ev, 2)); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	info := f.state(t, "wamid.1")
	if info.State != media.Failed || !strings.HasPrefix(info.Error, media.ReasonChecksum+": ") || info.Key != "" {
		t.Errorf("info %+v", info)
	}
	if keys := f.objects.Keys(); len(keys) != 0 {
		t.Errorf("objects left: %v", keys)
	}
	if due := f.due(t, f.clock.Now().Add(media.RetryEvery)); len(due) != 1 {
		t.Errorf("due %v", due)
	}
	// A sha256 in no known form is no match either.
	g := newFixture(t)
	g.kapso.files["m2"] = png(10)
	g.kapso.sha256["m2"] = "not-a-digest"
	g.handle(t, msg("q2", g.inbound(t, "wamid.2", "image", "m2"), 2))
	if info := g.state(t, "wamid.2"); info.State != media.Failed || !strings.Contains(info.Error, "neither hex nor base64") {
		t.Errorf("info %+v", info)
	}
}

// Kapso failing (5xx, no answer, a rate limit) leaves the message on its
// queue, held back; once Kapso answers, the media is stored.
func TestKapsoFailingThenAnswering(t *testing.T) {
	f := newFixture(t)
	f.kapso.files["m1"] = png(1200)
	f.kapso.metaErrs = []error{errs.E(errs.Unavailable, "Kapso is unavailable; retry", errors.New("kapso answered 503")),
		&errs.Error{Code: errs.RateLimited, Message: "slow down", RetryAfter: 3 * time.Minute}}
	f.kapso.openErrs = []error{errs.E(errs.Unavailable, "Kapso is unavailable; retry", errors.New("kapso answered 502"))}
	ev := f.inbound(t, "wamid.1", "image", "m1")
	for attempt := 1; attempt <= 3; attempt++ {
		if failed := f.handle(t, msg("q1", ev, attempt)); !slices.Equal(failed, []string{"q1"}) {
			t.Fatalf("attempt %d: failed %v", attempt, failed)
		}
		if info := f.state(t, "wamid.1"); info.State != media.Pending {
			t.Fatalf("attempt %d: %+v", attempt, info)
		}
	}
	// The schedule's waits; the rate limit's when longer.
	if held := f.holds.Take(); !slices.Equal(held, []time.Duration{10 * time.Second, 3 * time.Minute, 5 * time.Minute}) {
		t.Errorf("held %v", held)
	}
	if failed := f.handle(t, msg("q1", ev, 4)); len(failed) != 0 {
		t.Fatalf("failed %v\n%s", failed, f.logs)
	}
	if info := f.state(t, "wamid.1"); info.State != media.Stored || info.Size != 1200 {
		t.Errorf("info %+v", info)
	}
	if meta, opens := f.kapso.calls(); meta != 4 || opens != 2 {
		t.Errorf("%d metadata reads, %d downloads", meta, opens)
	}
}

// A download URL that expired heals on the next attempt: the metadata, and
// with it the URL, is read anew.
func TestExpiredURLHeals(t *testing.T) {
	f := newFixture(t)
	f.kapso.files["m1"] = png(64)
	f.kapso.expireNext = true
	ev := f.inbound(t, "wamid.1", "image", "m1")
	if failed := f.handle(t, msg("q1", ev, 1)); !slices.Equal(failed, []string{"q1"}) {
		t.Fatalf("failed %v", failed)
	}
	if failed := f.handle(t, msg("q1", ev, 2)); len(failed) != 0 {
		t.Fatalf("failed %v\n%s", failed, f.logs)
	}
	if info := f.state(t, "wamid.1"); info.State != media.Stored {
		t.Errorf("info %+v", info)
	}
	if len(f.kapso.opened) != 2 || f.kapso.opened[0] == f.kapso.opened[1] {
		t.Errorf("downloads from %v: want two URLs", f.kapso.opened)
	}
}

// What can never be copied from the message is recorded failed at once,
// and the message leaves its queue: a media Kapso does not have, a message
// naming no media id, a type without media. Only the first may pass later
// (the reconciler's turn).
func TestPermanentFailureIsRecordedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name, typ, mediaID, reason string
		retry                      bool
	}{
		{"not found", "image", "gone", media.ReasonNotFound, true},
		{"no media id", "document", "", media.ReasonNoMediaID, false},
		{"no media in its type", "text", "", media.ReasonUnsupported, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if failed := f.handle(t, msg("q1", f.inbound(t, "wamid.1", tc.typ, tc.mediaID), 1)); len(failed) != 0 {
				t.Fatalf("failed %v", failed)
			}
			info := f.state(t, "wamid.1")
			if info.State != media.Failed || !strings.HasPrefix(info.Error, tc.reason+": ") || info.Attempts != 1 {
				t.Errorf("info %+v", info)
			}
			if len(f.holds.Take()) != 0 {
				t.Error("held back")
			}
			if due := f.due(t, f.clock.Now().Add(media.RetryEvery)); (len(due) == 1) != tc.retry {
				t.Errorf("due %v", due)
			}
			if due := f.due(t, f.clock.Now().Add(media.RetryEvery-time.Second)); len(due) != 0 {
				t.Errorf("due before its hour: %v", due)
			}
		})
	}
}

// The last receive's failure is recorded (reason, attempts, when) with a
// retry for the reconciler an hour on, and the message leaves its queue,
// not for the DLQ; a failure before it is only held back.
func TestLastAttemptRecordsFailedAndARetry(t *testing.T) {
	f := newFixture(t)
	f.kapso.files["m1"] = png(10)
	for range 10 {
		f.kapso.metaErrs = append(f.kapso.metaErrs, errs.E(errs.Unavailable, "Kapso is unavailable; retry", errors.New("kapso answered 500")))
	}
	ev := f.inbound(t, "wamid.1", "image", "m1")
	var held []time.Duration
	for attempt := 1; attempt < schema.Media.MaxReceiveCount; attempt++ {
		if failed := f.handle(t, msg("q1", ev, attempt)); len(failed) != 1 {
			t.Fatalf("attempt %d: failed %v", attempt, failed)
		}
		held = append(held, f.holds.Take()...)
	}
	if want := []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute}; !slices.Equal(held, want) {
		t.Errorf("held %v, want %v", held, want)
	}
	if info := f.state(t, "wamid.1"); info.State != media.Pending {
		t.Fatalf("before the last attempt: %+v", info)
	}
	if failed := f.handle(t, msg("q1", ev, schema.Media.MaxReceiveCount)); len(failed) != 0 {
		t.Fatalf("the last attempt's message stays: %v", failed)
	}
	info := f.state(t, "wamid.1")
	if info.State != media.Failed || !strings.HasPrefix(info.Error, media.ReasonUnavailable+": ") || info.Attempts != 1 ||
		!info.At.Equal(f.clock.Now()) {
		t.Errorf("info %+v", info)
	}
	if due := f.due(t, f.clock.Now().Add(media.RetryEvery)); len(due) != 1 || due[0] != (media.Retry{TenantID: tenant, WAMID: "wamid.1"}) {
		t.Errorf("due %v", due)
	}
	// The reconciler's next turn fails on its last receive too: one more
	// attempt counted.
	f.clock.Advance(media.RetryEvery)
	f.handle(t, msg("q2", ev, schema.Media.MaxReceiveCount))
	if info := f.state(t, "wamid.1"); info.Attempts != 2 || !info.At.Equal(f.clock.Now()) {
		t.Errorf("info %+v", info)
	}
	// Recording it failing too, the message stays for the DLQ, said so.
	f.w.Store = failingStore{f.store}
	if failed := f.handle(t, msg("q3", ev, schema.Media.MaxReceiveCount)); !slices.Equal(failed, []string{"q3"}) {
		t.Errorf("failed %v", failed)
	}
	if !strings.Contains(f.logs.String(), "it goes to the DLQ") {
		t.Errorf("the DLQ is not told:\n%s", f.logs)
	}
}

// failingStore reads but cannot write.
type failingStore struct{ *memstore.Messages }

func (failingStore) SetMedia(context.Context, string, string, media.Info, time.Time) error {
	return errors.New("dynamodb down")
}

// The schedule's waits fill the queue's receives: one wait after each but
// the last; a message's receives end within the queue's retention.
func TestTheQueueMatchesTheSchedule(t *testing.T) {
	s, q := mediaworker.Retries(), schema.Media
	if len(s) != q.MaxReceiveCount-1 {
		t.Fatalf("%d waits for %d receives", len(s), q.MaxReceiveCount)
	}
	var total time.Duration
	for n := 1; n < q.MaxReceiveCount; n++ {
		total += s.After(n) + q.VisibilityTimeout()
		if s.After(n) > 12*time.Hour || s.After(n)%time.Second != 0 {
			t.Errorf("wait %d is %v: SQS takes whole seconds up to 12 h", n, s.After(n))
		}
	}
	if total >= q.Retention {
		t.Errorf("the receives take %v, the queue keeps a message %v", total, q.Retention)
	}
	// A batch's copies, a few at a time each within its timeouts, end
	// within the consumer timeout.
	rounds := (mediaworker.BatchSize + mediaworker.DefaultConcurrency - 1) / mediaworker.DefaultConcurrency
	one := mediaworker.DefaultMetadataTimeout + mediaworker.DefaultCopyTimeout + 3*mediaworker.DefaultStoreTimeout
	if time.Duration(rounds)*one >= q.ConsumerTimeout {
		t.Errorf("a batch of %d can take %v, past the %v timeout", mediaworker.BatchSize, time.Duration(rounds)*one, q.ConsumerTimeout)
	}
}

// A message that is no message.received event is kept aside with its
// reason, fetches nothing and is not retried.
func TestNotAMediaEventIsKeptAside(t *testing.T) {
	f := newFixture(t)
	f.kapso.files["m1"] = png(10)
	good := f.inbound(t, "wamid.1", "image", "m1")
	bad := map[string]string{
		"n1": "not json",
		"n2": strings.Replace(good, `"type":"message.received"`, `"type":"message.status_changed"`, 1),
		"n3": strings.Replace(good, `"tenant_id":"acme"`, `"tenant_id":""`, -1),
	}
	var msgs []events.SQSMessage
	for id, body := range bad {
		msgs = append(msgs, msg(id, body, 1))
	}
	if failed := f.handle(t, msgs...); len(failed) != 0 {
		t.Errorf("failed %v", failed)
	}
	if meta, opens := f.kapso.calls(); meta != 0 || opens != 0 {
		t.Errorf("Kapso called: %d, %d", meta, opens)
	}
	kept, _ := f.rejects.List(context.Background(), time.UnixMilli(1796637600000))
	if len(kept) != len(bad) {
		t.Fatalf("kept %d, want %d: %+v", len(kept), len(bad), kept)
	}
	for _, k := range kept {
		if !strings.HasPrefix(k.Reason, "unusable: not a kapso-bridge event") || string(k.Raw) != bad[strings.TrimPrefix(k.ID, "message#")] {
			t.Errorf("kept %s: %q", k.ID, k.Reason)
		}
	}
	// The event of a message not stored (its tenant erased) copies nothing.
	other := strings.ReplaceAll(good, "wamid.1", "wamid.9")
	if failed := f.handle(t, msg("n4", other, 1)); len(failed) != 0 {
		t.Errorf("failed %v", failed)
	}
	if meta, _ := f.kapso.calls(); meta != 0 {
		t.Errorf("Kapso called for a message not stored")
	}
}

// A batch's copies run at most Concurrency at once.
func TestConcurrencyIsBounded(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	inFlight, most := 0, 0
	f.w.Source = slowSource{Source: f.kapso, enter: func() {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}}
	var msgs []events.SQSMessage
	for i := range 6 {
		id := "m" + strconv.Itoa(i)
		f.kapso.files[id] = png(10 + i)
		msgs = append(msgs, msg("q"+strconv.Itoa(i), f.inbound(t, "wamid."+strconv.Itoa(i), "image", id), 1))
	}
	if failed := f.handle(t, msgs...); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if len(f.objects.Keys()) != 6 || most != mediaworker.DefaultConcurrency {
		t.Errorf("%d objects, at most %d copies at once", len(f.objects.Keys()), most)
	}
}

type slowSource struct {
	media.Source
	enter func()
}

func (s slowSource) Metadata(ctx context.Context, phoneNumberID, mediaID string) (media.Metadata, error) {
	s.enter()
	return s.Source.Metadata(ctx, phoneNumberID, mediaID)
}

// The log names the event, the message and the attempt, never the media's
// URLs (their tokens) or the message's text.
func TestLogsNameTheMessageNotItsSecrets(t *testing.T) {
	f := newFixture(t)
	f.kapso.files["m1"] = png(10)
	f.kapso.openErrs = []error{errs.E(errs.Unavailable, "Kapso is unavailable; retry", errors.New("connection reset"))}
	ev := f.inbound(t, "wamid.1", "image", "m1")
	f.handle(t, msg("q1", ev, 1))
	f.handle(t, msg("q1", ev, 2))
	var e bridgeevents.Event
	_ = json.Unmarshal([]byte(ev), &e)
	logs := f.logs.String()
	for _, want := range []string{"event_id=" + e.ID, "wamid=wamid.1", "tenant_id=acme", "attempt=1", "attempt=2",
		"next_attempt_in=10s", "media stored"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, never := range []string{"secret-", "kapso.test", "5215512345678"} {
		if strings.Contains(logs, never) {
			t.Errorf("logs show %q:\n%s", never, logs)
		}
	}
}

// erasedDuringCopy is a store whose message is erased once its state is
// read: the copy ends on a message no longer stored.
type erasedDuringCopy struct {
	*memstore.Messages
	after *memstore.Messages
}

func (s erasedDuringCopy) SetMedia(ctx context.Context, tenantID, wamid string, info media.Info, next time.Time) error {
	return s.after.SetMedia(ctx, tenantID, wamid, info, next)
}

// A message erased while its media was copied is not made again, and its
// bytes do not stay in the bucket: the copy is deleted and the queue
// message dropped. Redriven later, it copies nothing and deletes what an
// earlier attempt may have left.
func TestMediaOfAMessageErasedDuringItsCopyIsNotKept(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run(fmt.Sprintf("copy failing %v", failing), func(t *testing.T) {
			f := newFixture(t)
			f.kapso.files["m1"] = png(500)
			ev := f.inbound(t, "wamid.1", "image", "m1")
			after := &memstore.Messages{}
			f.w.Store = erasedDuringCopy{Messages: f.store, after: after}
			if failing {
				f.kapso.size["m1"] = 1 << 40 // too large: recorded failed at once
			}
			if failed := f.handle(t, msg("q1", ev, 1)); len(failed) != 0 {
				t.Fatalf("failed %v\n%s", failed, f.logs)
			}
			if keys := f.objects.Keys(); len(keys) != 0 {
				t.Errorf("objects left for an erased message: %v", keys)
			}
			if _, ok, _ := after.MediaState(context.Background(), tenant, "wamid.1"); ok {
				t.Error("the erased message was made again")
			}
			if !strings.Contains(f.logs.String(), "dropped=1") {
				t.Errorf("the batch's log does not count the drop:\n%s", f.logs)
			}
		})
	}
	// An object an attempt left before the message was erased goes when
	// the message comes back, with no call to Kapso.
	f := newFixture(t)
	f.kapso.files["m1"] = png(500)
	ev := f.inbound(t, "wamid.1", "image", "m1")
	key := media.ObjectKey(tenant, number, "m1")
	if _, err := f.objects.Put(context.Background(), key, "image/png", bytes.NewReader(png(500)), 1000); err != nil {
		t.Fatal(err)
	}
	f.w.Store = &memstore.Messages{}
	if failed := f.handle(t, msg("q1", ev, 1)); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if keys := f.objects.Keys(); len(keys) != 0 {
		t.Errorf("objects left for an erased message: %v", keys)
	}
	if meta, opens := f.kapso.calls(); meta != 0 || opens != 0 {
		t.Errorf("Kapso called for an erased message: %d metadata, %d downloads", meta, opens)
	}
}
