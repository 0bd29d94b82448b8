package kapsosim

import (
	"net/http"
	"slices"
	"time"
)

// FailedDelivery is Kapso's record of a webhook delivery that exhausted its
// retry schedule without a 200.
type FailedDelivery struct {
	ID             string
	WebhookID      string // the number webhook's id; "" for the project webhook
	PhoneNumberID  string // "" for the project webhook
	Event          string
	Attempts       int
	ResponseStatus int // the last attempt's answer; 0 when none came
	IdempotencyKey string
	CreatedAt      time.Time // the first attempt
	LastAttemptAt  time.Time
}

// json is the record as the Platform API shows it.
func (f FailedDelivery) json() map[string]any {
	var status any
	if f.ResponseStatus != 0 {
		status = f.ResponseStatus
	}
	return map[string]any{"id": f.ID, "webhook_id": f.WebhookID, "phone_number_id": nullable(f.PhoneNumberID),
		"event": f.Event, "status": "failed", "attempts": f.Attempts, "response_status": status,
		"idempotency_key": f.IdempotencyKey, "created_at": ts(f.CreatedAt), "last_attempt_at": ts(f.LastAttemptAt)}
}

// FailedDeliveries returns the deliveries that gave up, oldest first.
func (s *Simulator) FailedDeliveries() []FailedDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.failed)
}

// attempts tracks a delivery's attempts for its failure record.
type attempts struct {
	n          int
	lastStatus int
	first      time.Time
	last       time.Time
}

// add notes an attempt answered status at at.
func (a *attempts) add(status int, at time.Time) {
	if a.n == 0 {
		a.first = at
	}
	a.n++
	a.lastStatus, a.last = status, at
}

// recordFailed records that the delivery of event with key to h gave up
// after a; h is the zero Webhook for the project webhook.
func (s *Simulator) recordFailed(h Webhook, event, key string, a attempts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = append(s.failed, FailedDelivery{ID: s.uuid(), WebhookID: h.ID, PhoneNumberID: h.PhoneNumberID,
		Event: event, Attempts: a.n, ResponseStatus: a.lastStatus, IdempotencyKey: key, CreatedAt: a.first,
		LastAttemptAt: a.last})
}

// deliveryPeriods are the periods Kapso's webhook_deliveries list takes.
var deliveryPeriods = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// listFailedDeliveries answers GET /webhook_deliveries: failed ones are the
// only ones the simulator records, so status=failed and errors_only=true
// list them all, another status lists nothing. event, webhook_id and
// period (24h, 7d or 30d back from now, by when the delivery began) narrow
// the list.
func (s *Simulator) listFailedDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, event, webhookID := q.Get("status"), q.Get("event"), q.Get("webhook_id")
	if v := q.Get("errors_only"); v != "" && v != "true" && v != "false" {
		writeError(w, http.StatusUnprocessableEntity, "errors_only must be true or false")
		return
	}
	var since time.Duration
	if v := q.Get("period"); v != "" {
		d, ok := deliveryPeriods[v]
		if !ok {
			writeError(w, http.StatusUnprocessableEntity, "period must be 24h, 7d or 30d")
			return
		}
		since = d
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var items []listItem
	if status == "" || status == "failed" {
		for i, f := range s.failed {
			if event != "" && f.Event != event || webhookID != "" && f.WebhookID != webhookID ||
				since > 0 && f.CreatedAt.Before(now.Add(-since)) {
				continue
			}
			items = append(items, listItem{pos: position{at: f.CreatedAt, seq: i}, view: func() any { return f.json() }})
		}
	}
	s.writeList(w, r, items)
}

func (s *Simulator) ctlFailedDeliveries(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for _, f := range s.FailedDeliveries() {
		out = append(out, f.json())
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}
