package kapsoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// A WABA's message templates through the Meta proxy:
//   - GET /{business_account_id}/message_templates lists them, Graph
//     cursors (limit at most 100, after);
//   - POST /{business_account_id}/message_templates submits one for review
//     and answers {"id","status","category"}.

var _ templates.Kapso = (*MetaProxy)(nil)

const (
	listTemplatesOp  = "list templates"
	createTemplateOp = "create template"
	// templateFields are the fields asked of each template. Meta answers
	// rejected_reason and quality_score only when asked; an answer without
	// one is read all the same.
	templateFields = "id,name,language,status,category,components,previous_category,rejected_reason,quality_score,parameter_format"
	// maxTemplateText bounds the short fields of a template read (status,
	// category, quality, parameter format, reason): Meta's are enums.
	maxTemplateText = 256
	// maxTemplateLanguage bounds a language code (en_US, pt_BR).
	maxTemplateLanguage = 16
	// maxTemplateComponents bounds the components kept of one template:
	// twice what a new one may have, for the examples Meta adds.
	maxTemplateComponents = 2 * templates.MaxComponentsBytes
)

// wireTemplate is one template of the list. Every field may be missing,
// and a text field that is not a string reads as missing; quality is
// Meta's quality_score ({"score","date"}, or a bare score) or Kapso's
// quality_score_category.
type wireTemplate struct {
	ID              flexString      `json:"id"`
	Name            onlyString      `json:"name"`
	Language        onlyString      `json:"language"`
	Status          onlyString      `json:"status"`
	Category        onlyString      `json:"category"`
	RejectedReason  onlyString      `json:"rejected_reason"`
	QualityScore    qualityScore    `json:"quality_score"`
	QualityCategory onlyString      `json:"quality_score_category"`
	ParameterFormat onlyString      `json:"parameter_format"`
	Components      json.RawMessage `json:"components"`
}

// onlyString is a JSON string; any other value reads as "".
type onlyString string

func (o *onlyString) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		s = ""
	}
	*o = onlyString(s)
	return nil
}

// qualityScore reads quality_score as Meta gives it, {"score":"GREEN",
// "date":…}, or as a bare string; any other shape reads as "".
type qualityScore string

func (q *qualityScore) UnmarshalJSON(b []byte) error {
	var o struct {
		Score onlyString `json:"score"`
	}
	var s onlyString
	if json.Unmarshal(b, &o) == nil {
		s = o.Score
	} else {
		_ = s.UnmarshalJSON(b) // never fails
	}
	*q = qualityScore(s)
	return nil
}

// read is the template as the domain keeps it; components that are not an
// array, or too large to keep, are left out. Whether it can be kept at all
// is keyable's to say.
func (w wireTemplate) read(json.RawMessage) (templates.Read, error) {
	r := templates.Read{
		ID:   string(w.ID),
		Name: strings.TrimSpace(string(w.Name)), Language: strings.TrimSpace(string(w.Language)),
		Status: short(string(w.Status)), Category: short(string(w.Category)),
		RejectedReason: short(string(w.RejectedReason)), ParameterFormat: short(string(w.ParameterFormat)),
		QualityScore: short(string(w.QualityScore)),
	}
	if r.QualityScore == "" {
		r.QualityScore = short(string(w.QualityCategory))
	}
	if len(r.ID) > maxWAMID || strings.IndexFunc(r.ID, badIDRune) >= 0 {
		return templates.Read{}, fmt.Errorf("template %.60q has an unusable id", r.Name)
	}
	if c := bytes.TrimSpace(w.Components); len(c) > 0 && c[0] == '[' && len(c) <= maxTemplateComponents {
		r.Components = json.RawMessage(c)
	}
	return r, nil
}

// keyable reports whether r names a template the domain can keep: a name
// and a language, each within Meta's bounds and printable.
func keyable(r templates.Read) bool {
	ok := func(s string, limit int) bool {
		return s != "" && len(s) <= limit && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
	}
	return ok(r.Name, templates.MaxNameChars) && ok(r.Language, maxTemplateLanguage)
}

// short is an enum-like field of a template, cut to maxTemplateText bytes.
func short(s string) string { return cut(strings.TrimSpace(s), maxTemplateText) }

// cut is s as valid UTF-8, at most limit bytes, whole runes.
func cut(s string, limit int) string {
	s = strings.ToValidUTF8(s, "")
	for len(s) > limit {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// ListTemplates returns every template of the WABA, all pages read (100 a
// page, at most the client's page bound), each as Meta describes it. An
// entry with no name or language is left out, as the domain would leave
// it. The error's errs code says what became of the call: Unprocessable
// when Kapso or Meta refused it (Meta's error is wrapped, for logs),
// Unavailable or RateLimited to retry later, BadGateway for an answer
// that cannot be used.
func (s *MetaProxy) ListTemplates(ctx context.Context, wabaID string) ([]templates.Read, error) {
	doing := "list templates of WABA " + wabaID
	id, err := pathID("business account id", wabaID)
	if err != nil {
		return nil, failed(doing, err)
	}
	all, err := cursorPages(ctx, s.c, call{op: listTemplatesOp, method: http.MethodGet, path: "/" + id + "/message_templates",
		query: url.Values{"fields": {templateFields}}, policy: retrySafe,
		refused: metaRefused("Kapso or Meta refused to list the WABA's templates")}, wireTemplate.read)
	if err != nil {
		return nil, failed(doing, err)
	}
	kept := slices.DeleteFunc(all, func(r templates.Read) bool { return !keyable(r) })
	if n := len(all) - len(kept); n > 0 {
		s.c.log.DebugContext(ctx, "kapso listed templates without a name or language", "waba_id", wabaID, "count", n)
	}
	return kept, nil
}

// CreateTemplate submits the draft for review, its body the documented
// one (name, language, category, parameter_format, allow_category_change,
// components), and answers Meta's id, status and category. It is repeated
// only when it certainly did not reach Kapso (429, a connection never
// opened): a template made twice is refused by Meta as a duplicate. The
// error's errs code says what became of it: Unprocessable when Kapso or
// Meta refused the template (its message carries Meta's words for the
// person who wrote it; Meta's code and subcode stay in the wrapped
// *MetaError, for logs); Unavailable when Kapso failed, after which the
// template may exist (the WABA's list says).
func (s *MetaProxy) CreateTemplate(ctx context.Context, wabaID string, d templates.Draft) (templates.Created, error) {
	doing := fmt.Sprintf("create template %s (%s) in WABA %s", d.Name, d.Language, wabaID)
	id, err := pathID("business account id", wabaID)
	if err != nil {
		return templates.Created{}, failed(doing, err)
	}
	if strings.TrimSpace(d.Name) == "" || strings.TrimSpace(d.Language) == "" {
		return templates.Created{}, failed(doing, argumentError("a template needs a name and a language"))
	}
	if c := bytes.TrimSpace(d.Components); len(c) == 0 || c[0] != '[' || !json.Valid(c) {
		return templates.Created{}, failed(doing, argumentError("components are not a JSON array"))
	}
	var created templates.Created
	_, err = s.c.do(ctx, call{op: createTemplateOp, method: http.MethodPost, path: "/" + id + "/message_templates",
		body: d, policy: retryUnsent,
		decode: func(b []byte) error {
			var err error
			created, err = decodeCreatedTemplate(b)
			return err
		},
		refused: metaRefused("Meta refused the template")}, nil)
	if err != nil {
		return templates.Created{}, failed(doing, err)
	}
	return created, nil
}

// decodeCreatedTemplate reads {"id","status","category"}, bare or in data.
func decodeCreatedTemplate(b []byte) (templates.Created, error) {
	type answer struct {
		ID       flexString `json:"id"`
		Status   onlyString `json:"status"`
		Category onlyString `json:"category"`
	}
	var a struct {
		answer
		Data *answer `json:"data"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return templates.Created{}, fmt.Errorf("decode created template: %w", err)
	}
	got := a.answer
	if got.ID == "" && a.Data != nil {
		got = *a.Data
	}
	id := string(got.ID)
	if id == "" || len(id) > maxWAMID || strings.IndexFunc(id, badIDRune) >= 0 {
		return templates.Created{}, fmt.Errorf("created template has an unusable id %.60q", id)
	}
	return templates.Created{ID: id, Status: short(string(got.Status)), Category: short(string(got.Category))}, nil
}

// metaRefusal is Kapso or Meta refusing a Meta proxy call other than a send
// (a template, a WABA's list): nothing was done, and repeating the call as
// it is fails the same way.
type metaRefusal struct {
	what string // what was refused, in the caller's terms
	meta *MetaError
}

func (e *metaRefusal) Error() string { return e.meta.Error() }
func (e *metaRefusal) Unwrap() error { return e.meta }

// message is what a caller is told: what was refused, and Meta's own
// words for the person who made the request (error_user_title,
// error_user_msg), when it gave some. Meta's codes stay in the error.
func (e *metaRefusal) message() string {
	var parts []string
	for _, s := range []string{e.meta.Title, e.meta.UserMessage} {
		if s = shown(s); s != "" && !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return e.what
	}
	return e.what + ": " + strings.Join(parts, ": ")
}

// shown is upstream text fit to pass on: valid UTF-8, no control
// characters, runs of space as one, bounded.
func shown(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return cut(strings.Join(strings.Fields(s), " "), maxErrorMessage)
}

// metaRefused turns a refusal of a template call into a metaRefusal: any
// answer from 400 to 499 but 429 (handled before) and Kapso's own refusal
// of the API key or plan (401, 402, 403 with Kapso's {"error":"…"}),
// which stays an *APIError and is classified by its status.
func metaRefused(what string) func(*APIError, []byte) error {
	return func(api *APIError, body []byte) error {
		if api.Status < 400 || api.Status > 499 {
			return api
		}
		me := newMetaError(api.Status, http.Header{}, body)
		me.api = api
		if me.Code == 0 && (api.Status == http.StatusUnauthorized || api.Status == http.StatusPaymentRequired ||
			api.Status == http.StatusForbidden) {
			return api
		}
		return &metaRefusal{what: what, meta: me}
	}
}
