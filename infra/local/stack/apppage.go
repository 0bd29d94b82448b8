package stack

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// appStore is what the app page reads of the onboarding store: a tenant's
// connection, and the tenants to list.
type appStore interface {
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
	ListTenants(ctx context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error)
}

// Limits of the pages: local pages, not the tenant API.
const (
	inboxConversations = 50
	inboxThreads       = 10 // conversations whose messages are shown at once
	inboxMessages      = messaging.MaxPageLimit
	listedTenants      = 500
	// reloadFor bounds how long after the tenant's last change the page
	// keeps reloading itself while it waits.
	reloadFor = 5 * time.Minute
)

// appPage stands in for the SaaS app's success and failure pages: it shows
// what the browser was told and what kapso-bridge knows, with every error
// code's meaning and next step, and lists the tenants. It reloads itself
// only while something is on its way (a confirmation, a webhook
// registration, the browser's own return): a settled page stays still. A
// connected tenant's inbox, read through msgs, keeps itself fresh instead
// (?part=inbox answers just the inbox, which the page fetches every 2 s).
// A known tenant's latest events, read through feed, come last: in the
// inbox when it is live, so they keep fresh with it. A message's media is
// shown as the API shows it, through links: an image inline from a URL
// made for this render, other media linked, and where a copy stands until
// it is stored.
func appPage(store appStore, msgs messaging.Reader, links mediaLinks, feed appFeed, simURL string, g *localGuard,
	log *slog.Logger) http.Handler {
	tail := newEventTail(feed)
	return pageHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tenantID := q.Get("tenant_id")
		data := pageData{
			Landing:       r.URL.Path,
			TenantID:      tenantID,
			Status:        q.Get("status"),
			PhoneNumberID: q.Get("phone_number_id"),
			SimURL:        simURL,
			Notice:        q.Get("notice"),
			NoticeFailed:  q.Get("notice_failed") != "",
			Nonce:         pageNonce(r),
		}
		if code := q.Get("error_code"); code != "" {
			e := describe(code)
			data.LandingError = &e
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		valid := onboarding.ValidTenantID(tenantID)
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if q.Get("part") == "inbox" {
			if !valid {
				http.Error(w, "invalid tenant_id", http.StatusBadRequest)
				return
			}
			in := loadInbox(ctx, msgs, links, tenantID, q, log)
			in.SimURL, in.TenantID = simURL, tenantID
			in.Events = tail.latest(ctx, tenantID)
			g.signInbox(&in)
			if err := pageTemplate.ExecuteTemplate(w, "inbox", in); err != nil {
				log.Error("app page: render inbox", "err", err)
			}
			return
		}
		if valid {
			c, ok, err := store.Load(ctx, tenantID)
			if err != nil {
				log.Error("app page: load connection", "tenant_id", tenantID, "err", err)
			} else if ok {
				data.Found = true
				data.Connection = c
				data.TenantStatus = string(c.StatusAt(time.Now()))
				data.Attempts, data.Numbers = attemptRows(c), numberRows(c)
			}
		}
		data.Tenants, data.TenantsError = listTenants(ctx, store, tenantID, log)
		data.Waiting = waitingFor(data)
		// A confirmation or registration that outlasts several reconciler
		// runs is stuck, not pending: the page says so rather than reload for
		// good. (The browser's return is recorded within seconds of landing,
		// however long the signup took, so that wait is not bounded.)
		if data.Waiting != "" && data.TenantStatus != string(onboarding.TenantLinkActive) &&
			time.Since(data.Connection.Tenant.UpdatedAt) > reloadFor {
			data.Stuck, data.Since = true, when(data.Connection.Tenant.UpdatedAt)
		}
		if data.Found {
			data.Events = tail.latest(ctx, tenantID)
		}
		if data.Found && receiving(onboarding.TenantStatus(data.TenantStatus)) && data.Waiting == "" {
			data.Inbox = loadInbox(ctx, msgs, links, tenantID, q, log)
			data.Inbox.SimURL, data.Inbox.TenantID = simURL, tenantID
			data.Inbox.Events = data.Events
			g.signInbox(&data.Inbox)
			data.LiveInbox = true
		}
		if err := pageTemplate.Execute(w, data); err != nil {
			log.Error("app page: render", "err", err)
		}
	}), g.mediaOrigin)
}

// signInbox gives each send form of in its page token.
func (g *localGuard) signInbox(in *inboxView) {
	for i := range in.Threads {
		in.Threads[i].PageToken = g.pageToken(in.TenantID, in.Threads[i].SendKey)
	}
}

// waitingFor names what the page is waiting for, "" when nothing is on its
// way: then it does not reload.
func waitingFor(d pageData) string {
	if !d.Found {
		return ""
	}
	c := d.Connection
	switch onboarding.TenantStatus(d.TenantStatus) {
	case onboarding.TenantAwaitingConfirmation:
		return "Kapso's confirmation of the number (its webhook, or the reconciler's check at the Platform API)"
	case onboarding.TenantConnected, onboarding.TenantRestricted:
		if !webhooksRegistered(c) {
			return "the registration of the number's webhook at Kapso (retried by the reconciler)"
		}
		return ""
	}
	// The browser is back from a signup that kapso-bridge has not recorded
	// yet: the redirect reaches the connection through the lifecycle queue.
	newest := c.NewestAttempt()
	back := d.Status == "completed" || d.Status == "pending"
	if back && d.LandingError == nil && newest != nil && newest.Status == onboarding.AttemptActive && len(newest.Redirects) == 0 {
		return "kapso-bridge to record the browser's return from the signup"
	}
	return ""
}

// receiving: the tenant's numbers take messages, so its inbox is live.
func receiving(s onboarding.TenantStatus) bool {
	return s == onboarding.TenantConnected || s == onboarding.TenantRestricted
}

// webhooksRegistered: every connected number has its webhook, so no
// message can be missing for want of one.
func webhooksRegistered(c onboarding.Connection) bool {
	for _, n := range c.PhoneNumbers {
		if n.Status == onboarding.NumberStatusConnected && !n.WebhookRegistered {
			return false
		}
	}
	return true
}

// errorInfo is an error code with what it means and what to do about it.
type errorInfo struct{ Code, Meaning, NextStep string }

// describe explains a code Kapso sent on a failure: one it does not
// document still gets a next step.
func describe(code string) errorInfo {
	e := onboarding.DescribeError(code)
	return errorInfo{Code: code, Meaning: e.Meaning, NextStep: e.NextStep}
}

// reason explains a number's status reason when it is a known code; free
// text (the reconciler's, say) is shown as it is.
func reason(text string) errorInfo {
	if e, ok := onboarding.KnownError(text); ok {
		return errorInfo{Code: text, Meaning: e.Meaning, NextStep: e.NextStep}
	}
	return errorInfo{Code: text}
}

type attemptRow struct {
	onboarding.Attempt
	Errors []errorInfo // every failure's code, oldest first
	// ReportedOnly: the failure is the browser's word alone (an unsigned
	// redirect) and the link can still be used.
	ReportedOnly bool
}

func attemptRows(c onboarding.Connection) []attemptRow {
	rows := make([]attemptRow, 0, len(c.Attempts))
	for _, a := range c.Attempts {
		row := attemptRow{Attempt: a, ReportedOnly: a.Status == onboarding.AttemptActive && a.ErrorReportedBy == onboarding.ReportedByBrowser}
		var codes []string
		for _, e := range a.History {
			if e.Event == onboarding.AttemptEventFailure {
				codes = append(codes, cmp.Or(e.ErrorCode, onboarding.CodeUnknown))
			}
		}
		if a.ErrorCode != "" {
			codes = append(codes, a.ErrorCode)
		}
		for _, code := range codes {
			if !slices.ContainsFunc(row.Errors, func(e errorInfo) bool { return e.Code == code }) {
				row.Errors = append(row.Errors, describe(code))
			}
		}
		rows = append(rows, row)
	}
	return rows
}

type numberRow struct {
	onboarding.PhoneNumber
	Problems []errorInfo // why the number does not work, or works within limits
}

func numberRows(c onboarding.Connection) []numberRow {
	rows := make([]numberRow, 0, len(c.PhoneNumbers))
	for _, n := range c.PhoneNumbers {
		row := numberRow{PhoneNumber: n}
		if n.StatusReason != "" && n.Status != onboarding.NumberStatusConnected {
			row.Problems = append(row.Problems, reason(n.StatusReason))
		}
		if n.Restricted {
			row.Problems = append(row.Problems, reason(cmp.Or(n.RestrictedReason, "restricted by Meta")))
		}
		rows = append(rows, row)
	}
	return rows
}

// tenantRow is one tenant in the list.
type tenantRow struct {
	ID, Name, Status, Customer, Updated, URL string
	Attention                                []string
	Current                                  bool
}

// listTenants lists the tenants, most recently changed first.
func listTenants(ctx context.Context, store appStore, current string, log *slog.Logger) ([]tenantRow, string) {
	var items []onboarding.TenantItem
	q := onboarding.TenantQuery{Limit: onboarding.MaxTenantPageLimit}
	for len(items) < listedTenants {
		page, next, err := store.ListTenants(ctx, q)
		if err != nil {
			log.Error("app page: list tenants", "err", err)
			return nil, "could not list tenants: " + err.Error()
		}
		items = append(items, page...)
		if next == "" {
			break
		}
		q.Cursor = next
	}
	slices.SortFunc(items, func(a, b onboarding.TenantItem) int { return b.Position().Compare(a.Position()) })
	rows := make([]tenantRow, 0, len(items))
	for _, t := range items {
		row := tenantRow{ID: t.TenantID, Name: t.Name, Status: string(t.Status), Customer: t.KapsoCustomerID,
			Updated: when(t.UpdatedAt), URL: appConnectedPath + "?" + url.Values{"tenant_id": {t.TenantID}}.Encode(),
			Current: t.TenantID == current}
		for _, a := range t.Attention {
			row.Attention = append(row.Attention, string(a))
		}
		rows = append(rows, row)
	}
	return rows, ""
}

type pageData struct {
	Landing, TenantID, Status, PhoneNumberID string
	LandingError                             *errorInfo
	Found                                    bool
	TenantStatus                             string
	Connection                               onboarding.Connection
	Attempts                                 []attemptRow
	Numbers                                  []numberRow
	Waiting                                  string // what the page reloads for; "" for nothing
	Stuck                                    bool   // waited too long: no more reloads
	Since                                    string
	Tenants                                  []tenantRow
	TenantsError                             string
	SimURL                                   string
	Inbox                                    inboxView
	LiveInbox                                bool
	// Events are the tenant's latest events (in the inbox when it is live).
	Events eventsView
	// Notice is the outcome of the last send from the inbox (see sendForm).
	Notice       string
	NoticeFailed bool
	// Nonce marks the page's own script and style (pageHeaders).
	Nonce string
}

type inboxView struct {
	Error         string
	Conversations []conversationRow
	Threads       []threadView
	Selected      string // the conversation asked for, "" for all
	AllURL        string
	SimURL        string
	TenantID      string // whose inbox: the send forms post it
	Events        eventsView
}

type conversationRow struct {
	ID, Name, Phone, BSUID, Username, Status, LastActive, URL string
	Selected                                                  bool
	// PhoneNumberID is the tenant's number the conversation is on: a reply
	// goes out from it.
	PhoneNumberID string
}

type threadView struct {
	conversationRow
	Messages  []messageRow
	Truncated bool
	// SendKey is the Idempotency-Key of the thread's send form, new at each
	// render: a form submitted twice sends once.
	SendKey string
	// PageToken proves the form came from a page this process drew.
	PageToken string
}

type messageRow struct {
	// ID is the outbound id of a message sent through the API, else the WAMID.
	ID, WAMID, Direction, Text, Status, Error, Time string
	Media                                           *mediaRow
}

// mediaRow is a message's media as the page shows it.
type mediaRow struct {
	// Image: shown inline (an image or a sticker) once URL is set.
	Image bool
	// URL is a presigned URL of the stored copy, made for this render; ""
	// until the media is stored (or when it is not kept here).
	URL string
	// Label is the file's name, else its type; Size its size once stored.
	Label, MIMEType, Size string
	// State is pending or failed while the copy is not stored, with the
	// failure's reason code; "" once stored or for media not kept here.
	State, Reason string
}

// mediaLinks is what the page links media through: the tenant API's own
// (tenantapi.MediaLinks), so the page shows what the API answers.
type mediaLinks interface {
	Shown(ctx context.Context, tenantID string, m messaging.StoredMessage) (messaging.StoredMessage, string, error)
}

// loadInbox reads the tenant's conversations, newest first, and the
// messages of the selected one (?conversation=) or of the newest ones.
func loadInbox(ctx context.Context, msgs messaging.Reader, links mediaLinks, tenantID string, q url.Values, log *slog.Logger) inboxView {
	var in inboxView
	if msgs == nil {
		in.Error = "no message store is wired into this stack"
		return in
	}
	in.Selected = q.Get("conversation")
	link := func(conversation string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "part" && k != "conversation" {
				v[k] = vs
			}
		}
		if conversation != "" {
			v.Set("conversation", conversation)
		}
		return "?" + v.Encode()
	}
	in.AllURL = link("")
	convs, _, err := msgs.Conversations(ctx, tenantID, messaging.Page{Limit: inboxConversations})
	if err != nil {
		log.Error("app page: list conversations", "tenant_id", tenantID, "err", err)
		in.Error = "could not list conversations: " + err.Error()
		return in
	}
	for _, cv := range convs {
		row := conversationRowOf(cv, link(cv.ID))
		row.Selected = cv.ID == in.Selected
		in.Conversations = append(in.Conversations, row)
	}
	var shown []conversationRow
	if in.Selected != "" {
		shown = []conversationRow{{ID: in.Selected}}
		for _, c := range in.Conversations {
			if c.ID == in.Selected {
				shown[0] = c
			}
		}
	} else {
		shown = in.Conversations[:min(len(in.Conversations), inboxThreads)]
	}
	for _, c := range shown {
		ms, next, err := msgs.ConversationMessages(ctx, tenantID, c.ID, messaging.Page{Limit: inboxMessages})
		if err != nil {
			log.Error("app page: list messages", "tenant_id", tenantID, "conversation", c.ID, "err", err)
			in.Error = "could not list messages: " + err.Error()
			continue
		}
		t := threadView{conversationRow: c, Truncated: next != "", SendKey: newSendKey()}
		for _, m := range ms {
			row := messageRowOf(m)
			row.Media = mediaRowOf(ctx, links, tenantID, m, log)
			t.Messages = append(t.Messages, row)
		}
		in.Threads = append(in.Threads, t)
	}
	return in
}

func conversationRowOf(cv messaging.ConversationView, u string) conversationRow {
	p := cv.Contact.Person
	if p.Key() == "" {
		p = cv.Person
	}
	row := conversationRow{ID: cv.ID, Name: p.Name, BSUID: p.BSUID, Username: p.Username,
		Status: string(cv.Status), LastActive: when(cv.LastActiveAt), URL: u, PhoneNumberID: cv.PhoneNumberID}
	if p.Phone != "" {
		row.Phone = "+" + p.Phone
	}
	return row
}

func messageRowOf(m messaging.StoredMessage) messageRow {
	row := messageRow{ID: m.WAMID, WAMID: m.WAMID, Direction: string(m.Direction), Text: m.Text, Time: when(m.Timestamp)}
	if !m.Known && m.Outbound == nil {
		row.Text = "(only its status has arrived)"
	}
	if m.Outbound != nil {
		row.ID = m.Outbound.ID
	}
	delivery := m.Delivery.Error
	switch {
	case m.Direction == messaging.Inbound:
		row.Status = "received"
	case m.Delivery.Status != "":
		row.Status = string(m.Delivery.Status)
	case m.Outbound != nil:
		// No delivery status yet: where the send itself is.
		row.Status = string(m.Outbound.State)
		if m.Outbound.State == messaging.OutFailed {
			delivery = m.Outbound.Error
			if m.Outbound.Reason != "" {
				row.Status += ": " + m.Outbound.Reason
			}
		}
	default:
		row.Status = "pending"
	}
	if e := delivery; e != nil {
		row.Error = e.Title
		if e.Code != 0 {
			row.Error = fmt.Sprintf("%d %s", e.Code, e.Title)
		}
	}
	return row
}

// mediaRowOf is m's media as the API shows it, with a URL of its stored
// copy made now; nil for a message without media.
func mediaRowOf(ctx context.Context, links mediaLinks, tenantID string, m messaging.StoredMessage, log *slog.Logger) *mediaRow {
	if m.Media == nil {
		return nil
	}
	u := ""
	if links != nil {
		var err error
		if m, u, err = links.Shown(ctx, tenantID, m); err != nil {
			log.Error("app page: link media", "tenant_id", tenantID, "wamid", m.WAMID, "err", err)
		}
	}
	v := apiview.Media(m)
	row := &mediaRow{Image: m.Type == "image" || m.Type == "sticker", URL: u, Label: cmp.Or(v.Filename, m.Type),
		MIMEType: v.MIMEType, Reason: v.Error}
	if v.State != string(media.Stored) {
		row.State = v.State
	}
	if v.Size > 0 {
		row.Size = byteSize(v.Size)
	}
	return row
}

// byteSize is n bytes for a person: 812 B, 14.2 KB, 3.5 MB.
func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// newSendKey is a fresh Idempotency-Key for a send form.
func newSendKey() string { return "app-" + rand.Text() }

// sendMessagePath is where the inbox's send forms post.
const sendMessagePath = "/app/send"

// maxSendForm bounds a send form's body: a text is at most 4096 characters.
const maxSendForm = 64 << 10

// sendForm sends a text from the app page: the form's fields become a
// POST /v1/tenants/{tenant_id}/messages served in-process by api, with the
// bearer token, as the SaaS app's own server would call kapso-bridge. The
// form's Idempotency-Key came with the page, so a form submitted twice is
// one message. The browser goes back to the tenant's app page (303) with
// the outcome in a notice: the API's own error message when it refused.
// The server holds the token for the browser, so only a same-origin post
// carrying the page token of a page this process drew is sent.
func sendForm(api http.Handler, token string, g *localGuard, log *slog.Logger) http.Handler {
	return pageHeaders(sameOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxSendForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "invalid form: "+err.Error(), http.StatusBadRequest)
			return
		}
		tenantID := r.PostForm.Get("tenant_id")
		if !onboarding.ValidTenantID(tenantID) {
			http.Error(w, "invalid tenant_id", http.StatusBadRequest)
			return
		}
		if !g.validToken(r.PostForm.Get("page_token"), tenantID, r.PostForm.Get("idempotency_key")) {
			refuse(w, http.StatusForbidden, "forbidden",
				"the form's page token is missing or not one this server made: reload the app page and send again")
			return
		}
		notice, failed := sendText(r.Context(), api, token, tenantID, r.PostForm, log)
		back := url.Values{"tenant_id": {tenantID}, "notice": {notice}}
		if failed {
			back.Set("notice_failed", "1")
		}
		if c := r.PostForm.Get("selected"); c != "" {
			back.Set("conversation", c)
		}
		http.Redirect(w, r, appConnectedPath+"?"+back.Encode(), http.StatusSeeOther)
	})), "")
}

// sendText makes the API call of a send form and says how it went.
func sendText(ctx context.Context, api http.Handler, token, tenantID string, form url.Values, log *slog.Logger) (notice string, failed bool) {
	body := map[string]any{"type": messaging.OutTypeText, "text": map[string]any{"body": form.Get("text")}}
	if n := form.Get("phone_number_id"); n != "" {
		body["phone_number_id"] = n
	}
	// The person's phone when the conversation has one, else their BSUID.
	if to := form.Get("to"); to != "" {
		body["to"] = to
	} else if rcpt := form.Get("recipient"); rcpt != "" {
		body["recipient"] = rcpt
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "could not build the request: " + err.Error(), true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"/v1/tenants/"+url.PathEscape(tenantID)+"/messages", bytes.NewReader(b))
	if err != nil {
		return "could not build the request: " + err.Error(), true
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", form.Get("idempotency_key"))
	rec := &recorder{header: http.Header{}}
	api.ServeHTTP(rec, req)

	var out struct {
		Message struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"message"`
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(rec.body.Bytes(), &out) // a body that is not JSON is shown as text below
	status := cmp.Or(rec.status, http.StatusOK)
	log.Info("app page: send", "tenant_id", tenantID, "status", status, "message_id", out.Message.ID,
		"error_code", out.Error.Code)
	switch {
	case status == http.StatusAccepted && rec.header.Get("Idempotent-Replayed") == "true":
		return fmt.Sprintf("Already sent (the form was submitted twice): %s is %s.", out.Message.ID, out.Message.Status), false
	case status == http.StatusAccepted:
		return fmt.Sprintf("Sent: %s is %s.", out.Message.ID, out.Message.Status), false
	case out.Error.Message != "":
		return fmt.Sprintf("Not sent (%d %s): %s", status, out.Error.Code, out.Error.Message), true
	}
	text := strings.TrimSpace(rec.body.String())
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return fmt.Sprintf("Not sent: the API answered %d %s", status, text), true
}

// recorder keeps what an in-process handler answered.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

var pageTemplate = template.Must(template.New("app").Funcs(template.FuncMap{
	"sendPath": func() string { return sendMessagePath },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Your app: WhatsApp connection</title>
{{if and .Waiting (not .Stuck)}}<meta http-equiv="refresh" content="1">{{end}}
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin-bottom:1rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}
tr.outbound td{background:#eef5ff}tr.selected td{background:#fff8dc}.error{color:#b00020}
.meaning{font-size:.85rem;color:#444}#waiting{color:#555}#notice{padding:.25rem .5rem;background:#eef5ff}
form.send{margin:-.5rem 0 1rem}.media img{display:block;min-width:4rem;max-width:16rem;max-height:12rem;margin:.25rem 0}form.send input[name=text]{width:30rem}
#events td{word-break:break-all}#events td:first-child{white-space:nowrap;word-break:normal}</style>
</head><body>
<h1>Your app</h1>
{{if and .TenantID (or .Status .LandingError)}}
<p>The browser came back to <code>{{.Landing}}</code>{{if .Status}} with status <b>{{.Status}}</b>{{end}}
{{if .PhoneNumberID}} for number <code>{{.PhoneNumberID}}</code>{{end}}
{{with .LandingError}} and error <code id="error-code">{{.Code}}</code>{{end}}.
That is only a hint; what kapso-bridge knows is below.</p>
{{with .LandingError}}{{template "error" .}}{{end}}
{{end}}
{{if .Stuck}}<p id="stuck" class="error">Still waiting for {{.Waiting}}, with nothing new since {{.Since}}: make dev's log says why.
This page no longer reloads itself; reload it to look again.</p>
{{else if .Waiting}}<p id="waiting">Waiting for {{.Waiting}}: this page reloads every second until then.</p>{{end}}
{{if .Found}}
<h2>Tenant <code>{{.TenantID}}</code>: <span id="tenant-status">{{.TenantStatus}}</span></h2>
<p>Kapso customer <code>{{.Connection.Tenant.KapsoCustomerID}}</code></p>
<h3>Phone numbers</h3>
<table id="numbers"><tr><th>phone_number_id</th><th>display</th><th>WABA</th><th>type</th><th>status</th><th>webhook</th></tr>
{{range .Numbers}}<tr><td>{{.PhoneNumberID}}</td><td>{{.DisplayPhoneNumber}}</td><td>{{.BusinessAccountID}}</td><td>{{.ConnectionType}}</td>
<td class="status">{{.Status}}{{if .Restricted}}, restricted{{end}}{{range .Problems}}<div><code>{{.Code}}</code></div>{{template "error" .}}{{end}}</td><td class="webhook">{{if .WebhookRegistered}}registered{{else}}pending{{end}}</td></tr>
{{else}}<tr><td colspan="6">No number yet.</td></tr>{{end}}
</table>
{{if .Notice}}<p id="notice"{{if .NoticeFailed}} class="error"{{end}}>{{.Notice}}</p>{{end}}
{{if .LiveInbox}}<div id="inbox">{{template "inbox" .Inbox}}</div>
<script nonce="{{.Nonce}}">
(() => {
  const box = document.getElementById("inbox");
  let last = null;
  // A send form being typed in is not replaced under the person's hands;
  // each render's new idempotency key and page token alone are no change.
  const typing = () => [...box.querySelectorAll("form.send input[name=text]")]
    .some(e => e.value !== "" || e === document.activeElement);
  const same = html => html.replace(/name="(idempotency_key|page_token)" value="[^"]*"/g, "");
  const tick = async () => {
    try {
      const u = new URL(location.href);
      u.searchParams.set("part", "inbox");
      u.searchParams.delete("notice");
      u.searchParams.delete("notice_failed");
      const r = await fetch(u, {cache: "no-store"});
      if (r.ok && !typing()) {
        const html = await r.text();
        if (same(html) !== last) { box.innerHTML = html; last = same(html); }
      }
    } catch (e) {}
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
})();
</script>{{else}}{{template "events" .Events}}{{end}}
<h3>Attempts</h3>
<table id="attempts"><tr><th>setup link</th><th>status</th><th>created</th><th>error</th><th>confirmed by</th></tr>
{{range .Attempts}}<tr><td>{{.SetupLinkID}}</td><td>{{.Status}}</td><td>{{.CreatedAt.Format "2006-01-02 15:04:05"}}</td>
<td class="error-code">{{range .Errors}}<div><code>{{.Code}}</code></div>{{template "error" .}}{{end}}{{if .ReportedOnly}}<div class="reported">Reported by the browser only; Kapso has not confirmed it, and the link still works.</div>{{end}}</td><td>{{range .ConfirmedBy}}{{.}} {{end}}</td></tr>{{end}}
</table>
<h3>Timeline</h3>
<ol>{{range .Connection.Timeline}}<li>{{.At.Format "15:04:05.000"}} {{.Kind}} <small>{{.Source}}{{with .Detail.reason}} ({{.}}){{end}}</small></li>{{end}}</ol>
{{else if .TenantID}}
<p id="no-tenant">kapso-bridge has no tenant <code>{{.TenantID}}</code>: create a setup link for it first (see <a href="/">the index</a>).</p>
{{end}}
{{template "tenants" .}}
</body></html>
{{define "events"}}<h3>Latest events</h3>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{if .Rows}}<table id="events"><tr><th>stored</th><th>type</th><th>subject</th><th>what</th></tr>
{{range .Rows}}<tr class="event" data-id="{{.ID}}"><td>{{.Time}}</td><td class="type">{{.Type}}</td><td class="subject">{{.Subject}}</td><td class="summary">{{.Summary}}</td></tr>
{{end}}</table>
{{else if not .Error}}<p id="no-events">No events yet (the feed lists an event 5 s after it is stored).</p>{{end}}
{{if .Behind}}<p id="events-behind">Still reading the feed: newer events come at the next reload.</p>{{end}}{{end}}
{{define "media"}}<div class="media"{{with .State}} data-state="{{.}}"{{end}}>{{if and .Image .URL}}<a href="{{.URL}}"><img src="{{.URL}}" alt="{{.Label}}"></a>{{else if .URL}}<a class="file" href="{{.URL}}">{{.Label}}</a>{{else}}<span class="file">{{.Label}}</span>{{end}}
<small>{{.MIMEType}}{{with .Size}}, {{.}}{{end}}</small>{{with .State}} <span class="media-state">{{.}}</span>{{end}}{{with .Reason}} <span class="error">({{.}})</span>{{end}}</div>{{end}}
{{define "error"}}{{if or .Meaning .NextStep}}<div class="meaning" data-code="{{.Code}}">{{.Meaning}}{{if .NextStep}} <b>Next:</b> {{.NextStep}}{{end}}</div>{{end}}{{end}}
{{define "tenants"}}<h2>Tenants</h2>
{{if .TenantsError}}<p class="error">{{.TenantsError}}</p>
{{else if not .Tenants}}<p id="no-tenants">No tenant yet: creating a setup link creates its tenant.</p>
{{else}}<table id="tenants"><tr><th>tenant</th><th>name</th><th>status</th><th>needs attention</th><th>Kapso customer</th><th>last change</th></tr>
{{range .Tenants}}<tr class="tenant{{if .Current}} selected{{end}}" data-id="{{.ID}}"><td><a href="{{.URL}}">{{.ID}}</a></td><td>{{.Name}}</td>
<td class="status">{{.Status}}</td><td class="attention">{{range .Attention}}{{.}} {{end}}</td><td><code>{{.Customer}}</code></td><td>{{.Updated}}</td></tr>
{{end}}</table>{{end}}
<form method="get" action="/app/connected"><label>Open the app page of tenant <input name="tenant_id" value="acme"></label> <button type="submit">Open</button></form>
{{end}}
{{define "inbox"}}<h3>Inbox</h3>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{if not .Conversations}}<p id="no-conversations">No conversations yet.{{if .SimURL}} Make someone write from the <a href="{{.SimURL}}/">Kapso simulator</a>.{{end}}</p>
{{else}}<table id="conversations"><tr><th>contact</th><th>phone</th><th>BSUID</th><th>status</th><th>last active</th><th></th></tr>
{{range .Conversations}}<tr class="conversation{{if .Selected}} selected{{end}}" data-id="{{.ID}}"><td class="name">{{.Name}}{{if .Username}} <small>{{.Username}}</small>{{end}}</td><td class="phone">{{.Phone}}</td><td class="bsuid">{{.BSUID}}</td><td class="status">{{.Status}}</td><td>{{.LastActive}}</td><td><a href="{{.URL}}">open</a></td></tr>
{{end}}</table>
{{if .Selected}}<p><a href="{{.AllURL}}">all conversations</a></p>{{end}}
{{range .Threads}}<h4>{{if .Name}}{{.Name}}{{else if .Phone}}{{.Phone}}{{else if .BSUID}}{{.BSUID}}{{else}}Conversation {{.ID}}{{end}}</h4>
<table class="thread" data-conversation="{{.ID}}"><tr><th>time</th><th>direction</th><th>text</th><th>status</th></tr>
{{range .Messages}}<tr class="msg {{.Direction}}" data-id="{{.ID}}" data-wamid="{{.WAMID}}"><td>{{.Time}}</td><td class="direction">{{.Direction}}</td><td class="text">{{.Text}}{{with .Media}}{{template "media" .}}{{end}}</td><td class="status">{{.Status}}{{if .Error}} <span class="error">({{.Error}})</span>{{end}}</td></tr>
{{else}}<tr><td colspan="4">No messages yet.</td></tr>
{{end}}</table>{{if .Truncated}}<p>Only the first {{len .Messages}} messages are shown.</p>{{end}}
{{if and (or .Phone .BSUID) .PhoneNumberID}}<form class="send" method="post" action="{{sendPath}}" data-conversation="{{.ID}}">
<input type="hidden" name="tenant_id" value="{{$.TenantID}}"><input type="hidden" name="phone_number_id" value="{{.PhoneNumberID}}">
{{if .Phone}}<input type="hidden" name="to" value="{{.Phone}}">{{else}}<input type="hidden" name="recipient" value="{{.BSUID}}">{{end}}
<input type="hidden" name="selected" value="{{$.Selected}}"><input type="hidden" name="idempotency_key" value="{{.SendKey}}"><input type="hidden" name="page_token" value="{{.PageToken}}">
<input name="text" required maxlength="4096" placeholder="Reply to {{if .Name}}{{.Name}}{{else}}this person{{end}} (a text)"> <button type="submit">Send</button>
<small>from number {{.PhoneNumberID}}; outside 24 hours of their last message WhatsApp only takes a template</small></form>{{end}}
{{end}}{{end}}
{{template "events" .Events}}{{end}}`))

// indexPage is what / shows on the local stack: where to go, and the
// tenants to open. It never reloads itself.
func indexPage(store appStore, simURL string, log *slog.Logger) http.Handler {
	return pageHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		d := indexData{SimURL: simURL, Base: "http://" + r.Host, Nonce: pageNonce(r)}
		d.Tenants, d.TenantsError = listTenants(ctx, store, "", log)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := indexTemplate.ExecuteTemplate(w, "index", d); err != nil {
			log.Error("index page: render", "err", err)
		}
	}), "")
}

type indexData struct {
	SimURL, Base, TenantsError, Nonce string
	Tenants                           []tenantRow
}

// indexTemplate shares the app page's tenant list.
var indexTemplate = template.Must(template.Must(pageTemplate.Clone()).New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>kapso-bridge (local)</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}
pre{white-space:pre-wrap;word-break:break-all}table{border-collapse:collapse;margin-bottom:1rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}</style>
</head><body>
<h1>kapso-bridge, running locally</h1>
<p>This server is kapso-bridge itself (its API under <code>/v1</code>, webhooks under <code>/webhooks</code>,
<a href="/healthz">/healthz</a>) plus a stand-in for your SaaS app's pages.</p>
<ul>
{{if .SimURL}}<li><a href="{{.SimURL}}/">Kapso simulator</a>: the numbers your tenants connected, with forms to make a person
write to a number, to send from it and to mark what was sent delivered, read or failed.</li>{{end}}
<li>The app page, <code>/app/connected?tenant_id=&lt;tenant&gt;</code>, is where the browser lands after a signup: it shows
the tenant's connection with every error code's meaning, then its inbox (conversations and messages, refreshed every 2 s),
with a form under each conversation to reply with a text through <code>POST /v1/tenants/{tenant_id}/messages</code>,
and its latest events, read through the feed.</li>
<li><a href="/openapi.json">/openapi.json</a>: the API reference (OpenAPI 3.1) of every route.</li>
</ul>
{{template "tenants" .}}
<p>To start, create a setup link (the dev token is <code>dev-bridge-token</code> unless <code>BRIDGE_API_TOKEN</code> is set)
and open the <code>url</code> it returns:</p>
<pre>curl -s -X POST {{.Base}}/v1/tenants/acme/setup-links -H 'Authorization: Bearer dev-bridge-token' -d '{"tenant_name":"Acme"}'</pre>
</body></html>`))
