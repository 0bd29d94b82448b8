package tenantapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// stepEraser finishes every step at once, counting one item a step.
type stepEraser struct{ pages int }

func (e *stepEraser) Erase(context.Context, erasure.Job, erasure.Step, string, int) (erasure.Page, error) {
	e.pages++
	return erasure.Page{Counts: erasure.Progress{Messages: 1}, Finished: true}, nil
}

type erasureStack struct {
	t      *testing.T
	msgs   *memstore.Messages
	jobs   *memstore.Erasures
	hasher erasure.Hasher
	eraser *stepEraser
	audit  *memstore.AuditLog
	clock  *testclock.Clock
	mux    *http.ServeMux
}

const erasureNumber = "106540352242922"

func newErasureStack(t *testing.T, run bool) *erasureStack {
	t.Helper()
	h, err := erasure.NewHasher([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s := &erasureStack{t: t, msgs: &memstore.Messages{}, jobs: &memstore.Erasures{}, hasher: h, eraser: &stepEraser{}, audit: &memstore.AuditLog{},
		clock: testclock.New(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)), mux: http.NewServeMux()}
	e := &tenantapi.Erasures{Jobs: s.jobs, Tombstones: s.jobs, Hasher: h}
	if run {
		e.Runner = &erasure.Runner{Jobs: s.jobs, Eraser: s.eraser, Now: s.clock.Now}
	}
	api := &tenantapi.API{Messages: s.msgs, Erasures: e, Token: apiToken, Now: s.clock.Now, Audit: s.audit,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: 5 * time.Second}
	api.Register(s.mux)
	ctx := context.Background()
	// Ana wrote as a phone, then as a BSUID, which changed since.
	must(t, s.msgs.PutContact(ctx, "acme", erasureNumber, messaging.Person{Phone: "5215512345678", Name: "Ana"},
		messaging.Sighting{At: s.clock.Now().Add(-time.Hour), Inbound: true}))
	must(t, s.msgs.PutContact(ctx, "acme", erasureNumber, messaging.Person{BSUID: "MX.1", Phone: "5215512345678"},
		messaging.Sighting{At: s.clock.Now().Add(-50 * time.Minute), Inbound: true}))
	must(t, s.msgs.ChangeIdentity(ctx, "acme", erasureNumber, messaging.Person{BSUID: "MX.1"},
		messaging.Person{BSUID: "MX.2", Phone: "5215512345678"}, s.clock.Now().Add(-40*time.Minute)))
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (s *erasureStack) do(method, path string) (int, map[string]any) {
	s.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		s.t.Fatalf("%s %s: %v %s", method, path, err, rec.Body)
	}
	return rec.Code, v
}

func erasureOf(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	e, ok := v["erasure"].(map[string]any)
	if !ok {
		t.Fatalf("no erasure in %v", v)
	}
	return e
}

func contactPath(contact string) string {
	return "/v1/tenants/acme/numbers/" + erasureNumber + "/contacts/" + contact
}

// An erasure names the token that asked for it, in its answer, its
// progress and the audit trail.
func TestEraseContactNamesItsToken(t *testing.T) {
	s := newErasureStack(t, false)
	status, v := s.do(http.MethodDelete, contactPath("5215512345678"))
	e := erasureOf(t, v)
	if status != http.StatusAccepted || e["requested_by"] != "bridge-api-token" {
		t.Fatalf("DELETE: %d %v", status, e)
	}
	if _, v := s.do(http.MethodGet, "/v1/tenants/acme/erasures/"+e["id"].(string)); erasureOf(t, v)["requested_by"] != "bridge-api-token" {
		t.Errorf("GET: %v", v)
	}
	entries := s.audit.Entries()
	if len(entries) != 1 || entries[0].Token != "bridge-api-token" || entries[0].ResourceID != e["id"] || entries[0].Status != http.StatusAccepted {
		t.Errorf("audit %+v", entries)
	}
}

// A person is erased by any of their names: one job, the tombstones of
// every identity, and a second request, by another name, answers the same
// job while it is open.
func TestEraseContactOpensOneJobPerPerson(t *testing.T) {
	s := newErasureStack(t, false)
	code, v := s.do(http.MethodDelete, contactPath("5215512345678"))
	if code != http.StatusAccepted {
		t.Fatalf("DELETE: %d %v", code, v)
	}
	e := erasureOf(t, v)
	id, _ := e["id"].(string)
	if !erasure.ValidID(id) || e["state"] != "pending" || e["tenant_id"] != "acme" || e["phone_number_id"] != erasureNumber ||
		e["requested_at"] != "2026-12-07T10:00:00Z" {
		t.Fatalf("erasure %v", e)
	}
	body, _ := json.Marshal(v)
	for _, name := range []string{"5215512345678", "MX.1", "MX.2", "Ana"} {
		if strings.Contains(string(body), name) {
			t.Errorf("the answer names %s: %s", name, body)
		}
	}
	ctx := context.Background()
	for _, key := range []string{"phone:5215512345678", "bsuid:MX.1", "bsuid:MX.2"} {
		got, _ := s.jobs.Tombstones(ctx, "acme", erasureNumber, []string{s.hasher.Person("acme", erasureNumber, key)})
		if len(got) != 1 || got[0].JobID != id || !got[0].ErasedAt.Equal(s.clock.Now()) {
			t.Errorf("tombstone of %s: %+v", key, got)
		}
	}
	s.clock.Advance(time.Minute)
	for _, again := range []string{"MX.1", "MX.2"} {
		code, v = s.do(http.MethodDelete, contactPath(again))
		if code != http.StatusAccepted || erasureOf(t, v)["id"] != id {
			t.Fatalf("again by %s: %d %v", again, code, v)
		}
	}
	code, v = s.do(http.MethodGet, "/v1/tenants/acme/erasures/"+id)
	if code != http.StatusOK || erasureOf(t, v)["id"] != id {
		t.Fatalf("GET: %d %v", code, v)
	}
	if jobs, _, _ := s.jobs.Unfinished(ctx, "", 10); len(jobs) != 1 {
		t.Fatalf("%d jobs", len(jobs))
	}
}

// The request does what fits: here every step of the first round, then
// the job waits for its sweep, which the reconciler runs.
func TestEraseContactRunsTheJobInTheRequest(t *testing.T) {
	s := newErasureStack(t, true)
	code, v := s.do(http.MethodDelete, contactPath("MX.2"))
	e := erasureOf(t, v)
	if code != http.StatusAccepted || e["state"] != "erasing" || s.eraser.pages != len(erasure.Steps) {
		t.Fatalf("DELETE: %d %v after %d pages", code, v, s.eraser.pages)
	}
	if n := e["erased"].(map[string]any)["messages"]; n != float64(len(erasure.Steps)) {
		t.Fatalf("erased %v", e["erased"])
	}
	id := e["id"].(string)
	j, _, _ := s.jobs.Job(context.Background(), "acme", id)
	if j.Position.Round != 2 || !j.Waiting(s.clock.Now()) {
		t.Fatalf("stored %+v", j)
	}
}

// A person last seen at a time ahead of the bridge's clock (Meta's clock
// runs apart from it) is erased up to that time.
func TestErasureCoversTheNewestTimeStored(t *testing.T) {
	s := newErasureStack(t, false)
	ahead := s.clock.Now().Add(3 * time.Second)
	must(t, s.msgs.PutContact(context.Background(), "acme", erasureNumber, messaging.Person{BSUID: "MX.2"},
		messaging.Sighting{At: ahead, Inbound: true}))
	_, v := s.do(http.MethodDelete, contactPath("MX.2"))
	if e := erasureOf(t, v); e["requested_at"] != "2026-12-07T10:00:03Z" {
		t.Fatalf("erasure %v", e)
	}
	got, _ := s.jobs.Tombstones(context.Background(), "acme", erasureNumber,
		[]string{s.hasher.Person("acme", erasureNumber, "phone:5215512345678")})
	if len(got) != 1 || !got[0].ErasedAt.Equal(ahead) {
		t.Fatalf("tombstone %+v", got)
	}
}

// Once the person's contact is gone, a request by any name they had
// answers the job that erased them; someone never known is 404.
func TestEraseContactOfAnErasedPersonAnswersItsJob(t *testing.T) {
	s := newErasureStack(t, false)
	_, v := s.do(http.MethodDelete, contactPath("MX.2"))
	id := erasureOf(t, v)["id"]
	s.msgs = &memstore.Messages{}
	api := &tenantapi.API{Messages: s.msgs, Erasures: &tenantapi.Erasures{Jobs: s.jobs, Tombstones: s.jobs, Hasher: s.hasher},
		Token: apiToken, Now: s.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.mux = http.NewServeMux()
	api.Register(s.mux)
	code, v := s.do(http.MethodDelete, contactPath("5215512345678"))
	if code != http.StatusAccepted || erasureOf(t, v)["id"] != id {
		t.Fatalf("by phone after: %d %v", code, v)
	}
	if code, v = s.do(http.MethodDelete, contactPath("5215500000000")); code != http.StatusNotFound {
		t.Fatalf("nobody: %d %v", code, v)
	}
}

// Bad or unknown names, tenants and ids change nothing.
func TestErasureRoutesRefuseBadInput(t *testing.T) {
	s := newErasureStack(t, true)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{http.MethodDelete, contactPath("not-a-contact"), http.StatusBadRequest},
		{http.MethodDelete, contactPath("+52%2055"), http.StatusBadRequest},
		{http.MethodDelete, contactPath("mx.2"), http.StatusBadRequest},
		{http.MethodDelete, contactPath("5215500000000"), http.StatusNotFound},
		{http.MethodDelete, "/v1/tenants/other/numbers/" + erasureNumber + "/contacts/MX.2", http.StatusNotFound},
		{http.MethodDelete, "/v1/tenants/acme/numbers/999/contacts/MX.2", http.StatusNotFound},
		{http.MethodDelete, "/v1/tenants/a%23b/numbers/999/contacts/MX.2", http.StatusBadRequest},
		{http.MethodGet, "/v1/tenants/acme/erasures/era_0123", http.StatusNotFound},
		{http.MethodGet, "/v1/tenants/acme/erasures/ERA_1", http.StatusBadRequest},
		{http.MethodGet, "/v1/tenants/acme/erasures/" + strings.Repeat("a", 70), http.StatusBadRequest},
	} {
		code, v := s.do(c.method, c.path)
		if code != c.code {
			t.Errorf("%s %s: %d %v, want %d", c.method, c.path, code, v, c.code)
		}
		if msg, _ := v["error"].(map[string]any)["message"].(string); msg == "" || strings.Contains(msg, "memstore") {
			t.Errorf("%s %s: error %v", c.method, c.path, v)
		}
	}
	if jobs, _, _ := s.jobs.Unfinished(context.Background(), "", 10); len(jobs) != 0 || s.eraser.pages != 0 {
		t.Fatalf("bad input stored %d jobs, ran %d pages", len(jobs), s.eraser.pages)
	}
	// Another tenant's erasure is not found.
	_, v := s.do(http.MethodDelete, contactPath("MX.2"))
	id := erasureOf(t, v)["id"].(string)
	if code, _ := s.do(http.MethodGet, "/v1/tenants/other/erasures/"+id); code != http.StatusNotFound {
		t.Fatalf("another tenant's erasure: %d", code)
	}
}
