package kapsoapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

const templatesPath = "/meta/whatsapp/v24.0/1029/message_templates"

// Every page of the WABA's list is read, 100 at a time, following
// cursors.after while next is set; each template is kept as the domain
// reads it, whatever shape Meta gives its quality in.
func TestListTemplatesFollowsCursors(t *testing.T) {
	const page1 = `{"data":[
		{"id":"1","name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY",
		 "components":[{"type":"BODY","text":"Hi {{1}}"}],"quality_score":{"score":"GREEN","date":1700000000},
		 "rejected_reason":"NONE","parameter_format":"POSITIONAL"},
		{"id":"2","name":"promo","language":"pt_BR","status":"PAUSED","category":"MARKETING","quality_score":"RED"},
		{"id":"3","language":"en_US","status":"APPROVED"}
	],"paging":{"cursors":{"before":"b1","after":"c1"},"next":"https://api.kapso.ai/meta/whatsapp/v24.0/1029/message_templates?after=c1"}}`
	const page2 = `{"data":[
		{"id":4,"name":"welcome","language":"es","status":"REJECTED","category":"MARKETING","rejected_reason":"PROMOTIONAL",
		 "quality_score_category":"UNKNOWN","components":{"type":"BODY"}},
		{"id":"5","name":"nolang","status":"APPROVED"},
		{"id":"6","name":["a"],"language":"en","status":"APPROVED"},
		{"id":"7","name":"odd","language":"en","status":7,"quality_score":{"score":[1]},"rejected_reason":{"x":1}}
	],"paging":{"cursors":{"before":"c1","after":"c2"},"next":null}}`
	var queries []url.Values
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != templatesPath || r.Header.Get("X-API-Key") != testKey {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		queries = append(queries, r.URL.Query())
		switch r.URL.Query().Get("after") {
		case "":
			reply(w, 200, page1)
		case "c1":
			reply(w, 200, page2)
		default:
			t.Errorf("after = %q", r.URL.Query().Get("after"))
		}
	})
	ts, err := s.ListTemplates(context.Background(), "1029")
	if err != nil {
		t.Fatal(err)
	}
	want := []templates.Read{
		{ID: "1", Name: "order_update", Language: "en_US", Status: "APPROVED", Category: "UTILITY", RejectedReason: "NONE",
			QualityScore: "GREEN", ParameterFormat: "POSITIONAL", Components: json.RawMessage(`[{"type":"BODY","text":"Hi {{1}}"}]`)},
		{ID: "2", Name: "promo", Language: "pt_BR", Status: "PAUSED", Category: "MARKETING", QualityScore: "RED"},
		// Components that are not an array are not Meta's: left out.
		{ID: "4", Name: "welcome", Language: "es", Status: "REJECTED", Category: "MARKETING", RejectedReason: "PROMOTIONAL",
			QualityScore: "UNKNOWN"},
		// A field that is not a string reads as missing.
		{ID: "7", Name: "odd", Language: "en"},
	}
	if len(ts) != len(want) {
		t.Fatalf("templates %+v, want %+v", ts, want)
	}
	for i := range want {
		got, w := ts[i], want[i]
		if string(got.Components) != string(w.Components) {
			t.Errorf("template %d components %s, want %s", i, got.Components, w.Components)
		}
		got.Components, w.Components = nil, nil
		if !reflect.DeepEqual(got, w) {
			t.Errorf("template %d %+v, want %+v", i, got, w)
		}
	}
	if calls.Load() != 2 || len(queries) != 2 {
		t.Fatalf("%d calls", calls.Load())
	}
	for i, q := range queries {
		if q.Get("limit") != "100" || q.Get("fields") != templateFields {
			t.Errorf("page %d query %v", i+1, q)
		}
	}
	if queries[1].Get("after") != "c1" {
		t.Errorf("second page query %v", queries[1])
	}
	for _, f := range []string{"rejected_reason", "quality_score", "parameter_format", "components"} {
		if !strings.Contains(","+templateFields+",", ","+f+",") {
			t.Errorf("fields do not ask for %s", f)
		}
	}
}

// A list that never ends is cut at the client's page bound.
func TestListTemplatesBoundsItsPages(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
		next := r.URL.Query().Get("after") + "x"
		reply(w, 200, `{"data":[{"id":"1","name":"t`+next+`","language":"en"}],"paging":{"cursors":{"after":"`+next+`"},"next":"https://x"}}`)
	})
	s.c.maxPages = 3
	_, err := s.ListTemplates(context.Background(), "1029")
	if !errs.Is(err, errs.BadGateway) || !strings.Contains(err.Error(), "more than 3 pages") {
		t.Errorf("err = %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3", calls.Load())
	}
}

// An answer kapso-bridge cannot read fails the whole list as BadGateway:
// the WABA's templates are not half read.
func TestListTemplatesRefusesBadAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":           `<html>`,
		"no data":            `{"paging":{}}`,
		"data not a list":    `{"data":{"id":"1"}}`,
		"an item not object": `{"data":["hello_world"]}`,
		"an id of an object": `{"data":[{"id":{"x":1},"name":"a","language":"en"}]}`,
		"oversized":          `{"data":[{"id":"1","name":"` + strings.Repeat("x", maxResponseBytes) + `"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, body) })
			ts, err := s.ListTemplates(context.Background(), "1029")
			if !errs.Is(err, errs.BadGateway) || ts != nil {
				t.Errorf("templates %v, err %v", ts, err)
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls", calls.Load())
			}
		})
	}
}

// Refusals and failures of both calls, classified once: Meta's refusal is
// Unprocessable (its code kept for logs, not in the message), Kapso's own
// refusal of the key is Unauthorized, a failing Kapso Unavailable.
func TestTemplateCallsRefused(t *testing.T) {
	const duplicate = `{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2388024,
		"is_transient":false,"error_user_title":"Content in this language already exists",
		"error_user_msg":"There is already English (US) content for this template.\nYou can create a new template and try again.",
		"fbtrace_id":"AbC"}}`
	draft := templates.Draft{Name: "order_update", Language: "en_US", Category: templates.Utility,
		Components: json.RawMessage(`[{"type":"BODY","text":"Your order ships today."}]`)}
	calls := map[string]func(*MetaProxy) error{
		"list": func(s *MetaProxy) error { _, err := s.ListTemplates(context.Background(), "1029"); return err },
		"create": func(s *MetaProxy) error {
			_, err := s.CreateTemplate(context.Background(), "1029", draft)
			return err
		},
	}
	cases := []struct {
		name       string
		status     int
		body       string
		code       errs.Code
		metaCode   int
		attempts   map[string]int32
		inMessage  string
		notMessage string
	}{
		{name: "meta refuses", status: 400, body: duplicate, code: errs.Unprocessable, metaCode: 100,
			inMessage:  "Content in this language already exists: There is already English (US) content for this template. You can create",
			notMessage: "2388024"},
		{name: "meta refuses without words", status: 400, body: `{"error":{"message":"(#100) Invalid parameter","code":100}}`,
			code: errs.Unprocessable, metaCode: 100, notMessage: "Invalid parameter"},
		{name: "kapso refuses the waba", status: 404, body: `{"error":"WhatsApp Business Account not found"}`,
			code: errs.Unprocessable, notMessage: "not found"},
		{name: "kapso refuses the key", status: 401, body: `{"error":"Invalid API key"}`, code: errs.Unauthorized},
		{name: "kapso fails", status: 502, body: `{"error":"upstream"}`, code: errs.Unavailable,
			attempts: map[string]int32{"list": 3, "create": 1}},
	}
	for _, tc := range cases {
		for call, run := range calls {
			t.Run(tc.name+"/"+call, func(t *testing.T) {
				s, n, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, tc.status, tc.body) })
				err := run(s)
				e, ok := errs.As(err)
				if !ok || e.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				if tc.inMessage != "" && !strings.Contains(e.Message, tc.inMessage) {
					t.Errorf("message %q lacks %q", e.Message, tc.inMessage)
				}
				if tc.notMessage != "" && strings.Contains(e.Message, tc.notMessage) {
					t.Errorf("message %q shows %q", e.Message, tc.notMessage)
				}
				if strings.ContainsAny(e.Message, "\n\r") {
					t.Errorf("message %q has a control character", e.Message)
				}
				var me *MetaError
				if tc.metaCode != 0 && (!errors.As(err, &me) || me.Code != tc.metaCode || me.Status != tc.status) {
					t.Errorf("err %v does not keep Meta's error", err)
				}
				if me != nil && !strings.Contains(me.Error(), "template") {
					t.Errorf("Meta's error %q does not say which call it refused", me.Error())
				}
				want := int32(1)
				if a, ok := tc.attempts[call]; ok {
					want = a
				}
				if n.Load() != want {
					t.Errorf("%d attempts, want %d", n.Load(), want)
				}
			})
		}
	}
}

// The create body is the draft as Kapso documents it, and the answer may
// come bare or in data; an answer without a usable id is not one.
func TestCreateTemplate(t *testing.T) {
	draft := templates.Draft{Name: "order_update", Language: "en_US", Category: templates.Utility,
		AllowCategoryChange: true, Components: json.RawMessage(`[ {"type":"BODY", "text":"Your order ships today."} ]`)}
	for name, tc := range map[string]struct {
		answer string
		want   templates.Created
		err    errs.Code
	}{
		"bare":            {answer: `{"id":"77","status":"PENDING","category":"UTILITY"}`, want: templates.Created{ID: "77", Status: "PENDING", Category: "UTILITY"}},
		"in data":         {answer: `{"data":{"id":78,"status":"APPROVED","category":"MARKETING"}}`, want: templates.Created{ID: "78", Status: "APPROVED", Category: "MARKETING"}},
		"id only":         {answer: `{"id":"79"}`, want: templates.Created{ID: "79"}},
		"no id":           {answer: `{"status":"PENDING"}`, err: errs.BadGateway},
		"id with a space": {answer: `{"id":"7 9"}`, err: errs.BadGateway},
		"not json":        {answer: `ok`, err: errs.BadGateway},
	} {
		t.Run(name, func(t *testing.T) {
			var body map[string]any
			s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != templatesPath || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
				}
				body = readBody(t, r)
				reply(w, 200, tc.answer)
			})
			created, err := s.CreateTemplate(context.Background(), "1029", draft)
			if tc.err != "" {
				if !errs.Is(err, tc.err) {
					t.Errorf("err = %v, want %s", err, tc.err)
				}
			} else if err != nil || created != tc.want {
				t.Errorf("created %+v, %v; want %+v", created, err, tc.want)
			}
			wantBody := `{"allow_category_change":true,"category":"UTILITY","components":[{"text":"Your order ships today.","type":"BODY"}],"language":"en_US","name":"order_update"}`
			if got, _ := json.Marshal(body); string(got) != wantBody {
				t.Errorf("body %s, want %s", got, wantBody)
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls", calls.Load())
			}
		})
	}
}

// A call with an argument that cannot be right is refused before it is made.
func TestTemplateCallsCheckTheirArguments(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, `{"data":[]}`) })
	ctx := context.Background()
	ok := templates.Draft{Name: "a", Language: "en", Category: templates.Utility, Components: json.RawMessage(`[{"type":"BODY","text":"x"}]`)}
	if _, err := s.ListTemplates(ctx, " "); err == nil {
		t.Error("list with no WABA")
	}
	for name, d := range map[string]templates.Draft{
		"no name":              {Language: "en", Components: ok.Components},
		"no language":          {Name: "a", Components: ok.Components},
		"no components":        {Name: "a", Language: "en"},
		"components an object": {Name: "a", Language: "en", Components: json.RawMessage(`{"type":"BODY"}`)},
		"components not JSON":  {Name: "a", Language: "en", Components: json.RawMessage(`[{`)},
	} {
		if _, err := s.CreateTemplate(ctx, "1029", d); err == nil {
			t.Errorf("%s: created", name)
		}
	}
	if _, err := s.CreateTemplate(ctx, "", ok); err == nil {
		t.Error("create with no WABA")
	}
	if calls.Load() != 0 {
		t.Errorf("%d calls", calls.Load())
	}
}
