package stack

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// connectionLoader reads a tenant's connection.
type connectionLoader interface {
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
}

// Limits of the inbox: a local page, not the tenant API.
const (
	inboxConversations = 50
	inboxThreads       = 10 // conversations whose messages are shown at once
	inboxMessages      = messaging.MaxPageLimit
)

// appPage stands in for the SaaS app's success and failure pages: it shows
// what the browser was told and what kapso-bridge knows, refreshing until the
// connection is confirmed and its webhooks registered; then the tenant's
// inbox, read through msgs, keeps itself fresh (?part=inbox answers just
// the inbox, which the page fetches every 2 s: only the inbox changes, so
// the rest of the page stays still).
func appPage(store connectionLoader, msgs messaging.Reader, simURL string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tenantID := q.Get("tenant_id")
		data := pageData{
			Landing:       r.URL.Path,
			TenantID:      tenantID,
			Status:        q.Get("status"),
			PhoneNumberID: q.Get("phone_number_id"),
			ErrorCode:     q.Get("error_code"),
			SimURL:        simURL,
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
			in := loadInbox(ctx, msgs, tenantID, q, log)
			in.SimURL = simURL
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
			}
		}
		settled := data.TenantStatus == string(onboarding.TenantConnected) && webhooksRegistered(data.Connection)
		data.Refresh = valid && !settled && data.ErrorCode == ""
		if settled {
			data.Inbox = loadInbox(ctx, msgs, tenantID, q, log)
			data.Inbox.SimURL = simURL
			data.LiveInbox = true
		}
		if err := pageTemplate.Execute(w, data); err != nil {
			log.Error("app page: render", "err", err)
		}
	})
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

type pageData struct {
	Landing, TenantID, Status, PhoneNumberID, ErrorCode string
	Found                                               bool
	TenantStatus                                        string
	Connection                                          onboarding.Connection
	Refresh                                             bool
	SimURL                                              string
	Inbox                                               inboxView
	LiveInbox                                           bool
}

type inboxView struct {
	Error         string
	Conversations []conversationRow
	Threads       []threadView
	Selected      string // the conversation asked for, "" for all
	AllURL        string
	SimURL        string
}

type conversationRow struct {
	ID, Name, Phone, BSUID, Username, Status, LastActive, URL string
	Selected                                                  bool
}

type threadView struct {
	conversationRow
	Messages  []messageRow
	Truncated bool
}

type messageRow struct {
	WAMID, Direction, Text, Status, Error, Time string
}

// loadInbox reads the tenant's conversations, newest first, and the
// messages of the selected one (?conversation=) or of the newest ones.
func loadInbox(ctx context.Context, msgs messaging.Reader, tenantID string, q url.Values, log *slog.Logger) inboxView {
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
		t := threadView{conversationRow: c, Truncated: next != ""}
		for _, m := range ms {
			t.Messages = append(t.Messages, messageRowOf(m))
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
		Status: string(cv.Status), LastActive: when(cv.LastActiveAt), URL: u}
	if p.Phone != "" {
		row.Phone = "+" + p.Phone
	}
	return row
}

func messageRowOf(m messaging.StoredMessage) messageRow {
	row := messageRow{WAMID: m.WAMID, Direction: string(m.Direction), Text: m.Text, Time: when(m.Timestamp)}
	if !m.Known {
		row.Text = "(only its status has arrived)"
	}
	switch {
	case m.Direction == messaging.Inbound:
		row.Status = "received"
	case m.Delivery.Status != "":
		row.Status = string(m.Delivery.Status)
	default:
		row.Status = "pending"
	}
	if e := m.Delivery.Error; e != nil {
		row.Error = e.Title
		if e.Code != 0 {
			row.Error = fmt.Sprintf("%d %s", e.Code, e.Title)
		}
	}
	return row
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

var pageTemplate = template.Must(template.New("app").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Your app: WhatsApp connection</title>
{{if .Refresh}}<meta http-equiv="refresh" content="1">{{end}}
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin-bottom:1rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}
tr.outbound td{background:#eef5ff}tr.selected td{background:#fff8dc}.error{color:#b00020}</style>
</head><body>
<h1>Your app</h1>
{{if .TenantID}}
<p>The browser came back to <code>{{.Landing}}</code> with status <b>{{.Status}}</b>
{{if .PhoneNumberID}} for number <code>{{.PhoneNumberID}}</code>{{end}}
{{if .ErrorCode}} and error <code id="error-code">{{.ErrorCode}}</code>{{end}}.
That is only a hint; what kapso-bridge knows is below.</p>
{{else}}
<form method="get"><label>Open the page of tenant <input name="tenant_id" value="acme"></label> <button type="submit">Open</button></form>
{{end}}
{{if .Found}}
<h2>Tenant <code>{{.TenantID}}</code>: <span id="tenant-status">{{.TenantStatus}}</span></h2>
<p>Kapso customer <code>{{.Connection.Tenant.KapsoCustomerID}}</code></p>
<h3>Phone numbers</h3>
<table><tr><th>phone_number_id</th><th>display</th><th>WABA</th><th>type</th><th>status</th><th>webhook</th></tr>
{{range .Connection.PhoneNumbers}}<tr><td>{{.PhoneNumberID}}</td><td>{{.DisplayPhoneNumber}}</td><td>{{.BusinessAccountID}}</td><td>{{.ConnectionType}}</td><td>{{.Status}}</td><td class="webhook">{{if .WebhookRegistered}}registered{{else}}pending{{end}}</td></tr>{{end}}
</table>
{{if .LiveInbox}}<div id="inbox">{{template "inbox" .Inbox}}</div>
<script>
(() => {
  const box = document.getElementById("inbox");
  let last = null;
  const tick = async () => {
    try {
      const u = new URL(location.href);
      u.searchParams.set("part", "inbox");
      const r = await fetch(u, {cache: "no-store"});
      if (r.ok) {
        const html = await r.text();
        if (html !== last) { box.innerHTML = html; last = html; }
      }
    } catch (e) {}
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
})();
</script>{{end}}
<h3>Attempts</h3>
<table><tr><th>setup link</th><th>status</th><th>created</th><th>error</th><th>confirmed by</th></tr>
{{range .Connection.Attempts}}<tr><td>{{.SetupLinkID}}</td><td>{{.Status}}</td><td>{{.CreatedAt.Format "2006-01-02 15:04:05"}}</td><td>{{.ErrorCode}}</td><td>{{range .ConfirmedBy}}{{.}} {{end}}</td></tr>{{end}}
</table>
<h3>Timeline</h3>
<ol>{{range .Connection.Timeline}}<li>{{.At.Format "15:04:05.000"}} {{.Kind}} <small>{{.Source}}</small></li>{{end}}</ol>
{{else if .TenantID}}
<p>kapso-bridge has no tenant <code>{{.TenantID}}</code> yet.</p>
{{end}}
</body></html>
{{define "inbox"}}<h3>Inbox</h3>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{if not .Conversations}}<p id="no-conversations">No conversations yet.{{if .SimURL}} Make someone write from the <a href="{{.SimURL}}/">Kapso simulator</a>.{{end}}</p>
{{else}}<table id="conversations"><tr><th>contact</th><th>phone</th><th>BSUID</th><th>status</th><th>last active</th><th></th></tr>
{{range .Conversations}}<tr class="conversation{{if .Selected}} selected{{end}}" data-id="{{.ID}}"><td class="name">{{.Name}}{{if .Username}} <small>{{.Username}}</small>{{end}}</td><td class="phone">{{.Phone}}</td><td class="bsuid">{{.BSUID}}</td><td class="status">{{.Status}}</td><td>{{.LastActive}}</td><td><a href="{{.URL}}">open</a></td></tr>
{{end}}</table>
{{if .Selected}}<p><a href="{{.AllURL}}">all conversations</a></p>{{end}}
{{range .Threads}}<h4>{{if .Name}}{{.Name}}{{else if .Phone}}{{.Phone}}{{else if .BSUID}}{{.BSUID}}{{else}}Conversation {{.ID}}{{end}}</h4>
<table class="thread" data-conversation="{{.ID}}"><tr><th>time</th><th>direction</th><th>text</th><th>status</th></tr>
{{range .Messages}}<tr class="msg {{.Direction}}" data-wamid="{{.WAMID}}"><td>{{.Time}}</td><td class="direction">{{.Direction}}</td><td class="text">{{.Text}}</td><td class="status">{{.Status}}{{if .Error}} <span class="error">({{.Error}})</span>{{end}}</td></tr>
{{else}}<tr><td colspan="4">No messages yet.</td></tr>
{{end}}</table>{{if .Truncated}}<p>Only the first {{len .Messages}} messages are shown.</p>{{end}}
{{end}}{{end}}{{end}}`))

// indexPage is what / shows on the local stack: where to go.
func indexPage(simURL string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = indexTemplate.Execute(w, struct{ SimURL, Base string }{simURL, "http://" + r.Host})
	})
}

var indexTemplate = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>kapso-bridge (local)</title>
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}
pre{white-space:pre-wrap;word-break:break-all}</style>
</head><body>
<h1>kapso-bridge, running locally</h1>
<p>This server is kapso-bridge itself (its API under <code>/v1</code>, webhooks under <code>/webhooks</code>,
<a href="/healthz">/healthz</a>) plus a stand-in for your SaaS app's pages.</p>
<ul>
{{if .SimURL}}<li><a href="{{.SimURL}}/">Kapso simulator</a>: the numbers your tenants connected, with forms to make a person
write to a number, to send from it and to mark what was sent delivered, read or failed.</li>{{end}}
<li>The app page, <code>/app/connected?tenant_id=&lt;tenant&gt;</code>, is where the browser lands after a signup: it shows
the tenant's connection, then its inbox (conversations and messages, refreshed every 2 s).</li>
</ul>
<form method="get" action="/app/connected"><label>Open the app page of tenant <input name="tenant_id" value="acme"></label>
<button type="submit">Open</button></form>
<p>To start, create a setup link (the dev token is <code>dev-bridge-token</code> unless <code>BRIDGE_API_TOKEN</code> is set)
and open the <code>url</code> it returns:</p>
<pre>curl -s -X POST {{.Base}}/v1/tenants/acme/setup-links -H 'Authorization: Bearer dev-bridge-token' -d '{"tenant_name":"Acme"}'</pre>
</body></html>`))
