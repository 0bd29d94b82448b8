package kapsosim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

type customer struct {
	ID, Name, ExternalID string
	CreatedAt            time.Time
}

type link struct {
	ID, CustomerID, Token, URL string
	revoked, used              bool
	CreatedAt, ExpiresAt       time.Time
	SuccessURL, FailureURL     string
	AllowedTypes               []string
	Provision                  bool
	AreaCode                   string
	CountryISOs                []string
	Language                   *string
	Theme                      map[string]string
	ReconnectNumberID          string // phone_number_id being reconnected
	SetupStatus, SetupError    string
	PhoneNumberID              string
	Provisioned                *provisioned
}

type provisioned struct {
	ID, Number string
	At         time.Time
}

type number struct {
	ID, PhoneNumberID, WABA, Display, CustomerID string
	Status, Quality, NameStatus, VerifiedName    string
	Throughput                                   string
	MessagingLimit                               any // a number or a string
	IsCoexistence                                bool
	CreatedAt                                    time.Time
}

// Webhook is a phone number's webhook as registered with the simulator.
type Webhook struct {
	ID                string    `json:"id"`
	PhoneNumberID     string    `json:"phone_number_id"`
	URL               string    `json:"url"`
	SecretKey         string    `json:"secret_key"`
	Kind              string    `json:"kind"`
	Events            []string  `json:"events"`
	Active            bool      `json:"active"`
	PayloadVersion    string    `json:"payload_version"`
	InactivityMinutes int       `json:"inactivity_minutes"`
	CreatedAt         time.Time `json:"created_at"`
}

var (
	connectionTypes = []string{"coexistence", "dedicated"}
	languages       = []string{"en", "es", "pt", "hi", "id", "ar"}
	themeKeys       = []string{"primary_color", "primary_foreground_color", "background_color", "text_color",
		"muted_text_color", "card_color", "muted_color", "border_color", "secondary_color",
		"secondary_foreground_color", "destructive_color", "destructive_foreground_color"}
	numberEvents = []string{kapso.EventMessageReceived, kapso.EventMessageSent, kapso.EventMessageDelivered,
		kapso.EventMessageRead, kapso.EventMessageFailed, kapso.EventConversationCreated,
		kapso.EventConversationEnded, kapso.EventConversationInactive, kapso.EventContactIdentityChanged,
		kapso.EventContactMarketingPreference, kapso.EventMetaBusinessAgentHandover}
	hexColour  = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
	countryISO = regexp.MustCompile(`^[A-Z]{2}$`)
	areaCode   = regexp.MustCompile(`^[0-9]{3}$`)
)

// status is computed from Now so that expiry needs no background job.
func (l *link) status(now time.Time) string {
	switch {
	case l.used:
		return "used"
	case l.revoked:
		return "revoked"
	case !now.Before(l.ExpiresAt):
		return "expired"
	}
	return "active"
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (c *customer) json() map[string]any {
	return map[string]any{"id": c.ID, "name": c.Name, "external_customer_id": nullable(c.ExternalID),
		"created_at": ts(c.CreatedAt), "updated_at": ts(c.CreatedAt)}
}

func (l *link) json(now time.Time) map[string]any {
	m := map[string]any{
		"id": l.ID, "customer_id": l.CustomerID, "status": l.status(now), "url": l.URL,
		"created_at": ts(l.CreatedAt), "expires_at": ts(l.ExpiresAt),
		"success_redirect_url": nullable(l.SuccessURL), "failure_redirect_url": nullable(l.FailureURL),
		"allowed_connection_types": l.AllowedTypes, "provision_phone_number": l.Provision,
		"phone_number_area_code": nullable(l.AreaCode), "phone_number_country_isos": l.CountryISOs,
		"language": l.Language, "theme_config": l.Theme,
		"whatsapp_setup_status": l.SetupStatus, "whatsapp_setup_error": nullable(l.SetupError),
		"provisioned_phone_number": nil,
	}
	if p := l.Provisioned; p != nil {
		m["provisioned_phone_number"] = map[string]any{"id": p.ID, "phone_number": p.Number, "status": "active",
			"country_iso": "US", "country_dial_code": "1", "provisioned_at": ts(p.At)}
	}
	return m
}

func (n *number) json() map[string]any {
	return map[string]any{
		"id": n.ID, "phone_number_id": n.PhoneNumberID, "business_account_id": n.WABA,
		"display_phone_number": n.Display, "display_phone_number_normalized": strings.TrimPrefix(n.Display, "+"),
		"customer_id": n.CustomerID, "status": n.Status, "quality_rating": n.Quality,
		"name_status": n.NameStatus, "verified_name": n.VerifiedName, "is_coexistence": n.IsCoexistence,
		"throughput_tier": n.Throughput, "whatsapp_business_manager_messaging_limit": n.MessagingLimit,
		"created_at": ts(n.CreatedAt),
	}
}

// webhookJSON is what the API shows: never the secret.
func webhookJSON(h *Webhook) map[string]any {
	return map[string]any{"id": h.ID, "phone_number_id": h.PhoneNumberID, "url": h.URL, "kind": h.Kind,
		"events": h.Events, "active": h.Active, "payload_version": h.PayloadVersion,
		"inactivity_minutes": h.InactivityMinutes, "created_at": ts(h.CreatedAt)}
}

// writePage answers a list with Kapso's page pagination.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T, view func(T) map[string]any) {
	page, perPage := 1, 20
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "page must be a positive integer")
			return
		}
		page = n
	}
	if v := r.URL.Query().Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "per_page must be a positive integer")
			return
		}
		perPage = min(n, 100)
	}
	data := []map[string]any{}
	for i := (page - 1) * perPage; i < len(items) && i < page*perPage; i++ {
		data = append(data, view(items[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": map[string]int{
		"page": page, "per_page": perPage, "total_pages": (len(items) + perPage - 1) / perPage, "total_count": len(items)}})
}

// filter returns the items keep accepts, in order.
func filter[T any](items []T, keep func(T) bool) []T {
	var out []T
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

// first returns the first item match accepts, or nil.
func first[T any](items []*T, match func(*T) bool) *T {
	if i := slices.IndexFunc(items, match); i >= 0 {
		return items[i]
	}
	return nil
}

// found answers 404 "<what> not found" when v is nil.
func found[T any](w http.ResponseWriter, v *T, what string) bool {
	if v == nil {
		writeError(w, http.StatusNotFound, what+" not found")
	}
	return v != nil
}

func (s *Simulator) findCustomer(id string) *customer {
	return first(s.customers, func(c *customer) bool { return c.ID == id })
}

func (s *Simulator) findNumber(phoneNumberID string) *number {
	return first(s.numbers, func(n *number) bool { return n.PhoneNumberID == phoneNumberID })
}

func (s *Simulator) createCustomer(w http.ResponseWriter, r *http.Request) {
	req, ok := readResource[struct {
		Name               string `json:"name"`
		ExternalCustomerID string `json:"external_customer_id"`
	}](w, r, "customer", true)
	if !ok {
		return
	}
	if strings.TrimSpace(req.Name) == "" {
		writeError(w, http.StatusUnprocessableEntity, "Name can't be blank")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ext := req.ExternalCustomerID; ext != "" {
		for _, c := range s.customers {
			if c.ExternalID == ext {
				// Real Kapso's answer to a duplicate is unconfirmed; 422 with this
				// text is the simulator's choice. Callers re-find on it.
				writeError(w, http.StatusUnprocessableEntity, "External customer has already been taken")
				return
			}
		}
	}
	c := &customer{ID: s.uuid(), Name: req.Name, ExternalID: req.ExternalCustomerID, CreatedAt: s.now()}
	s.customers = append(s.customers, c)
	writeJSON(w, http.StatusCreated, map[string]any{"data": c.json()})
}

func (s *Simulator) listCustomers(w http.ResponseWriter, r *http.Request) {
	ext := r.URL.Query().Get("external_customer_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := filter(s.customers, func(c *customer) bool { return ext == "" || c.ExternalID == ext })
	writePage(w, r, out, (*customer).json)
}

type linkRequest struct {
	SuccessRedirectURL     string            `json:"success_redirect_url"`
	FailureRedirectURL     string            `json:"failure_redirect_url"`
	AllowedConnectionTypes []string          `json:"allowed_connection_types"`
	ProvisionPhoneNumber   *bool             `json:"provision_phone_number"`
	PhoneNumberAreaCode    string            `json:"phone_number_area_code"`
	PhoneNumberCountryISOs []string          `json:"phone_number_country_isos"`
	Language               *string           `json:"language"`
	ThemeConfig            map[string]string `json:"theme_config"`
	ReconnectPhoneNumber   string            `json:"reconnect_phone_number"`
}

func validRedirect(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// buildLink validates a create request into a link, or says why it is refused (422).
func (s *Simulator) buildLink(c *customer, req linkRequest) (*link, string) {
	l := &link{CustomerID: c.ID, SuccessURL: req.SuccessRedirectURL, FailureURL: req.FailureRedirectURL,
		AllowedTypes: connectionTypes, CountryISOs: []string{"US"}, Language: req.Language, Theme: req.ThemeConfig,
		AreaCode: req.PhoneNumberAreaCode, SetupStatus: "pending"}
	for _, u := range []string{req.SuccessRedirectURL, req.FailureRedirectURL} {
		if u != "" && !validRedirect(u) {
			return nil, "Redirect URLs must be absolute http(s) URLs"
		}
	}
	if req.AllowedConnectionTypes != nil {
		if len(req.AllowedConnectionTypes) == 0 {
			return nil, "Allowed connection types can't be empty"
		}
		for _, t := range req.AllowedConnectionTypes {
			if !slices.Contains(connectionTypes, t) {
				return nil, "Allowed connection types contains an invalid type: " + t
			}
		}
		l.AllowedTypes = slices.Compact(slices.Sorted(slices.Values(req.AllowedConnectionTypes)))
	}
	if req.Language != nil && !slices.Contains(languages, *req.Language) {
		return nil, "Language is not included in the list"
	}
	for k, v := range req.ThemeConfig {
		if !slices.Contains(themeKeys, k) {
			return nil, "Theme config has an unknown key: " + k
		}
		if !hexColour.MatchString(v) {
			return nil, "Theme config " + k + " must be a hex colour like #RRGGBB"
		}
	}
	if req.PhoneNumberCountryISOs != nil {
		for _, iso := range req.PhoneNumberCountryISOs {
			if !countryISO.MatchString(iso) {
				return nil, "Phone number country isos contains an invalid code: " + iso
			}
		}
		if len(req.PhoneNumberCountryISOs) > 0 {
			l.CountryISOs = req.PhoneNumberCountryISOs
		}
	}
	if req.PhoneNumberAreaCode != "" {
		if !slices.Equal(l.CountryISOs, []string{"US"}) {
			return nil, "Phone number area code is only supported for US numbers"
		}
		if !areaCode.MatchString(req.PhoneNumberAreaCode) {
			return nil, "Phone number area code must be 3 digits"
		}
	}
	l.Provision = req.ProvisionPhoneNumber != nil && *req.ProvisionPhoneNumber
	if req.ReconnectPhoneNumber != "" {
		var n *number
		want := digitsOnly(req.ReconnectPhoneNumber)
		for _, cand := range s.numbers {
			if cand.CustomerID == c.ID && want != "" && digitsOnly(cand.Display) == want {
				n = cand
			}
		}
		if n == nil {
			return nil, "Reconnect phone number does not belong to this customer"
		}
		typ := "dedicated"
		if n.IsCoexistence {
			typ = "coexistence"
		}
		if !slices.Contains(l.AllowedTypes, typ) {
			return nil, "Reconnect phone number must keep its connection type: " + typ
		}
		if l.Provision {
			return nil, "Provision phone number can't be used with reconnect phone number"
		}
		l.AllowedTypes = []string{typ}
		l.ReconnectNumberID = n.PhoneNumberID
	}
	return l, ""
}

func (s *Simulator) createLink(w http.ResponseWriter, r *http.Request) {
	req, ok := readResource[linkRequest](w, r, "setup_link", false)
	if !ok {
		return
	}
	out, wait, status := s.makeLink(w, r, req)
	if out == nil {
		return
	}
	s.hold(r.Context(), wait)
	writeJSON(w, status, map[string]any{"data": out})
}

// makeLink makes the link a create request asks for and says how long a
// stalled creation holds its answer back, or answers the refusal and
// returns nil.
func (s *Simulator) makeLink(w http.ResponseWriter, r *http.Request, req linkRequest) (map[string]any, time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findCustomer(r.PathValue("customer_id"))
	if !found(w, c, "Customer") {
		return nil, 0, 0
	}
	l, problem := s.buildLink(c, req)
	if problem != "" {
		writeError(w, http.StatusUnprocessableEntity, problem)
		return nil, 0, 0
	}
	now := s.now()
	// One active link per customer: the new one revokes the old.
	for _, old := range s.links {
		if old.CustomerID == c.ID && old.status(now) == "active" {
			old.revoked = true
		}
	}
	base := s.opts.PublicURL
	if base == "" {
		base = "http://" + r.Host
	}
	l.ID, l.Token, l.CreatedAt, l.ExpiresAt = s.uuid(), s.digits(8)+strings.ReplaceAll(s.uuid(), "-", ""), now, now.Add(linkLifetime)
	l.URL = base + "/setup/" + l.Token
	s.links = append(s.links, l)
	out := l.json(now)
	out["token"] = l.Token
	return out, s.takeStallLocked(), http.StatusCreated
}

func (s *Simulator) listLinks(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains([]string{"active", "used", "expired", "revoked"}, status) {
		writeError(w, http.StatusUnprocessableEntity, "Status must be one of active, used, expired, revoked")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findCustomer(r.PathValue("customer_id"))
	if !found(w, c, "Customer") {
		return
	}
	now := s.now()
	out := filter(s.links, func(l *link) bool { return l.CustomerID == c.ID && (status == "" || l.status(now) == status) })
	writePage(w, r, out, func(l *link) map[string]any { return l.json(now) })
}

func (s *Simulator) updateLink(w http.ResponseWriter, r *http.Request) {
	req, ok := readResource[struct {
		Status    string `json:"status"`
		ExpiresAt string `json:"expires_at"`
	}](w, r, "setup_link", true)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := first(s.links, func(l *link) bool { return l.ID == r.PathValue("id") && l.CustomerID == r.PathValue("customer_id") })
	if !found(w, l, "Setup link") {
		return
	}
	now := s.now()
	switch st := req.Status; {
	case st == "" && req.ExpiresAt == "":
		writeError(w, http.StatusUnprocessableEntity, "Nothing to update")
		return
	case st != "" && st != "revoked":
		writeError(w, http.StatusUnprocessableEntity, "Status can only be changed to revoked")
		return
	case l.used:
		writeError(w, http.StatusUnprocessableEntity, "Setup link has already been used")
		return
	}
	if req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, req.ExpiresAt)
		if err != nil || !t.After(now) {
			writeError(w, http.StatusUnprocessableEntity, "Expires at must be a future ISO 8601 time")
			return
		}
		l.ExpiresAt = t
	}
	if req.Status == "revoked" {
		l.revoked = true
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": l.json(now)})
}

func (s *Simulator) listNumbers(w http.ResponseWriter, r *http.Request) {
	cid := r.URL.Query().Get("customer_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := filter(s.numbers, func(n *number) bool { return cid == "" || n.CustomerID == cid })
	writePage(w, r, out, (*number).json)
}

func (s *Simulator) getNumber(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.findNumber(r.PathValue("phone_number_id"))
	if !found(w, n, "Phone number") {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": n.json()})
}

func (s *Simulator) listWebhooks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pnid := r.PathValue("phone_number_id")
	if !found(w, s.findNumber(pnid), "Phone number") {
		return
	}
	out := filter(s.webhooks, func(h *Webhook) bool { return h.PhoneNumberID == pnid })
	writePage(w, r, out, webhookJSON)
}

func (s *Simulator) createWebhook(w http.ResponseWriter, r *http.Request) {
	b, ok := readResource[struct {
		URL               string   `json:"url"`
		SecretKey         string   `json:"secret_key"`
		Kind              string   `json:"kind"`
		Events            []string `json:"events"`
		Active            *bool    `json:"active"`
		PayloadVersion    string   `json:"payload_version"`
		InactivityMinutes int      `json:"inactivity_minutes"`
	}](w, r, "whatsapp_webhook", true)
	if !ok {
		return
	}
	h := &Webhook{PhoneNumberID: r.PathValue("phone_number_id"), URL: b.URL, SecretKey: b.SecretKey, Kind: b.Kind,
		Events: b.Events, Active: b.Active == nil || *b.Active, PayloadVersion: b.PayloadVersion,
		InactivityMinutes: b.InactivityMinutes}
	if h.Kind == "" {
		h.Kind = "kapso"
	}
	if h.PayloadVersion == "" {
		h.PayloadVersion = "v2"
	}
	if h.InactivityMinutes == 0 {
		h.InactivityMinutes = 60
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !found(w, s.findNumber(h.PhoneNumberID), "Phone number") {
		return
	}
	if problem := s.checkWebhook(h); problem != "" {
		writeError(w, http.StatusUnprocessableEntity, problem)
		return
	}
	h.ID, h.CreatedAt = s.uuid(), s.now()
	s.webhooks = append(s.webhooks, h)
	writeJSON(w, http.StatusCreated, map[string]any{"data": webhookJSON(h)})
}

// checkWebhook says why a new webhook is refused, or "" when it is fine.
func (s *Simulator) checkWebhook(h *Webhook) string {
	switch {
	case !validRedirect(h.URL):
		return "Url must be an absolute http(s) URL"
	case h.SecretKey == "":
		return "Secret key can't be blank"
	case h.Kind != "kapso" && h.Kind != "meta":
		return "Kind must be kapso or meta"
	case h.PayloadVersion != "v1" && h.PayloadVersion != "v2":
		return "Payload version must be v1 or v2"
	case h.InactivityMinutes < 1 || h.InactivityMinutes > 1440:
		return "Inactivity minutes must be between 1 and 1440"
	}
	if h.Kind == "kapso" {
		if len(h.Events) == 0 {
			return "Events can't be blank"
		}
		for _, e := range h.Events {
			if !slices.Contains(numberEvents, e) {
				return "Events contains an unknown event: " + e
			}
		}
	}
	if h.Kind == "meta" {
		for _, o := range s.webhooks {
			if o.PhoneNumberID == h.PhoneNumberID && o.Kind == "meta" && o.ID != h.ID {
				return "Only one meta webhook is allowed per phone number"
			}
		}
	}
	return ""
}

// updateWebhook changes a number's webhook: active, url, secret_key and
// events, each optional.
func (s *Simulator) updateWebhook(w http.ResponseWriter, r *http.Request) {
	var env map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&env); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid JSON body: "+err.Error())
		return
	}
	var b struct {
		Active    *bool     `json:"active"`
		URL       *string   `json:"url"`
		SecretKey *string   `json:"secret_key"`
		Events    *[]string `json:"events"`
	}
	raw, ok := env["whatsapp_webhook"]
	if !ok || string(raw) == "null" {
		writeError(w, http.StatusUnprocessableEntity, "param is missing or the value is empty: whatsapp_webhook")
		return
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid whatsapp_webhook: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pnid, id := r.PathValue("phone_number_id"), r.PathValue("webhook_id")
	h := first(s.webhooks, func(h *Webhook) bool { return h.ID == id && h.PhoneNumberID == pnid })
	if !found(w, h, "Webhook") {
		return
	}
	next := *h // checked before any change is made
	if b.Active != nil {
		next.Active = *b.Active
	}
	if b.URL != nil {
		next.URL = *b.URL
	}
	if b.SecretKey != nil {
		next.SecretKey = *b.SecretKey
	}
	if b.Events != nil {
		next.Events = slices.Clone(*b.Events)
	}
	if problem := s.checkWebhook(&next); problem != "" {
		writeError(w, http.StatusUnprocessableEntity, problem)
		return
	}
	*h = next
	writeJSON(w, http.StatusOK, map[string]any{"data": webhookJSON(h)})
}

// deleteWebhook removes a number's webhook: Kapso delivers nothing more to
// it. A webhook it does not have is 404.
func (s *Simulator) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pnid, id := r.PathValue("phone_number_id"), r.PathValue("webhook_id")
	h := first(s.webhooks, func(h *Webhook) bool { return h.ID == id && h.PhoneNumberID == pnid })
	if !found(w, h, "Webhook") {
		return
	}
	s.webhooks = slices.DeleteFunc(s.webhooks, func(o *Webhook) bool { return o == h })
	w.WriteHeader(http.StatusNoContent)
}
