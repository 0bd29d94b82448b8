package kapsosim

import (
	"crypto/rand"
	"html/template"
	"net/http"
	"slices"
)

// The home page is the simulator's console: every number with, once
// kapso-bridge has registered its webhook, forms to make a person write to
// it, to send from it and to move sent messages on. The forms post to the
// same /_sim controls as scripts do and come back here with a note.

type homeNumber struct {
	PhoneNumberID, Display, Customer, Status string
	WABA                                     string
	Templates                                []Template
	Webhooks                                 int // active kapso webhooks
	NewBSUID                                 string
	Conversations                            []Conversation
	Messages                                 []ChatMessage // newest first
}

type homeData struct {
	Note, ProjectID, Mode string
	Nonce                 string // marks the page's style (pageHeaders)
	PlatformCalls         int
	Numbers               []homeNumber
	Deliveries            []Delivery // newest first
}

const homeShown = 12 // messages and deliveries listed

func (s *Simulator) homePage(w http.ResponseWriter, r *http.Request) {
	d := homeData{Note: r.URL.Query().Get("note"), Nonce: rand.Text()}
	s.mu.Lock()
	d.ProjectID, d.Mode, d.PlatformCalls = s.projectID, s.mode, s.limits.calls
	for _, n := range s.numbers {
		hn := homeNumber{PhoneNumberID: n.PhoneNumberID, Display: n.Display, Status: n.Status,
			NewBSUID: "US." + s.digits(20), WABA: n.WABA}
		if c := s.findCustomer(n.CustomerID); c != nil {
			hn.Customer = c.Name
		}
		for _, h := range s.webhooks {
			if h.PhoneNumberID == n.PhoneNumberID && h.Active && h.Kind == "kapso" {
				hn.Webhooks++
			}
		}
		d.Numbers = append(d.Numbers, hn)
	}
	for i := len(s.deliveries) - 1; i >= 0 && len(d.Deliveries) < homeShown; i-- {
		d.Deliveries = append(d.Deliveries, s.deliveries[i])
	}
	s.mu.Unlock()
	for i := range d.Numbers {
		n := &d.Numbers[i]
		n.Conversations = s.Conversations(n.PhoneNumberID)
		n.Templates = s.Templates(n.WABA)
		msgs := s.Messages(n.PhoneNumberID)
		slices.Reverse(msgs)
		n.Messages = msgs[:min(len(msgs), homeShown)]
	}
	pageHeaders(w, d.Nonce, "form-action 'self'; ")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = homeTmpl.Execute(w, d)
}

// pageHeaders sets the headers of the simulator's pages: a Content
// Security Policy that runs no script, applies only the style marked with
// nonce (none when it is ""), and may not be framed; no sniffing. extra
// adds directives.
func pageHeaders(w http.ResponseWriter, nonce, extra string) {
	style := "'none'"
	if nonce != "" {
		style = "'nonce-" + nonce + "'"
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src "+style+"; "+extra+
		"base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
}

// shortID keeps the end of a long id, which is where WAMIDs differ.
func shortID(id string) string {
	if len(id) <= 16 {
		return id
	}
	return "…" + id[len(id)-14:]
}

var homeTmpl = template.Must(template.New("home").Funcs(template.FuncMap{"short": shortID}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Kapso simulator</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem;overflow-wrap:anywhere}
form{margin:.4rem 0}input[type=text]{width:14rem}td small{white-space:nowrap}section{border-top:1px solid #999;margin-top:1.5rem}</style>
</head><body>
<h1>Kapso simulator</h1>
<p>Project <code>{{.ProjectID}}</code>, project webhook mode <b>{{.Mode}}</b>.
JSON: <a href="/_sim/state">state</a>, <a href="/_sim/deliveries">deliveries</a>,
<a href="/_sim/failed_deliveries">failed deliveries</a>. {{.PlatformCalls}} Platform API call(s) so far. <a href="/">Reload</a></p>
{{if .Note}}<p id="note"><b>{{.Note}}</b></p>{{end}}
{{if not .Numbers}}<p>No phone number yet: finish a setup link's signup first.</p>{{end}}
{{range .Numbers}}{{$id := .PhoneNumberID}}
<section id="number-{{$id}}">
<h2>Number <code>{{$id}}</code> {{.Display}}</h2>
<p>Customer {{.Customer}}, status {{.Status}}, {{.Webhooks}} active webhook(s), WABA <code>{{.WABA}}</code>.</p>
{{if .Templates}}<table class="templates"><tr><th>template</th><th>language</th><th>category</th><th>status</th><th>quality</th></tr>
{{range .Templates}}<tr><td>{{.Name}}</td><td>{{.Language}}</td><td>{{.Category}}</td><td>{{.Status}}</td><td>{{.QualityScore}}</td></tr>
{{end}}</table>{{end}}
{{if .Webhooks}}
<h3>A person writes</h3>
<form id="send-{{$id}}" method="post" action="/_sim/numbers/{{$id}}/messages">
<label>name <input type="text" name="name" value="Maria Souza"></label>
<label>phone <input type="text" name="from_phone" value="+16505551234"></label><br>
<label>text <input type="text" name="text" value="Oi! Vocês entregam hoje?"></label>
<button type="submit" name="count" value="1">Send</button>
<button type="submit" name="count" value="3">Send a batch of 3</button>
</form>
<form id="send-bsuid-{{$id}}" method="post" action="/_sim/numbers/{{$id}}/messages">
<label>name <input type="text" name="name" value="João"></label>
<label>BSUID, no phone <input type="text" name="from_bsuid" value="{{.NewBSUID}}"></label><br>
<label>text <input type="text" name="text" value="Bom dia, vocês têm pão sem glúten?"></label>
<button type="submit" name="count" value="1">Send</button>
<button type="submit" name="count" value="3">Send a batch of 3</button>
</form>
<form id="send-media-{{$id}}" method="post" action="/_sim/numbers/{{$id}}/messages">
<label>name <input type="text" name="name" value="Maria Souza"></label>
<label>phone <input type="text" name="from_phone" value="+16505551234"></label><br>
<label>caption <input type="text" name="text" value=""></label>
<button type="submit" name="type" value="image">Send an image</button>
<button type="submit" name="type" value="audio">Send a voice note</button>
<button type="submit" name="type" value="video">Send a video</button>
<button type="submit" name="type" value="document">Send a PDF</button>
<button type="submit" name="type" value="sticker">Send a sticker</button>
</form>
<h3>The business sends</h3>
<form id="outbound-{{$id}}" method="post" action="/_sim/numbers/{{$id}}/outbound">
<label>to <input type="text" name="to" list="people-{{$id}}" placeholder="phone or BSUID (empty: latest)"></label>
<datalist id="people-{{$id}}">{{range .Conversations}}<option value="{{if .Person.BSUID}}{{.Person.BSUID}}{{else}}+{{.Person.Phone}}{{end}}">{{.Person.Name}}</option>{{end}}</datalist>
<label>text <input type="text" name="text" value="Olá! Seu pedido sai às 15h."></label>
<button type="submit">Send</button>
</form>
{{if .Messages}}<h3>Latest messages</h3>
<table><tr><th>time</th><th>direction</th><th>person</th><th>text</th><th>status</th><th>WAMID</th><th>move on</th></tr>
{{range .Messages}}<tr class="message" data-wamid="{{.WAMID}}"><td>{{.At.Format "15:04:05"}}</td><td>{{.Direction}}</td>
<td>{{.Person.Name}} {{if .Person.Phone}}+{{.Person.Phone}}{{end}} {{.Person.BSUID}}</td><td>{{.Text}}</td><td class="status">{{.Status}}</td>
<td title="{{.WAMID}}"><small>{{short .WAMID}}</small></td><td>{{if eq .Direction "outbound"}}<form method="post" action="/_sim/messages/{{.WAMID}}/status">
<button type="submit" name="status" value="delivered">delivered</button>
<button type="submit" name="status" value="read">read</button>
<button type="submit" name="status" value="failed" title="131047 Re-engagement message">failed</button></form>{{end}}</td></tr>
{{end}}</table>{{end}}
{{else}}<p>kapso-bridge has not registered this number's webhook yet: nothing can be sent to it.</p>{{end}}
</section>
{{end}}
{{if .Deliveries}}<section><h2>Latest webhook deliveries</h2>
<table><tr><th>time</th><th>event</th><th>attempt</th><th>answer</th><th>key</th></tr>
{{range .Deliveries}}<tr><td>{{.At.Format "15:04:05.000"}}</td><td>{{.Event}}</td><td>{{.Attempt}}</td>
<td>{{if .Status}}{{.Status}}{{else}}{{.Error}}{{end}}</td><td><small>{{.Key}}</small></td></tr>
{{end}}</table></section>{{end}}
<section id="controls"><h2>Fault controls</h2>
<p>JSON posts, e.g. <code>curl -d '{"calls":3}' /_sim/ratelimit</code>.</p>
<table><tr><th>route</th><th>body</th><th>effect</th></tr>
<tr><td><code>POST /_sim/webhooks/mode</code></td><td><code>{"mode":"normal|drop|duplicate"}</code></td><td>project webhooks sent normally, not at all, or twice</td></tr>
<tr><td><code>POST /_sim/numbers/{id}/webhooks/mode</code></td><td><code>{"mode":"normal|drop"}</code></td><td>drop: the number's message and conversation webhooks are lost (its messages still change)</td></tr>
<tr><td><code>POST /_sim/numbers/{id}/webhooks/state</code></td><td><code>{"active":false,"url":"https://…"}</code></td><td>pause every webhook of the number, or point them elsewhere</td></tr>
<tr><td><code>POST /_sim/ratelimit</code></td><td><code>{"calls":N,"retry_after_seconds":S}</code></td><td>the next N Platform API calls answer 429 with Retry-After S (default 60)</td></tr>
<tr><td><code>POST /_sim/setup_links/stall</code></td><td><code>{"calls":N,"seconds":S}</code></td><td>the next N setup link creations make the link, then answer only after S seconds</td></tr>
<tr><td><code>POST /_sim/media/faults</code></td><td><code>{"metadata_failures":N,"download_failures":N,"failure_rate":R,"expired":true,"wrong_sha256":true,"file_size":B}</code></td><td>media metadata and downloads answer 500 (the next N, or at rate R), hand out expired URLs, a wrong sha256 or file_size</td></tr>
<tr><td><code>POST /_sim/templates/{waba_id}/{name}/{language}</code></td><td><code>{"status":"APPROVED|REJECTED|PAUSED|DISABLED|…","reason":"…","quality_score":"GREEN|YELLOW|RED|UNKNOWN"}</code></td><td>Meta's review of a template: what the WABA's template list shows from then on, and whether a send of it goes (<code>GET /_sim/templates/{waba_id}</code> lists them)</td></tr>
<tr><td><code>GET /_sim/failed_deliveries</code></td><td></td><td>deliveries that exhausted their retries (also <code>GET /platform/v1/webhook_deliveries?status=failed</code>)</td></tr>
</table></section>
</body></html>
`))
