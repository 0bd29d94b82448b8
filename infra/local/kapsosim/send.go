package kapsosim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// Kapso's Meta proxy: POST /meta/whatsapp/{version}/{phone_number_id}/messages
// takes Meta's Cloud API message object and sends it from the number; a
// template must be APPROVED in the number's WABA (templates.go). An
// accepted send is kept as an outbound message of the number, exactly as
// SendOutbound keeps one, and its whatsapp.message.sent goes to the number's
// webhooks; later statuses come from SetMessageStatus, or on their own after
// SetAutoStatuses (one number) or SetDefaultAutoStatuses (every number
// without its own setting), Options.AutoStatusDelay apart. Faults for the
// next sends come from SetSendFaults.

// Send faults, for SetSendFaults and POST /_sim/send/faults.
const (
	// SendFault5xx answers 500 without sending.
	SendFault5xx = "5xx"
	// SendFault429 answers 429 (Meta code 130429) with Retry-After, without sending.
	SendFault429 = "429"
	// SendFaultTimeoutAfterAccept sends the message, then holds the answer
	// until the request ends: the caller cannot know it was sent.
	SendFaultTimeoutAfterAccept = "timeout_after_accept"
	// SendFaultPermanent answers 400 with a Meta code (default 131026)
	// without sending.
	SendFaultPermanent = "permanent"
)

// Meta error codes the proxy answers with.
const (
	metaInvalidParameter  = 100
	metaThroughput        = 130429
	metaUndeliverable     = 131026
	metaUndeliverableText = "Message undeliverable"
)

// SendFaults makes the next Calls proxy sends fail with Fault.
type SendFaults struct {
	Calls int    `json:"calls"`
	Fault string `json:"fault"`
	// Code is the Meta error code of a permanent fault (default 131026).
	Code int `json:"code,omitempty"`
	// RetryAfter is the Retry-After of a 429 fault (default 1 s).
	RetryAfter time.Duration `json:"-"`
}

// proxySends is the state of the Meta proxy.
type proxySends struct {
	accepted int
	faults   SendFaults
	auto     map[string][]string // phone number id → statuses applied after each send; empty: none
	// defaultAuto are the statuses of a number with no entry in auto.
	defaultAuto []string
}

var sendFaultKinds = map[string]bool{SendFault5xx: true, SendFault429: true,
	SendFaultTimeoutAfterAccept: true, SendFaultPermanent: true}

// SetSendFaults makes the next f.Calls proxy sends fail with f.Fault;
// Calls 0 ends a pending run.
func (s *Simulator) SetSendFaults(f SendFaults) error {
	if f.Calls < 0 || f.Code < 0 || f.RetryAfter < 0 {
		return fmt.Errorf("set send faults: %w: calls, code and retry after must not be negative", ErrInvalid)
	}
	if f.Calls > 0 && !sendFaultKinds[f.Fault] {
		return fmt.Errorf("set send faults: %w: fault must be 5xx, 429, timeout_after_accept or permanent", ErrInvalid)
	}
	if f.Fault == SendFaultPermanent {
		f.Code = cmp.Or(f.Code, metaUndeliverable)
	}
	if f.Fault == SendFault429 && f.RetryAfter == 0 {
		f.RetryAfter = time.Second
	}
	s.mu.Lock()
	s.proxyStateLocked().faults = f
	s.mu.Unlock()
	return nil
}

// SetAutoStatuses makes every later accepted proxy send from the number move
// on through statuses (each delivered, read or failed) in order, in the
// background, as SetMessageStatus does, Options.AutoStatusDelay apart. It
// overrides SetDefaultAutoStatuses for the number: no statuses turns it off
// for the number whatever the default, so a test can keep one number still.
func (s *Simulator) SetAutoStatuses(phoneNumberID string, statuses []string) error {
	if err := validAutoStatuses(statuses); err != nil {
		return fmt.Errorf("set auto statuses of %s: %w", phoneNumberID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proxyStateLocked().auto[phoneNumberID] = append([]string{}, statuses...)
	return nil
}

// SetDefaultAutoStatuses is SetAutoStatuses for every number that has no
// setting of its own, those connected later included; no statuses turns the
// default off. The local stack uses it so that every send moves on to
// delivered, then read, as a person's phone would.
func (s *Simulator) SetDefaultAutoStatuses(statuses []string) error {
	if err := validAutoStatuses(statuses); err != nil {
		return fmt.Errorf("set default auto statuses: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proxyStateLocked().defaultAuto = append([]string(nil), statuses...)
	return nil
}

func validAutoStatuses(statuses []string) error {
	for _, st := range statuses {
		if _, ok := statusEvents[st]; !ok {
			return fmt.Errorf("%w: status %q must be delivered, read or failed", ErrInvalid, st)
		}
	}
	return nil
}

// autoStatusesLocked are the statuses a send from the number moves on
// through; callers hold s.mu.
func (s *Simulator) autoStatusesLocked(phoneNumberID string) []string {
	p := s.proxyStateLocked()
	if own, ok := p.auto[phoneNumberID]; ok {
		return own
	}
	return p.defaultAuto
}

// SentByProxy returns how many sends the Meta proxy accepted, those whose
// answer was held back by timeout_after_accept included.
func (s *Simulator) SentByProxy() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proxyStateLocked().accepted
}

// proxyStateLocked returns the proxy state, made on first use; callers hold s.mu.
func (s *Simulator) proxyStateLocked() *proxySends {
	if s.proxy == nil {
		s.proxy = &proxySends{auto: map[string][]string{},
			defaultAuto: append([]string(nil), s.opts.DefaultAutoStatuses...)}
	}
	return s.proxy
}

// takeSendFaultLocked uses up one faulted send; callers hold s.mu.
func (s *Simulator) takeSendFaultLocked() SendFaults {
	p := s.proxyStateLocked()
	if p.faults.Calls == 0 {
		return SendFaults{}
	}
	p.faults.Calls--
	return p.faults
}

// writeMetaError answers Meta's error object, its details the title.
func writeMetaError(w http.ResponseWriter, status, code int, msg, title string) {
	writeMetaErrorDetails(w, status, code, msg, title, title)
}

// writeMetaErrorDetails answers Meta's error object with its own details.
func writeMetaErrorDetails(w http.ResponseWriter, status, code int, msg, title, details string) {
	e := map[string]any{"message": msg, "type": "OAuthException", "code": code,
		"fbtrace_id": "Asim" + strings.Repeat("0", 19)}
	if title != "" {
		e["error_user_title"] = title
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// proxyMessage is the part of Meta's message object the simulator reads.
type proxyMessage struct {
	MessagingProduct string                 `json:"messaging_product"`
	To               string                 `json:"to"`
	Recipient        string                 `json:"recipient"`
	Type             string                 `json:"type"`
	Text             *struct{ Body string } `json:"text"`
	Template         *struct {
		Name     string
		Language struct{ Code string }
	} `json:"template"`
}

// text is how the simulator keeps the message: a text's body, else a
// description of it.
func (m proxyMessage) text() string {
	switch {
	case m.Type == "text" && m.Text != nil && strings.TrimSpace(m.Text.Body) != "":
		return m.Text.Body
	case m.Type == "template" && m.Template != nil && m.Template.Name != "":
		return "[template " + m.Template.Name + "]"
	}
	return "[" + m.Type + "]"
}

func (s *Simulator) proxySend(w http.ResponseWriter, r *http.Request) {
	pnid := r.PathValue("phone_number_id")
	var raw json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&raw); err != nil ||
		!bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		writeMetaError(w, http.StatusBadRequest, metaInvalidParameter, "(#100) The request body is not a JSON object", "")
		return
	}
	var msg proxyMessage
	if err := json.Unmarshal(raw, &msg); err != nil {
		writeMetaError(w, http.StatusBadRequest, metaInvalidParameter, "(#100) Invalid parameter: "+err.Error(), "")
		return
	}
	to := strings.TrimSpace(cmp.Or(msg.To, msg.Recipient))
	if to == "" || strings.TrimSpace(msg.Type) == "" {
		writeMetaError(w, http.StatusBadRequest, metaInvalidParameter,
			"(#100) The parameter to (or recipient) and type are required", "")
		return
	}
	if msg.Type == "template" {
		s.countProxyCall(RouteTemplateSend)
		if msg.Template == nil || strings.TrimSpace(msg.Template.Name) == "" || strings.TrimSpace(msg.Template.Language.Code) == "" {
			writeMetaError(w, http.StatusBadRequest, metaInvalidParameter,
				"(#100) The parameters template.name and template.language.code are required", "")
			return
		}
	}
	if msg.MessagingProduct != "" && msg.MessagingProduct != "whatsapp" {
		writeMetaError(w, http.StatusBadRequest, metaInvalidParameter,
			"(#100) Param messaging_product must be whatsapp", "")
		return
	}
	var p Person
	var err error
	if kapso.IsBSUID(to) {
		p, err = newPerson("", to, "")
	} else {
		p, err = newPerson(to, "", "")
	}
	if err != nil {
		writeMetaError(w, http.StatusBadRequest, metaInvalidParameter, "(#100) Invalid parameter: "+err.Error(), "")
		return
	}

	s.mu.Lock()
	n := s.findNumber(pnid)
	if n == nil {
		s.mu.Unlock()
		writeMetaError(w, http.StatusNotFound, metaInvalidParameter, fmt.Sprintf(
			"Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", pnid), "")
		return
	}
	fault := s.takeSendFaultLocked()
	refusal := templateRefusal{ok: true}
	// A fault that answers an error answers it whatever the template.
	if msg.Type == "template" && (fault.Fault == "" || fault.Fault == SendFaultTimeoutAfterAccept) {
		refusal = s.templateRefusalLocked(n, msg.Template.Name, msg.Template.Language.Code)
	}
	s.mu.Unlock()
	if !refusal.ok {
		writeMetaErrorDetails(w, refusal.status, refusal.code, fmt.Sprintf("(#%d) %s", refusal.code, refusal.title),
			refusal.title, refusal.details)
		return
	}

	switch fault.Fault {
	case SendFault5xx:
		writeMetaError(w, http.StatusInternalServerError, 2, "An unexpected error has occurred. Please retry your request later.", "")
		return
	case SendFault429:
		w.Header().Set("Retry-After", retryAfterSeconds(fault.RetryAfter))
		writeMetaError(w, http.StatusTooManyRequests, metaThroughput, "(#130429) Rate limit hit", "Rate limit hit")
		return
	case SendFaultPermanent:
		title := "Message failed"
		if fault.Code == metaUndeliverable {
			title = metaUndeliverableText
		}
		writeMetaError(w, http.StatusBadRequest, fault.Code, fmt.Sprintf("(#%d) %s", fault.Code, title), title)
		return
	}

	sent, err := s.recordProxySend(r.Context(), pnid, p, msg.Type, msg.text())
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			writeMetaError(w, http.StatusNotFound, metaInvalidParameter, err.Error(), "")
			return
		}
		writeMetaError(w, http.StatusBadRequest, metaInvalidParameter, err.Error(), "")
		return
	}
	if fault.Fault == SendFaultTimeoutAfterAccept {
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
		return
	}
	contact := map[string]string{"input": to}
	if p.Phone != "" {
		contact["wa_id"] = p.Phone
	}
	if p.BSUID != "" {
		contact["user_id"] = p.BSUID
	}
	writeJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
		"contacts": []map[string]string{contact}, "messages": []map[string]string{{"id": sent.WAMID}}})
}

// recordProxySend keeps an accepted send as SendOutbound does and delivers
// its whatsapp.message.sent. A number with no webhook for the event still
// sends (nothing is delivered).
func (s *Simulator) recordProxySend(ctx context.Context, pnid string, p Person, typ, text string) (Sent, error) {
	event := kapso.EventMessageSent
	s.mu.Lock()
	n, targets, err := s.numberTargetsLocked(pnid, event)
	if errors.Is(err, ErrNoWebhook) {
		n, targets, err = s.findNumber(pnid), nil, nil
	}
	if err != nil {
		s.mu.Unlock()
		return Sent{}, err
	}
	c, isNew := s.conversationLocked(pnid, p, s.now())
	at := c.messageTime(s.now())
	m := &ChatMessage{WAMID: s.wamid(c.Person, false), PhoneNumberID: pnid, ConversationID: c.ID,
		Direction: "outbound", Type: typ, Text: text, At: at, Person: c.Person,
		Statuses: []MessageStatus{{Status: "sent", At: at}}}
	s.messages = append(s.messages, m)
	c.record(m)
	payload := s.messageEventLocked(n, c, m, isNew)
	sent := Sent{Event: event, WAMID: m.WAMID, WAMIDs: []string{m.WAMID}, ConversationID: c.ID, Key: s.uuid()}
	s.proxyStateLocked().accepted++
	auto := s.autoStatusesLocked(pnid)
	s.mu.Unlock()
	if len(targets) > 0 {
		sent.Statuses = s.deliverNumber(ctx, targets, event, sent.Key, payload, nil, nil)
	}
	if len(auto) > 0 {
		s.background(func() {
			for _, st := range auto {
				// A moment between statuses, as a phone takes, lets a reader
				// see each one (and the bridge order them by time).
				if d := s.opts.AutoStatusDelay; d > 0 {
					t := time.NewTimer(d)
					select {
					case <-s.ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
				}
				if _, err := s.SetMessageStatus(s.ctx, sent.WAMID, StatusChange{Status: st}); err != nil {
					s.log.Debug("kapsosim auto status", "wamid", sent.WAMID, "status", st, "err", err)
				}
			}
		})
	}
	return sent, nil
}

// --- /_sim controls ---

func (s *Simulator) ctlSendFaults(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Calls             int     `json:"calls"`
		Fault             string  `json:"fault"`
		Code              int     `json:"code"`
		RetryAfterSeconds float64 `json:"retry_after_seconds"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.RetryAfterSeconds < 0 {
		writeError(w, http.StatusUnprocessableEntity, "retry_after_seconds must not be negative")
		return
	}
	f := SendFaults{Calls: body.Calls, Fault: body.Fault, Code: body.Code,
		RetryAfter: time.Duration(body.RetryAfterSeconds * float64(time.Second))}
	if err := s.SetSendFaults(f); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.sendState())
}

// ctlAutoStatuses sets a number's auto statuses, or with no phone_number_id
// the default of every number.
func (s *Simulator) ctlAutoStatuses(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PhoneNumberID string   `json:"phone_number_id"`
		Statuses      []string `json:"statuses"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	var err error
	if body.PhoneNumberID == "" {
		err = s.SetDefaultAutoStatuses(body.Statuses)
	} else {
		err = s.SetAutoStatuses(body.PhoneNumberID, body.Statuses)
	}
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.sendState())
}

func (s *Simulator) ctlSendState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.sendState())
}

func (s *Simulator) sendState() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proxyStateLocked()
	return map[string]any{"sent_by_proxy": p.accepted, "faulted_next_calls": p.faults.Calls,
		"fault": p.faults.Fault, "code": p.faults.Code, "retry_after_seconds": p.faults.RetryAfter.Seconds(),
		"auto_statuses": p.auto, "default_auto_statuses": append([]string{}, p.defaultAuto...),
		"auto_status_delay_seconds": s.opts.AutoStatusDelay.Seconds(),
		"sends_received":            s.proxyCalls[RouteSend], "template_sends_received": s.proxyCalls[RouteTemplateSend]}
}
