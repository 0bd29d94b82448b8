package kapsosim

import (
	"encoding/json"
	"errors"
	"net/http"
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
	writeJSON(w, http.StatusOK, st)
}
