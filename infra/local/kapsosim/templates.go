package kapsosim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// A WABA's message templates, as Meta keeps them and Kapso's Meta proxy
// serves them: GET /{waba_id}/message_templates lists them (Graph cursors,
// limit 20 by default and 100 at most, filters name, status, category and
// language, fields), POST /{waba_id}/message_templates submits one, which
// waits as PENDING until SetTemplateStatus reviews it. A WABA made for a
// connected number starts with the two APPROVED templates of
// SeedTemplates. A send of a template that is not in the number's WABA, or
// not APPROVED, is refused as Meta refuses it (132001, 132015, 132016).

// Template statuses the simulator gives on its own; SetTemplateStatus
// takes any status Meta has.
const (
	TemplateApproved = "APPROVED"
	TemplatePending  = "PENDING"
	TemplatePaused   = "PAUSED"
	TemplateDisabled = "DISABLED"
)

// Meta's errors about templates.
const (
	metaTemplateMissing  = 132001 // the template is not in the WABA in that language, or not approved
	metaTemplatePaused   = 132015
	metaTemplateDisabled = 132016
	// metaTemplateExists is the subcode (of code 100) of a template whose
	// name and language the WABA has already.
	metaTemplateExists     = 2388024
	defaultTemplatesLimit  = 20 // Kapso's documented default for this list
	maxTemplateNameBytes   = 512
	maxTemplateLangBytes   = 16
	maxTemplateReasonBytes = 256
)

// Template is a message template of a WABA.
type Template struct {
	ID, Name, Language, Category, Status string
	// RejectedReason is Meta's reason for the status; NONE when there is none.
	RejectedReason string
	// QualityScore is Meta's quality_score.score: GREEN, YELLOW, RED or UNKNOWN.
	QualityScore     string
	ParameterFormat  string
	PreviousCategory string
	// Components are Meta's, as the template was created (a JSON array).
	Components           json.RawMessage
	CreatedAt, UpdatedAt time.Time
}

// SeedTemplates are the templates every WABA starts with, APPROVED, with
// quality GREEN: hello_world (a body without parameters) and order_update
// (a text header, a body and a URL button, each with parameters).
func SeedTemplates() []Template {
	return []Template{
		{Name: "hello_world", Language: "en_US", Category: "UTILITY", Components: json.RawMessage(`[` +
			`{"type":"BODY","text":"Hello! This is a message from your business on WhatsApp."}]`)},
		{Name: "order_update", Language: "en_US", Category: "UTILITY", Components: json.RawMessage(`[` +
			`{"type":"HEADER","format":"TEXT","text":"Order {{1}}","example":{"header_text":["#4417"]}},` +
			`{"type":"BODY","text":"Hi {{1}}, your order {{2}} ships today.","example":{"body_text":[["Maria","#4417"]]}},` +
			`{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track order","url":"https://shop.example.com/orders/{{1}}",` +
			`"example":["https://shop.example.com/orders/4417"]}]}]`)},
	}
}

// seedTemplatesLocked gives a new WABA its seed templates; callers hold s.mu.
func (s *Simulator) seedTemplatesLocked(wabaID string, now time.Time) {
	if _, ok := s.templates[wabaID]; ok {
		return
	}
	var ts []*Template
	for _, t := range SeedTemplates() {
		t.ID, t.Status, t.RejectedReason, t.QualityScore = s.templateIDLocked(), TemplateApproved, "NONE", "GREEN"
		t.ParameterFormat, t.CreatedAt, t.UpdatedAt = "POSITIONAL", now, now
		ts = append(ts, &t)
	}
	s.templates[wabaID] = ts
}

// templateIDLocked is a new template id: a count, so that making
// templates does not move the ids the seeded generator gives the rest;
// callers hold s.mu.
func (s *Simulator) templateIDLocked() string {
	s.templateSeq++
	return fmt.Sprintf("%d", 1_500_000_000_000_000+s.templateSeq)
}

func (s *Simulator) findTemplateLocked(wabaID, name, language string) *Template {
	return first(s.templates[wabaID], func(t *Template) bool { return t.Name == name && t.Language == language })
}

// Templates returns the WABA's templates in the order they were made
// (none for a WABA the simulator does not have).
func (s *Simulator) Templates(wabaID string) []Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Template
	for _, t := range s.templates[wabaID] {
		c := *t
		c.Components = slices.Clone(t.Components)
		out = append(out, c)
	}
	return out
}

// BusinessAccountID returns the id of the number's WABA.
func (s *Simulator) BusinessAccountID(phoneNumberID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.findNumber(phoneNumberID)
	if n == nil {
		return "", fmt.Errorf("business account of %s: %w", phoneNumberID, ErrNotFound)
	}
	return n.WABA, nil
}

// TemplateChange is what Meta decides of a template; only the fields set
// change. Status is any of Meta's (APPROVED, REJECTED, PAUSED, DISABLED,
// IN_APPEAL…); Reason is its rejected_reason (NONE when a new status
// comes without one); QualityScore its quality_score.score.
type TemplateChange struct {
	Status       string `json:"status,omitempty"`
	Reason       string `json:"reason,omitempty"`
	QualityScore string `json:"quality_score,omitempty"`
}

// metaWord is a status or quality score as Meta spells them.
var metaWord = regexp.MustCompile(`^[A-Z][A-Z_]{0,31}$`)

// SetTemplateStatus makes Meta's review of the WABA's template what ch
// says, as the list shows it from then on. Kapso sends no webhook for it:
// kapso-bridge reads it.
func (s *Simulator) SetTemplateStatus(wabaID, name, language string, ch TemplateChange) (Template, error) {
	doing := fmt.Sprintf("set template %s (%s) of %s", name, language, wabaID)
	switch {
	case ch.Status == "" && ch.Reason == "" && ch.QualityScore == "":
		return Template{}, fmt.Errorf("%s: %w: status, reason or quality_score is required", doing, ErrInvalid)
	case ch.Status != "" && !metaWord.MatchString(ch.Status):
		return Template{}, fmt.Errorf("%s: %w: status must be a Meta status such as APPROVED, REJECTED, PAUSED or DISABLED", doing, ErrInvalid)
	case ch.QualityScore != "" && !metaWord.MatchString(ch.QualityScore):
		return Template{}, fmt.Errorf("%s: %w: quality_score must be GREEN, YELLOW, RED or UNKNOWN", doing, ErrInvalid)
	case len(ch.Reason) > maxTemplateReasonBytes || strings.ContainsFunc(ch.Reason, unicode.IsControl):
		return Template{}, fmt.Errorf("%s: %w: reason must be at most %d bytes of text", doing, ErrInvalid, maxTemplateReasonBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.findTemplateLocked(wabaID, name, language)
	if t == nil {
		return Template{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	if ch.Status != "" {
		t.Status, t.RejectedReason = ch.Status, "NONE"
	}
	if ch.Reason != "" {
		t.RejectedReason = ch.Reason
	}
	if ch.QualityScore != "" {
		t.QualityScore = ch.QualityScore
	}
	t.UpdatedAt = s.now()
	c := *t
	c.Components = slices.Clone(t.Components)
	return c, nil
}

// --- the Meta proxy's calls ---

// templateFieldsOf is the template as Meta answers it: every field it has.
func templateFieldsOf(t *Template) map[string]any {
	m := map[string]any{"id": t.ID, "name": t.Name, "language": t.Language, "status": t.Status, "category": t.Category,
		"components": t.Components, "parameter_format": t.ParameterFormat, "rejected_reason": t.RejectedReason,
		"quality_score":     map[string]any{"score": t.QualityScore, "date": t.UpdatedAt.Unix()},
		"last_updated_time": t.UpdatedAt.UTC().Format("2006-01-02T15:04:05-0700")}
	if t.PreviousCategory != "" {
		m["previous_category"] = t.PreviousCategory
	}
	return m
}

// defaultTemplateFields are what Meta answers of a template when fields
// does not say.
var defaultTemplateFields = []string{"id", "name", "language", "status", "category", "components", "parameter_format",
	"previous_category"}

// templateView is the template with the fields asked (the default ones
// when none are); id always, and names Meta does not have are left out.
func templateView(t *Template, fields []string) map[string]any {
	all := templateFieldsOf(t)
	if len(fields) == 0 {
		fields = defaultTemplateFields
	}
	out := map[string]any{"id": t.ID}
	for _, f := range fields {
		if v, ok := all[f]; ok {
			out[f] = v
		}
	}
	return out
}

// listTemplates answers a page of the WABA's templates, newest first.
func (s *Simulator) listTemplates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, ok := readPaging(w, r, defaultTemplatesLimit)
	if !ok {
		return
	}
	var fields []string
	for f := range strings.SplitSeq(q.Get("fields"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	name, status, category, language := q.Get("name"), q.Get("status"), q.Get("category"), q.Get("language")
	waba := r.PathValue("waba_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, known := s.templates[waba]
	if !known {
		writeNoObject(w, "get", waba)
		return
	}
	var items []listItem
	for i, t := range ts {
		if name != "" && t.Name != name || language != "" && t.Language != language ||
			status != "" && !strings.EqualFold(t.Status, status) || category != "" && !strings.EqualFold(t.Category, category) {
			continue
		}
		items = append(items, listItem{pos: position{at: t.CreatedAt, seq: i},
			view: func() any { return templateView(t, fields) }})
	}
	s.writeCursorPage(w, r, p, items)
}

// templateRequest is the body of a template's creation.
type templateRequest struct {
	Name                string          `json:"name"`
	Language            string          `json:"language"`
	Category            string          `json:"category"`
	ParameterFormat     string          `json:"parameter_format"`
	AllowCategoryChange bool            `json:"allow_category_change"`
	Components          json.RawMessage `json:"components"`
}

// problem is the first thing Meta would refuse in the request, or "".
func (t templateRequest) problem() string {
	for _, f := range []struct{ name, v string }{{"name", t.Name}, {"language", t.Language}, {"category", t.Category}} {
		if strings.TrimSpace(f.v) == "" {
			return "The parameter " + f.name + " is required."
		}
	}
	var cs []map[string]json.RawMessage
	switch {
	case len(t.Name) > maxTemplateNameBytes || len(t.Language) > maxTemplateLangBytes:
		return "Param name or language is too long."
	case !slices.Contains([]string{"AUTHENTICATION", "MARKETING", "UTILITY"}, t.Category):
		return "Param category must be one of {AUTHENTICATION, MARKETING, UTILITY}."
	case t.ParameterFormat != "" && t.ParameterFormat != "POSITIONAL" && t.ParameterFormat != "NAMED":
		return "Param parameter_format must be one of {POSITIONAL, NAMED}."
	case len(bytes.TrimSpace(t.Components)) == 0 || string(bytes.TrimSpace(t.Components)) == "null":
		return "The parameter components is required."
	case json.Unmarshal(t.Components, &cs) != nil || len(cs) == 0:
		return "Param components must be a non-empty array of components."
	}
	for _, c := range cs {
		if len(c["type"]) == 0 {
			return "Param components[].type is required."
		}
	}
	return ""
}

// createTemplate makes a PENDING template in the WABA, or refuses the
// request as Meta does.
func (s *Simulator) createTemplate(w http.ResponseWriter, r *http.Request) {
	bad := func(msg string) { writeMetaError(w, http.StatusBadRequest, metaInvalidParameter, "(#100) "+msg, "") }
	var req templateRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&req); err != nil {
		bad("Invalid parameter: the body is not a template")
		return
	}
	if msg := req.problem(); msg != "" {
		bad(msg)
		return
	}
	waba := r.PathValue("waba_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.templates[waba]; !known {
		writeNoObject(w, "post", waba)
		return
	}
	if s.findTemplateLocked(waba, req.Name, req.Language) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "Invalid parameter", "type": "OAuthException", "code": metaInvalidParameter,
			"error_subcode": metaTemplateExists, "is_transient": false,
			"error_user_title": "Content in this language already exists",
			"error_user_msg": fmt.Sprintf("There is already %s content for this template. You can create a new template and try again.",
				req.Language),
			"fbtrace_id": "Asim" + strings.Repeat("0", 19)}})
		return
	}
	now := s.now()
	var compact bytes.Buffer
	_ = json.Compact(&compact, req.Components) // valid: problem decoded it
	t := &Template{ID: s.templateIDLocked(), Name: req.Name, Language: req.Language, Category: req.Category,
		Status: TemplatePending, RejectedReason: "NONE", QualityScore: "UNKNOWN",
		ParameterFormat: cmp.Or(req.ParameterFormat, "POSITIONAL"), Components: compact.Bytes(), CreatedAt: now, UpdatedAt: now}
	s.templates[waba] = append(s.templates[waba], t)
	writeJSON(w, http.StatusOK, map[string]string{"id": t.ID, "status": t.Status, "category": t.Category})
}

// templateRefusal is Meta's refusal of a template send, or ok.
type templateRefusal struct {
	ok             bool
	status, code   int
	title, details string
}

// templateRefusalLocked is what Meta says of a send of the template name
// in language from the number: ok when it is APPROVED in the number's
// WABA, else 132001 (not there, or in review or rejected), 132015
// (paused) or 132016 (disabled). Callers hold s.mu.
func (s *Simulator) templateRefusalLocked(n *number, name, language string) templateRefusal {
	missing := templateRefusal{status: http.StatusNotFound, code: metaTemplateMissing,
		title: "Template name does not exist in the translation"}
	t := s.findTemplateLocked(n.WABA, name, language)
	switch {
	case t == nil:
		missing.details = fmt.Sprintf("template name (%s) does not exist in %s", name, language)
		return missing
	case t.Status == TemplateApproved:
		return templateRefusal{ok: true}
	case t.Status == TemplatePaused:
		return templateRefusal{status: http.StatusBadRequest, code: metaTemplatePaused, title: "Template is Paused",
			details: "Template is paused due to low quality so it cannot be sent in a template message"}
	case t.Status == TemplateDisabled:
		return templateRefusal{status: http.StatusBadRequest, code: metaTemplateDisabled, title: "Template is disabled",
			details: "Template has been paused too many times due to low quality and is now permanently disabled"}
	}
	missing.details = fmt.Sprintf("template name (%s) is %s in %s, not approved", name, t.Status, language)
	return missing
}

// --- /_sim controls ---

// ctlTemplate: POST /_sim/templates/{waba_id}/{name}/{language} with a
// TemplateChange body.
func (s *Simulator) ctlTemplate(w http.ResponseWriter, r *http.Request) {
	var ch TemplateChange
	if !readJSON(w, r, &ch) {
		return
	}
	t, err := s.SetTemplateStatus(r.PathValue("waba_id"), r.PathValue("name"), r.PathValue("language"), ch)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, templateFieldsOf(&t))
}

// ctlTemplates: GET /_sim/templates/{waba_id}, every template of the WABA
// with every field, in the order they were made.
func (s *Simulator) ctlTemplates(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, known := s.templates[r.PathValue("waba_id")]
	if !known {
		writeError(w, http.StatusNotFound, "no such WABA")
		return
	}
	data := []map[string]any{}
	for _, t := range ts {
		data = append(data, templateFieldsOf(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}
