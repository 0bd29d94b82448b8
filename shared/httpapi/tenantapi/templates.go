package tenantapi

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/strictjson"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// MaxTemplateBodyBytes bounds a template's creation body: Meta's largest
// template (ten buttons, every text at its limit, examples) fits well inside.
const MaxTemplateBodyBytes = 64 << 10

// TemplateView is a template as the API shows it.
type TemplateView struct {
	BusinessAccountID string          `json:"business_account_id"`
	ID                string          `json:"id"`
	Name              string          `json:"name"`
	Language          string          `json:"language"`
	Category          string          `json:"category"`
	Status            string          `json:"status"`
	RejectedReason    string          `json:"rejected_reason,omitempty"`
	QualityScore      string          `json:"quality_score,omitempty"`
	ParameterFormat   string          `json:"parameter_format,omitempty"`
	Components        json.RawMessage `json:"components"`
	// History is every status the template was seen in, oldest first.
	History []TemplateStatusView `json:"history"`
	// UpdatedAt is when what Kapso reports of it last changed; ReadAt when
	// its WABA's templates were last read whole (null: not since it was
	// created here).
	UpdatedAt time.Time  `json:"updated_at"`
	ReadAt    *time.Time `json:"read_at"`
}

// TemplateStatusView is one status on a template's history.
type TemplateStatusView struct {
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	Source string    `json:"source"`
}

// TemplateSyncView is when one WABA's templates were read.
type TemplateSyncView struct {
	BusinessAccountID string     `json:"business_account_id"`
	PhoneNumberIDs    []string   `json:"phone_number_ids"`
	SyncedAt          *time.Time `json:"synced_at"`
	Count             int        `json:"count"`
}

// TemplateList is the answer of GET …/templates.
type TemplateList struct {
	Templates []TemplateView `json:"templates"`
	// Accounts are the tenant's connected WABAs and when each one's
	// templates were last read (null: never).
	Accounts   []TemplateSyncView `json:"accounts"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// TemplateSyncAnswer is the answer of POST …/templates/sync.
type TemplateSyncAnswer struct {
	Accounts []TemplateSyncResult `json:"accounts"`
}

// TemplateSyncResult is one WABA read.
type TemplateSyncResult struct {
	BusinessAccountID string    `json:"business_account_id"`
	Read              int       `json:"read"`
	Changed           int       `json:"changed"`
	SyncedAt          time.Time `json:"synced_at"`
}

// templateCreateRequest is the body of POST …/templates: a draft, and the
// number whose WABA it goes in when the tenant has more than one.
type templateCreateRequest struct {
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	templates.Draft
}

// listTemplates serves GET /v1/tenants/{tenant_id}/templates: the stored
// templates of the tenant's WABAs, as last read, by WABA, name and
// language. It calls no Kapso: the reconciler and POST …/templates/sync read
// them.
func (a *API) listTemplates(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	q := r.URL.Query()
	status, name := q.Get("status"), q.Get("name")
	page, err := readPage(r)
	if err != nil {
		return err
	}
	conn, err := a.loadConnection(ctx, tenantID)
	if err != nil {
		return err
	}
	cat, err := a.Templates.Catalog(ctx, tenantID)
	if err != nil {
		return storeError(err, "load templates")
	}
	ts := slices.Clone(cat.Templates)
	slices.SortFunc(ts, func(x, y templates.Template) int {
		return cmp.Or(cmp.Compare(x.BusinessAccountID, y.BusinessAccountID), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Language, y.Language))
	})
	after := ""
	if page.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(page.Cursor)
		if err != nil || !strings.HasPrefix(string(b), "tpl:") {
			return badCursor(err)
		}
		after = strings.TrimPrefix(string(b), "tpl:")
	}
	out := TemplateList{Templates: []TemplateView{}, Accounts: a.templateAccounts(conn, cat)}
	last := ""
	for _, t := range ts {
		if (status != "" && t.Status != status) || (name != "" && t.Name != name) || (after != "" && templatePosition(t) <= after) {
			continue
		}
		if len(out.Templates) == page.Size() {
			out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("tpl:" + last))
			break
		}
		out.Templates = append(out.Templates, templateView(t, cat))
		last = templatePosition(t)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// templatePosition orders templates in a list and its cursors.
func templatePosition(t templates.Template) string {
	return t.BusinessAccountID + "#" + t.Name + "#" + t.Language
}

// createTemplate serves POST /v1/tenants/{tenant_id}/templates: the draft is
// checked against Meta's rules, then submitted through Kapso to the WABA of
// the tenant's connected number, and stored as Kapso answered (PENDING).
func (a *API) createTemplate(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, log *slog.Logger) error {
	body, err := readBody(r, MaxTemplateBodyBytes)
	if err != nil {
		return err
	}
	var req templateCreateRequest
	if err := strictjson.Decode(body, &req, strictjson.Options{Text: messaging.OutboundTextProblem}); err != nil {
		return errs.E(errs.Invalid, setupLinkBodyProblem(err), err)
	}
	if ferr := req.Check(); ferr != nil {
		return errs.E(errs.Invalid, ferr.Error(), ferr)
	}
	number, err := a.sendingNumber(ctx, tenantID, req.PhoneNumberID)
	if err != nil {
		return err
	}
	if number.BusinessAccountID == "" {
		return errs.E(errs.Conflict, "the number's WhatsApp Business Account is not known yet; retry once its connection is confirmed", nil)
	}
	t, err := templates.Create(ctx, fromKapsoTemplates{a.TemplateKapso}, a.Templates, tenantID, number.BusinessAccountID, req.Draft, a.now())
	if err != nil {
		return kapsoError(err, "create template")
	}
	log.Info("template created", "business_account_id", t.BusinessAccountID, "template", t.Name, "language", t.Language, "status", t.Status)
	noteResource(ctx, t.ID)
	// Just created: no reading of its WABA has confirmed it yet (read_at null).
	httpapi.WriteJSON(w, http.StatusCreated, map[string]TemplateView{"template": templateView(t, templates.Catalog{})})
	return nil
}

// syncTemplates serves POST /v1/tenants/{tenant_id}/templates/sync: each
// connected WABA of the tenant is read through Kapso now.
func (a *API) syncTemplates(ctx context.Context, w http.ResponseWriter, _ *http.Request, tenantID string, log *slog.Logger) error {
	conn, err := a.loadConnection(ctx, tenantID)
	if err != nil {
		return err
	}
	wabas := conn.ConnectedAccounts()
	if len(wabas) == 0 {
		return errs.E(errs.Conflict, "the tenant has no connected number whose WhatsApp Business Account is known", nil)
	}
	out := TemplateSyncAnswer{Accounts: []TemplateSyncResult{}}
	for _, waba := range wabas {
		res, err := templates.Sync(ctx, fromKapsoTemplates{a.TemplateKapso}, a.Templates, tenantID, waba, templates.SourceAPI, a.now())
		if err != nil {
			return kapsoError(err, "sync templates")
		}
		log.Info("templates synced", "business_account_id", waba, "read", res.Read, "changed", res.Changed)
		out.Accounts = append(out.Accounts, TemplateSyncResult{BusinessAccountID: waba, Read: res.Read, Changed: res.Changed, SyncedAt: res.At.UTC()})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// checkTemplateSend refuses a template send the stored template says Meta
// would refuse: unknown, not APPROVED, not in that language, or with the
// wrong number of parameters. One read; two when the template is unknown.
// A WABA whose templates were never read is not judged.
func (a *API) checkTemplateSend(ctx context.Context, tenantID string, number onboarding.PhoneNumber, t *messaging.OutTemplate) error {
	if number.BusinessAccountID == "" || t.Language == nil {
		// A number whose WABA is not recorded yet: Meta is the judge.
		return nil
	}
	k := templates.Key{BusinessAccountID: number.BusinessAccountID, Name: t.Name, Language: t.Language.Code}
	stored, ok, err := a.Templates.Template(ctx, tenantID, k)
	if err != nil {
		return storeError(err, "load template")
	}
	var refusal *templates.Refusal
	if ok {
		refusal = templates.CheckSend(stored, t.Components)
	} else {
		cat, err := a.Templates.Catalog(ctx, tenantID)
		if err != nil {
			return storeError(err, "load templates")
		}
		refusal = templates.Unknown(cat, k)
	}
	if refusal != nil {
		return errs.E(httpapi.TemplateNotSendable, refusal.Message, refusal)
	}
	return nil
}

func (a *API) loadConnection(ctx context.Context, tenantID string) (onboarding.Connection, error) {
	c, ok, err := a.Store.Load(ctx, tenantID)
	if err != nil {
		return c, storeError(err, "load connection")
	}
	if !ok {
		return c, errs.E(errs.NotFound, "unknown tenant", nil)
	}
	return c, nil
}

// templateAccounts are the tenant's WABAs (of connected numbers, and any
// whose templates are stored) with when each was last read.
func (a *API) templateAccounts(conn onboarding.Connection, cat templates.Catalog) []TemplateSyncView {
	byWABA := map[string]*TemplateSyncView{}
	var order []string
	add := func(waba string) *TemplateSyncView {
		if v, ok := byWABA[waba]; ok {
			return v
		}
		v := &TemplateSyncView{BusinessAccountID: waba, PhoneNumberIDs: []string{}}
		byWABA[waba] = v
		order = append(order, waba)
		return v
	}
	for _, n := range conn.PhoneNumbers {
		if n.BusinessAccountID != "" && n.Status == onboarding.NumberStatusConnected {
			v := add(n.BusinessAccountID)
			v.PhoneNumberIDs = append(v.PhoneNumberIDs, n.PhoneNumberID)
		}
	}
	for _, m := range cat.Synced {
		v := add(m.BusinessAccountID)
		at := m.At.UTC()
		v.SyncedAt, v.Count = &at, m.Count
	}
	slices.Sort(order)
	out := make([]TemplateSyncView, 0, len(order))
	for _, w := range order {
		out = append(out, *byWABA[w])
	}
	return out
}

func templateView(t templates.Template, cat templates.Catalog) TemplateView {
	v := TemplateView{BusinessAccountID: t.BusinessAccountID, ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category,
		Status: t.Status, RejectedReason: t.Reason(), QualityScore: t.QualityScore, ParameterFormat: t.ParameterFormat,
		Components: t.Components, History: make([]TemplateStatusView, 0, len(t.History)), UpdatedAt: t.UpdatedAt.UTC()}
	if len(v.Components) == 0 || !json.Valid(v.Components) {
		v.Components = json.RawMessage("[]")
	}
	for _, h := range t.History {
		v.History = append(v.History, TemplateStatusView{Status: h.Status, Reason: h.Reason, At: h.At.UTC(), Source: h.Source})
	}
	if at := cat.SyncedAt(t.BusinessAccountID); !at.IsZero() && !at.Before(t.UpdatedAt) {
		at = at.UTC()
		v.ReadAt = &at
	}
	return v
}

// fromKapsoTemplates marks the Kapso port's failures as Kapso's, so that
// kapsoError words them as Kapso's.
type fromKapsoTemplates struct{ k templates.Kapso }

func (f fromKapsoTemplates) ListTemplates(ctx context.Context, wabaID string) ([]templates.Read, error) {
	r, err := f.k.ListTemplates(ctx, wabaID)
	if err != nil {
		return nil, fromKapso{err}
	}
	return r, nil
}

func (f fromKapsoTemplates) CreateTemplate(ctx context.Context, wabaID string, d templates.Draft) (templates.Created, error) {
	c, err := f.k.CreateTemplate(ctx, wabaID, d)
	if err != nil {
		return c, fromKapso{err}
	}
	return c, nil
}
