package kapsoapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// newSim serves a simulator that expects testKey.
func newSim(t *testing.T) (*kapsosim.Simulator, *httptest.Server) {
	t.Helper()
	var sim *kapsosim.Simulator
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sim.ServeHTTP(w, r) }))
	sim = kapsosim.New(kapsosim.Options{PublicURL: srv.URL, APIKey: testKey})
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return sim, srv
}

func TestClientAgainstSimulator(t *testing.T) {
	sim, srv := newSim(t)
	c := New(srv.URL+"/platform/v1", testKey)
	c.perPage = 1 // every list spans several pages
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, ok, err := c.FindCustomerByExternalID(ctx, "tenant-1"); err != nil || ok {
		t.Fatalf("find before create: %v %v", ok, err)
	}
	cu, err := c.CreateCustomer(ctx, "Acme", "tenant-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCustomer(ctx, "Acme", "tenant-1"); !errs.Is(err, errs.Unprocessable) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := c.CreateCustomer(ctx, "Other", "tenant-2"); err != nil {
		t.Fatal(err)
	}
	found, ok, err := c.FindCustomerByExternalID(ctx, "tenant-1")
	if err != nil || !ok || found.ID != cu.ID || found.CreatedAt.IsZero() {
		t.Fatalf("find = %+v %v %v", found, ok, err)
	}

	lang := "es"
	first, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{SuccessRedirectURL: "https://app.example/ok", Language: &lang})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{AllowedConnectionTypes: []string{"dedicated"}})
	if err != nil {
		t.Fatal(err)
	}
	if second.ExpiresAt.Sub(second.CreatedAt) != 30*24*time.Hour || len(second.AllowedConnectionTypes) != 1 {
		t.Errorf("second link = %+v", second)
	}
	revoked, err := c.ListSetupLinks(ctx, cu.ID, "revoked")
	if err != nil || len(revoked) != 1 || revoked[0].ID != first.ID {
		t.Fatalf("revoked = %+v %v", revoked, err)
	}
	if _, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{ThemeConfig: map[string]string{"primary_color": "blue"}}); !errs.Is(err, errs.Unprocessable) {
		t.Errorf("bad theme: %v", err)
	}
	third, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.RevokeSetupLink(ctx, cu.ID, third.ID); err != nil || l.Status != "revoked" {
		t.Fatalf("revoke = %+v %v", l, err)
	}
	fourth, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.ListSetupLinks(ctx, cu.ID, "")
	if err != nil || len(all) != 4 {
		t.Fatalf("all links = %d %v", len(all), err)
	}

	id, ok := sim.LinkIDFromURL(fourth.URL)
	if !ok || id != fourth.ID {
		t.Fatalf("LinkIDFromURL(%s) = %s %v", fourth.URL, id, ok)
	}
	_, pnid, err := sim.CompleteLink(id, "coexistence")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeSetupLink(ctx, cu.ID, fourth.ID); !errs.Is(err, errs.Unprocessable) {
		t.Errorf("revoking a used link: %v", err)
	}
	n, err := c.GetPhoneNumber(ctx, pnid)
	if err != nil || !n.IsCoexistence || n.CustomerID != cu.ID || n.BusinessAccountID == "" || n.DisplayPhoneNumber == "" {
		t.Fatalf("number = %+v %v", n, err)
	}
	nums, err := c.ListPhoneNumbers(ctx, cu.ID)
	if err != nil || len(nums) != 1 || nums[0] != n {
		t.Fatalf("numbers = %+v %v", nums, err)
	}

	for _, url := range []string{"https://bridge.example/a", "https://bridge.example/b"} {
		if _, err := c.CreateWebhook(ctx, pnid, onboarding.WebhookRegistration{URL: url, SecretKey: "s", Events: []string{"whatsapp.message.received"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateWebhook(ctx, pnid, onboarding.WebhookRegistration{URL: "https://bridge.example/c", SecretKey: "s"}); !errs.Is(err, errs.Unprocessable) {
		t.Errorf("kapso webhook without events: %v", err)
	}
	hooks, err := c.ListWebhooks(ctx, pnid)
	if err != nil || len(hooks) != 2 || !hooks[0].Active || hooks[1].URL != "https://bridge.example/b" {
		t.Fatalf("hooks = %+v %v", hooks, err)
	}
	// Deleting a webhook takes it off the number; deleting it again is 404.
	if err := c.DeleteWebhook(ctx, pnid, hooks[0].ID); err != nil {
		t.Fatalf("delete webhook: %v", err)
	}
	if err := c.DeleteWebhook(ctx, pnid, hooks[0].ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("delete a deleted webhook: %v", err)
	}
	if left, err := c.ListWebhooks(ctx, pnid); err != nil || len(left) != 1 || left[0].ID != hooks[1].ID {
		t.Fatalf("after the delete, hooks = %+v %v", left, err)
	}
	if err := c.DeleteWebhook(ctx, pnid, "../x"); err == nil {
		t.Errorf("a webhook id that is not one was sent")
	}

	if _, err := c.GetPhoneNumber(ctx, "000000000000000"); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown number: %v", err)
	}
	if _, err := c.ListSetupLinks(ctx, "no-such-customer", ""); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown customer: %v", err)
	}
	bad := New(srv.URL+"/platform/v1", "wrong")
	if _, _, err := bad.FindCustomerByExternalID(ctx, "tenant-1"); !errs.Is(err, errs.Unauthorized) || errors.Is(err, ErrUnavailable) {
		t.Errorf("wrong key: %v", err)
	}
}

func TestMediaAgainstSimulator(t *testing.T) {
	sim, srv := newSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := New(srv.URL+"/platform/v1", testKey)
	pnid := connectedNumber(ctx, t, sim, c)
	send := func(in kapsosim.Inbound) string {
		t.Helper()
		sent, err := sim.SendInbound(ctx, pnid, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sim.Messages(pnid) {
			if m.WAMID == sent.WAMID && m.Media != nil {
				return m.Media.ID
			}
		}
		t.Fatalf("no media on %s", sent.WAMID)
		return ""
	}
	p := NewMetaProxy(srv.URL+"/meta/whatsapp", "", testKey, WithRetry(3, time.Millisecond, 5*time.Millisecond))
	read := func(m media.Metadata) (string, int64, error) {
		t.Helper()
		rc, err := p.Open(ctx, m)
		if err != nil {
			return "", 0, err
		}
		defer rc.Close()
		h := sha256.New()
		n, err := io.Copy(h, rc)
		return hex.EncodeToString(h.Sum(nil)), n, err
	}

	id := send(kapsosim.Inbound{Type: "document", Text: "segue", Size: 3<<20 + 1})
	m, err := p.Metadata(ctx, pnid, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != id || m.MIMEType != "application/pdf" || m.FileSize != 3<<20+1 || m.DownloadURL == "" || m.URL == "" {
		t.Fatalf("metadata %+v", m)
	}
	if sum, n, err := read(m); err != nil || sum != m.SHA256 || n != m.FileSize {
		t.Fatalf("download: %s %d %v", sum, n, err)
	}
	// Without the download_url, the url with the key.
	if sum, _, err := read(media.Metadata{ID: id, URL: m.URL}); err != nil || sum != m.SHA256 {
		t.Fatalf("download by url: %v", err)
	}

	if err := sim.SetMediaFaults(kapsosim.MediaFaults{Expired: true}); err != nil {
		t.Fatal(err)
	}
	expired, err := p.Metadata(ctx, pnid, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := read(expired); !errors.Is(err, ErrMediaExpired) || !errs.Is(err, errs.Unavailable) {
		t.Errorf("expired download_url: %v", err)
	}
	if _, _, err := read(media.Metadata{ID: id, URL: expired.URL}); !errors.Is(err, ErrMediaExpired) {
		t.Errorf("expired url: %v", err)
	}
	_ = sim.SetMediaFaults(kapsosim.MediaFaults{MetadataFailures: 1, DownloadFailures: 1})
	m, err = p.Metadata(ctx, pnid, id) // retried past the 500
	if err != nil {
		t.Fatal(err)
	}
	if sum, _, err := read(m); err != nil || sum != m.SHA256 {
		t.Errorf("download retried past the 500: %v", err)
	}
	_ = sim.SetMediaFaults(kapsosim.MediaFaults{MetadataFailures: 3})
	if _, err := p.Metadata(ctx, pnid, id); !errs.Is(err, errs.Unavailable) {
		t.Errorf("metadata failing: %v", err)
	}
	_ = sim.SetMediaFaults(kapsosim.MediaFaults{WrongSHA256: true})
	if m, err := p.Metadata(ctx, pnid, id); err != nil {
		t.Fatal(err)
	} else if sum, _, err := read(m); err != nil || sum == m.SHA256 {
		t.Errorf("wrong sha256 advertised: %s %v", sum, err)
	}
	_ = sim.SetMediaFaults(kapsosim.MediaFaults{})
	if _, err := p.Metadata(ctx, pnid, "4242"); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown media: %v", err)
	}
	if _, err := p.Metadata(ctx, "999", id); !errs.Is(err, errs.NotFound) {
		t.Errorf("another number's media: %v", err)
	}

	voice := send(kapsosim.Inbound{Type: "audio"})
	if m, err := p.Metadata(ctx, pnid, voice); err != nil || m.MIMEType != "audio/ogg; codecs=opus" || m.FileSize == 0 {
		t.Errorf("voice note %+v %v", m, err)
	}

	file := bytes.Repeat([]byte("%PDF-1.4 "), 100_000)
	up, err := p.Upload(ctx, pnid, "application/pdf", "contrato.pdf", bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	m, err = p.Metadata(ctx, pnid, up)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(file)
	if sum, n, err := read(m); err != nil || sum != hex.EncodeToString(want[:]) || sum != m.SHA256 || n != int64(len(file)) {
		t.Errorf("uploaded file read back: %s %d %v", sum, n, err)
	}
	if _, err := p.Upload(ctx, "000", "application/pdf", "a.pdf", bytes.NewReader(file), int64(len(file))); !errs.Is(err, errs.Invalid) {
		t.Errorf("upload to an unknown number: %v", err)
	}
}

// The number's history read through the Meta proxy, page by page with Graph
// cursors, carries the kapso block the catch-up reads (fields=kapso(…)),
// and matches what the Platform lists give.
func TestHistoryAgainstSimulator(t *testing.T) {
	sim, srv := newSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := New(srv.URL+"/platform/v1", testKey)
	pnid := connectedNumber(ctx, t, sim, c)
	for _, phone := range []string{"5511999990001", "5511999990002", "5511999990003"} {
		if _, err := sim.SendInbound(ctx, pnid, kapsosim.Inbound{FromPhone: phone}); err != nil {
			t.Fatal(err)
		}
	}
	p := NewMetaProxy(srv.URL+"/meta/whatsapp", "", testKey)
	var viaProxy, viaPlatform []string
	for after, pages := "", 0; ; pages++ {
		if pages > 3 {
			t.Fatal("the history does not end")
		}
		page, err := p.ListMessages(ctx, pnid, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Items {
			if m.Direction != "inbound" || m.Status != "received" || m.Timestamp.IsZero() {
				t.Errorf("message %+v", m)
			}
			viaProxy = append(viaProxy, m.ID)
		}
		if after = page.After; after == "" {
			break
		}
	}
	all, err := c.ListMessages(ctx, pnid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all.Items {
		viaPlatform = append(viaPlatform, m.ID)
	}
	if len(viaProxy) != 3 || strings.Join(viaProxy, ",") != strings.Join(viaPlatform, ",") {
		t.Errorf("proxy history %v, Platform list %v", viaProxy, viaPlatform)
	}
	convs, err := p.ListConversations(ctx, pnid, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs.Items) != 3 || convs.Items[0].PhoneNumberID != pnid || convs.Items[0].Status != "active" ||
		!strings.Contains(string(convs.Items[0].Raw), `"kapso"`) {
		t.Errorf("conversations %+v", convs.Items)
	}
}

// connectedNumber connects a number on the simulator, with a webhook for
// its received messages at a server that takes them.
func connectedNumber(ctx context.Context, t *testing.T, sim *kapsosim.Simulator, c *Client) string {
	t.Helper()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	cu, err := c.CreateCustomer(ctx, "Acme", "tenant-1")
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
	return pnid
}

// A WABA's templates through the Meta proxy: every page read, a new one
// PENDING, a duplicate refused as Meta refuses it, a review the
// simulator's control made seen in the next list.
func TestTemplatesAgainstSimulator(t *testing.T) {
	sim, srv := newSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := New(srv.URL+"/platform/v1", testKey)
	waba, err := sim.BusinessAccountID(connectedNumber(ctx, t, sim, c))
	if err != nil {
		t.Fatal(err)
	}
	p := NewMetaProxy(srv.URL+"/meta/whatsapp", "", testKey)
	draft := func(name string) templates.Draft {
		return templates.Draft{Name: name, Language: "pt_BR", Category: templates.Marketing,
			Components: json.RawMessage(`[{"type":"BODY","text":"Oferta de hoje"}]`)}
	}
	for i := range 99 {
		created, err := p.CreateTemplate(ctx, waba, draft(fmt.Sprintf("oferta_%02d", i)))
		if err != nil || created.Status != templates.Pending || created.Category != templates.Marketing || created.ID == "" {
			t.Fatalf("create %d: %+v %v", i, created, err)
		}
	}
	_, err = p.CreateTemplate(ctx, waba, draft("oferta_00"))
	var me *MetaError
	e, _ := errs.As(err)
	if !errs.Is(err, errs.Unprocessable) || !errors.As(err, &me) || me.Code != 100 || me.Subcode != 2388024 ||
		!strings.Contains(e.Message, "Content in this language already exists") {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := sim.SetTemplateStatus(waba, "oferta_07", "pt_BR", kapsosim.TemplateChange{Status: "REJECTED", Reason: "PROMOTIONAL"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.SetTemplateStatus(waba, "order_update", "en_US", kapsosim.TemplateChange{Status: "PAUSED", QualityScore: "RED"}); err != nil {
		t.Fatal(err)
	}
	before := sim.ProxyCalls(kapsosim.RouteListTemplates)
	ts, err := p.ListTemplates(ctx, waba)
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.ProxyCalls(kapsosim.RouteListTemplates) - before; len(ts) != 101 || n != 2 {
		t.Fatalf("%d templates in %d pages, want 101 in 2", len(ts), n)
	}
	byName := map[string]templates.Read{}
	for _, r := range ts {
		byName[r.Name+"/"+r.Language] = r
	}
	if r := byName["oferta_07/pt_BR"]; r.Status != templates.Rejected || r.RejectedReason != "PROMOTIONAL" || r.QualityScore != "UNKNOWN" {
		t.Errorf("rejected %+v", r)
	}
	if r := byName["order_update/en_US"]; r.Status != templates.Paused || r.QualityScore != "RED" || r.ParameterFormat != templates.Positional ||
		!strings.Contains(string(r.Components), `"url":"https://shop.example.com/orders/{{1}}"`) {
		t.Errorf("paused %+v", r)
	}
	if r := byName["hello_world/en_US"]; r.Status != templates.Approved || r.QualityScore != "GREEN" || r.RejectedReason != "NONE" || r.ID == "" {
		t.Errorf("hello_world %+v", r)
	}
	if _, err := p.ListTemplates(ctx, "999"); !errs.Is(err, errs.Unprocessable) {
		t.Errorf("unknown WABA: %v", err)
	}
}
