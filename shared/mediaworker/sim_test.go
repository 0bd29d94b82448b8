package mediaworker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

const simKey = "sim-api-key"

// simRig is the worker copying from the Kapso simulator through Kapso's
// real media client, a number connected and a person sending it media.
type simRig struct {
	*fixture
	sim *kapsosim.Simulator
	srv *httptest.Server
}

func newSimRig(t *testing.T) *simRig {
	t.Helper()
	var sim *kapsosim.Simulator
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sim.ServeHTTP(w, r) }))
	sim = kapsosim.New(kapsosim.Options{PublicURL: srv.URL, APIKey: simKey})
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(func() { hook.Close(); srv.Close(); sim.Close() })
	ctx := context.Background()
	c := kapsoapi.New(srv.URL+"/platform/v1", simKey)
	cu, err := c.CreateCustomer(ctx, "Acme", tenant)
	if err != nil {
		t.Fatal(err)
	}
	link, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, pnid, err := sim.CompleteLink(link.ID, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateWebhook(ctx, pnid, onboarding.WebhookRegistration{URL: hook.URL, SecretKey: "s",
		Events: []string{"whatsapp.message.received"}}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.number = pnid
	// One request a call: each failure the simulator is told to make
	// reaches the worker.
	f.w.Source = kapsoapi.NewMetaProxy(srv.URL+"/meta/whatsapp", "", simKey, kapsoapi.WithRetry(1, time.Millisecond, time.Millisecond))
	return &simRig{fixture: f, sim: sim, srv: srv}
}

// send has the person send a media message of the type and answers the
// message.received event of it and its media id.
func (r *simRig) send(t *testing.T, typ string, wamid string) (event, mediaID string) {
	t.Helper()
	sent, err := r.sim.SendInbound(context.Background(), r.number, kapsosim.Inbound{Type: typ, FromPhone: "5215512345678"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.sim.Messages(r.number) {
		if m.WAMID == sent.WAMID && m.Media != nil {
			mediaID = m.Media.ID
		}
	}
	if mediaID == "" {
		t.Fatalf("no media on %s", sent.WAMID)
	}
	return r.inbound(t, wamid, typ, mediaID), mediaID
}

// calls counts the simulator's media calls: metadata answers, downloads.
func (r *simRig) calls(t *testing.T) (metadata, downloads int) {
	t.Helper()
	res, err := http.Get(r.srv.URL + "/_sim/media")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Metadata  int `json:"metadata_answers"`
		Downloads int `json:"downloads"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Metadata, st.Downloads
}

func (r *simRig) faults(t *testing.T, f kapsosim.MediaFaults) {
	t.Helper()
	if err := r.sim.SetMediaFaults(f); err != nil {
		t.Fatal(err)
	}
}

// Against Kapso's simulator through the real media client: the media is
// copied once, byte for byte; Kapso failing, an expired URL and a wrong
// sha256 go as the unit tests say.
func TestCopiesFromTheSimulator(t *testing.T) {
	r := newSimRig(t)
	ev, id := r.send(t, "image", "wamid.1")
	if failed := r.handle(t, msg("q1", ev, 1)); len(failed) != 0 {
		t.Fatalf("failed %v\n%s", failed, r.logs)
	}
	info := r.state(t, "wamid.1")
	src, ok := r.sim.MediaBytes(id)
	if !ok {
		t.Fatal("the simulator has no bytes")
	}
	want, _ := io.ReadAll(src)
	got, ctype, ok, _ := r.objects.Get(context.Background(), media.ObjectKey(tenant, r.number, id))
	if !ok || string(got) != string(want) || info.State != media.Stored || info.SHA256 != hexSum(want) ||
		info.Size != int64(len(want)) || ctype != info.MIMEType || !strings.HasPrefix(ctype, "image/") {
		t.Fatalf("stored %+v, object %v %d bytes %q", info, ok, len(got), ctype)
	}
	meta, downloads := r.calls(t)
	if meta != 1 || downloads != 1 {
		t.Errorf("%d metadata answers, %d downloads", meta, downloads)
	}
	// A duplicate delivery fetches nothing.
	r.handle(t, msg("q2", ev, 1))
	if m, d := r.calls(t); m != meta || d != downloads {
		t.Errorf("a duplicate called Kapso: %d metadata answers, %d downloads", m-meta, d-downloads)
	}

	// Kapso failing (500), then answering.
	ev, _ = r.send(t, "audio", "wamid.2")
	r.faults(t, kapsosim.MediaFaults{MetadataFailures: 1})
	if failed := r.handle(t, msg("q3", ev, 1)); !slices.Equal(failed, []string{"q3"}) {
		t.Fatalf("failed %v", failed)
	}
	r.faults(t, kapsosim.MediaFaults{DownloadFailures: 1})
	if failed := r.handle(t, msg("q3", ev, 2)); !slices.Equal(failed, []string{"q3"}) {
		t.Fatalf("failed %v", failed)
	}
	if failed := r.handle(t, msg("q3", ev, 3)); len(failed) != 0 || r.state(t, "wamid.2").State != media.Stored {
		t.Fatalf("failed %v: %+v\n%s", failed, r.state(t, "wamid.2"), r.logs)
	}
	if held := r.holds.Take(); !slices.Equal(held, []time.Duration{10 * time.Second, time.Minute}) {
		t.Errorf("held %v", held)
	}

	// An expired URL heals with the next attempt's metadata.
	ev, _ = r.send(t, "document", "wamid.3")
	r.faults(t, kapsosim.MediaFaults{Expired: true})
	if failed := r.handle(t, msg("q4", ev, 1)); !slices.Equal(failed, []string{"q4"}) {
		t.Fatalf("failed %v", failed)
	}
	r.faults(t, kapsosim.MediaFaults{})
	if failed := r.handle(t, msg("q4", ev, 2)); len(failed) != 0 || r.state(t, "wamid.3").State != media.Stored {
		t.Fatalf("failed %v: %+v\n%s", failed, r.state(t, "wamid.3"), r.logs)
	}

	// A wrong sha256: the object is deleted, and twice is a failure.
	ev, id = r.send(t, "sticker", "wamid.4")
	r.faults(t, kapsosim.MediaFaults{WrongSHA256: true})
	r.handle(t, msg("q5", ev, 1))
	r.handle(t, msg("q5", ev, 2))
	if info := r.state(t, "wamid.4"); info.State != media.Failed || !strings.HasPrefix(info.Error, media.ReasonChecksum) {
		t.Errorf("info %+v", info)
	}
	if _, _, ok, _ := r.objects.Get(context.Background(), media.ObjectKey(tenant, r.number, id)); ok {
		t.Error("the object whose sha256 did not match is kept")
	}

	// Too large by Kapso's word: no download.
	ev, _ = r.send(t, "image", "wamid.5")
	r.faults(t, kapsosim.MediaFaults{FileSize: 5*media.MB + 1})
	_, before := r.calls(t)
	r.handle(t, msg("q6", ev, 1))
	if info := r.state(t, "wamid.5"); info.State != media.Failed || !strings.HasPrefix(info.Error, media.ReasonTooLarge) {
		t.Errorf("info %+v", info)
	}
	if _, after := r.calls(t); after != before {
		t.Errorf("%d downloads of a media too large", after-before)
	}

	// Kapso failing on the last receive: recorded, with the reconciler's turn.
	r.faults(t, kapsosim.MediaFaults{MetadataFailures: 1})
	ev, _ = r.send(t, "image", "wamid.6")
	if failed := r.handle(t, msg("q7", ev, schema.Media.MaxReceiveCount)); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if info := r.state(t, "wamid.6"); info.State != media.Failed || !strings.HasPrefix(info.Error, media.ReasonUnavailable) {
		t.Errorf("info %+v", info)
	}
	if due := r.due(t, r.clock.Now().Add(media.RetryEvery)); !slices.Contains(due, media.Retry{TenantID: tenant, WAMID: "wamid.6"}) {
		t.Errorf("due %v", due)
	}
}
