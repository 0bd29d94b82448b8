package kapsosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// FailureCodes returns the error codes the setup page offers to fail with.
func FailureCodes() []string {
	return []string{"facebook_auth_failed", "phone_verification_failed", "waba_limit_reached", "token_exchange_failed"}
}

// isFailureCode: every code a failure redirect can carry.
func isFailureCode(code string) bool {
	return slices.Contains(FailureCodes(), code) || code == "link_expired" || code == "already_used"
}

func (s *Simulator) findLink(id string) *link {
	return first(s.links, func(l *link) bool { return l.ID == id })
}

func (s *Simulator) findLinkByToken(token string) *link {
	return first(s.links, func(l *link) bool { return l.Token == token })
}

// LinkIDFromURL returns the id of the link whose setup page is at u.
func (s *Simulator) LinkIDFromURL(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil {
		return "", false
	}
	token, ok := strings.CutPrefix(p.Path, "/setup/")
	if !ok || token == "" || strings.Contains(token, "/") {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.findLinkByToken(token); l != nil {
		return l.ID, true
	}
	return "", false
}

// unusableCode is the failure code of a link that can no longer be used, or
// "". A revoked link reports link_expired: Kapso documents no code of its own.
func unusableCode(st string) string {
	switch st {
	case "used":
		return "already_used"
	case "expired", "revoked":
		return "link_expired"
	}
	return ""
}

// withQuery adds params to base, keeping its own query; "" stays "".
func withQuery(base string, params url.Values) string {
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				q.Add(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func failureRedirect(l *link, code string) string {
	return withQuery(l.FailureURL, url.Values{"setup_link_id": {l.ID}, "error_code": {code}})
}

// CompleteLink finishes the link's signup as the person would, with
// connection type "dedicated" or "coexistence": it connects a number (a new
// one, or the reconnected one), marks the link used, sends the project
// webhook, and returns the success redirect URL ("" when the link has none).
// A link that cannot be used gives ErrLinkUnusable with its failure redirect.
func (s *Simulator) CompleteLink(id, connType string) (string, string, error) {
	s.mu.Lock()
	l := s.findLink(id)
	if l == nil {
		s.mu.Unlock()
		return "", "", fmt.Errorf("complete setup link %s: %w", id, ErrNotFound)
	}
	now := s.now()
	if code := unusableCode(l.status(now)); code != "" {
		s.mu.Unlock()
		return failureRedirect(l, code), "", fmt.Errorf("complete setup link %s: %w: %s", id, ErrLinkUnusable, code)
	}
	if !slices.Contains(l.AllowedTypes, connType) {
		s.mu.Unlock()
		return "", "", fmt.Errorf("complete setup link %s: %w: connection type %q not allowed", id, ErrInvalid, connType)
	}
	c := s.findCustomer(l.CustomerID)
	n := s.findNumber(l.ReconnectNumberID)
	if n == nil {
		n = &number{ID: s.uuid(), PhoneNumberID: s.digits(15), WABA: s.digits(15), Display: "+1555" + s.digits(7),
			CustomerID: c.ID, CreatedAt: now}
		s.numbers = append(s.numbers, n)
		s.seedTemplatesLocked(n.WABA, now)
	}
	n.Status, n.Quality, n.NameStatus, n.VerifiedName = "CONNECTED", defaultQuality, defaultNameStatus, c.Name
	n.Throughput, n.MessagingLimit = defaultThroughput, defaultMessagingLimit
	n.IsCoexistence = connType == "coexistence"
	if l.Provision {
		l.Provisioned = &provisioned{ID: s.uuid(), Number: n.Display, At: now}
	}
	l.used, l.SetupStatus, l.SetupError, l.PhoneNumberID = true, "completed", "", n.PhoneNumberID
	params := url.Values{"setup_link_id": {l.ID}, "status": {"completed"}, "phone_number_id": {n.PhoneNumberID},
		"business_account_id": {n.WABA}, "display_phone_number": {n.Display}}
	if l.Provisioned != nil {
		params.Set("provisioned_phone_number_id", l.Provisioned.ID)
	}
	redirect := withQuery(l.SuccessURL, params)
	event, body := s.connectionEvent(c, l, n)
	s.mu.Unlock()

	if _, err := s.SendProjectEvent(event, body); err != nil && !errors.Is(err, ErrNoWebhook) {
		s.log.Warn("kapsosim: connection webhook not sent", "setup_link_id", id, "error", err)
	}
	return redirect, n.PhoneNumberID, nil
}

// connectionEvent builds the project webhook for a completed link in the
// configured payload version; callers hold s.mu.
func (s *Simulator) connectionEvent(c *customer, l *link, n *number) (string, []byte) {
	cust := map[string]any{"id": c.ID, "name": c.Name, "external_customer_id": nullable(c.ExternalID)}
	var event string
	var body any
	if s.opts.PayloadVersion == "v1" {
		linkJSON := l.json(s.now())
		event = kapso.EventConfigCreated
		cust["created_at"] = ts(c.CreatedAt)
		body = map[string]any{
			"whatsapp_config": map[string]any{"id": n.ID, "name": c.Name, "phone_number_id": n.PhoneNumberID,
				"business_account_id": n.WABA, "is_coexistence": n.IsCoexistence, "customer_id": c.ID,
				"display_phone_number": n.Display, "display_phone_number_normalized": strings.TrimPrefix(n.Display, "+"),
				"created_at": ts(n.CreatedAt), "updated_at": ts(s.now())},
			"project":          map[string]any{"id": s.projectID, "name": "Simulated project"},
			"customer":         cust,
			"setup_link":       linkJSON,
			"phone_number":     linkJSON["provisioned_phone_number"],
			"creation_context": map[string]any{"sandbox": false, "coexistence": n.IsCoexistence},
		}
	} else {
		event = kapso.EventPhoneNumberCreated
		body = map[string]any{"phone_number_id": n.PhoneNumberID, "project": map[string]any{"id": s.projectID},
			"customer": cust, "business_account_id": n.WABA, "display_phone_number": n.Display,
			"is_coexistence": n.IsCoexistence, "setup_link": map[string]any{"id": l.ID}}
	}
	b, _ := json.Marshal(body) // maps of strings and bools always marshal
	return event, b
}

// FailLink ends the link's signup with an error code, as Meta's flow would,
// and returns the failure redirect URL ("" when the link has none). An
// active link stays active (the person may try again) with the error noted.
func (s *Simulator) FailLink(id, code string) (string, error) {
	if !isFailureCode(code) {
		return "", fmt.Errorf("fail setup link %s: %w: unknown error code %q", id, ErrInvalid, code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.findLink(id)
	if l == nil {
		return "", fmt.Errorf("fail setup link %s: %w", id, ErrNotFound)
	}
	if l.status(s.now()) == "active" {
		l.SetupStatus, l.SetupError = "failed", code
	}
	return failureRedirect(l, code), nil
}

var pageTmpl = template.Must(template.New("setup").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Kapso simulator: connect WhatsApp</title></head>
<body>
<h1>Connect WhatsApp (simulated)</h1>
<p>Customer: <b id="customer-name">{{.Customer}}</b> (external id <code>{{.External}}</code>)</p>
<p>Setup link <code id="setup-link-id">{{.LinkID}}</code>, status <b id="link-status">{{.Status}}</b>, expires {{.Expires}}</p>
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{range .Connect}}<form method="post" action="/setup/{{$.Token}}/complete"><input type="hidden" name="connection_type" value="{{.}}"><button type="submit" id="connect-{{.}}">Connect as {{.}}</button></form>
{{end}}{{range .Fail}}<form method="post" action="/setup/{{$.Token}}/fail"><input type="hidden" name="error_code" value="{{.}}"><button type="submit" id="fail-{{.}}">Fail: {{.}}</button></form>
{{end}}</body></html>
`))

type pageData struct {
	Customer, External, LinkID, Status, Expires, Token, Message string
	Connect, Fail                                               []string
}

func (s *Simulator) setupPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	l := s.findLinkByToken(r.PathValue("token"))
	if l == nil {
		s.mu.Unlock()
		http.Error(w, "setup link not found", http.StatusNotFound)
		return
	}
	c := s.findCustomer(l.CustomerID)
	st := l.status(s.now())
	d := pageData{Customer: c.Name, External: c.ExternalID, LinkID: l.ID, Status: st,
		Expires: ts(l.ExpiresAt), Token: l.Token}
	s.mu.Unlock()
	if code := unusableCode(st); code != "" {
		d.Message, d.Fail = "This link can no longer be used: "+code, []string{code}
	} else {
		d.Connect, d.Fail = l.AllowedTypes, FailureCodes()
	}
	renderPage(w, http.StatusOK, d)
}

func renderPage(w http.ResponseWriter, status int, d pageData) {
	// Its forms end in a redirect to kapso-bridge, another origin: no
	// form-action.
	pageHeaders(w, "", "")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

// linkForForm resolves the token of a setup-page form post.
func (s *Simulator) linkForForm(w http.ResponseWriter, r *http.Request, field string) (string, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return "", "", false
	}
	s.mu.Lock()
	l := s.findLinkByToken(r.PathValue("token"))
	s.mu.Unlock()
	if l == nil {
		http.Error(w, "setup link not found", http.StatusNotFound)
		return "", "", false
	}
	return l.ID, r.PostForm.Get(field), true
}

// finishPage sends the browser on to redirect, or, when the link has no
// redirect URL, shows the outcome itself.
func finishPage(w http.ResponseWriter, r *http.Request, linkID, redirect, outcome string) {
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	renderPage(w, http.StatusOK, pageData{LinkID: linkID, Message: outcome})
}

func (s *Simulator) setupComplete(w http.ResponseWriter, r *http.Request) {
	id, typ, ok := s.linkForForm(w, r, "connection_type")
	if !ok {
		return
	}
	redirect, pnid, err := s.CompleteLink(id, typ)
	switch {
	case errors.Is(err, ErrInvalid):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	case err != nil:
		finishPage(w, r, id, redirect, err.Error())
	default:
		finishPage(w, r, id, redirect, "Connected phone number "+pnid)
	}
}

func (s *Simulator) setupFail(w http.ResponseWriter, r *http.Request) {
	id, code, ok := s.linkForForm(w, r, "error_code")
	if !ok {
		return
	}
	redirect, err := s.FailLink(id, code)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	finishPage(w, r, id, redirect, "Setup failed: "+code)
}
