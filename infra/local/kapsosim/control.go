package kapsosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// statusOf maps a control error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrLinkUnusable), errors.Is(err, ErrNoWebhook), errors.Is(err, ErrClosed):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func (s *Simulator) ctlComplete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ConnectionType string `json:"connection_type"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	redirect, pnid, err := s.CompleteLink(r.PathValue("id"), body.ConnectionType)
	if err != nil {
		writeJSON(w, statusOf(err), map[string]any{"error": err.Error(), "redirect_url": redirect})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"redirect_url": redirect, "phone_number_id": pnid})
}

func (s *Simulator) ctlFail(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ErrorCode string `json:"error_code"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	redirect, err := s.FailLink(r.PathValue("id"), body.ErrorCode)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"redirect_url": redirect})
}

func (s *Simulator) ctlMode(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mode string `json:"mode"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if _, ok := modeCopies[body.Mode]; !ok {
		writeError(w, http.StatusUnprocessableEntity, "mode must be normal, drop or duplicate")
		return
	}
	s.SetWebhookMode(body.Mode)
	writeJSON(w, http.StatusOK, map[string]string{"mode": body.Mode})
}

// eventRequest is the body of the event injection controls.
type eventRequest struct {
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
	Batch   bool            `json:"batch"` // phone-number events only
	Key     string          `json:"key"`   // phone-number events only; "" makes one
}

func readEvent(w http.ResponseWriter, r *http.Request) (eventRequest, bool) {
	var body eventRequest
	if !readJSON(w, r, &body) {
		return body, false
	}
	if body.Event == "" || len(body.Payload) == 0 {
		writeError(w, http.StatusUnprocessableEntity, "event and payload are required")
		return body, false
	}
	return body, true
}

func (s *Simulator) ctlNumberEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := readEvent(w, r)
	if !ok {
		return
	}
	statuses, err := s.sendNumberEvent(r.Context(), r.PathValue("phone_number_id"), body.Event, body.Payload, body.Key, body.Batch)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"statuses": statuses})
}

func (s *Simulator) ctlProjectEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := readEvent(w, r)
	if !ok {
		return
	}
	key, err := s.SendProjectEvent(body.Event, body.Payload)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"key": key})
}

func (s *Simulator) ctlDeliveries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.Deliveries()})
}

// ctlReplay posts a delivery made before again, byte for byte; with
// {"new_key":"…"} under another idempotency key.
func (s *Simulator) ctlReplay(w http.ResponseWriter, r *http.Request) {
	var in struct {
		NewKey string `json:"new_key"`
	}
	if r.ContentLength != 0 && !readJSON(w, r, &in) {
		return
	}
	status, err := s.Replay(r.Context(), r.PathValue("key"), in.NewKey)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"status": status})
}

func (s *Simulator) ctlState(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	st := map[string]any{"project_id": s.projectID, "webhook_mode": s.mode}
	var cs, ls, ns []map[string]any
	for _, c := range s.customers {
		cs = append(cs, c.json())
	}
	for _, l := range s.links {
		m := l.json(now)
		m["token"] = l.Token
		ls = append(ls, m)
	}
	for _, n := range s.numbers {
		ns = append(ns, n.json())
	}
	st["customers"], st["setup_links"], st["phone_numbers"], st["webhooks"] = cs, ls, ns, s.webhooks
	st["conversations"], st["messages"] = s.conversations, s.messages
	fs := []map[string]any{}
	for _, f := range s.failed {
		fs = append(fs, f.json())
	}
	st["failed_deliveries"], st["number_webhook_modes"] = fs, s.numberModes
	st["platform_calls"], st["rate_limit_per_minute"] = s.limits.calls, s.opts.RateLimitPerMinute
	st["rate_limited_next_calls"], st["stalled_link_creations"] = s.limits.forced, s.stall.calls
	templates := map[string][]map[string]any{}
	for waba, ts := range s.templates {
		for _, t := range ts {
			templates[waba] = append(templates[waba], templateFieldsOf(t))
		}
	}
	st["templates"], st["proxy_calls"] = templates, maps.Clone(s.proxyCalls)
	writeJSON(w, http.StatusOK, st)
}

// readControl decodes a control's body: JSON, or a form post from the
// home page (read by fromForm), which is answered with a redirect back to
// the page. A body is JSON when it looks like JSON whatever its content
// type, since curl -d labels JSON as a form. An empty body is an empty
// request: every field has a default.
func readControl(w http.ResponseWriter, r *http.Request, v any, fromForm func(url.Values)) (form, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid body: "+err.Error())
		return false, false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := bytes.TrimSpace(body)
	if ct == "application/x-www-form-urlencoded" && !bytes.HasPrefix(trimmed, []byte("{")) {
		f, err := url.ParseQuery(string(body))
		if err != nil {
			writeError(w, http.StatusBadRequest, "Invalid form: "+err.Error())
			return true, false
		}
		fromForm(f)
		return true, true
	}
	if len(trimmed) > 0 {
		if err := json.Unmarshal(trimmed, v); err != nil {
			writeError(w, http.StatusBadRequest, "Invalid JSON body: "+err.Error())
			return false, false
		}
	}
	return false, true
}

// answerSent answers a message control: JSON, or for a form from the home
// page a redirect back to it with a note saying what happened.
func answerSent(w http.ResponseWriter, r *http.Request, form bool, sent Sent, err error) {
	if form {
		note := fmt.Sprintf("%s %s: webhook answered %v", sent.Event, strings.Join(sent.WAMIDs, ", "), sent.Statuses)
		if err != nil {
			note = "Error: " + err.Error()
		}
		http.Redirect(w, r, "/?note="+url.QueryEscape(note), http.StatusSeeOther)
		return
	}
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, sent)
}

func formInt(v string) int {
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return -1 // refused by the control as out of range
	}
	return n
}

func (s *Simulator) ctlInbound(w http.ResponseWriter, r *http.Request) {
	var in Inbound
	form, ok := readControl(w, r, &in, func(f url.Values) {
		in = Inbound{Text: f.Get("text"), FromPhone: f.Get("from_phone"), FromBSUID: f.Get("from_bsuid"),
			Name: f.Get("name"), Count: formInt(f.Get("count")), Type: f.Get("type"), Filename: f.Get("filename"),
			Size: int64(formInt(f.Get("size")))}
	})
	if !ok {
		return
	}
	sent, err := s.SendInbound(r.Context(), r.PathValue("phone_number_id"), in)
	answerSent(w, r, form, sent, err)
}

func (s *Simulator) ctlOutbound(w http.ResponseWriter, r *http.Request) {
	var out Outbound
	form, ok := readControl(w, r, &out, func(f url.Values) {
		// The page has one recipient field for either identity.
		out = Outbound{Text: f.Get("text"), ToPhone: f.Get("to_phone"), ToBSUID: f.Get("to_bsuid")}
		if to := strings.TrimSpace(f.Get("to")); kapso.IsBSUID(to) {
			out.ToBSUID = to
		} else if to != "" {
			out.ToPhone = to
		}
	})
	if !ok {
		return
	}
	sent, err := s.SendOutbound(r.Context(), r.PathValue("phone_number_id"), out)
	answerSent(w, r, form, sent, err)
}

func (s *Simulator) ctlStatus(w http.ResponseWriter, r *http.Request) {
	var ch StatusChange
	form, ok := readControl(w, r, &ch, func(f url.Values) {
		ch = StatusChange{Status: f.Get("status"), ErrorCode: formInt(f.Get("error_code")), ErrorTitle: f.Get("error_title")}
	})
	if !ok {
		return
	}
	sent, err := s.SetMessageStatus(r.Context(), r.PathValue("wamid"), ch)
	answerSent(w, r, form, sent, err)
}
