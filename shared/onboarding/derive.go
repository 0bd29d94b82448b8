package onboarding

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Derive computes a tenant's connection from the facts seen. Only the
// tenant's identity (ID, KapsoCustomerID, Name, CreatedAt) is taken from
// tenant; everything else is recomputed. Facts are deduplicated by Key and
// sorted by (time, kind, key) first, so neither their order nor repetitions
// can change the result. Invalid facts are left out.
func Derive(tenant Tenant, facts []Fact) Connection {
	known := canonicalFacts(facts)
	d := newDerivation(known)
	numbers := d.phoneNumbers()
	attempts := d.attempts()

	out := Connection{
		Tenant: Tenant{
			ID:              tenant.ID,
			KapsoCustomerID: tenant.KapsoCustomerID,
			Name:            tenant.Name,
			CreatedAt:       tenant.CreatedAt,
			UpdatedAt:       tenant.CreatedAt,
			Version:         len(known),
		},
		Attempts:     attempts,
		PhoneNumbers: numbers,
	}
	out.Tenant.Status, out.Tenant.ActiveSetupLinkID = tenantStatus(attempts, numbers)
	for _, f := range known {
		out.Facts = append(out.Facts, f.Fact)
		out.Timeline = append(out.Timeline, f.timelineEntry())
		if f.At.After(out.Tenant.UpdatedAt) {
			out.Tenant.UpdatedAt = f.At
		}
	}
	return out
}

// Change says what applying one fact did, for the timeline and the logs.
type Change struct {
	Fact Fact
	// Duplicate: the fact was already known; nothing changed.
	Duplicate bool
	// Rejected: the fact was invalid and was not applied (wraps ErrInvalidFact).
	Rejected         error
	Entry            TimelineEntry
	TenantStatusFrom TenantStatus
	TenantStatusTo   TenantStatus
	Attempts         []Transition[AttemptStatus]     // by setup link id
	PhoneNumbers     []Transition[PhoneNumberStatus] // by phone_number_id
}

// Transition is an attempt or number whose status changed; From is empty
// for one that did not exist before.
type Transition[S ~string] struct {
	ID       string
	From, To S
}

// Applied reports whether the fact was new and valid, so it must be stored.
func (c Change) Applied() bool { return !c.Duplicate && c.Rejected == nil }

// ClosedLinks are the setup links the fact closed: attempts that were active
// and are no longer (an outcome came back, or the link expired, was revoked
// or superseded). Stores take them out of their active links, so the
// reconciler never expires a link that is already settled.
func (c Change) ClosedLinks() []Transition[AttemptStatus] {
	var out []Transition[AttemptStatus]
	for _, tr := range c.Attempts {
		if tr.From == AttemptActive && tr.To != AttemptActive {
			out = append(out, tr)
		}
	}
	return out
}

// Apply adds a fact to a connection and re-derives it. A fact already known
// (same Key) or invalid leaves the connection as it was.
func Apply(state Connection, f Fact) (Connection, Change) {
	f = f.normalized()
	change := Change{Fact: f, TenantStatusFrom: state.Tenant.Status, TenantStatusTo: state.Tenant.Status}
	if err := f.Validate(); err != nil {
		change.Rejected = fmt.Errorf("apply to tenant %q: %w", state.Tenant.ID, err)
		return state, change
	}
	change.Entry = keyedFact{Fact: f}.timelineEntry()
	key := f.Key()
	for _, seen := range state.Facts {
		if seen.Key() == key {
			change.Duplicate = true
			return state, change
		}
	}
	next := Derive(state.Tenant, append(slices.Clone(state.Facts), f))
	change.TenantStatusTo = next.Tenant.Status
	change.Attempts = transitions(state.Attempts, next.Attempts, attemptStatus)
	change.PhoneNumbers = transitions(state.PhoneNumbers, next.PhoneNumbers, numberStatus)
	return next, change
}

// transitions lists the items of after whose status differs from before.
func transitions[T any, S ~string](before, after []T, idStatus func(T) (string, S)) []Transition[S] {
	was := make(map[string]S, len(before))
	for _, item := range before {
		id, status := idStatus(item)
		was[id] = status
	}
	var out []Transition[S]
	for _, item := range after {
		if id, status := idStatus(item); was[id] != status {
			out = append(out, Transition[S]{ID: id, From: was[id], To: status})
		}
	}
	return out
}

func attemptStatus(a Attempt) (string, AttemptStatus)        { return a.SetupLinkID, a.Status }
func numberStatus(n PhoneNumber) (string, PhoneNumberStatus) { return n.PhoneNumberID, n.Status }

// keyedFact is a normalized, valid fact with its key and rank computed once.
type keyedFact struct {
	Fact
	key  string
	rank int
}

func canonicalFacts(facts []Fact) []keyedFact {
	seen := make(map[string]bool, len(facts))
	out := make([]keyedFact, 0, len(facts))
	for _, f := range facts {
		f = f.normalized()
		if f.Validate() != nil {
			continue
		}
		key := f.Key()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, keyedFact{Fact: f, key: key, rank: kindRank(f.Kind)})
	}
	slices.SortFunc(out, func(a, b keyedFact) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

func (f keyedFact) timelineEntry() TimelineEntry {
	var detail map[string]string
	for _, field := range f.namedFields() {
		if field.value == "" || field.name == "kind" || field.name == "at" {
			continue
		}
		if detail == nil {
			detail = map[string]string{}
		}
		detail[field.name] = field.value
	}
	return TimelineEntry{At: f.At, Kind: f.Kind, Source: kindSource(f.Kind), Detail: detail}
}

// derivation holds what several derivation steps need to know about the
// whole fact set: which link each signed confirmation named, and every
// redirect with its suspicion already decided.
type derivation struct {
	facts []keyedFact
	// linksNamed: phone number id → links that signed confirmations named for it.
	linksNamed map[string][]string
	// numbersNamed: setup link id → numbers that signed confirmations named for it.
	numbersNamed map[string][]string
	// flagged: "link\x00number" → why the caller rejected that redirect.
	flagged map[string]string
	// redirects: setup link id → its redirects in time order.
	redirects map[string][]RedirectSeen
	// redirectLinks: phone number id → links whose trusted success redirect named it.
	redirectLinks map[string][]string
}

func newDerivation(facts []keyedFact) *derivation {
	d := &derivation{
		facts:         facts,
		linksNamed:    map[string][]string{},
		numbersNamed:  map[string][]string{},
		flagged:       map[string]string{},
		redirects:     map[string][]RedirectSeen{},
		redirectLinks: map[string][]string{},
	}
	for _, f := range facts {
		switch {
		case isConfirmation(f.Kind) && f.SetupLinkID != "":
			d.linksNamed[f.PhoneNumberID] = appendUnique(d.linksNamed[f.PhoneNumberID], f.SetupLinkID)
			d.numbersNamed[f.SetupLinkID] = appendUnique(d.numbersNamed[f.SetupLinkID], f.PhoneNumberID)
		case f.Kind == FactSuspiciousRedirect:
			pair := f.SetupLinkID + "\x00" + f.PhoneNumberID
			if _, ok := d.flagged[pair]; !ok {
				d.flagged[pair] = cmp.Or(f.Reason, "rejected when the redirect was received")
			}
		}
	}
	for _, f := range facts {
		if f.Kind != FactSuccessRedirect && f.Kind != FactSuspiciousRedirect && f.Kind != FactFailureRedirect {
			continue
		}
		r := d.redirectSeen(f)
		d.redirects[f.SetupLinkID] = append(d.redirects[f.SetupLinkID], r)
		if r.Kind == RedirectSuccess && !r.Suspicious && r.PhoneNumberID != "" {
			d.redirectLinks[r.PhoneNumberID] = appendUnique(d.redirectLinks[r.PhoneNumberID], f.SetupLinkID)
		}
	}
	return d
}

func (d *derivation) redirectSeen(f keyedFact) RedirectSeen {
	if f.Kind == FactFailureRedirect {
		return RedirectSeen{Kind: RedirectFailure, At: f.At, ErrorCode: f.ErrorCode}
	}
	r := RedirectSeen{Kind: RedirectSuccess, At: f.At, PhoneNumberID: f.PhoneNumberID,
		BusinessAccountID: f.BusinessAccountID, DisplayPhoneNumber: f.DisplayPhoneNumber}
	r.SuspiciousReason = d.suspicion(f.SetupLinkID, f.PhoneNumberID)
	r.Suspicious = r.SuspiciousReason != ""
	return r
}

// suspicion says why a success redirect naming this link and number cannot
// be trusted, or "" when nothing signed contradicts it.
func (d *derivation) suspicion(link, number string) string {
	if reason, ok := d.flagged[link+"\x00"+number]; ok {
		return reason
	}
	if named := d.numbersNamed[link]; len(named) > 0 && !slices.Contains(named, number) {
		return fmt.Sprintf("link %s was confirmed for number %s", link, strings.Join(named, ","))
	}
	if links := d.linksNamed[number]; len(links) > 0 && !slices.Contains(links, link) {
		return fmt.Sprintf("number %s was confirmed through link %s", number, strings.Join(links, ","))
	}
	return ""
}

// numberLinks is the links a number was connected through: those a signed
// confirmation named, else those whose trusted success redirect named it
// (the redirect alone proves nothing, but once a signed fact proves the number
// is the tenant's, the redirect tells which attempt produced it).
func (d *derivation) numberLinks(number string) []string {
	if links := d.linksNamed[number]; len(links) > 0 {
		return links
	}
	return d.redirectLinks[number]
}

// confirms reports whether f is a confirmation attributable to link.
func (d *derivation) confirms(f keyedFact, link string) bool {
	if !isConfirmation(f.Kind) {
		return false
	}
	if f.SetupLinkID != "" {
		return f.SetupLinkID == link
	}
	return slices.Contains(d.numberLinks(f.PhoneNumberID), link)
}

func (d *derivation) phoneNumbers() []PhoneNumber {
	byID := map[string]*PhoneNumber{}
	var ids []string
	// Details come only from signed facts, never from redirects; the latest
	// fact that carries a field wins.
	for _, f := range d.facts {
		if !isConfirmation(f.Kind) && !isNumberLifecycle(f.Kind) && f.Kind != FactWebhookRegistered {
			continue
		}
		n, ok := byID[f.PhoneNumberID]
		if !ok {
			n = &PhoneNumber{PhoneNumberID: f.PhoneNumberID, Status: NumberStatusUnconfirmed}
			byID[f.PhoneNumberID] = n
			ids = append(ids, f.PhoneNumberID)
		}
		overwrite(&n.BusinessAccountID, f.BusinessAccountID)
		overwrite(&n.DisplayPhoneNumber, f.DisplayPhoneNumber)
		overwrite(&n.ConnectionType, f.ConnectionType)
		overwrite(&n.NameStatus, f.NameStatus)
		overwrite(&n.ReviewStatus, f.ReviewStatus)
		overwrite(&n.QualityRating, f.QualityRating)
		overwrite(&n.WebhookID, f.WebhookID)
		n.UpdatedAt = f.At
		if f.Kind == FactWebhookRegistered {
			n.WebhookRegistered = true
		}
		if isConfirmation(f.Kind) {
			n.ConfirmedBy = appendUnique(n.ConfirmedBy, kindSource(f.Kind))
		}
	}
	slices.Sort(ids)
	out := make([]PhoneNumber, 0, len(ids))
	for _, id := range ids {
		n := byID[id]
		d.foldNumberStatus(n)
		slices.Sort(n.ConfirmedBy)
		if links := d.numberLinks(id); len(links) > 0 {
			n.SetupLinkID = links[0]
		}
		out = append(out, *n)
	}
	return out
}

// foldNumberStatus replays, in canonical order, every fact that moves the
// number's status, including account events that reach it through its WABA.
func (d *derivation) foldNumberStatus(n *PhoneNumber) {
	base := NumberStatusUnconfirmed
	accountDisabled := false
	effective := func() PhoneNumberStatus {
		if base == NumberStatusConnected && accountDisabled {
			return NumberStatusAccountDisabled
		}
		return base
	}
	for _, f := range d.facts {
		if !d.concernsNumber(f, n) {
			continue
		}
		before := effective()
		switch f.Kind {
		case FactPhoneNumberCreated, FactConfigCreated, FactAPIConfirmed, FactNumberReconnected:
			base = NumberStatusConnected
		case FactNumberDisconnected:
			base = NumberStatusDisconnected
		case FactNumberDeleted:
			base = NumberStatusDeleted
		case FactNumberOffboarded:
			base = NumberStatusOffboarded
		case FactAccountRestricted:
			n.Restricted = true
		case FactAccountDisabled:
			accountDisabled = true
		case FactAccountReinstated:
			accountDisabled, n.Restricted = false, false
		}
		if f.At.After(n.UpdatedAt) {
			n.UpdatedAt = f.At
		}
		if after := effective(); after != before {
			n.StatusSince = f.At
			if after == NumberStatusConnected && n.ConnectedAt.IsZero() {
				n.ConnectedAt = f.At
			}
		}
	}
	n.Status = effective()
}

func (d *derivation) concernsNumber(f keyedFact, n *PhoneNumber) bool {
	switch {
	case isConfirmation(f.Kind) || isNumberLifecycle(f.Kind):
		return f.PhoneNumberID == n.PhoneNumberID
	case isAccountEvent(f.Kind):
		if f.PhoneNumberID != "" {
			return f.PhoneNumberID == n.PhoneNumberID
		}
		return f.BusinessAccountID == "" || f.BusinessAccountID == n.BusinessAccountID
	}
	return false
}

func (d *derivation) attempts() []Attempt {
	var links []string
	for _, f := range d.facts {
		if f.SetupLinkID != "" {
			links = appendUnique(links, f.SetupLinkID)
		}
	}
	out := make([]Attempt, 0, len(links))
	closings := map[string]closing{}
	for _, link := range links {
		a, c := d.attempt(link)
		out = append(out, a)
		closings[link] = c
	}
	// Oldest first; links never seen created (zero time) count as the oldest.
	slices.SortFunc(out, func(a, b Attempt) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.SetupLinkID, b.SetupLinkID)
	})
	for i := range out {
		c := closings[out[i].SetupLinkID]
		if newer := nextCreated(out[i+1:]); newer != nil {
			c.consider(newer.CreatedAt, AttemptSuperseded)
		}
		if out[i].Status == AttemptActive && c.status != "" {
			out[i].Status, out[i].ClosedAt = c.status, c.at
		}
	}
	return out
}

// nextCreated is the first attempt in a list whose creation was seen.
func nextCreated(attempts []Attempt) *Attempt {
	for i := range attempts {
		if !attempts[i].CreatedAt.IsZero() {
			return &attempts[i]
		}
	}
	return nil
}

// closing is the earliest way a link stopped being usable; it decides the
// status of an attempt that had no outcome.
type closing struct {
	status AttemptStatus
	at     time.Time
}

func (c *closing) consider(at time.Time, status AttemptStatus) {
	if c.status == "" || at.Before(c.at) {
		c.status, c.at = status, at
	}
}

// attempt derives one link's attempt, except for supersession, which needs
// the other attempts.
func (d *derivation) attempt(link string) (Attempt, closing) {
	a := Attempt{SetupLinkID: link, Redirects: d.redirects[link]}
	var closed closing
	for _, f := range d.facts {
		if d.confirms(f, link) {
			a.ConfirmedBy = appendUnique(a.ConfirmedBy, kindSource(f.Kind))
			if a.ConfirmedAt.IsZero() {
				a.ConfirmedAt, a.PhoneNumberID = f.At, f.PhoneNumberID
			}
		}
		if f.SetupLinkID != link {
			continue
		}
		switch f.Kind {
		case FactLinkCreated:
			if a.CreatedAt.IsZero() {
				a.CreatedAt = f.At
			}
			overwrite(&a.URL, f.URL)
			if !f.ExpiresAt.IsZero() {
				a.ExpiresAt = f.ExpiresAt
			}
			if len(f.AllowedTypes) > 0 {
				a.AllowedConnectionTypes = f.AllowedTypes
			}
		case FactFailureRedirect:
			a.ErrorCode = f.ErrorCode
		case FactLinkExpired:
			closed.consider(f.At, AttemptExpired)
		case FactLinkRevoked:
			closed.consider(f.At, AttemptRevoked)
		}
	}
	slices.Sort(a.ConfirmedBy)

	trustedSuccess := func(r RedirectSeen) bool { return r.Kind == RedirectSuccess && !r.Suspicious }
	matching := func(r RedirectSeen) bool { return trustedSuccess(r) && r.PhoneNumberID == a.PhoneNumberID }
	failure := func(r RedirectSeen) bool { return r.Kind == RedirectFailure }
	suspicious := func(r RedirectSeen) bool { return r.Suspicious }
	switch {
	case len(a.ConfirmedBy) > 0:
		a.Status = AttemptConfirmed
		a.Redirect = firstRedirect(a.Redirects, matching)
	case firstRedirect(a.Redirects, trustedSuccess) != nil:
		// A trusted success outranks a failure: the failure is usually an
		// earlier try on the same link, and the reconciler will settle it.
		a.Status = AttemptRedirectedSuccess
		a.Redirect = firstRedirect(a.Redirects, trustedSuccess)
	case firstRedirect(a.Redirects, failure) != nil:
		a.Status = AttemptFailed
		a.Redirect = lastRedirect(a.Redirects, failure)
	default:
		a.Status = AttemptActive
		a.Redirect = firstRedirect(a.Redirects, suspicious)
	}
	return a, closed
}

func firstRedirect(rs []RedirectSeen, match func(RedirectSeen) bool) *RedirectSeen {
	if i := slices.IndexFunc(rs, match); i >= 0 {
		r := rs[i]
		return &r
	}
	return nil
}

func lastRedirect(rs []RedirectSeen, match func(RedirectSeen) bool) *RedirectSeen {
	for i := len(rs) - 1; i >= 0; i-- {
		if match(rs[i]) {
			r := rs[i]
			return &r
		}
	}
	return nil
}

// tenantStatus maps attempts and numbers to the tenant's status and its
// usable link. A connected number wins; then a loss of numbers, unless a
// link was created after it; then the newest attempt decides.
func tenantStatus(attempts []Attempt, numbers []PhoneNumber) (TenantStatus, string) {
	var newest *Attempt
	activeLink := ""
	if len(attempts) > 0 {
		newest = &attempts[len(attempts)-1]
		if newest.Status == AttemptActive {
			activeLink = newest.SetupLinkID
		}
	}
	if slices.ContainsFunc(numbers, func(n PhoneNumber) bool { return n.Status == NumberStatusConnected }) {
		return TenantConnected, activeLink
	}
	lost, lostAt := numbersLost(numbers)
	if lost != "" && (newest == nil || !newest.CreatedAt.After(lostAt)) {
		return lost, activeLink
	}
	if newest == nil {
		return TenantNotStarted, activeLink
	}
	switch newest.Status {
	case AttemptActive:
		return TenantLinkActive, activeLink
	case AttemptRedirectedSuccess:
		return TenantAwaitingConfirmation, activeLink
	case AttemptFailed:
		return TenantFailed, activeLink
	case AttemptConfirmed:
		// Its number exists but is not connected: it was lost.
		return cmp.Or(lost, TenantDisconnected), activeLink
	}
	// Expired or revoked: the link can no longer be used either way.
	return TenantExpired, activeLink
}

// numbersLost says how the tenant lost its numbers, if it did, and when the
// last one went: reconnect_required when any was disconnected (a reconnect
// signup can bring it back), else disconnected.
func numbersLost(numbers []PhoneNumber) (TenantStatus, time.Time) {
	var status TenantStatus
	var at time.Time
	for _, n := range numbers {
		switch n.Status {
		case NumberStatusDisconnected:
			status = TenantReconnectRequired
		case NumberStatusDeleted, NumberStatusOffboarded, NumberStatusAccountDisabled:
			if status == "" {
				status = TenantDisconnected
			}
		default:
			continue
		}
		if n.StatusSince.After(at) {
			at = n.StatusSince
		}
	}
	return status, at
}

func appendUnique[T comparable](list []T, v T) []T {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// overwrite sets *dst to v unless v is empty, so a later fact that lacks a
// field does not erase what an earlier one said.
func overwrite[T ~string](dst *T, v T) {
	if v != "" {
		*dst = v
	}
}
